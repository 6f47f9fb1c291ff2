"""Facts learned at run time, applied to a plan: a step defines more than its code shows.

A run that sees a step change a value through an alias (`b.append(0)` changing
`a`), or make two values share an object, records a fact (`store.facts`). The
next plan starts from it: the step reads and defines the variable, and every
later reader of the variable reads it from that step. Facts only add
definitions, so applying them never removes an edge, and the plan stays acyclic
(a fact's step comes before the readers it gains).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Protocol

from .graph import check_acyclic, plan_edges
from .model import Step

__all__ = ["LearnedFact", "apply_facts", "reaching_step"]


class LearnedFact(Protocol):
    """A learned definition (a `store.facts.Fact` row satisfies it)."""

    def __getitem__(self, key: str) -> str: ...


def reaching_step(steps: Mapping[str, Step], variable: str, before: str) -> str | None:
    """The nearest step before `before` (notebook order) that defines `variable`, or None."""
    found = None
    for name, step in steps.items():
        if name == before:
            return found
        if variable in step.outputs:
            found = name
    return found


def apply_facts(pipeline: object, facts: Iterable[LearnedFact]) -> object:
    """A copy of `pipeline` (a plan.Pipeline) with the facts' definitions in it; unknown steps are ignored.

    A fact whose variable has no earlier definition (nothing for the step to read
    and hand on) is ignored too: the run learns it again if it matters.
    """
    from .pipeline import Pipeline

    assert isinstance(pipeline, Pipeline)
    by_step: dict[str, list[tuple[str, str]]] = {}
    for fact in facts:
        if fact["step"] in pipeline.steps:
            by_step.setdefault(fact["step"], []).append((fact["variable"], fact["reason"]))
    if not by_step:
        return pipeline
    steps = dict(pipeline.steps)
    position = {name: index for index, name in enumerate(steps)}
    learned: dict[str, dict[str, str]] = {}
    for name in list(steps):
        for variable, reason in by_step.get(name, ()):
            step = steps[name]
            if variable in step.outputs:
                continue
            source = reaching_step(steps, variable, name)
            if source is None:
                continue
            inputs = list(step.inputs) if variable in step.inputs else [*step.inputs, variable]
            steps[name] = dataclasses.replace(
                step, inputs=inputs, input_sources={**step.input_sources, variable: source},
                outputs=[*step.outputs, variable])
            learned.setdefault(name, {})[variable] = reason
            for later, other in steps.items():
                reader = other.input_sources.get(variable)
                if position[later] > position[name] and reader is not None and position[reader] < position[name]:
                    steps[later] = dataclasses.replace(other, input_sources={**other.input_sources, variable: name})
    if not learned:
        return pipeline
    edges, _ = plan_edges(steps, {})
    check_acyclic(steps, edges)
    return dataclasses.replace(pipeline, steps=steps, edges=edges, learned=learned)
