"""An old run read back from the history: what a live run offers for reading, nothing to drive.

`load_run`, `mlpipe show` and `%pipeline show RUN_ID` hand one out; the run panel,
the text views and `run["name"]` read it as they read a live `execute.runner.Run`
(both satisfy `queries.RunView`).
"""

from __future__ import annotations

from typing import Any

from .execute.failures import failure_message
from .execute.run import RunViewBase, StepRun
from .plan import Pipeline
from .plan.modules import recorded_top_level
from .queries import RunRecord
from .store.artifacts import ArtifactStore
from .store.paths import Store

__all__ = ["RecordedRun"]

_STEP_FIELDS = ("status", "started", "ended", "notebook_path", "reason", "warnings", "key", "resources")


def _step_of(name: str, data: dict[str, Any]) -> StepRun:
    """A step of a recorded run, as the run recorded it."""
    step = StepRun(name, **{key: data[key] for key in _STEP_FIELDS if data.get(key) is not None})
    step.outputs = data.get("outputs") or {}
    step.inputs = data.get("inputs") or {}
    step.attempts = data.get("attempts") or 0
    step.error_info = data.get("error")
    if step.error_info:  # records made before the message was stored with the error have none
        step.error = step.error_info.get("message") or failure_message(name, step.error_info, step.notebook_path)
    return step


class RecordedRun(RunViewBase):
    """A finished (or interrupted) run loaded from the run history.

    `record` is its `History.get_run` dict (the panel draws the recorded plan from it);
    `plan` is an empty Pipeline: the steps as planned then are in `record["plan"]`.
    """

    done = True  # nothing to wait for: `wait()` returns at once

    def __init__(self, record: RunRecord, store: Store) -> None:
        self.record = record
        self.id: str = record["id"]
        self.notebook: str = record.get("notebook", "")
        self.params: dict[str, Any] = record.get("params") or {}
        self.status: str = record.get("status", "?")
        self.started: float = record.get("started") or 0.0
        self.ended: float | None = record.get("ended")
        self.error: BaseException | None = None
        self.plan = Pipeline(steps={}, edges=[], params={}, notebook=self.notebook)
        self.steps: dict[str, StepRun] = {name: _step_of(name, data)
                                          for name, data in (record.get("steps") or {}).items()}
        self.metrics: dict[str, dict[str, list]] = record.get("metrics") or {}
        self.corrections: list[str] = list(record.get("corrections") or [])
        self.listeners: list[Any] = []  # a recorded run tells nobody anything; kept for code that looks
        self._store = store
        self._artifacts: ArtifactStore | None = None

    # -- where it lives ----------------------------------------------------
    history = None  # as `Run.history` says of a run read back from the history: nothing records it now

    # -- reading -----------------------------------------------------------
    def notebook_sees(self, step: str, name: str) -> bool:
        """As `Run.notebook_sees`, from the plan the run recorded (module steps keep their names apart)."""
        planned = next((s for s in (self.record.get("plan") or {}).get("steps") or [] if s.get("name") == step), None)
        return planned is None or recorded_top_level(planned, name)

    def wait(self, timeout: float | None = None) -> RecordedRun:
        return self

    def __repr__(self) -> str:
        return f"<RecordedRun {self.id} {self.status}: {self.counts()}>"
