"""The parts of a plan as data: a parameter, a step, an edge.

The planner (`planner`) makes them and a `pipeline.Pipeline` holds them; the
executor, the CLI, the server and the panel only read them. Plain dataclasses
with no behaviour beyond their JSON form, so that every layer can depend on
them without depending on how a plan is made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .options import StepOptions
from .shared import SharedDef

__all__ = ["Edge", "Param", "Step"]


@dataclass(frozen=True)
class Param:
    """A pipeline parameter from the cell tagged `parameters`."""

    name: str
    source: str
    default: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "default": _jsonable(self.default)}


@dataclass
class Step:
    """One step: its cells, what flows in and out, and what it asks for."""

    name: str
    options: StepOptions
    position: int
    line: str = ""  # the text after %%step, as written
    cells: list[int] = field(default_factory=list)
    code: list[tuple[int, str]] = field(default_factory=list)  # (notebook cell index, body)
    inputs: list[str] = field(default_factory=list)
    input_sources: dict[str, str] = field(default_factory=dict)  # variable -> producing step
    outputs: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    shared: list[SharedDef] = field(default_factory=list)
    opaque: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)  # value -> values it may hold or share
    shared_names: list[str] = field(default_factory=list)  # names of the shared code it uses
    # module steps (`modules`): the steps of a `%%step NAME --module SOURCE` cell, expanded as NAME.STEP
    scope: str = ""  # the module instance whose names its code reads ("" for the notebook's own steps)
    exports: dict[str, tuple[str, ...]] = field(default_factory=dict)  # output -> outer scopes that see it too
    binding: dict[str, tuple[str, Any]] | None = None  # the module's binding node: parameter -> (kind, what)
    origin: str | None = None  # the notebook its code comes from, when not the plan's (a module's)

    def to_dict(self) -> dict[str, Any]:
        options = self.options.to_dict()
        options.pop("name")
        if self.opaque:
            options["opaque"] = self.opaque
        module: dict[str, Any] = {}  # only for module steps: a plan without modules keeps its JSON
        if self.scope:
            module["scope"] = self.scope
        if self.exports:
            module["exports"] = {name: list(scopes) for name, scopes in self.exports.items()}
        if self.binding is not None:
            module["binding"] = {name: [kind, _jsonable(what)] for name, (kind, what) in self.binding.items()}
        if self.origin:
            module["origin"] = self.origin
        return {
            "name": self.name,
            "cells": list(self.cells),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "params": list(self.params),
            "resources": dict(self.resources),
            "options": options,
            "shared": list(self.shared_names) or sorted({s.name for s in self.shared if s.kind != "setup"}),
            "aliases": {k: list(v) for k, v in self.aliases.items()},
            **module,
        }


@dataclass(frozen=True)
class Edge:
    """`source` runs before `target` and passes it `variables` (none: order only, from --after or an opaque step)."""

    source: str
    target: str
    variables: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "variables": list(self.variables)}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)
