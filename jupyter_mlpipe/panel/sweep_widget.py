"""The sweep table widget (anywidget): the trials fill in live, the best one marked, each with its curve.

Imported only when a sweep is shown. `SweepTable.listener` is a sweep listener
(`sweep.driver.SweepListener`): called on the sweep's thread, it updates the
traits at most `1 / min_interval` times a second (always at a trial's end and
at the sweep's start and end), one comm message each (`hold_sync`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from .sweep_state import TRIAL_LOOKS, sweep_state, trial_rows

__all__ = ["SweepTable"]

_HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


class SweepTable(anywidget.AnyWidget):
    """A sweep's trials: parameters, status, metric (with its curve), run; the best marked."""

    _esm = _HERE / "sweep.js"
    _css = _HERE / "panel.css"

    sweep = t.Dict(help="The head: {id, status, metric, goal, search, space, planned, finished, best, "
                   "shared_steps, shared_run_id, steps_saved, error} (`panel.sweep_state.sweep_state`).").tag(sync=True)
    trials = t.List(help="One per trial: {number, params, status, metric, run_id, points, curve: [[i, value]], "
                    "best, error} (`panel.sweep_state.trial_rows`).").tag(sync=True)
    looks = t.Dict(help="Icon, label and colour of each trial status.").tag(sync=True)

    def __init__(self, record: dict[str, Any] | None = None, *, curves: dict | None = None,
                 planned: int | None = None, min_interval: float = 0.2, **kwargs: Any) -> None:
        kwargs.setdefault("looks", {k: dict(v) for k, v in TRIAL_LOOKS.items()})
        super().__init__(**kwargs)
        self.min_interval = min_interval
        self._last = 0.0
        self._record: dict[str, Any] = {}
        if record is not None:
            self.show(record, curves=curves, planned=planned)

    def show(self, record: dict[str, Any], *, curves: dict | None = None, planned: int | None = None) -> None:
        """Show this state of a sweep (a `SweepRecord`, with trials)."""
        self._record = record
        with self.hold_sync():
            self.sweep = sweep_state(record, planned=planned)
            self.trials = trial_rows(record, curves)
        self._last = time.monotonic()

    def listener(self, sweep: Any, event: str) -> None:
        """A sweep listener: its record as it changes."""
        try:
            statuses = [tr.get("status") for tr in sweep.record.get("trials") or []]
            shown = [tr.get("status") for tr in self.trials]
            due = time.monotonic() - self._last >= self.min_interval
            if event != "trial" or statuses != shown or due:
                self.show(sweep.record, curves=sweep.curves, planned=sweep.plan.trials)
        except Exception:  # noqa: BLE001 - a broken display must not break the sweep
            log.warning("the sweep table could not update", exc_info=True)

    def text(self) -> str:
        from ..sweep.text import sweep_table

        return sweep_table(self._record) if self._record else "(no sweep)"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            data, metadata = bundle
            return {**data, "text/plain": self.text()}, metadata
        return {**(bundle or {}), "text/plain": self.text()}
