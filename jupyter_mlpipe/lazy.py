"""Lazy public names for a package's `__init__`: imported on first use, so importing the package stays cheap."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, namespace: dict[str, Any], where: Mapping[str, str],
               listed: Iterable[str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module `__getattr__` and `__dir__` of `package`, whose globals are `namespace`.

    `where` maps each lazy name to the module that defines it (absolute, or relative to
    `package`); a name is imported on first use and then kept in `namespace`. `__dir__`
    lists the names in `listed` (the package's `__all__`).
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(listed)

    return __getattr__, __dir__
