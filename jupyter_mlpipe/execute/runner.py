"""The driver of a pipeline run: walk the plan, reuse what did not change, hand the rest to a backend.

`start_run` creates a `Run` (see `run`), records it, and drives it: the driver
loop starts each step once all its inputs are there, and turns what the backend
reports into step states. It is the only writer of step states. Whether a step
is reused is `decision`'s job, where it runs a `Backend`'s (Ray for real runs),
and how a failure reads `failures`'.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import EnvBuildFailed, InfeasibleRequest, RayUnavailable
from ..plan import Pipeline, Step
from ..plan.fanout import is_fanout
from ..store.paths import Store
from ..vocab import DONE, FINISHED, STEP_STATUSES, ErrorInfo, RunStatus, StepStatus, to_json
from .backend import Backend, Finished
from .carried import is_carried
from .file_windows import FileWindows
from .files import FILE_PREFIX, file_key, found_key, literal_paths
from .corrections import MAX_RERUNS, Corrections
from .decision import ReuseDecider
from .environments import env_failure_result
from .fanout_driver import FanOuts
from .modules import bind_module
from .failures import crash_message, error_info, failure_message, first_line, lost_message, timeout_message
from .ray_backend import RayBackend
from .run import Event, Listener, Run, StepRun
from .task import OutputRef, StepResult, StepTask

if TYPE_CHECKING:  # pragma: no cover
    from ..store.history import History

# Run, StepRun and STEP_STATUSES are re-exported: callers import them from here
__all__ = ["Run", "StepRun", "RunOptions", "start_run", "Event", "Listener", "STEP_STATUSES", "Store"]

logger = logging.getLogger(__name__)

STOPPED: tuple[StepStatus, ...] = tuple(s for s in FINISHED if s not in DONE)
"""Finished without outputs: the steps that depend on it are skipped."""
_POLL_S = 0.05
_TIMEOUT_GRACE_S = 5.0  # how long after its --timeout a step that did not stop itself is killed


@dataclass
class RunOptions:
    """What the user asked of a run: which steps (and what they need), --force, which Ray (see `ray_connect`)."""

    steps: list[str] | None = None
    force: bool = False
    address: str | None = None
    private_ray: bool = False
    ray_token_file: str | None = None
    ray_idle_minutes: float | None = None
    ship_project: bool = False  # the notebook's folder travels through the store (`project`)

    def backend(self) -> RayBackend:
        return RayBackend(self.address, private=self.private_ray, token_file=self.ray_token_file,
                          idle_minutes=self.ray_idle_minutes)


class _Driver:
    """Starts each step when its inputs are there, and turns what the backend reports into step states."""

    def __init__(self, run: Run, options: RunOptions, backend: Backend, history: History) -> None:
        self.run = run
        self.options = options
        self.backend = backend
        self.plan = run.plan
        self.corrections = Corrections(run.plan, list(run.steps))
        self.running: list[str] = []  # submitted to the backend, not finished
        self.outdated: set[str] = set()  # running, but what they read changed meanwhile: run again
        self.failed_touches: dict[str, list[str]] = {}  # failed step -> the files it had touched
        self.windows = FileWindows()  # every attempt's time window and files, dropped and replaced ones too
        self.pristine: dict[str, list[Any]] = {}  # `@file:` -> [when, kind, ref, access, fresh]: before the run
        self.restored: dict[str, frozenset[str]] = {}  # running step -> the files it was given as they should be
        self.must_run: set[str] = set()  # steps whose stored result is not to be trusted in this run
        self.learned_keys: dict[str, str] = {}  # step -> the key `cache_as_learned` stored its result under
        self.backend_ready = False
        self.project_digest: str | None = None
        self.decider = ReuseDecider(history=history, artifacts=lambda: run.artifacts, run_id=run.id,
                                    notebook=run.notebook, params=run.params, base=run.store.base,
                                    force=options.force)
        self.history = history
        self.fanouts = FanOuts(self)

    # -- decisions ---------------------------------------------------------
    def start(self, name: str) -> None:
        run, step = self.run, self.corrections.steps[name]
        sr = run.steps[name]
        inputs: dict[str, OutputRef] = {}
        for var, source in step.input_sources.items():
            ref = run.steps[source].outputs.get(var)
            if ref is None:  # cannot happen for a step that ran in this run (its save cell checks)
                sr.ended = time.time()
                message = f"Step {source!r} did not store {var!r}, which step {name!r} needs."
                sr.fail(message, error_info("MissingInput", message))
                run.emit("step", sr)
                return
            inputs[var] = ref
        if step.binding is not None:  # a module's binding node: its parameters bound here, no task (`modules`)
            bind_module(run, self.history, sr, step, inputs)
            run.emit("step", sr)
            return
        visible = {v: r["digest"] for v, r in inputs.items()}
        hidden = self.corrections.hidden_for(name, visible, run.steps)
        if hidden is None:  # a value it shares objects with is still being defined: start it later
            return
        sr.inputs, sr.hidden = visible, hidden
        required = self.required(name)
        decision = self.decider.decide(step, input_digests={**visible, **hidden, **self.outside(step)},
                                       required=required)
        sr.key, sr.reason = decision.key, decision.reason
        if decision.reused and name in self.must_run:  # what it stored may hold another step's changes
            sr.reason = {**sr.reason, "decision": "ran", "changes": [],
                         "summary": "a later step changed a file it touched while it ran: it runs again"}
        elif decision.reused:
            sr.status = "reused"
            sr.outputs = decision.outputs
            sr.started = sr.ended = time.time()
            sr.notebook_path = decision.notebook_path
            run.emit("step", sr)
            return
        self.must_run.discard(name)
        if self.environment_failed(name, step):
            return
        if is_fanout(step.options):  # split, elements in chunks, gather (`fanout_driver`)
            self.fanouts.start(name, step, inputs, required)
            self.running.append(name)
            return
        self.submit(name, step, inputs, required, hidden)

    def environment_failed(self, name: str, step: Step) -> bool:
        """A step whose environment cannot be built fails now, in pip's own words, not after Ray's retries."""
        try:
            self.decider.envs.resources(step)
        except EnvBuildFailed as exc:
            run, sr = self.run, self.run.steps[name]
            sr.notebook_path = str(run.store.run_dir(run.id) / f"{name}.ipynb")
            self.take_result(sr, env_failure_result(name, exc.env, exc.installer, sr.notebook_path))
            run.emit("step", sr)
            return True
        return False

    def outside(self, step: Step) -> dict[str, str]:
        """The content hashes of the data files the step reads that no earlier step writes (for its key)."""
        import fnmatch

        base, declared = self.run.store.base, list(step.options.deps or [])
        return {v: "file:" + self.file_key_before(v, str(base / v[len(FILE_PREFIX):])) for v in step.outputs
                if v.startswith(FILE_PREFIX) and v not in step.input_sources
                and not any(fnmatch.fnmatch(v[len(FILE_PREFIX):], d) for d in declared)}  # --deps: in the key

    def file_key_before(self, variable: str, path: str) -> str:
        """A data file's content for a key: as it was before this run touched it, where a step's first touch
        kept what it found (an appender's result depends on it: a re-run, or the key stored for the next plan,
        must not take the file it left itself); else as it is now."""
        seen = self.pristine.get(variable)
        if seen is not None and not seen[4] and seen[1] != "unknown":
            found = found_key(self.run.artifacts.get(seen[2]["digest"]))
            if found is not None:
                return found
        return file_key(path)

    def required(self, name: str) -> list[str]:
        """The variables of step `name` that the run's later steps read."""
        return sorted({v for other, step in self.corrections.steps.items() if other in self.run.steps
                       for v, source in step.input_sources.items() if source == name})

    def ensure_backend(self) -> None:
        """Start the backend before the first task is submitted."""
        run = self.run
        if not self.backend_ready:
            run.connecting = True  # listeners say "starting Ray" until the first step is submitted
            run.emit("connecting")
            try:
                self.backend.start({n: self.plan.steps[n].resources for n in run.steps
                                    if run.steps[n].status == "pending"})
            finally:
                run.connecting = False
            self.backend_ready = True

    def submit(self, name: str, step: Step, inputs: dict[str, OutputRef], required: list[str],
               hidden: dict[str, str]) -> None:
        from .bundle import build_bundle, bundle_parameters

        run, store = self.run, self.run.store
        self.ensure_backend()
        run_dir = store.run_dir(run.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        sr = run.steps[name]
        sr.notebook_path = str(run_dir / f"{name}.ipynb")
        pristine = self.pristine_for(name)
        self.restored[name] = frozenset([*pristine, *(v for v in inputs if v.startswith(FILE_PREFIX))])
        resources = self.decider.envs.resources(step)  # its runtime_env with pip's pins (`environment_failed`)
        task: StepTask = {
            "bundle": build_bundle(self.plan, step),
            "output_path": sr.notebook_path,
            "parameters": bundle_parameters(
                step, run_id=run.id, store=store.artifacts_root, inputs=inputs, required=required,
                params=run.params, context={"history": str(store.history_path), "hidden": hidden,
                                          "paths": literal_paths([body for _, body in step.code]),
                                          "pristine": {v: ref["digest"] for v, ref in pristine.items()}}),
            "cwd": str(store.base),
            "started_marker": str(run_dir / f"{name}.started"),
            "timeout": step.options.timeout,
            "project": self.project(),
        }
        self.backend.submit(name, task, resources, step.options.retries)
        self.running.append(name)
        sr.status = "running"
        sr.started = time.time()
        run.emit("step", sr)

    # -- the loop ----------------------------------------------------------
    def loop(self) -> None:
        run = self.run
        order = list(run.steps)
        while True:
            if run.cancel_requested:
                raise KeyboardInterrupt
            for name in order:
                sr = run.steps[name]
                if sr.status != "pending":
                    continue
                deps = sorted(self.corrections.deps(name))
                states = [run.steps[d].status for d in deps]
                if any(s in STOPPED for s in states):
                    sr.status = "skipped"
                    blocker = next(d for d in deps if run.steps[d].status in STOPPED)
                    sr.reason = {"decision": "skipped", "summary": f"step {blocker!r} did not succeed"}
                    run.emit("step", sr)
                elif all(s in DONE for s in states):
                    self.start(name)
            if not self.running:
                if all(run.steps[n].status != "pending" for n in order):
                    return
                continue
            for finished in self.backend.wait(_POLL_S):
                if self.fanouts.owns(finished.name):  # a task of a fan-out step: the step's end, or None
                    finished = self.fanouts.finish(finished)
                    if finished is None:
                        continue
                self.finish(finished)
            self.check_running()

    def check_running(self) -> None:
        """The driver's backstop for --timeout: the worker stops the step itself at the deadline
        (keeping its notebook and its process); a step still running a few seconds later is killed."""
        run = self.run
        for name in list(self.running):
            sr = run.steps[name]
            timeout = self.plan.steps[name].options.timeout
            if not timeout:
                continue
            began = self.read_marker(name, sr)
            if began is not None and time.time() - began > timeout + _TIMEOUT_GRACE_S:
                self.backend.cancel(name)  # if it finished meanwhile, it still timed out
                self.running.remove(name)
                sr.ended = time.time()
                message = timeout_message(name, timeout, None, stuck=True)
                sr.fail(message, error_info("Timeout", message))
                run.emit("step", sr)

    def read_marker(self, name: str, sr: StepRun) -> float | None:
        """When the step's latest attempt began (the worker writes it); counts the attempts."""
        path = self.run.store.run_dir(self.run.id) / f"{name}.started"
        try:
            lines = path.read_text().split("\n")
        except OSError:
            return None
        lines = [line for line in lines if line.strip()]
        if not lines:
            return None
        sr.attempts = len(lines)
        return float(lines[-1].split()[0])

    def finish(self, finished: Finished) -> None:
        run, name = self.run, finished.name
        sr = run.steps[name]
        if name not in self.running:
            return  # a step the driver already gave up on (killed at its --timeout)
        self.running.remove(name)
        attempt = self.windows.record(name, finished.result, self.restored.pop(name, frozenset()))
        self.keep_pristine(finished.result)
        if name in self.outdated:  # what it read changed while it ran: its result is not wanted
            self.outdated.discard(name)
            if attempt is not None:  # it still changed files while it ran
                self.replay_overlapping(name)
            sr.reset()
            run.emit("step", sr)
            return
        self.read_marker(name, sr)
        sr.ended = time.time()
        if finished.outcome == "cancelled":
            sr.status = "cancelled"
        elif finished.outcome in ("crashed", "lost"):
            error = finished.error or RuntimeError("no error reported")
            message = crash_message(name, error) if finished.outcome == "crashed" else lost_message(
                name, error, attempts=sr.attempts, retries=self.plan.steps[name].options.retries)
            sr.fail(message, error_info(type(error).__name__, first_line(error)))
        else:
            self.take_result(sr, finished.result or {})
        run.emit("step", sr)

    def take_result(self, sr: StepRun, result: StepResult) -> None:
        """A step task that returned: its outputs go into the cache, or its error into the step."""
        run, name = self.run, sr.name
        self.take_from_away(sr, result)
        sr.started = result.get("started", sr.started)
        sr.ended = result.get("ended", sr.ended)
        if result.get("status") == "succeeded":
            sr.status = "succeeded"
            learned = result.get("learned") or {}
            sr.outputs = {**result["outputs"], **{v: fact["ref"] for v, fact in learned.items()}}
            sr.warnings = result.get("warnings", [])
            for variable, ref in sr.outputs.items():
                self.history.record_artifact(ref, run_id=run.id, step=name, variable=variable)
            components = (sr.reason or {}).get("components")
            if sr.key:
                self.history.cache_put(sr.key, step=name, notebook=run.notebook, components=components or {},
                                       outputs=sr.outputs, run_id=run.id)
            self.correct(name, {v: fact["reason"] for v, fact in learned.items()})
            self.cache_as_learned(sr, learned)
            return
        info: ErrorInfo = result["error"]
        stale = self.touched_too_early(name, result.get("touched") or [])
        if stale:  # it failed on a file an earlier step writes: not its own error, yet
            self.rerun(name, f"{name} re-ran: it touches {stale[len(FILE_PREFIX):]!r}, which an earlier step "
                             "writes (learned at run time)")
            return
        if info.get("ename") == "Timeout":
            message = timeout_message(name, self.plan.steps[name].options.timeout or 0, info, stuck=False)
            if sr.notebook_path:
                message += f"\nExecuted notebook: {sr.notebook_path}"
        else:
            message = failure_message(name, info, sr.notebook_path)
        sr.fail(message, info)

    def project(self) -> str | None:
        """The digest of the notebook's folder packed into the store, once per run (`[ray] ship_project`)."""
        if self.options.ship_project and self.project_digest is None:
            from .project import pack

            self.project_digest = pack(str(self.run.store.base), self.run.artifacts)
        return self.project_digest

    def take_from_away(self, sr: StepRun, result: StepResult) -> None:
        """A step that ran where the driver's folders are not sends its notebook and metrics back: keep them."""
        if result.get("notebook") is not None and sr.notebook_path:
            with open(sr.notebook_path, "w", encoding="utf-8") as fh:
                fh.write(result["notebook"])
        for point in result.get("metrics") or []:
            self.history.record_metric(self.run.id, sr.name, point["name"], point["value"], point["step_index"],
                                       point["ts"])

    # -- corrections -------------------------------------------------------
    def correct(self, name: str, learned: dict[str, str]) -> None:
        """Take in what step `name` defined beyond its plan; run again what read an older value."""
        run = self.run
        for variable, reason in learned.items():
            if variable in self.corrections.steps[name].outputs:
                continue
            for later in self.corrections.learn(name, variable):
                if run.steps[later].status == "pending":
                    run.corrections.append(f"{later} waits for {name}: {reason} (learned at run time)")
            kind = "state" if is_carried(variable) else "changed"
            try:
                self.history.facts.add(run.notebook, name, variable, kind=kind, reason=reason, run_id=run.id)
            except Exception:  # noqa: BLE001 - the run is still right; the next plan learns it again
                logger.warning("could not record what step %r taught the plan", name, exc_info=True)
        for later, touched in list(self.failed_touches.items()):  # failed on a file this step writes
            written = next((v for v in touched if v in learned and self.corrections.position[later]
                            > self.corrections.position[name]), None)
            if written is not None and run.steps[later].status == "failed":
                del self.failed_touches[later]
                self.corrections.learn(later, written)
                self.rerun(later, f"{later} re-ran: {learned[written]} (learned at run time)")
        self.replay_overlapping(name)
        for later, variable in self.corrections.stale(name, run.steps):
            source = self.corrections.steps[later].input_sources.get(variable, name)
            why = learned.get(variable) if source == name and later != name else None
            if why is None:
                why = f"it reads {variable!r} as step {source!r} leaves it"
            self.rerun(later, f"{later} re-ran: {why} (learned at run time)")

    def keep_pristine(self, result: StepResult | None) -> None:
        """Each file as the first attempt of this run to touch it found it: as it was before the run."""
        for variable, seen in ((result or {}).get("found") or {}).items():
            if variable not in self.pristine or seen[0] < self.pristine[variable][0]:
                self.pristine[variable] = list(seen)

    def pristine_for(self, name: str) -> dict[str, OutputRef]:
        """The files step `name`'s earlier attempts in this run touched that no earlier step writes: a re-run
        starts from them as they were before the run, not as its own or a concurrent attempt left them."""
        files = {v for a in self.windows.attempts if a.step == name for v in a.files}
        return {v: self.pristine[v][2] for v in sorted(files)
                if v in self.pristine and self.pristine[v][1] != "unknown"
                and self.corrections.reaching(v, name) is None}

    def replay_overlapping(self, name: str) -> None:
        """Step `name`'s last attempt and another step touched one file at the same time, or out of notebook
        order (`file_windows`): either may have seen and handed on the other's change (`'abb'` for `'ab'`)."""
        attempt = self.windows.latest(name)
        if attempt is None:
            return
        for earlier, later, variable in self.windows.overlapping(attempt, self.corrections.position.__getitem__):
            self.replay_file(earlier, variable, f"{earlier} and {later} touched {variable[len(FILE_PREFIX):]!r} "
                                                "at the same time")

    def replay_file(self, earliest: str, variable: str, what: str) -> None:
        """Steps that touched one file at the same time saw each other's half-done changes: from `earliest`
        on, every step that touches it is not trusted and runs again, in notebook order (each now waits for
        the one before it, which the run has learned)."""
        position = self.corrections.position
        for name, step in self.corrections.steps.items():
            if position[name] < position[earliest] or variable not in step.outputs:
                continue
            if self.run.steps[name].status in ("succeeded", "running"):
                self.distrust(name)
                self.rerun(name, f"{name} re-ran: {what}, so what it left is not known (learned at run time)")

    def cache_as_learned(self, sr: StepRun, learned: dict[str, Any]) -> None:
        """Store the result also under the key the next plan, which knows what this run learned, gives the
        step, so that learning costs no extra run: its key gains the data files it turned out to read."""
        step = self.corrections.steps[sr.name]
        outside = self.outside(step)
        if sr.status != "succeeded" or not sr.key or not any(v in learned for v in outside):
            return
        key, components = self.decider.key(step, {**sr.inputs, **sr.hidden, **outside})
        self.learned_keys[sr.name] = key
        self.history.cache_put(key, step=sr.name, notebook=self.run.notebook, components=components,
                               outputs=sr.outputs, run_id=self.run.id)

    def distrust(self, name: str) -> None:
        """What step `name` stored may hold another step's changes to a file: never reuse it."""
        for key in (self.run.steps[name].key, self.learned_keys.pop(name, None)):
            if key:
                self.history.cache_delete(key)
        self.must_run.add(name)

    def touched_too_early(self, name: str, touched: list[str]) -> str | None:
        """A file the failed step `name` touched that an earlier step turns out to write, if any: then it may
        not have failed on the notebook's file, and runs again. None when it did (`saw_the_notebooks_file`):
        its own error stands, instead of a loop of re-runs that ends at the correction limit."""
        genuine = False
        for variable in touched:
            before = self.corrections.reaching(variable, name)
            if before is None:
                continue
            if self.saw_the_notebooks_file(name, before, variable):
                self.corrections.learn(name, variable)
                genuine = True
                continue
            earlier = self.run.steps[before]
            suspect = earlier.status == "reused" or (
                earlier.status == "succeeded" and self.windows.crowded(before, variable, earlier.started, earlier.ended))
            if suspect and before not in self.must_run:
                # the earlier step's file may be one a concurrent step changed: make it again first
                self.distrust(before)
                self.rerun(before, f"{before} re-ran: {name} failed on {variable[len(FILE_PREFIX):]!r}, which "
                                   f"{before} left (learned at run time)")
            self.corrections.learn(name, variable)
            return variable
        if not genuine:
            self.failed_touches[name] = touched
        return None

    def saw_the_notebooks_file(self, name: str, before: str, variable: str) -> bool:
        """Whether step `name`'s attempt found `variable` as the notebook leaves it: `before` made it in this run
        and had ended when `name` started, and no other step touched it while either ran."""
        mine, theirs = self.run.steps[name], self.run.steps[before]
        if theirs.status != "succeeded" or theirs.ended is None or mine.started is None:
            return False
        if theirs.ended > mine.started:
            return False
        return not (self.windows.crowded(name, variable, mine.started, mine.ended)
                    or self.windows.crowded(before, variable, theirs.started, theirs.ended))

    def rerun(self, name: str, why: str) -> None:
        """Step `name` read a value that is not the notebook's at its place: run it again."""
        run, sr = self.run, self.run.steps[name]
        run.corrections.append(why)
        if not self.corrections.count_rerun(name):
            message = (f"Step {name!r} was run again {MAX_RERUNS} times because the values it reads kept "
                       f"changing ({why}); the run stops correcting it.")
            sr.fail(message, error_info("CorrectionLimit", message))
            run.emit("step", sr)
            return
        if name in self.running:
            self.outdated.add(name)  # its result is dropped when it comes; then it runs again
            return
        sr.reset()
        run.emit("step", sr)
        for other in run.steps.values():  # steps skipped because of it get their chance again
            if other.status == "skipped":
                other.reset()
                run.emit("step", other)

    def cancel_all(self) -> None:
        for name in self.running:
            self.fanouts.cancel(name)
            self.backend.cancel(name)
            sr = self.run.steps[name]
            sr.status = "cancelled"
            sr.ended = time.time()
            self.run.emit("step", sr)
        self.running.clear()
        for sr in self.run.steps.values():
            if sr.status == "pending":
                sr.status = "cancelled"
                self.run.emit("step", sr)


def start_run(plan: Pipeline, *, params: dict[str, Any], store: Store, history: History,
              options: RunOptions, background: bool = False, listeners: list[Listener] | None = None,
              backend: Backend | None = None) -> Run:
    """Create the run, record it, and drive it (in this thread, or a background one).

    Steps run on `backend`: by default a `RayBackend` for `options.address`.
    """
    selected = plan.upstream(options.steps) if options.steps else list(plan.steps)
    try:
        history.mark_interrupted()  # runs whose driver was killed: recorded as such, once and for all
    except Exception:  # noqa: BLE001 - bookkeeping; never a reason not to run
        logger.warning("could not mark the interrupted runs of %s", store.history_path, exc_info=True)
    run_id = history.new_run_id()
    run = Run(run_id, plan, params, selected, store, history)
    run.listeners.extend(listeners or [])
    history.start_run(run_id, notebook=run.notebook, params=to_json(params), plan=plan.to_dict(),
                      options={"steps": options.steps, "force": options.force, "address": options.address})
    for sr in run.steps.values():
        history.record_step(run_id, sr.name, status="pending", resources=sr.resources, attempts=0)
    run.emit("start")
    driver = _Driver(run, options, backend if backend is not None else options.backend(), history)

    def drive() -> None:
        status: RunStatus = "failed"
        try:
            driver.loop()
            status = "failed" if any(s.status == "failed" for s in run.steps.values()) else "succeeded"
        except KeyboardInterrupt:
            status = "cancelled"
            driver.cancel_all()
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised to the caller
            run.error = exc
            if isinstance(exc, InfeasibleRequest) and exc.step in run.steps:
                sr = run.steps[exc.step]
                sr.fail(str(exc), error_info("InfeasibleRequest", exc.message))
                run.emit("step", sr)
            if isinstance(exc, RayUnavailable):  # the steps it held were lost with it
                for name in driver.running:
                    run.steps[name].fail(str(exc), error_info("RayUnavailable", exc.message))
                    run.emit("step", run.steps[name])
                driver.running.clear()
            driver.cancel_all()
        finally:
            try:
                run.end(status)
            finally:
                driver.backend.close()

    if background:
        threading.Thread(target=drive, name=f"mlpipe-run-{run_id}", daemon=True).start()
        return run
    try:
        drive()
    except KeyboardInterrupt:  # a second Ctrl-C while cancelling
        run.status = "cancelled"
    if run.error is not None:
        raise run.error
    return run
