"""An old run read back from the history: same shape as a live Run for reading."""

from __future__ import annotations

from typing import Any

from ..store.paths import Store
from .runner import Run, StepRun

__all__ = ["RecordedRun"]


class RecordedRun(Run):
    """A finished (or interrupted) run loaded from the run history."""

    def __init__(self, record: dict[str, Any], store: Store) -> None:
        from ..plan.planner import Pipeline

        self.record = record
        self.id = record["id"]
        self.notebook = record.get("notebook", "")
        self.params = record.get("params") or {}
        self.status = record.get("status", "?")
        self.started = record.get("started") or 0.0
        self.ended = record.get("ended")
        self.error = None
        self._store = store
        self._history = None
        self._artifacts = None
        self.listeners = []
        self.plan = Pipeline(steps={}, edges=[], params={}, notebook=self.notebook)
        self.steps = {}
        for name, data in (record.get("steps") or {}).items():
            sr = StepRun(name)
            for key in ("status", "started", "ended", "notebook_path", "reason", "warnings", "key", "resources"):
                if data.get(key) is not None:
                    setattr(sr, key, data[key])
            sr.outputs = data.get("outputs") or {}
            sr.inputs = data.get("inputs") or {}
            sr.attempts = data.get("attempts") or 0
            sr.error_info = data.get("error")
            if sr.error_info:
                from .runner import _failure_message

                sr.error = sr.error_info.get("message") or _failure_message(name, sr.error_info, sr.notebook_path)
            self.steps[name] = sr
        self.metrics = record.get("metrics") or {}

    @property
    def done(self) -> bool:
        return True
