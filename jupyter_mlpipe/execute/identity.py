"""Which of a step's values share mutable objects: the groups that must travel as one artifact.

In the notebook, `b = a` leaves one list under two names, `X_train = X[:4]` a view
of `X`'s memory, `combine = [train, test]` a list holding the two frames. Stored one
by one, those would come back in later steps as separate copies, and a change
through one name would not show through the other. At the end of each step the
runtime groups the values it loaded and defined by the mutable objects they share
(identity, containment, a numpy array's memory); each group is stored as one
artifact, so any later step that loads one member gets the others with their
sharing intact.

The walk is bounded (`MAX_OBJECTS`); immutable atoms are never shared in a way
that matters. Modules, functions and classes are shared code, not values: they
are not walked.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MAX_OBJECTS", "SharingWalk", "group_by_sharing"]

MAX_OBJECTS = 1_000_000
"""Objects walked per step before the walk stops (and says so): sharing deeper than this is not seen."""

_ATOMS = (int, float, complex, str, bytes, bool, type(None), range, slice, type(Ellipsis), type(NotImplemented))
_CODE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
         types.CodeType, types.FrameType, types.GeneratorType)


def _memory_key(array: Any) -> tuple[str, int]:
    """The object that owns an ndarray's memory: views of one buffer share this key."""
    root = array
    while getattr(root, "base", None) is not None:
        base = root.base
        if not hasattr(base, "base"):  # bytes, mmap, a buffer from a C library: it owns the memory
            return ("mem", id(base))
        root = base
    return ("mem", id(root))


class SharingWalk:
    """The mutable objects each value reaches; values that reach a common one share."""

    def __init__(self, limit: int = MAX_OBJECTS) -> None:
        self.limit = limit
        self.visited = 0
        self.truncated = False
        self._np = sys.modules.get("numpy")
        self._pd = sys.modules.get("pandas")

    def keys(self, value: Any) -> set[Any]:
        """Keys of the mutable objects reachable from `value` (ids; ("mem", id) for array memory)."""
        found: set[Any] = set()
        seen: set[int] = set()
        stack = [value]
        np, pd = self._np, self._pd
        while stack:
            obj = stack.pop()
            kind = type(obj)
            if kind in _ATOMS or isinstance(obj, _CODE):
                continue
            ident = id(obj)
            if ident in seen:
                continue
            seen.add(ident)
            self.visited += 1
            if self.visited > self.limit:
                self.truncated = True
                return found
            if kind is tuple or kind is frozenset:  # immutable, but what they hold may not be
                stack.extend(obj)
                continue
            found.add(ident)
            if kind is list or kind is set:
                stack.extend(obj)
            elif isinstance(obj, Mapping) and not (pd is not None and isinstance(obj, (pd.DataFrame, pd.Series))):
                try:
                    stack.extend(obj.values())
                    stack.extend(k for k in obj.keys() if type(k) not in _ATOMS)
                except Exception:  # noqa: BLE001 - an odd mapping: its identity is still known
                    pass
            elif np is not None and isinstance(obj, np.ndarray):
                found.add(_memory_key(obj))
                if obj.dtype == object:
                    stack.extend(obj.ravel().tolist())
            elif pd is not None and isinstance(obj, (pd.DataFrame, pd.Series, pd.Index)):
                continue  # copy-on-write (pandas 3): a derived frame never changes its source
            elif isinstance(obj, (list, set, dict, bytearray)) or kind.__module__ == "collections":
                try:
                    stack.extend(obj)
                except TypeError:
                    pass
            else:
                attrs = getattr(obj, "__dict__", None)
                if isinstance(attrs, dict):
                    stack.extend(attrs.values())
                for slot in _slots(kind):
                    try:
                        stack.append(getattr(obj, slot))
                    except AttributeError:
                        pass
        return found


def _slots(kind: type) -> Iterable[str]:
    for klass in kind.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for slot in slots:
            if slot not in ("__dict__", "__weakref__"):
                yield slot


def group_by_sharing(values: Mapping[str, Any], walk: SharingWalk | None = None) -> list[list[str]]:
    """Names whose values share a mutable object, as groups (every name is in exactly one group)."""
    walk = walk or SharingWalk()
    parent = {name: name for name in values}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    owner: dict[Any, str] = {}
    for name, value in values.items():
        for key in walk.keys(value):
            other = owner.setdefault(key, name)
            if other != name:
                a, b = find(name), find(other)
                if a != b:
                    parent[a] = b
    groups: dict[str, list[str]] = {}
    for name in values:
        groups.setdefault(find(name), []).append(name)
    return list(groups.values())
