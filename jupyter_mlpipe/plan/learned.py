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

from ..vocab import CARRIED_RANDOM, CARRIED_SETTINGS
from .graph import check_acyclic, plan_edges
from .model import Step
from .modules import sees

__all__ = ["LearnedFact", "apply_facts", "mentions_file", "reaching_step", "reads_random_state"]



class LearnedFact(Protocol):
    """A learned definition (a `store.facts.Fact` row satisfies it)."""

    def __getitem__(self, key: str) -> str: ...


_READS_RANDOM_STATE = ("get_state", "getstate", "get_rng_state", "get_bit_generator")


def reads_random_state(step: Step) -> bool:
    """A step that reads a generator's state (`np.random.get_state()`) needs it as it is at its place,
    although it draws nothing (a run cannot see such a read; the code can)."""
    return any(token in body for _, body in step.code for token in _READS_RANDOM_STATE)


def mentions_file(step: Step, variable: str) -> bool:
    """A step whose code names the path of a carried file (`@file:PATH`) may look at it without opening
    it (`os.path.exists('out.csv')`, which no audit event reports): it reads it too."""
    if not variable.startswith("@file:"):
        return False
    path = variable[len("@file:"):]
    quoted = (f"'{path}'", f'"{path}"')
    return any(q in body for _, body in step.code for q in quoted)


def reaching_step(steps: Mapping[str, Step], variable: str, before: str) -> str | None:
    """The nearest step before `before` (notebook order) that defines `variable` for it, or None (a module's
    steps and the notebook's do not see each other's names: `modules.sees`)."""
    found = None
    reader = steps.get(before)
    for name, step in steps.items():
        if name == before:
            return found
        if variable in step.outputs and (reader is None or sees(reader, step, variable)):
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
            if source is None and not variable.startswith("@"):
                continue
            sources = dict(step.input_sources) if source is None else {**step.input_sources, variable: source}
            inputs = list(step.inputs) if variable in step.inputs or source is None else [*step.inputs, variable]
            steps[name] = dataclasses.replace(step, inputs=inputs, input_sources=sources,
                                              outputs=[*step.outputs, variable])
            learned.setdefault(name, {})[variable] = reason
            for later, other in steps.items():
                if not sees(other, steps[name], variable):
                    continue
                reader = other.input_sources.get(variable)
                reads = reader is not None or (variable.startswith("@") and (
                    variable in other.outputs or variable in CARRIED_SETTINGS
                    or (variable in CARRIED_RANDOM and reads_random_state(other))
                    or mentions_file(other, variable)))
                if position[later] > position[name] and reads and (reader is None or position[reader] < position[name]):
                    steps[later] = dataclasses.replace(
                        other, input_sources={**other.input_sources, variable: name},
                        inputs=other.inputs if variable in other.inputs else [*other.inputs, variable])
    if not learned:
        return pipeline
    edges, _ = plan_edges(steps, {})
    check_acyclic(steps, edges)
    return dataclasses.replace(pipeline, steps=steps, edges=edges, learned=learned)
