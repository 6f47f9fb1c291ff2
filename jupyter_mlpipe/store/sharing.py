"""Values that share objects, stored so that they still share them when loaded.

`b = a` leaves one list under two names; `X_train = X[:4]` is a view of `X`'s
memory; `combine = [train, test]` holds the two frames themselves. Stored one by
one, each would load as its own copy. A `SharedGroup` holds such values and is
stored as one pickle: pickle's memo keeps objects that appear twice one object,
and `dumps` writes a numpy view as (its base, offset, shape, strides) so it
loads as a view of the same base, not a copy. A member of a stored group is
addressed as `DIGEST#NAME`.
"""

from __future__ import annotations

import io
import sys
from typing import Any

__all__ = ["SharedGroup", "dumps", "member_ref", "rebuild_view", "split_ref"]


class SharedGroup:
    """Values (by variable name) that share mutable objects: stored and loaded as one."""

    __slots__ = ("members",)

    def __init__(self, members: dict[str, Any]) -> None:
        self.members = members

    def __reduce__(self) -> tuple:
        return (SharedGroup, (self.members,))

    def __repr__(self) -> str:
        return f"SharedGroup({', '.join(self.members)})"


def member_ref(digest: str, name: str) -> str:
    return f"{digest}#{name}"


def split_ref(ref: str) -> tuple[str, str | None]:
    """(artifact digest, member name or None) of a reference."""
    digest, _, member = ref.partition("#")
    return digest, member or None


def rebuild_view(base: Any, offset: int, shape: tuple, strides: tuple, dtype: Any, writeable: bool) -> Any:
    """A view of `base`'s memory, as `dumps` wrote it."""
    import numpy as np

    view = np.ndarray(shape, dtype=dtype, buffer=base, offset=offset, strides=strides)
    if not writeable:
        view.flags.writeable = False
    return view


def _owner(array: Any) -> Any:
    """The outermost ndarray under a view (its own base, if any, is a buffer: bytes, bytearray, mmap)."""
    root = array
    while isinstance(root.base, type(array)):
        root = root.base
    return root


def dumps(value: Any, protocol: int) -> bytes:
    """cloudpickle's bytes, except that numpy views stay views of their (once-written) base."""
    import cloudpickle

    np = sys.modules.get("numpy")
    if np is None:
        return cloudpickle.dumps(value, protocol=protocol)
    ndarray = np.ndarray

    class SharingPickler(cloudpickle.CloudPickler):
        def reducer_override(self, obj: Any) -> Any:
            if type(obj) is ndarray and obj.base is not None and obj.dtype != object:
                owner = _owner(obj)
                if owner is not obj and type(owner) is ndarray and owner.flags.c_contiguous:
                    offset = obj.__array_interface__["data"][0] - owner.__array_interface__["data"][0]
                    return rebuild_view, (owner, offset, obj.shape, obj.strides, obj.dtype,
                                          bool(obj.flags.writeable))
            return super().reducer_override(obj)

    out = io.BytesIO()
    SharingPickler(out, protocol=protocol).dump(value)
    return out.getvalue()
