"""A run that corrects itself: what the plan could not see, the run learns, and re-plans what is left.

The static plan says which step defines each value. A step can define more:
`b.append(0)` after `b = a` changes `a` too. The worker reports such learned
definitions (`step_values`); this module keeps the run's working copy of the
plan up to date with them:

- every later step that reads the variable now reads it from the step that
  changed it (it waits for it, if it has not started);
- every later step that already consumed an older version of a value (a
  visible input or a hidden member of a shared group) is stale and runs again,
  which the cache makes cheap when nothing else changed.

Facts only add definitions, and a step only ever waits for or re-runs because
of a step before it in notebook order, so corrections end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..plan import Pipeline, Step
from ..store.sharing import split_ref
from ..plan.learned import mentions_file, reads_random_state
from ..plan.modules import sees
from .carried import RANDOM, SETTINGS, is_carried

if TYPE_CHECKING:  # pragma: no cover
    from .run import StepRun

__all__ = ["Corrections", "MAX_RERUNS"]

MAX_RERUNS = 8
"""How often one step may be re-run by corrections before the run gives up on it (and says so)."""


class Corrections:
    """The run's working copy of the plan: the steps as learned facts have changed them."""

    def __init__(self, plan: Pipeline, selected: list[str]) -> None:
        self.steps: dict[str, Step] = {name: plan.steps[name] for name in selected}
        self.position = {name: index for index, name in enumerate(plan.steps)}
        self.order_only = {name: [e.source for e in edges if not e.variables and e.source in self.steps]
                           for name, edges in plan.edge_map().items() if name in self.steps}
        self.reruns: dict[str, int] = {}

    # -- the graph as it is now ----------------------------------------------
    def deps(self, name: str) -> set[str]:
        step = self.steps[name]
        return {s for s in step.input_sources.values() if s in self.steps} | set(self.order_only[name])

    def reaching(self, variable: str, before: str) -> str | None:
        """The nearest step of this run before `before` (notebook order) that defines `variable` for it
        (a module's steps and the notebook's do not see each other's names: `plan.modules.sees`)."""
        limit = self.position[before]
        reader = self.steps.get(before)
        found = None
        for name, step in self.steps.items():
            if self.position[name] >= limit:
                break
            if variable in step.outputs and (reader is None or sees(reader, step, variable)):
                found = name
        return found

    def hidden_for(self, name: str, inputs: Mapping[str, str], states: Mapping[str, StepRun]) -> dict[str, str] | None:
        """The members of the input groups that are still what their names hold at this step.

        None when that cannot be told yet: an earlier step that defines one of
        them has not finished (the step waits for it).
        """
        groups = {split_ref(ref)[0] for ref in inputs.values() if "#" in ref}
        if not groups:
            return {}
        hidden: dict[str, str] = {}
        for source in states.values():
            for variable, ref in source.outputs.items():
                digest = ref["digest"]
                if variable in inputs or variable in hidden or split_ref(digest)[0] not in groups:
                    continue
                reaching = self.reaching(variable, name)
                if reaching is None:
                    continue
                status = states[reaching].status
                if status in ("pending", "running"):
                    return None
                if status not in ("succeeded", "reused"):
                    continue
                current = states[reaching].outputs.get(variable, {}).get("digest")
                if current is not None and split_ref(current)[0] in groups:
                    hidden[variable] = current
        return hidden

    # -- learning ------------------------------------------------------------
    def learn(self, name: str, variable: str) -> list[str]:
        """Step `name` defines `variable` too; returns the later steps that now read it from `name`.

        A carried state (`@numpy.random`, `@environ`, ...) is read by the step that changes it, and by
        every later step that changes it too; a setting (`carried.SETTINGS`) by every later step.
        """
        step = self.steps[name]
        if variable in step.outputs:
            return []
        source = self.reaching(variable, name)
        sources = dict(step.input_sources)
        if source is not None:
            sources[variable] = source
        self.steps[name] = dataclasses.replace(
            step, outputs=[*step.outputs, variable], input_sources=sources,
            inputs=step.inputs if variable in step.inputs or source is None else [*step.inputs, variable])
        rerouted = []
        mine = self.position[name]
        for later, other in self.steps.items():
            if self.position[later] <= mine:
                continue
            if not sees(other, self.steps[name], variable):  # another module's (or the notebook's) name
                continue
            reader = other.input_sources.get(variable)
            reads = reader is not None or (is_carried(variable) and (
                variable in other.outputs or variable in SETTINGS
                or (variable in RANDOM and reads_random_state(other)) or mentions_file(other, variable)))
            if reads and (reader is None or self.position.get(reader, -1) < mine):
                self.steps[later] = dataclasses.replace(
                    other, input_sources={**other.input_sources, variable: name},
                    inputs=other.inputs if variable in other.inputs else [*other.inputs, variable])
                rerouted.append(later)
        return rerouted

    def stale(self, name: str, states: Mapping[str, StepRun]) -> list[tuple[str, str]]:
        """Steps that read a value that is not the one at their place in the notebook: (step, variable).

        Checked for the steps after `name` and `name` itself (which may have just learned that it
        reads a state an earlier step sets): a value it reads now comes from elsewhere, or a value
        it consumed (by name, or as a hidden member of a group) has a newer version from `name`.
        """
        outputs = states[name].outputs
        found = []
        for later, sr in states.items():
            if self.position[later] < self.position[name] or sr.status in ("pending", "skipped", "cancelled"):
                continue
            consumed = {**sr.inputs, **sr.hidden}
            for variable, source in self.steps[later].input_sources.items():
                if source in states and states[source].status in ("succeeded", "reused") and \
                        consumed.get(variable) != states[source].outputs.get(variable, {}).get("digest"):
                    found.append((later, variable))
                    break
            else:
                if later == name:
                    continue
                for variable, ref in consumed.items():
                    if variable in outputs and outputs[variable]["digest"] != ref \
                            and self.reaching(variable, later) == name:
                        found.append((later, variable))
                        break
        return found

    def count_rerun(self, name: str) -> bool:
        """Count one more correction of `name`; False when it has been corrected too often."""
        self.reruns[name] = self.reruns.get(name, 0) + 1
        return self.reruns[name] <= MAX_RERUNS
