"""A pipeline run as its readers see it: each step's state, and the values the run produced.

One `Run` per pipeline run. `run.steps` holds a `StepRun` per selected step
(status, timing, reason, error, outputs); `run["name"]` loads a value the run
stored. Every change of state is recorded in the run history and then told to
the listeners (text progress, the run panel) through `Run.emit`; only the
driver (`runner`) changes states, the rest of the package only reads them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..plan import Pipeline
from ..plan.modules import top_level
from ..store.paths import Store
from ..vocab import ErrorInfo, RunStatus, StepStatus
from .backend import Resources
from .decision import Reason
from .task import OutputRef

if TYPE_CHECKING:  # pragma: no cover
    from ..store.artifacts import ArtifactStore
    from ..store.history import History

__all__ = ["Event", "Listener", "Run", "RunViewBase", "StepRun"]

logger = logging.getLogger(__name__)

Event = Literal["start", "connecting", "step", "end"]
"""What a listener is told: the run started, its backend is starting (Ray: seconds, before the first
step is submitted; `Run.connecting` is True until then), a step's state changed, the run ended."""
Listener = Callable[["Run", Event, "StepRun | None"], None]
"""Called as ``listener(run, event, step)``; `step` is the step that changed (event "step")."""


@dataclass
class StepRun:
    """One step's part in a run."""

    name: str
    status: StepStatus = "pending"
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    error_info: ErrorInfo | None = None
    notebook_path: str | None = None
    outputs: dict[str, OutputRef] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # variable -> digest of the value it read
    hidden: dict[str, str] = field(default_factory=dict)  # values loaded only for their sharing with inputs
    reason: Reason | None = None
    attempts: int = 0
    warnings: list[str] = field(default_factory=list)
    key: str | None = None
    resources: Resources = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started

    def reset(self) -> None:
        """Back to pending, to run again (a correction: what it read turned out stale)."""
        self.status, self.started, self.ended = "pending", None, None
        self.error = self.error_info = self.notebook_path = self.reason = self.key = None
        self.outputs, self.inputs, self.hidden, self.warnings = {}, {}, {}, []

    def fail(self, message: str, info: ErrorInfo) -> None:
        """Mark the step failed: `message` for people, `info` for the record."""
        self.status, self.error, self.error_info = "failed", message, info

    def to_record(self) -> dict[str, Any]:
        """The fields the run history keeps for this step."""
        return {
            "status": self.status, "key": self.key, "reason": self.reason, "started": self.started,
            "ended": self.ended, "duration": self.duration if self.ended else None,
            "attempts": self.attempts, "notebook_path": self.notebook_path,
            "error": {**self.error_info, "message": self.error} if self.error_info else None,
            "resources": self.resources, "outputs": self.outputs,
            "inputs": {**self.inputs, **self.hidden},
            "warnings": self.warnings,
        }


class RunViewBase:
    """What a live `Run` and a `recorded.RecordedRun` share: reading a run (`queries.RunView`).

    A subclass sets `id`, `status`, `started`, `ended`, `steps` and `_store`, and
    `_artifacts` to None.
    """

    id: str
    status: str
    started: float
    ended: float | None
    steps: dict[str, StepRun]
    _store: Store
    _artifacts: ArtifactStore | None

    # -- where it lives ----------------------------------------------------
    @property
    def store(self) -> Store:
        """Where the run's notebooks, history and artifacts live."""
        return self._store

    # -- values ------------------------------------------------------------
    @property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is None:
            from ..store.artifacts import ArtifactStore

            self._artifacts = ArtifactStore(self._store.artifacts_root)
        return self._artifacts

    def producer_of(self, name: str) -> str | None:
        """The last step (in notebook order) of this run that produced `name` for the notebook itself (not a
        name inside one of its modules)."""
        for step in reversed(list(self.steps)):
            if name in self.steps[step].outputs and self.notebook_sees(step, name):
                return step
        return None

    def notebook_sees(self, step: str, name: str) -> bool:
        """Whether `name` of `step` is the notebook's, not a name inside one of its module steps."""
        planned = self.plan.steps.get(step)
        return planned is None or top_level(planned, name)

    def __getitem__(self, name: str) -> Any:
        """A value this run stored, read from the artifact store."""
        step = self.producer_of(name)
        if step is None:
            known = sorted({v for s in self.steps.values() for v in s.outputs})
            raise KeyError(f"No step of run {self.id} produced {name!r}. Values: {', '.join(known) or '(none)'}.")
        return self.artifacts.get(self.steps[step].outputs[name]["digest"])

    def values(self, names: list[str]) -> dict[str, Any]:
        """Several values at once; members of one stored group load together, so values that shared
        objects in the pipeline share them here too (`b = a` stays one list in the kernel)."""
        from ..store.sharing import split_ref

        groups: dict[str, Any] = {}
        out: dict[str, Any] = {}
        for name in names:
            step = self.producer_of(name)
            digest = self.steps[step].outputs[name]["digest"] if step is not None else ""
            group, member = split_ref(digest)
            if member is None:
                out[name] = self[name]
                continue
            if group not in groups:
                groups[group] = self.artifacts.get_group(group)
            out[name] = groups[group].members[member]
        return out

    # -- reading -----------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """How many steps are in each status."""
        counts: dict[str, int] = {}
        for step in self.steps.values():
            counts[step.status] = counts.get(step.status, 0) + 1
        return counts

    @property
    def duration(self) -> float:
        return (self.ended or time.time()) - self.started

    def summary(self) -> str:
        from ..text import run_summary

        return run_summary(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.summary())


