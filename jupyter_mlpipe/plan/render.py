"""A plan as plain text: what `mlpipe plan`, `%pipeline plan` and a Pipeline's repr in terminal IPython show.

Works on anything shaped like a Pipeline (`PlanLike`), so that `pipeline`
can use it without this module knowing that class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from ..vocab import cell_number

from .model import Edge, Param, Step
from .collapse import drawn_as
from .modules import ModuleGroup

__all__ = ["PlanLike", "describe_plan"]


class PlanLike(Protocol):
    """The read-only parts of a pipeline.Pipeline that a text view needs."""

    notebook: str | None
    steps: Mapping[str, Step]
    edges: Sequence[Edge]
    params: Mapping[str, Param]
    warnings: Sequence[str]
    learned: Mapping[str, Mapping[str, str]]

    def edge_map(self) -> dict[str, list[Edge]]: ...


def _cells(cells: list[int]) -> str:
    if len(cells) == 1:
        return f"cell {cell_number(cells[0])}"
    return "cells " + ", ".join(str(cell_number(c)) for c in cells)


def _resources(resources: dict) -> str:
    parts = [resources.get("compute", "cpu")]
    if resources.get("num_gpus"):
        parts.append(f"{resources['num_gpus']:g} GPU")
    if resources.get("num_cpus") not in (None, 1):
        parts.append(f"{resources['num_cpus']:g} CPU")
    if resources.get("memory"):
        parts.append(f"{resources['memory'] / 1e9:.1f} GB")
    return ", ".join(parts)


def _learned(plan: PlanLike, source: str, variable: str) -> bool:
    """Whether `source` hands on `variable` because of a fact learned at run time."""
    return variable in plan.learned.get(source, {})


def _binds(group: ModuleGroup) -> str:
    return ", ".join(f"{p} = {what if kind != 'literal' else repr(what)}" for p, (kind, what) in group.binding.items())


def _fanout(step: Step) -> list[str]:
    """A fan-out step's line: what it runs over and how its elements come back (`--foreach`, `--files`)."""
    o = step.options
    if o.foreach is None and o.files is None:
        return []
    over = f"each element of {o.foreach}" if o.foreach is not None else f"each file of {o.files!r}"
    parts = [f"  fan-out: {over} as {o.as_name}"]
    if o.batch_size:
        parts.append(f"in batches of {o.batch_size} rows")
    parts.append(f"gathered as {o.gather or 'list'}")
    if o.error_threshold:
        parts.append(f"up to {o.error_threshold} failed elements tolerated")
    return [", ".join(parts)]


def _collapsed(plan: PlanLike, groups: Mapping[str, ModuleGroup]) -> list[str]:
    """The plan with each module step as one node: `module NAME`, its binding, what it hands on
    (`collapse.drawn_as`: the rule the panels follow too)."""
    where = drawn_as(plan.steps, groups)

    def node(name: str) -> str:
        return where[name].node if name in where else name

    incoming: dict[str, dict[str, set[str]]] = {}
    for edge in plan.edges:
        source, target = node(edge.source), node(edge.target)
        if source != target:
            incoming.setdefault(target, {}).setdefault(source, set()).update(edge.variables)
    shown = [n for n in plan.steps if node(n) == n]
    lines = [f"Plan of {plan.notebook or 'the cells run in this kernel'}: {len(shown)} "
             f"step{'s' if len(shown) != 1 else ''}, {sum(len(v) for v in incoming.values())} "
             f"edge{'s' if sum(len(v) for v in incoming.values()) != 1 else ''} (modules collapsed: --expand shows "
             "their steps)"]
    if plan.params:
        lines.append("parameters: " + ", ".join(p.source.strip() or p.name for p in plan.params.values()))
    for name in shown:
        step = plan.steps[name]
        group = groups.get(name)
        lines.append("")
        if group is not None:
            version = f", version {group.version}" if group.version is not None else ""
            lines.append(f"module {name}  ({_cells(step.cells)}; {group.label}{version}, {len(group.steps) - 1} "
                         f"step{'s' if len(group.steps) != 2 else ''})")
        else:
            lines.append(f"step {name}  ({_cells(step.cells)}; {_resources(step.resources)})")
            lines += _fanout(step)
        for source, variables in incoming.get(name, {}).items():
            lines.append(f"  <- {source}: {', '.join(sorted(variables)) or '(order only)'}")
        if group is not None:
            if group.binding:
                lines.append(f"  binds: {_binds(group)}")
            outputs = group.outputs
        else:
            if step.params:
                lines.append(f"  params: {', '.join(step.params)}")
            outputs = tuple(step.outputs)
        if outputs:
            lines.append(f"  -> {', '.join(outputs)}")
        if step.opaque:
            lines.append(f"  opaque: {step.opaque}")
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    return lines


def describe_plan(plan: PlanLike, expand: bool = False) -> str:
    groups: Mapping[str, ModuleGroup] = getattr(plan, "modules", None) or {}
    if groups and not expand:
        return "\n".join(_collapsed(plan, groups))
    lines = [f"Plan of {plan.notebook or 'the cells run in this kernel'}: "
             f"{len(plan.steps)} step{'s' if len(plan.steps) != 1 else ''}, {len(plan.edges)} "
             f"edge{'s' if len(plan.edges) != 1 else ''}"]
    if plan.params:
        lines.append("parameters: " + ", ".join(
            p.source.strip() or p.name for p in plan.params.values()))
    incoming = plan.edge_map()
    for step in plan.steps.values():
        lines.append("")
        group = groups.get(step.name)
        if group is not None:
            lines.append(f"module {step.name}  ({_cells(step.cells)}; {group.label}"
                         + (f", version {group.version}" if group.version is not None else "") + ")")
            if group.binding:
                lines.append(f"  binds: {_binds(group)}")
        else:
            lines.append(f"step {step.name}  ({_cells(step.cells)}; {_resources(step.resources)})")
            lines += _fanout(step)
        learned_here = plan.learned.get(step.name, {})
        for edge in incoming[step.name]:
            if edge.variables:
                carried = ", ".join(f"{v} (learned)" if _learned(plan, edge.source, v) else v
                                    for v in edge.variables)
            elif edge.source in step.options.after:
                carried = "(order only, --after)"
            else:
                carried = "(order only: this step is opaque)"
            lines.append(f"  <- {edge.source}: {carried}")
        if step.params:
            lines.append(f"  params: {', '.join(step.params)}")
        if step.outputs:
            lines.append(f"  -> {', '.join(step.outputs)}")
        if step.opaque:
            lines.append(f"  opaque: {step.opaque}")
        for variable, why in learned_here.items():
            lines.append(f"  learned: defines {variable}: {why}")
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
