"""Changes a step makes to shared code: attributes set on the notebook's classes and functions, and on
imported modules (`Config.lr = 0.01`, `Model.predict = fast_predict`, `json.FLAG = 3`).

Shared code is replayed in every step, so such a change would be lost at the next step; `carried`
hands it on as the `@code` state and `apply_code` sets it again after the replay.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["apply_code", "code_changes", "code_snapshot", "loaded_modules"]

_MISSING = object()

_NOT_TRACKED_MODULES = frozenset({"sys", "os", "builtins", "random", "warnings"})  # carried as settings
_DELETED = "<deleted>"
_SLOTS = (types.MemberDescriptorType, types.GetSetDescriptorType)  # a class's own machinery, not settings


def _fingerprint(value: Any) -> Any:
    try:
        from ..store.sharing import dumps

        return dumps(value, protocol=5)
    except Exception:  # noqa: BLE001 - not picklable: compared by identity
        return ("id", id(value))


def code_snapshot(ns: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Attributes of the notebook's classes and functions (by content) and of imported modules (by identity)."""
    import types

    main = ns.get("__name__", "__main__")
    out: dict[str, dict[str, Any]] = {}
    for name, obj in list(ns.items()):
        if name.startswith("_"):
            continue
        if isinstance(obj, type) and obj.__module__ == main:
            out[name] = {k: _fingerprint(v) for k, v in vars(obj).items()
                         if not (k.startswith("__") and k.endswith("__")) and not isinstance(v, _SLOTS)}
        elif isinstance(obj, types.FunctionType) and obj.__module__ == main:
            out[name] = {k: _fingerprint(v) for k, v in vars(obj).items()}
    return out


def loaded_modules(ns: dict[str, Any]) -> list[Any]:
    """Modules the step can set attributes on: those bound in its namespace, and (for a module the step
    imports itself, after this is called) every top-level module already loaded in the process."""
    found = {id(m): m for m in ns.values() if isinstance(m, types.ModuleType)}
    for name, module in list(sys.modules.items()):
        if "." not in name and not name.startswith("_") and module is not None:
            found.setdefault(id(module), module)
    return [m for m in found.values() if getattr(m, "__name__", None) not in _NOT_TRACKED_MODULES]


def code_changes(ns: dict[str, Any], before: dict[str, dict[str, Any]],
                 modules_before: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the step set on shared code: {owner: {attribute: new value or "<deleted>"}}.

    Classes and functions are compared by content (`before`); modules the step can reach (bound in
    its namespace) by the identity of their attributes (`modules_before`: their `vars()` at the start).
    """
    changes: dict[str, dict[str, Any]] = {}
    for owner, attrs in code_snapshot(ns).items():
        old = before.get(owner)
        if old is None:
            continue  # defined by the step itself: a value, not a change to shared code
        obj = ns.get(owner)
        for attr in set(attrs) | set(old):
            if attrs.get(attr, _MISSING) != old.get(attr, _MISSING):
                changes.setdefault(owner, {})[attr] = getattr(obj, attr, _DELETED) if attr in attrs else _DELETED
    for module in {id(m): m for m in ns.values() if isinstance(m, types.ModuleType)}.values():
        saved = modules_before.get(getattr(module, "__name__", ""))
        if saved is None:
            continue
        now = vars(module)
        for attr in set(now) | set(saved):
            if attr.startswith("__") or isinstance(now.get(attr), types.ModuleType):
                continue  # submodules a package loads lazily (numpy.ma) are imports, not changes
            if now.get(attr, _MISSING) is not saved.get(attr, _MISSING):
                changes.setdefault("module:" + module.__name__, {})[attr] = now.get(attr, _DELETED)
    return changes


def apply_code(ns: dict[str, Any], patches: dict[str, dict[str, Any]]) -> None:
    for owner, attrs in patches.items():
        obj = sys.modules.get(owner[7:]) if owner.startswith("module:") else ns.get(owner)
        if obj is None:
            continue
        for attr, value in attrs.items():
            if value == _DELETED if isinstance(value, str) else False:
                if hasattr(obj, attr):
                    delattr(obj, attr)
            else:
                setattr(obj, attr, value)