class Run(RunViewBase):
    """A pipeline run: its steps' states, and the values they produced (`run["name"]`)."""

    def __init__(self, run_id: str, plan: Pipeline, params: dict[str, Any], selected: list[str],
                 store: Store, history: History) -> None:
        self.id = run_id
        self.plan = plan
        self.notebook = str(Path(plan.notebook).resolve()) if plan.notebook else ""
        self.params = params
        self.status: RunStatus = "running"
        self.steps: dict[str, StepRun] = {
            name: StepRun(name, resources=dict(plan.steps[name].resources)) for name in selected
        }
        self.started = time.time()
        self.ended: float | None = None
        self.error: BaseException | None = None
        self._store = store
        self._history: History | None = history
        self._artifacts: ArtifactStore | None = None
        self._done = threading.Event()
        self._cancel = threading.Event()
        self.listeners: list[Listener] = []
        self.corrections: list[str] = []
        """What the run corrected while it ran, and why (`c4 re-ran: c3 changed 'a' through its alias 'b'`)."""
        self.connecting = False
        """True while the backend starts (event "connecting"), before the first step is submitted."""

    # -- where it lives ----------------------------------------------------
    @property
    def history(self) -> History | None:
        """The run history this run is recorded in (None for a run read back from it)."""
        return self._history

    # -- values ------------------------------------------------------------
    def final_values(self) -> list[str]:
        """Names defined by the run's final steps (those no other selected step depends on), what
        `%pipeline run` brings back: not a loop's leftover variables (`for name, score in ...`)."""
        from ..plan.loop_names import loop_only_names

        sources = {e.source for e in self.plan.edges if e.target in self.steps}
        names: list[str] = []
        for step in self.steps:
            if step not in sources:
                planned = self.plan.steps.get(step)
                leftovers = loop_only_names(body for _, body in planned.code) if planned is not None else ()
                names += [n for n in self.steps[step].outputs
                          if n not in names and not n.startswith("@") and n not in leftovers
                          and (planned is None or top_level(planned, n))]  # not a module's inner names
        return names

    # -- control -----------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> "Run":
        self._done.wait(timeout)
        return self

    def cancel(self) -> None:
        """Cancel the running steps; the run ends as `cancelled`."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.status}: {self.counts()}>"

    # -- driver side -------------------------------------------------------
    def emit(self, event: Event, step: StepRun | None = None) -> None:
        """Record `step`'s new state in the history (when given), then tell every listener.

        A listener that raises is logged and the run goes on: a broken display
        must not break the run.
        """
        if step is not None and self._history is not None:
            self._history.record_step(self.id, step.name, **step.to_record())
        for listener in list(self.listeners):
            try:
                listener(self, event, step)
            except Exception:  # noqa: BLE001 - logged with its traceback; the run goes on
                logger.warning("run %s: listener %r failed on event %r", self.id, listener, event,
                               exc_info=True)

    _emit = emit  # the former name, still used by callers outside this package

    def end(self, status: RunStatus) -> None:
        """The run is over: record `status`, tell the listeners, wake whoever waits."""
        self.status = status
        self.ended = time.time()
        try:
            if self._history is not None:
                self._history.finish_run(self.id, status, self.corrections)
        finally:
            self.emit("end")
            self._done.set()
