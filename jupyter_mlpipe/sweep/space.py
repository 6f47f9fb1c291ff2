"""A sweep's search space: `-p NAME=SPEC` parsed and checked before anything runs (pure Python).

A SPEC is a list of values (`C=0.01,0.1,1`, `solver=lbfgs,saga`; each a Python
literal, else a string, as `-p` of a run reads it) or a range:
`log(LOW,HIGH)` (log-uniform floats), `uniform(LOW,HIGH)` (floats),
`int(LOW,HIGH)` (whole numbers, both ends included). A grid needs values: a
list or an `int(...)` range; the other ranges are for `--search random|bayes`.
Turning a space into Ray Tune's is `tune_space` (it imports Ray Tune).
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import SweepError

__all__ = ["Dimension", "DimensionKind", "SearchKind", "SearchSpace", "Goal", "SEARCHES", "GOALS",
           "EARLY_STOPS", "EarlyStop", "parse_dimension", "parse_space", "plain"]

DimensionKind = Literal["values", "log", "uniform", "int"]
SearchKind = Literal["grid", "random", "bayes"]
Goal = Literal["min", "max"]
EarlyStop = Literal["median", "asha"]
SEARCHES: tuple[SearchKind, ...] = ("grid", "random", "bayes")
GOALS: tuple[Goal, ...] = ("min", "max")
EARLY_STOPS: tuple[EarlyStop, ...] = ("median", "asha")

_RANGE = re.compile(r"^\s*(log|uniform|int)\s*\((.*)\)\s*$", re.S)
_GRID_LIMIT = 10_000  # more trials than anyone means to run: a typo such as int(1,1000000)


@dataclass(frozen=True)
class Dimension:
    """One swept parameter: its values, or a range."""

    name: str
    kind: DimensionKind
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None

    def grid_values(self) -> list[Any]:
        """Every value a grid takes; SweepError for a continuous range."""
        if self.kind == "values":
            return list(self.values)
        if self.kind == "int":
            return list(range(int(self.low or 0), int(self.high or 0) + 1))
        raise SweepError(f"A grid needs values, but {self.name}={self.describe()} is a continuous range.",
                         hint=f"List values ({self.name}=0.01,0.1,1), or sample the range: "
                         "--search random --trials N (or --search bayes --trials N).", parameter=self.name)

    def describe(self) -> str:
        if self.kind == "values":
            return ",".join(repr(v) if isinstance(v, str) else str(v) for v in self.values)
        low, high = (int(self.low or 0), int(self.high or 0)) if self.kind == "int" else (self.low, self.high)
        return f"{self.kind}({low:g},{high:g})" if self.kind != "int" else f"int({low},{high})"

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "values":
            return {"kind": "values", "values": list(self.values)}
        return {"kind": self.kind, "low": self.low, "high": self.high}


@dataclass
class SearchSpace:
    """The swept parameters in the order given."""

    dimensions: dict[str, Dimension] = field(default_factory=dict)

    @property
    def continuous(self) -> list[str]:
        return [n for n, d in self.dimensions.items() if d.kind in ("log", "uniform")]

    def grid(self) -> list[dict[str, Any]]:
        """Every combination, the first parameter varying slowest (as nested loops read)."""
        combos: list[dict[str, Any]] = [{}]
        for name, dim in self.dimensions.items():
            combos = [{**combo, name: value} for combo in combos for value in dim.grid_values()]
            if len(combos) > _GRID_LIMIT:
                raise SweepError(f"The grid has more than {_GRID_LIMIT} trials.",
                                 hint="Narrow the ranges, or sample: --search random --trials N.")
        return combos

    def describe(self) -> str:
        return " ".join(f"{n}={d.describe()}" for n, d in self.dimensions.items())

    def to_dict(self) -> dict[str, Any]:
        return {name: dim.to_dict() for name, dim in self.dimensions.items()}


def _literal(text: str) -> Any:
    """A Python literal when the text is one, else the text (what `-p NAME=VALUE` of a run does)."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _number(text: str, name: str, spec: str) -> float:
    value = _literal(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SweepError(f"Bad range {name}={spec}: {text.strip()!r} is not a number.",
                         hint="Write e.g. C=log(0.001,10), depth=int(2,12), dropout=uniform(0,0.5).",
                         parameter=name)
    return float(value)


def _split_values(raw: str) -> list[Any]:
    """`0.01,0.1,1` -> [0.01, 0.1, 1]; quoted strings and brackets may hold commas."""
    try:
        parsed = ast.literal_eval(f"[{raw}]")
    except (ValueError, SyntaxError):
        parsed = None
    if isinstance(parsed, list):
        return parsed
    return [_literal(item) for item in raw.split(",")]


def parse_dimension(text: str) -> Dimension:
    """One `-p NAME=SPEC`; SweepError naming what is wrong."""
    if "=" not in text:
        raise SweepError(f"Bad sweep parameter {text!r}: write NAME=VALUES or NAME=RANGE.",
                         hint="For example -p C=0.01,0.1,1 or -p C=log(0.001,10) or -p depth=int(2,12).")
    name, raw = (part.strip() for part in text.split("=", 1))
    if not name.isidentifier():
        raise SweepError(f"Bad parameter name {name!r} in {text!r}: it must be a Python identifier.",
                         parameter=name)
    if not raw:
        raise SweepError(f"No values for {name!r} in {text!r}.",
                         hint=f"Give values (-p {name}=1,2,3) or a range (-p {name}=int(1,3)).", parameter=name)
    match = _RANGE.match(raw)
    if match:
        kind, inner = match.group(1), match.group(2)
        parts = inner.split(",")
        if len(parts) != 2:
            raise SweepError(f"Bad range {name}={raw}: {kind}(LOW,HIGH) takes two numbers.",
                             hint=f"For example -p {name}={kind}(1,10).", parameter=name)
        low, high = (_number(p, name, raw) for p in parts)
        if kind == "int" and (low != int(low) or high != int(high)):
            raise SweepError(f"Bad range {name}={raw}: int(LOW,HIGH) takes whole numbers.", parameter=name)
        if low > high or (low == high and kind != "int"):
            raise SweepError(f"The range {name}={raw} is empty: LOW must be below HIGH.",
                             hint=f"Swap them: {kind}({parts[1].strip()},{parts[0].strip()}).", parameter=name)
        if kind == "log" and low <= 0:
            raise SweepError(f"Bad range {name}={raw}: log(LOW,HIGH) needs LOW > 0.",
                             hint=f"For example -p {name}=log(0.0001,{parts[1].strip()}).", parameter=name)
        return Dimension(name, kind, low=low, high=high)  # type: ignore[arg-type]
    values = _split_values(raw)
    if not values or any(v == "" for v in values):
        raise SweepError(f"An empty value in {name}={raw}.", hint=f"Write -p {name}=1,2,3.", parameter=name)
    return Dimension(name, "values", values=tuple(dict.fromkeys(values)) if _hashable(values) else tuple(values))


def _hashable(values: list[Any]) -> bool:
    try:
        hash(tuple(values))
    except TypeError:
        return False
    return True


def parse_space(specs: list[str], known: dict[str, Any] | None = None) -> SearchSpace:
    """Every `-p` of a sweep; `known`: the notebook's parameters (name -> anything), to refuse the others."""
    if not specs:
        raise SweepError("A sweep needs at least one parameter to vary.",
                         hint="For example: -p C=0.01,0.1,1 -p max_iter=100,200.")
    space = SearchSpace()
    for text in specs:
        dim = parse_dimension(text)
        if dim.name in space.dimensions:
            raise SweepError(f"Parameter {dim.name!r} is given twice.", parameter=dim.name,
                             hint=f"Give all its values in one -p: -p {dim.name}=A,B,C.")
        if known is not None and dim.name not in known:
            listed = ", ".join(known) or "(none: tag a cell 'parameters' to declare some)"
            raise SweepError(f"Unknown parameter {dim.name!r}. Parameters of this notebook: {listed}.",
                             hint="A sweep varies the parameters of the cell tagged 'parameters'.",
                             parameter=dim.name)
        space.dimensions[dim.name] = dim
    return space


def plain(value: Any) -> Any:
    """A numpy scalar (what Ray Tune samples) as the Python number it is, so parameters and keys read alike."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (list, dict, tuple, str)):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def tune_space(space: SearchSpace, search: SearchKind) -> dict[str, Any]:
    """The space as Ray Tune's param_space: grid_search for a grid, distributions otherwise."""
    from ray import tune

    out: dict[str, Any] = {}
    for name, dim in space.dimensions.items():
        if search == "grid":
            out[name] = tune.grid_search(dim.grid_values())
        elif dim.kind == "values":
            out[name] = tune.choice(list(dim.values))
        elif dim.kind == "log":
            out[name] = tune.loguniform(dim.low, dim.high)
        elif dim.kind == "uniform":
            out[name] = tune.uniform(dim.low, dim.high)
        else:
            out[name] = tune.randint(int(dim.low or 0), int(dim.high or 0) + 1)  # randint's HIGH is excluded
    return out
