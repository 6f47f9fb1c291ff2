"""Running a sweep: check everything, run the shared steps once, then the trials on Ray Tune.

A sweep varies some of a notebook's parameters. Each trial is a pipeline run
(`api.run`) with the trial's values, so it has everything a run has: reuse,
history, panel, `why`. The steps that read no swept parameter (and read nothing
from a step that does) give the same result in every trial: they run once, in
a run of their own before the trials start (`shared_run_id`), and every trial
reuses them, even trials that run at the same time. The sweep's record says how
many step runs that saved.

Ray Tune chooses the trials (a grid, random sampling with an optional seed, or
Optuna's TPE for `bayes`), runs `parallel` at once, and with `early_stop`
stops the trials whose metric curve is behind (`median`: Tune's
MedianStoppingRule; `asha`: its ASHAScheduler). Everything a user can get wrong
is refused before anything runs (`prepare`); a metric no step logs is reported
when the first trial ends, and the sweep stops there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MlpipeError, PlanError, SweepError
from ..store.sweeps import SweepRecord, TrialRecord, new_sweep_id
from .records import best_trial, sweep_summary
from .space import EARLY_STOPS, GOALS, SEARCHES, EarlyStop, Goal, SearchKind, SearchSpace, parse_space

__all__ = ["Sweep", "SweepListener", "SweepPlan", "prepare", "sweep", "dependent_steps"]

logger = logging.getLogger(__name__)

SweepListener = Callable[["Sweep", str], None]
"""Called with the sweep and an event: "start", "shared" (the shared run ended), "trial" (a trial started,
logged a metric point or ended), "end"."""


@dataclass
class SweepPlan:
    """A checked sweep, ready to run: nothing has run yet."""

    notebook: str
    space: SearchSpace
    fixed: dict[str, Any]
    metric: str
    metric_step: str | None
    metric_name: str
    goal: Goal
    search: SearchKind
    trials: int  # how many (a grid's size, or --trials)
    parallel: int | None
    seed: int | None
    early_stop: EarlyStop | None
    shared_steps: list[str]  # read no swept parameter: run once for the whole sweep
    swept_steps: list[str]  # run in each trial
    store: str | None = None
    address: str | None = None
    private_ray: bool | None = None


def dependent_steps(plan: Any, names: set[str]) -> list[str]:
    """The steps that read one of `names`, or a value of a step that does, in notebook order."""
    dependent = {n for n, step in plan.steps.items() if names & set(step.params)}
    changed = True
    while changed:
        changed = False
        for edge in plan.edges:
            if edge.source in dependent and edge.target not in dependent:
                dependent.add(edge.target)
                changed = True
    return [n for n in plan.steps if n in dependent]


def _logs_metrics(plan: Any) -> bool:
    return any("log_metric" in body for step in plan.steps.values() for _, body in step.code)


def prepare(path: str | os.PathLike, specs: list[str], *, metric: str | None, goal: str | None,
            search: str | None = None, trials: int | None = None, seed: int | None = None,
            parallel: int | None = None, early_stop: str | None = None, params: dict[str, Any] | None = None,
            store: str | None = None, address: str | None = None, private_ray: bool | None = None) -> SweepPlan:
    """Check a sweep before anything runs: its flags, its space against the notebook's parameters, the metric."""
    from ..api import plan as plan_of
    from ..api import resolve_params

    if not metric:
        raise SweepError("A sweep needs the metric it optimizes: --metric NAME (what a step logs with "
                         "log_metric(NAME, value)).", hint="For example --metric accuracy --goal max.")
    if goal not in GOALS:
        raise SweepError(f"--goal must be min or max (got {goal!r}).",
                         hint="--goal max for an accuracy or AUC, --goal min for a loss or an error.")
    if search is not None and search not in SEARCHES:
        raise SweepError(f"--search must be one of {', '.join(SEARCHES)} (got {search!r}).")
    if early_stop is not None and early_stop not in EARLY_STOPS:
        raise SweepError(f"--early-stop must be one of {', '.join(EARLY_STOPS)} (got {early_stop!r}).")
    for flag, value in (("--trials", trials), ("--parallel", parallel)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SweepError(f"{flag} must be a whole number of at least 1 (got {value!r}).")
    if not Path(path).is_file():
        raise SweepError(f"No notebook at {str(path)!r}.", hint="Check the path: mlpipe sweep path/to/nb.ipynb ...")
    plan = plan_of(path, store=store)
    if not plan.steps:
        raise PlanError(f"{Path(path).name} has no steps, so there is nothing to sweep.",
                        hint="Put `%%step NAME` on the first line of a code cell and save the notebook.")
    space = parse_space(specs, known=plan.params)
    overrides = dict(params or {})
    for name, dim in list(space.dimensions.items()):  # one value: a fixed parameter, not a swept one
        if dim.kind == "values" and len(dim.values) == 1:
            overrides[name] = dim.values[0]
            del space.dimensions[name]
    for name in overrides:
        if name in space.dimensions:
            raise SweepError(f"Parameter {name!r} is both swept and fixed.", parameter=name)
    if not space.dimensions:
        raise SweepError("Every -p of this sweep has one value, so there is nothing to vary.",
                         hint="Give a parameter several values (-p C=0.1,1) or a range (-p C=log(0.01,10)).")
    fixed = resolve_params(plan, overrides)
    for name in space.dimensions:
        fixed.pop(name, None)
    if search is None:
        search = "grid" if not space.continuous else "random"
    if search == "grid":
        if trials is not None:
            raise SweepError(f"--trials is for --search random or bayes; a grid runs every combination "
                             f"({len(space.grid())} trials here).", hint="Leave out --trials, or sample: "
                             "--search random --trials N.")
        count = len(space.grid())
    elif trials is None:
        why = f" ({', '.join(space.continuous)} is a range)" if space.continuous and search == "random" else ""
        raise SweepError(f"--search {search} needs --trials N: how many trials to sample{why}.",
                         hint=f"For example --search {search} --trials 20.")
    else:
        count = trials
    if search == "bayes":
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise SweepError("--search bayes uses Optuna, which is not installed.",
                             hint="pip install optuna") from None
    metric_step, metric_name = None, metric
    head, _, tail = metric.partition(".")
    if tail and head in plan.steps:
        metric_step, metric_name = head, tail
    if not _logs_metrics(plan if metric_step is None else _only(plan, metric_step)):
        where = f"step {metric_step!r} never calls" if metric_step else "no step of this notebook calls"
        raise SweepError(f"The sweep optimizes {metric!r}, but {where} log_metric.",
                         hint=f"Log it in the step that computes it: log_metric({metric_name!r}, value).")
    swept = dependent_steps(plan, set(space.dimensions))
    if not swept:
        raise SweepError(f"No step reads {', '.join(space.dimensions)}, so every trial would be the same run.",
                         hint="Sweep parameters that a step uses.")
    shared = [n for n in plan.steps if n not in swept]
    return SweepPlan(notebook=str(Path(path).resolve()), space=space, fixed=fixed, metric=metric,
                     metric_step=metric_step, metric_name=metric_name, goal=goal,  # type: ignore[arg-type]
                     search=search, trials=count, parallel=parallel, seed=seed,  # type: ignore[arg-type]
                     early_stop=early_stop, shared_steps=shared, swept_steps=swept,  # type: ignore[arg-type]
                     store=store, address=address, private_ray=private_ray)


def _only(plan: Any, step: str) -> Any:
    """A stand-in plan with only `step` (for the log_metric check)."""

    class _One:
        steps = {step: plan.steps[step]}

    return _One()


@dataclass
class Sweep:
    """A sweep while it runs and after: its record (as the history keeps it), curves, the best trial."""

    plan: SweepPlan
    record: SweepRecord
    curves: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # trial number -> (iteration, value)
    listeners: list[SweepListener] = field(default_factory=list)
    _cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def status(self) -> str:
        return self.record["status"]

    @property
    def trials(self) -> list[TrialRecord]:
        return self.record["trials"]

    def best(self) -> TrialRecord | None:
        """The succeeded trial with the best metric (by the goal); None when no trial has one."""
        return best_trial(self.record)

    def cancel(self) -> None:
        """Stop the sweep: running trials are cancelled, no new one starts."""
        self._cancel.set()

    def emit(self, event: str) -> None:
        for listener in list(self.listeners):
            try:
                listener(self, event)
            except Exception:  # noqa: BLE001 - a broken display must not break the sweep
                logger.warning("sweep %s: listener %r failed on %r", self.id, listener, event, exc_info=True)

    def to_json(self) -> dict[str, Any]:
        """`mlpipe sweep --json`: {"sweep_id", "best": {"run_id", "params", "metric"}, "trials": [...], ...}."""
        return sweep_summary(self.record)


def sweep(path: str | os.PathLike, specs: list[str], *, metric: str | None, goal: str | None,
          search: str | None = None, trials: int | None = None, seed: int | None = None,
          parallel: int | None = None, early_stop: str | None = None, params: dict[str, Any] | None = None,
          store: str | None = None, address: str | None = None, private_ray: bool | None = None,
          listeners: list[SweepListener] | None = None, shared_listeners: list[Any] | None = None) -> Sweep:
    """Run a sweep to its end (see the module's docstring); returns the `Sweep`.

    Bad input raises SweepError (or PlanError) before anything runs. A trial that
    fails does not stop the others; `sweep.status` is "failed" when no trial succeeded
    or the metric is not logged (`record["error"]` says why).
    """
    sp = prepare(path, specs, metric=metric, goal=goal, search=search, trials=trials, seed=seed,
                 parallel=parallel, early_stop=early_stop, params=params, store=store, address=address,
                 private_ray=private_ray)
    return run_prepared(sp, listeners=listeners, shared_listeners=shared_listeners)


def run_prepared(sp: SweepPlan, *, listeners: list[SweepListener] | None = None,
                 shared_listeners: list[Any] | None = None) -> Sweep:
    """Run a checked sweep (`prepare`)."""
    from ..execute import ray_connect
    from ..store.history import History
    from ..store.paths import store_for

    where, config = store_for(sp.notebook, sp.store)
    history = History(where.history_path)
    sweep_id = new_sweep_id()
    options = {"trials": sp.trials, "parallel": sp.parallel, "seed": sp.seed, "early_stop": sp.early_stop,
               "shared_steps": sp.shared_steps, "swept_steps": sp.swept_steps}
    history.sweeps.start(sweep_id, notebook=sp.notebook, metric=sp.metric, goal=sp.goal, search=sp.search,
                         space=sp.space.to_dict(), fixed=sp.fixed, options=options)
    record = history.sweeps.get(sweep_id)
    result = Sweep(sp, record, listeners=list(listeners or []))
    result.emit("start")
    ray_options = config.run_options(sp.address, sp.private_ray)
    status, error = "failed", None
    connected = False
    try:
        if sp.shared_steps:
            error = _run_shared(result, history, shared_listeners)
        if error is None:
            ray_connect.connect(ray_options["address"], private=ray_options["private_ray"],
                                token_file=ray_options["ray_token_file"],
                                idle_minutes=ray_options["ray_idle_minutes"])
            connected = True
            error = _run_trials(result, history, where.root / "sweeps")
        if result._cancel.is_set():
            status = "cancelled"
        elif error is None and result.best() is not None:
            status = "succeeded"
        elif error is None:
            error = "No trial succeeded with a value of the metric."
    except KeyboardInterrupt:
        status, error = "cancelled", "interrupted"
        raise
    finally:
        if connected:
            ray_connect.release()
        best = result.best()
        saved = _steps_saved(history, result)
        fields = {"status": status, "ended": time.time(), "error": error, "steps_saved": saved,
                  "best_run_id": best.get("run_id") if best else None,
                  "best_metric": best.get("metric") if best else None}
        history.sweeps.update(sweep_id, **fields)
        result.record.update(fields)  # type: ignore[typeddict-item]
        result.emit("end")
        history.close()
    return result


def _run_shared(result: Sweep, history: Any, listeners: list[Any] | None) -> str | None:
    """Run the steps that read no swept parameter once, before the trials (which then reuse them)."""
    from ..api import run

    sp = result.plan
    params = {**sp.fixed, **{name: _default_of(sp, name) for name in sp.space.dimensions}}
    shared = run(sp.notebook, params, steps=sp.shared_steps, store=sp.store, address=sp.address,
                 private_ray=sp.private_ray, listeners=listeners)
    history.sweeps.update(result.id, shared_run_id=shared.id)
    result.record["shared_run_id"] = shared.id
    result.emit("shared")
    if shared.status != "succeeded":
        return (f"The steps every trial shares ({', '.join(sp.shared_steps)}) did not succeed in run "
                f"{shared.id}, so no trial ran.\n{shared.summary()}")
    return None


def _default_of(sp: SweepPlan, name: str) -> Any:
    """A value for a swept parameter in the shared run (no step of it reads one): the first of the space."""
    dim = sp.space.dimensions[name]
    return dim.values[0] if dim.kind == "values" else (int(dim.low or 0) if dim.kind == "int" else dim.low)


def _quiet_reporter() -> Any:
    """Tune's progress reporter that shows nothing: in a kernel its default (JupyterNotebookReporter)
    calls `clear_output`, which wiped the sweep table and the shared run's panel from the cell."""
    from ray.tune import ProgressReporter

    class Quiet(ProgressReporter):
        def should_report(self, trials: list, done: bool = False) -> bool:
            return False

        def report(self, trials: list, done: bool, *sys_info: Any) -> None:
            return None

    return Quiet()


def _run_trials(result: Sweep, history: Any, storage: Path) -> str | None:
    """The trials on Ray Tune; an error message when the sweep had to stop, else None."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's progress tables: the sweep has its own views
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no CSV/TensorBoard files per trial
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"  # a trial that never logged the metric is ours to report
    import ray
    from ray import tune

    from .space import tune_space
    from .trial import METRIC_KEY, PipelineTrial, SweepRecorder, SweepStopper, TrialSpec

    sp = result.plan
    spec: TrialSpec = {"sweep_id": result.id, "notebook": sp.notebook, "store": sp.store, "address": sp.address,
                       "fixed": sp.fixed, "metric": sp.metric, "metric_step": sp.metric_step,
                       "metric_name": sp.metric_name}
    stopper = SweepStopper()

    def on_trial(event: str, data: dict[str, Any]) -> None:
        _take_trial(result, history, stopper, event, data)

    watcher = threading.Thread(target=_watch_cancel, args=(result, stopper), daemon=True)
    watcher.start()
    parallel = sp.parallel or max(1, int(ray.cluster_resources().get("CPU", 1)))  # a trial's steps need CPUs
    trainable = tune.with_resources(tune.with_parameters(PipelineTrial, spec=spec), {"memory": 1})
    tuner = tune.Tuner(
        trainable, param_space=tune_space(sp.space, sp.search),
        tune_config=tune.TuneConfig(metric=METRIC_KEY, mode=sp.goal, num_samples=1 if sp.search == "grid"
                                    else sp.trials, max_concurrent_trials=parallel,
                                    search_alg=_searcher(sp), scheduler=_scheduler(sp),
                                    # a new actor (a process) per trial costs seconds; reused, a trial stopped
                                    # early would go on running until its actor's next trial: not with
                                    # early stopping
                                    reuse_actors=sp.early_stop is None),
        run_config=tune.RunConfig(name=result.id, storage_path=str(storage), verbose=0, stop=stopper,
                                  callbacks=[SweepRecorder(on_trial)], log_to_file=True,
                                  progress_reporter=_quiet_reporter(),
                                  checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False)),
    )
    tuner.fit()
    return stopper.reason if stopper.reason and stopper.reason != "cancelled" else None


def _watch_cancel(result: Sweep, stopper: Any) -> None:
    while result.status == "running" and stopper.reason is None:
        if result._cancel.wait(0.5):
            stopper.reason = "cancelled"
            return


def _searcher(sp: SweepPlan) -> Any:
    if sp.search == "bayes":
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(seed=sp.seed)
    if sp.search == "random":
        from ray.tune.search import BasicVariantGenerator

        return BasicVariantGenerator(random_state=sp.seed)
    return None


def _scheduler(sp: SweepPlan) -> Any:
    """Early stopping on the metric's points (Tune's `training_iteration`: the n-th point a trial logged)."""
    if sp.early_stop == "median":
        from ray.tune.schedulers import MedianStoppingRule

        # compared from the first point, once two other trials got as far; never paused (a trial is a run)
        return MedianStoppingRule(time_attr="training_iteration", grace_period=1, min_samples_required=2,
                                  min_time_slice=10**9)
    if sp.early_stop == "asha":
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(time_attr="training_iteration", grace_period=1, reduction_factor=3, max_t=10**9)
    return None


def _take_trial(result: Sweep, history: Any, stopper: Any, event: str, data: dict[str, Any]) -> None:
    """What the Tune callback reported, into the record (the history's and the sweep's) and to the listeners."""
    number = int(data["number"])
    trials = result.record["trials"]
    trial = next((t for t in trials if t["number"] == number), None)
    if trial is None:
        trial = {"sweep_id": result.id, "number": number, "status": "pending", "metric": None, "points": 0,
                 "run_id": None, "params": {}, "started": None, "ended": None, "error": None}
        trials.append(trial)
        trials.sort(key=lambda t: t["number"])
    update: dict[str, Any] = {k: data[k] for k in ("trial_id", "params", "status", "started", "ended", "error",
                                                   "run_id", "points") if k in data and data[k] is not None}
    if "metric" in data:
        update["metric"] = data["metric"]
        result.curves.setdefault(number, []).append((int(data.get("iteration") or 0), float(data["metric"])))
    final = data.get("final") or {}
    if final.get("mlpipe_metric_error") and stopper.reason is None:
        stopper.reason = (f"Trial {number} (run {final.get('mlpipe_run_id')}) ended without the sweep's metric: "
                          f"{final['mlpipe_metric_error']}")
    if event == "end" and update.get("status") == "stopped" and stopper.reason is not None:
        update["status"] = "cancelled"  # stopped with the whole sweep, not by early stopping
    trial.update(update)  # type: ignore[typeddict-item]
    history.sweeps.record_trial(result.id, {"number": number, **update})  # type: ignore[typeddict-item]
    result.emit("trial")


def _steps_saved(history: Any, result: Sweep) -> int | None:
    """Step runs the sweep did not do: the steps its trials reused, less those its shared run ran."""
    saved = 0
    run_ids = [t.get("run_id") for t in result.trials if t.get("run_id")]
    try:
        for run_id in run_ids:
            saved += sum(1 for s in (history.get_run(run_id).get("steps") or {}).values()
                         if s.get("status") == "reused")
        shared = result.record.get("shared_run_id")
        if shared:
            saved -= sum(1 for s in (history.get_run(shared).get("steps") or {}).values()
                         if s.get("status") in ("succeeded", "failed"))
    except MlpipeError:
        logger.warning("could not count the steps sweep %s saved", result.id, exc_info=True)
        return None
    return max(saved, 0)
