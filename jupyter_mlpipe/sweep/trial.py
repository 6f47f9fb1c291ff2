"""A sweep's trial inside Ray Tune: one pipeline run with the trial's parameters, its metric streamed.

This module imports Ray Tune at the top: only `sweep.driver` imports it, when a
sweep starts. `PipelineTrial` is a Tune `Trainable` living in a Tune actor; its
`setup` starts the run (`api.run`, in the background, on the same Ray), and each
`step` hands Tune the next point of the sweep's metric as the steps log it
(`log_metric(name, value, step=i)`), so that Tune's schedulers can stop a trial
whose curve is behind. Its last result says how the run ended; a trial Tune stops
before that is cancelled in `cleanup` and recorded as `stopped`.

`SweepRecorder` is the Tune `Callback` on the driver's side: it turns what the
trials report into the sweep's record and tells the sweep's listeners.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypedDict

from ray import tune
from ray.tune.stopper import Stopper

from ..errors import MlpipeError
from .space import plain

__all__ = ["METRIC_KEY", "PipelineTrial", "SweepRecorder", "SweepStopper", "TrialSpec", "metric_value"]

logger = logging.getLogger(__name__)

METRIC_KEY = "mlpipe_metric"
"""The key Tune's schedulers and searchers read: the sweep's metric, whatever its name."""
_POLL_S = 0.2
_CANCEL_WAIT_S = 60.0


class TrialSpec(TypedDict):
    """What every trial of a sweep shares (sent to each Tune actor)."""

    sweep_id: str
    notebook: str
    store: str | None
    address: str | None
    fixed: dict[str, Any]
    metric: str  # NAME or STEP.NAME, as the user gave it
    metric_step: str | None  # STEP when the metric names one
    metric_name: str


def metric_value(history: Any, run_id: str, metric: str) -> tuple[float | None, int, str | None]:
    """The metric's last value in a finished run (reused steps give their original metrics), how many
    points it has, and an error message when no step (or more than one) logged it."""
    from ..queries import recorded_run, result_metric

    record = recorded_run(history, run_id)
    try:
        key = result_metric([record], metric)
    except MlpipeError as exc:
        return None, 0, exc.message + (f" {exc.hint}" if exc.hint else "")
    if key is None:
        return None, 0, f"No step of run {run_id} logged a metric, so it has no {metric!r}."
    for step, names in (record.get("metrics") or {}).items():
        if key.startswith(f"{step}.") and key[len(step) + 1:] in names:
            points = names[key[len(step) + 1:]]
            value = points[-1][1] if points else None
            return (None if value is None else float(value)), len(points), None
    return None, 0, f"No step of run {run_id} logged {metric!r}."


class PipelineTrial(tune.Trainable):
    """One trial: a pipeline run (see the module's docstring)."""

    def setup(self, config: dict[str, Any], spec: TrialSpec | None = None) -> None:  # type: ignore[override]
        """Take the trial's parameters; the run starts with the first `step` (Tune may make an actor for a
        trial and then give the trial to another, reused, actor: that actor must not have run anything)."""
        assert spec is not None
        self.base_spec = spec
        self.spec = dict(spec)  # type: ignore[assignment]
        self.params = {**spec["fixed"], **{name: plain(value) for name, value in config.items()}}
        self.queue: list[float] = []
        self.since = 0
        self.points = 0
        self.last: float | None = None
        self.final_sent = False
        self.setup_error: str | None = None
        self.run: Any = None
        self.started = False

    def _start(self) -> None:
        from ..api import run

        self.started = True
        spec = self.spec
        try:
            self.run = run(spec["notebook"], self.params, store=spec["store"], address=spec["address"],
                           background=True)
        except MlpipeError as exc:  # e.g. a step asks for more than the cluster has: the trial fails, clearly
            self.setup_error = str(exc)

    def _poll(self) -> None:
        spec = self.spec
        for point in self.run.history.metrics(self.run.id, since_rowid=self.since):
            self.since = max(self.since, int(point["rowid"]))
            if point["name"] != spec["metric_name"]:
                continue
            if spec["metric_step"] is None:  # the first step to log it is the one followed
                spec = self.spec = {**spec, "metric_step": point["step"]}
            if point["step"] == spec["metric_step"]:
                self.queue.append(float(point["value"]))

    def step(self) -> dict[str, Any]:
        if not self.started:
            self._start()
        base = {"mlpipe_run_id": self.run.id if self.run is not None else ""}
        if self.run is None:
            self.final_sent = True
            return {**base, "done": True, "mlpipe_status": "failed", "mlpipe_error": self.setup_error or ""}
        while True:
            self._poll()
            if self.queue:
                self.last = self.queue.pop(0)
                self.points += 1
                return {**base, METRIC_KEY: self.last, "mlpipe_points": self.points}
            if self.run.done:
                break
            self.run.wait(_POLL_S)
        self._poll()  # what was logged just before the end
        if self.queue:
            self.last = self.queue.pop(0)
            self.points += 1
            return {**base, METRIC_KEY: self.last, "mlpipe_points": self.points}
        value, points, problem = metric_value(self.run.history, self.run.id, self.spec["metric"])
        result: dict[str, Any] = {**base, "done": True, "mlpipe_status": self.run.status,
                                  "mlpipe_points": max(points, self.points)}
        if value is not None:
            result[METRIC_KEY] = value
        if problem and self.run.status == "succeeded":
            result["mlpipe_metric_error"] = problem
        if self.run.status == "failed":
            failed = [s for s in self.run.steps.values() if s.status == "failed"]
            result["mlpipe_error"] = (failed[0].error or "")[:2000] if failed else ""
        self.final_sent = True
        return result

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """The next trial in this actor (Tune reuses actors when no trial is stopped early): a new run."""
        self.cleanup()  # never two runs in one actor
        self.setup(new_config)  # (with_parameters adds the spec)
        return True

    def cleanup(self) -> None:
        """Stopped by the sweep (early stopping, or the sweep was cancelled): cancel the run, wait for it."""
        if self.run is not None and not self.run.done:
            self.run.cancel()
            self.run.wait(_CANCEL_WAIT_S)

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
        return {}  # a trial is a pipeline run: reuse, not a checkpoint, is what resumes it

    def load_checkpoint(self, checkpoint: Any) -> None:
        return None


class SweepStopper(Stopper):
    """Stops the whole sweep when asked: cancelled, or the metric turned out not to be logged."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.reason is not None


class SweepRecorder(tune.Callback):
    """On the driver: each trial's start, metric points and end, handed to `on_trial` (the sweep)."""

    def __init__(self, on_trial: Callable[[str, dict[str, Any]], None]) -> None:
        self.on_trial = on_trial
        self.numbers: dict[str, int] = {}
        self.last: dict[str, dict[str, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its run config to disk (to resume an experiment): the driver's sink stays here."""
        return {**self.__dict__, "on_trial": None}

    def _number(self, trial: Any) -> int:
        """The trial's place in the order the search drew it (Tune's id ends in that counter, `..._00002`),
        not the order its first event arrived in, so a seeded search numbers its trials the same way."""
        if trial.trial_id not in self.numbers:
            counter = str(trial.trial_id).rpartition("_")[2]
            number = int(counter) + 1 if counter.isdigit() else len(self.numbers) + 1
            if number in self.numbers.values():
                number = max(self.numbers.values()) + 1
            self.numbers[trial.trial_id] = number
        return self.numbers[trial.trial_id]

    def _base(self, trial: Any) -> dict[str, Any]:
        return {"number": self._number(trial), "trial_id": trial.trial_id,
                "params": {name: plain(value) for name, value in (trial.config or {}).items()}}

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.on_trial("start", {**self._base(trial), "status": "running", "started": time.time()})

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.last[trial.trial_id] = result
        update = {**self._base(trial), "run_id": result.get("mlpipe_run_id") or None,
                  "points": int(result.get("mlpipe_points") or 0)}
        if METRIC_KEY in result:
            update["metric"] = float(result[METRIC_KEY])
            update["iteration"] = int(result.get("training_iteration") or 0)
        if result.get("done") or "mlpipe_status" in result:
            update["final"] = result
        self.on_trial("result", update)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        last = self.last.get(trial.trial_id) or {}
        status = last.get("mlpipe_status")
        self.on_trial("end", {**self._base(trial), "status": status or "stopped", "ended": time.time(),
                              "error": last.get("mlpipe_error") or None})

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = None
        path = getattr(trial, "error_file", None)
        try:
            if path:
                with open(path, encoding="utf-8") as fh:
                    error = fh.read()[-2000:]
        except OSError:
            logger.debug("could not read trial %s's error file", trial.trial_id, exc_info=True)
        self.on_trial("end", {**self._base(trial), "status": "failed", "ended": time.time(),
                              "error": error or "the trial's Tune actor failed"})
