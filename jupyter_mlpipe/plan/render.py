"""Plain-text views of a plan (CLI, terminal IPython)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .planner import Pipeline

__all__ = ["describe_plan"]


def _cells(cells: list[int]) -> str:
    if len(cells) == 1:
        return f"cell {cells[0]}"
    return "cells " + ", ".join(map(str, cells))


def _resources(resources: dict) -> str:
    parts = [resources.get("compute", "cpu")]
    if resources.get("num_gpus"):
        parts.append(f"{resources['num_gpus']:g} GPU")
    if resources.get("num_cpus") not in (None, 1):
        parts.append(f"{resources['num_cpus']:g} CPU")
    if resources.get("memory"):
        parts.append(f"{resources['memory'] / 1e9:.1f} GB")
    return ", ".join(parts)


def describe_plan(plan: "Pipeline") -> str:
    lines = [f"Plan of {plan.notebook or 'the cells run in this kernel'}: "
             f"{len(plan.steps)} step{'s' if len(plan.steps) != 1 else ''}, {len(plan.edges)} "
             f"edge{'s' if len(plan.edges) != 1 else ''}"]
    if plan.params:
        lines.append("parameters: " + ", ".join(
            p.source.strip() or p.name for p in plan.params.values()))
    incoming = plan.edge_map()
    for step in plan.steps.values():
        lines.append("")
        lines.append(f"step {step.name}  ({_cells(step.cells)}; {_resources(step.resources)})")
        for edge in incoming[step.name]:
            if edge.variables:
                carried = ", ".join(edge.variables)
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
    for warning in plan.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)
