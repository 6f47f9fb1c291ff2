"""A published pipeline's parameters: their types (from the defaults) and checking values against them.

A snapshot keeps each parameter of the notebook's `parameters` cell with its
default and the type of that default. A trigger's values are checked against
them before anything runs: an unknown name, or a value of another type, is a
`ParamError` that names the parameter, what was expected and what arrived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypedDict

from ..errors import ParamError

if TYPE_CHECKING:
    from ..plan import Pipeline

__all__ = ["ParamSpec", "ParamType", "check_params", "param_specs"]

ParamType = Literal["int", "float", "str", "bool", "list", "dict", "any"]
"""What a parameter accepts: the type of its default (`any` when the default is None or not a literal)."""

_TYPES: dict[type, ParamType] = {bool: "bool", int: "int", float: "float", str: "str", list: "list",
                                 tuple: "list", dict: "dict"}


class ParamSpec(TypedDict):
    """One parameter as a snapshot keeps it."""

    default: Any
    type: ParamType
    source: str  # the line of the parameters cell that defines it


def param_specs(plan: Pipeline) -> dict[str, ParamSpec]:
    """The plan's parameters with their defaults and types."""
    specs: dict[str, ParamSpec] = {}
    for name, param in plan.params.items():
        default = param.to_dict()["default"]  # JSON-able (a repr for anything else: then "any")
        kind: ParamType = _TYPES.get(type(param.default), "any") if default == param.default else "any"
        specs[name] = {"default": default, "type": kind, "source": param.source.strip()}
    return specs


def _fits(kind: ParamType, value: Any) -> bool:
    if kind == "any":
        return True
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "list":
        return isinstance(value, (list, tuple))
    return type(value).__name__ == kind


def _type_name(value: Any) -> str:
    return "null" if value is None else _TYPES.get(type(value), type(value).__name__)


def check_params(specs: dict[str, ParamSpec], values: dict[str, Any] | None) -> dict[str, Any]:
    """`values` checked against `specs` (returned as given); ParamError for the first one refused."""
    values = dict(values or {})
    for name, value in values.items():
        if name not in specs:
            known = ", ".join(sorted(specs)) or "(none)"
            raise ParamError(f"Unknown parameter {name!r}: this pipeline's parameters are {known}.",
                             param=name, expected=f"one of: {known}", got=repr(value),
                             hint="Check the spelling; a new parameter needs a new published version.")
        spec = specs[name]
        if not _fits(spec["type"], value):
            raise ParamError(
                f"Parameter {name!r} must be {_article(spec['type'])} {spec['type']} (its default is "
                f"{spec['default']!r}); got {value!r}, {_article(_type_name(value))} {_type_name(value)}.",
                param=name, expected=spec["type"], got=_type_name(value),
                hint=f"Send {_article(spec['type'])} {spec['type']}, e.g. {{\"{name}\": {_example(spec)}}}.")
    return values


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _example(spec: ParamSpec) -> str:
    import json

    try:
        return json.dumps(spec["default"])
    except (TypeError, ValueError):
        return "..."
