"""The driver: walk the plan, reuse what did not change, submit the rest to Ray.

One `Run` per pipeline run. The driver loop is the only writer of step states;
listeners (text progress, the panel) are told after each change.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import InfeasibleRequest, MlpipeError
from ..plan.planner import Pipeline
from ..store.paths import Store

__all__ = ["Run", "StepRun", "RunOptions", "start_run", "STEP_STATUSES", "Store"]

STEP_STATUSES = ("pending", "running", "succeeded", "reused", "failed", "skipped", "cancelled")
DONE = ("succeeded", "reused")
STOPPED = ("failed", "skipped", "cancelled")
_POLL_S = 0.05


@dataclass
class StepRun:
    """One step's part in a run."""

    name: str
    status: str = "pending"
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    error_info: dict[str, Any] | None = None
    notebook_path: str | None = None
    outputs: dict[str, dict] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    reason: dict[str, Any] | None = None
    attempts: int = 0
    warnings: list[str] = field(default_factory=list)
    key: str | None = None
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started

    def to_record(self) -> dict[str, Any]:
        return {
            "status": self.status, "key": self.key, "reason": self.reason, "started": self.started,
            "ended": self.ended, "duration": self.duration if self.ended else None,
            "attempts": self.attempts, "notebook_path": self.notebook_path,
            "error": {**self.error_info, "message": self.error} if self.error_info else None,
            "resources": self.resources, "outputs": self.outputs, "inputs": self.inputs,
            "warnings": self.warnings,
        }


@dataclass
class RunOptions:
    steps: list[str] | None = None
    force: bool = False
    address: str | None = None


class Run:
    """A pipeline run: its steps' states, and the values they produced (`run["name"]`)."""

    def __init__(self, run_id: str, plan: Pipeline, params: dict[str, Any], selected: list[str],
                 store: Store, history: Any) -> None:
        self.id = run_id
        self.plan = plan
        self.notebook = str(Path(plan.notebook).resolve()) if plan.notebook else ""
        self.params = params
        self.status = "running"
        self.steps: dict[str, StepRun] = {
            name: StepRun(name, resources=dict(plan.steps[name].resources)) for name in selected
        }
        self.started = time.time()
        self.ended: float | None = None
        self.error: BaseException | None = None
        self._store = store
        self._history = history
        self._artifacts: Any = None
        self._done = threading.Event()
        self._cancel = threading.Event()
        self.listeners: list[Callable[["Run", str, StepRun | None], None]] = []

    # -- values ------------------------------------------------------------
    @property
    def artifacts(self) -> Any:
        if self._artifacts is None:
            from ..store.artifacts import ArtifactStore

            self._artifacts = ArtifactStore(self._store.artifacts_root)
        return self._artifacts

    def producer_of(self, name: str) -> str | None:
        """The last step (in notebook order) of this run that produced `name`."""
        for step in reversed(list(self.steps)):
            if name in self.steps[step].outputs:
                return step
        return None

    def __getitem__(self, name: str) -> Any:
        step = self.producer_of(name)
        if step is None:
            known = sorted({v for s in self.steps.values() for v in s.outputs})
            raise KeyError(f"No step of run {self.id} produced {name!r}. Values: {', '.join(known) or '(none)'}.")
        return self.artifacts.get(self.steps[step].outputs[name]["digest"])

    def values(self, names: list[str]) -> dict[str, Any]:
        return {name: self[name] for name in names}

    def final_values(self) -> list[str]:
        """Names defined by the run's final steps (those no other selected step depends on)."""
        sources = {e.source for e in self.plan.edges if e.target in self.steps}
        names: list[str] = []
        for step in self.steps:
            if step not in sources:
                names += [n for n in self.steps[step].outputs if n not in names]
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

    def counts(self) -> dict[str, int]:
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

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.status}: {self.counts()}>"

    # -- driver side -------------------------------------------------------
    def _emit(self, event: str, step: StepRun | None = None) -> None:
        if step is not None and self._history is not None:
            self._history.record_step(self.id, step.name, **step.to_record())
        for listener in list(self.listeners):
            try:
                listener(self, event, step)
            except Exception:  # noqa: BLE001 - a broken display must not break the run
                pass


class _Driver:
    def __init__(self, run: Run, options: RunOptions) -> None:
        self.run = run
        self.options = options
        self.plan = run.plan
        self.incoming = self.plan.edge_map()
        self.refs: dict[str, Any] = {}  # step -> ObjectRef
        self.keys: dict[str, tuple[str, dict]] = {}
        self.ray_ready = False
        self.records: dict[str, dict] = {}  # run id -> recorded run, for reused steps' notebooks

    # -- decisions ---------------------------------------------------------
    def start(self, name: str) -> None:
        from .reuse import explain, key_components, key_of

        run, step = self.run, self.plan.steps[name]
        sr = run.steps[name]
        inputs: dict[str, dict] = {}
        for var, source in step.input_sources.items():
            ref = run.steps[source].outputs.get(var)
            if ref is None:  # cannot happen for a step that ran in this run (its save cell checks)
                sr.status, sr.ended = "failed", time.time()
                sr.error = f"Step {source!r} did not store {var!r}, which step {name!r} needs."
                sr.error_info = {"ename": "MissingInput", "evalue": sr.error, "traceback": None, "cell": None}
                run._emit("step", sr)
                return
            inputs[var] = ref
        sr.inputs = {v: r["digest"] for v, r in inputs.items()}
        components = key_components(step, input_digests=sr.inputs, params=run.params, base=run._store.base)
        key = key_of(components)
        sr.key = key
        previous = run._history.last_step_run(run.notebook, name, before_run=run.id)
        previous_components = ((previous or {}).get("reason") or {}).get("components")
        changes = explain(components, previous_components)
        note = None
        if not self.options.force and not step.options.no_cache:
            hit = run._history.cache_get(key)
            if hit is not None:
                lacking = [v for v in self.required(name) if v not in hit["outputs"]]
                broken = self.broken_outputs(hit["outputs"])
                if lacking:
                    # stored by a run in which no step needed it (e.g. unstorable, or a partial run)
                    note = (f"its stored result lacks {lacking[0]!r}, which a later step needs, so the "
                            "step runs again")
                elif not broken:
                    sr.status = "reused"
                    sr.outputs = hit["outputs"]
                    sr.started = sr.ended = time.time()
                    sr.notebook_path = self.notebook_of(hit["run_id"], name, previous)
                    sr.reason = {"decision": "reused", "changes": [], "components": components,
                                 "from_run": hit["run_id"],
                                 "summary": f"nothing changed since run {hit['run_id']}"}
                    run._emit("step", sr)
                    return
                else:
                    note = f"a stored output was {broken} on disk, so the step runs again"
        if self.options.force:
            summary = "--force: every step runs"
        elif step.options.no_cache:
            summary = "--no-cache: this step always runs"
        elif note:
            summary = note
        elif changes and changes != ["this step never ran before"]:
            summary = "; ".join(c.split("\n")[0] for c in changes)
        elif previous is None:
            summary = "this step never ran before"
        elif previous.get("status") == "failed":
            summary = "it failed in its previous run (nothing in its key changed since)"
        else:
            summary = "no stored result matches (the previous result was not kept)"
        sr.reason = {"decision": "ran", "changes": changes if not note else [note, *changes],
                     "components": components, "summary": summary}
        self.submit(name, step, inputs)

    def notebook_of(self, run_id: str, name: str, previous: dict | None) -> str | None:
        """The executed notebook of the step run that produced a cached result."""
        if previous is not None and previous.get("run_id") == run_id:
            return previous.get("notebook_path")
        if run_id not in self.records:
            try:
                self.records[run_id] = self.run._history.get_run(run_id)
            except Exception:  # noqa: BLE001 - forgotten by gc: no notebook to show
                self.records[run_id] = {}
        return ((self.records[run_id].get("steps") or {}).get(name) or {}).get("notebook_path")

    def required(self, name: str) -> list[str]:
        """The variables of step `name` that the run's later steps read."""
        return sorted({v for e in self.plan.edges if e.source == name and e.target in self.run.steps
                       for v in e.variables})

    def broken_outputs(self, outputs: dict[str, dict]) -> str | None:
        """'missing' or 'corrupt' when a stored output is not intact on disk, else None."""
        for ref in outputs.values():
            digest = ref["digest"]
            state = _artifact_state(self.run.artifacts, digest)
            if state is not None:
                return state
        return None

    def submit(self, name: str, step: Any, inputs: dict[str, dict]) -> None:
        from .bundle import build_bundle, bundle_parameters
        from .ray_backend import check_feasible, ensure_ray, submit
        from .worker import run_step_task

        run = self.run
        if not self.ray_ready:
            ensure_ray(self.options.address)
            check_feasible({n: self.plan.steps[n].resources for n in run.steps
                            if run.steps[n].status == "pending"})
            self.ray_ready = True
        run_dir = run._store.run_dir(run.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        required = self.required(name)
        sr = run.steps[name]
        sr.notebook_path = str(run_dir / f"{name}.ipynb")
        task = {
            "bundle": build_bundle(self.plan, step),
            "output_path": sr.notebook_path,
            "parameters": bundle_parameters(
                step, run_id=run.id, store=run._store.artifacts_root, inputs=inputs, required=required,
                params=run.params, context={"history": str(run._store.history_path),
                         "links": {v: r["links"] for v, r in inputs.items() if r.get("links")}}),
            "cwd": str(run._store.base),
            "started_marker": str(run_dir / f"{name}.started"),
            "timeout": step.options.timeout,
        }
        self.refs[name] = submit(run_step_task, task, step.resources, step.options.retries)
        sr.status = "running"
        sr.started = time.time()
        run._emit("step", sr)

    # -- the loop ----------------------------------------------------------
    def loop(self) -> None:
        run = self.run
        order = list(run.steps)
        while True:
            if run._cancel.is_set():
                raise KeyboardInterrupt
            for name in order:
                sr = run.steps[name]
                if sr.status != "pending":
                    continue
                deps = [e.source for e in self.incoming[name] if e.source in run.steps]
                states = [run.steps[d].status for d in deps]
                if any(s in STOPPED for s in states):
                    sr.status = "skipped"
                    blocker = next(d for d in deps if run.steps[d].status in STOPPED)
                    sr.reason = {"decision": "skipped", "summary": f"step {blocker!r} did not succeed"}
                    run._emit("step", sr)
                elif all(s in DONE for s in states):
                    self.start(name)
            if not self.refs:
                if all(run.steps[n].status != "pending" for n in order):
                    return
                continue
            self.wait_some()

    def wait_some(self) -> None:
        import ray

        by_ref = {ref: name for name, ref in self.refs.items()}
        # return as soon as one step finishes (a chain must not pay the poll interval per step),
        # then take every other one that is ready too
        ready, rest = ray.wait(list(by_ref), num_returns=1, timeout=_POLL_S, fetch_local=True)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0, fetch_local=True)
            ready += more
        for ref in ready:
            self.finish(by_ref[ref], ref)
        self.check_running()

    def check_running(self) -> None:
        """The driver's backstop for --timeout: the worker stops the step itself at the deadline
        (keeping its notebook and its process); a step still running a few seconds later is killed."""
        run = self.run
        for name in list(self.refs):
            sr = run.steps[name]
            step = self.plan.steps[name]
            timeout = step.options.timeout
            if not timeout:
                continue
            began = self.read_marker(name, sr)
            if began is not None and time.time() - began > timeout + _TIMEOUT_GRACE_S:
                import ray

                try:
                    ray.cancel(self.refs.pop(name), force=True)
                except Exception:  # noqa: BLE001 - it finished meanwhile: it still timed out
                    pass
                sr.status = "failed"
                sr.ended = time.time()
                sr.error = _timeout_message(name, timeout, None, stuck=True)
                sr.error_info = {"ename": "Timeout", "evalue": sr.error, "traceback": None, "cell": None}
                run._emit("step", sr)

    def read_marker(self, name: str, sr: StepRun) -> float | None:
        path = self.run._store.run_dir(self.run.id) / f"{name}.started"
        try:
            lines = path.read_text().split("\n")
        except OSError:
            return None
        lines = [line for line in lines if line.strip()]
        if not lines:
            return None
        sr.attempts = len(lines)
        return float(lines[-1].split()[0])

    def finish(self, name: str, ref: Any) -> None:
        import ray

        run = self.run
        sr = run.steps[name]
        self.refs.pop(name, None)
        self.read_marker(name, sr)
        sr.ended = time.time()
        try:
            result = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            sr.status = "cancelled"
            run._emit("step", sr)
            return
        except ray.exceptions.RayTaskError as exc:  # the task body itself raised: a bug on our side
            sr.status = "failed"
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            sr.error = (f"Step {name!r} could not be run: {type(cause).__name__}: {cause} "
                        "(an error of jupyter-mlpipe's step task, not of the step's code).")
            sr.error_info = {"ename": type(cause).__name__, "evalue": str(cause).split("\n")[0],
                             "traceback": None, "cell": None}
            run._emit("step", sr)
            return
        except Exception as exc:  # noqa: BLE001 - worker death, OOM, lost node, ...
            sr.status = "failed"
            kind = type(exc).__name__
            why = "it ran out of memory" if "OutOfMemory" in kind else f"{kind}"
            retries = self.plan.steps[name].options.retries
            advice = (f"It was retried {retries} time(s)." if retries else
                      "Use --retries N on the %%step line to retry when a worker dies.")
            sr.error = (f"Step {name!r}: its worker process died ({why}) after {max(sr.attempts, 1)} "
                        f"attempt(s). {advice}")
            sr.error_info = {"ename": kind, "evalue": str(exc).split("\n")[0], "traceback": None, "cell": None}
            run._emit("step", sr)
            return
        sr.started = result.get("started", sr.started)
        sr.ended = result.get("ended", sr.ended)
        if result["status"] == "succeeded":
            sr.status = "succeeded"
            sr.outputs = result["outputs"]
            sr.warnings = result.get("warnings", [])
            for variable, ref_dict in sr.outputs.items():
                run._history.record_artifact(ref_dict, run_id=run.id, step=name, variable=variable)
            key, components = sr.key, (sr.reason or {}).get("components")
            if key:
                run._history.cache_put(key, step=name, notebook=run.notebook, components=components or {},
                                       outputs=sr.outputs, run_id=run.id)
        else:
            sr.status = "failed"
            info = result["error"]
            sr.error_info = info
            if info.get("ename") == "Timeout":
                timeout = self.plan.steps[name].options.timeout or 0
                sr.error = _timeout_message(name, timeout, info, stuck=False)
                if sr.notebook_path:
                    sr.error += f"\nExecuted notebook: {sr.notebook_path}"
            else:
                sr.error = _failure_message(name, info, sr.notebook_path)
        run._emit("step", sr)

    def cancel_all(self) -> None:
        import ray

        for name, ref in list(self.refs.items()):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished
                pass
            self.run.steps[name].status = "cancelled"
            self.run.steps[name].ended = time.time()
            self.run._emit("step", self.run.steps[name])
        self.refs.clear()
        for sr in self.run.steps.values():
            if sr.status == "pending":
                sr.status = "cancelled"
                self.run._emit("step", sr)


_TIMEOUT_GRACE_S = 5.0
_VERIFIED: dict[str, tuple[int, int, int]] = {}  # artifact path -> (mtime_ns, size, inode) seen intact


def _artifact_state(artifacts: Any, digest: str) -> str | None:
    """None when the artifact is present and intact, else 'missing' or 'corrupt'.

    Re-hashing every output of every reused step on every run costs a full read;
    a local file seen intact by this process, unchanged since (same mtime, size
    and inode), is not hashed again. A changed file always is, and every read of
    a value verifies its bytes anyway.
    """
    import os

    path = artifacts.path_of(digest)
    local = "://" not in path
    if local:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return "missing"
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if _VERIFIED.get(path) == stamp:
            return None
    elif not artifacts.exists(digest):
        return "missing"
    if not artifacts.verify(digest):
        _VERIFIED.pop(path, None)
        return "corrupt" if artifacts.exists(digest) else "missing"
    if local:
        _VERIFIED[path] = stamp
    return None


def _timeout_message(name: str, timeout: float, info: dict[str, Any] | None, *, stuck: bool) -> str:
    text = f"Step {name!r} timed out: it ran longer than --timeout {timeout:g} s and was stopped"
    if stuck:
        return text + " (its worker did not respond, so it was killed)."
    where = (info or {}).get("traceback")
    return text + (f". It was here when it was stopped:\n{where}" if where else ".")


_OWN_ERRORS = ("UnstorableValue", "StepFailed", "ArtifactCorrupt", "ArtifactMissing", "MlpipeError")


def _failure_message(name: str, info: dict[str, Any], notebook_path: str | None) -> str:
    where = f" in cell {info['cell']}" if info.get("cell") is not None else ""
    if info.get("role") == "save":
        where = " while storing its outputs"
    elif info.get("role") == "load":
        where = " while loading its inputs"
    ename, evalue = info.get("ename"), info.get("evalue")
    if info.get("role") in ("save", "load") and ename in _OWN_ERRORS:
        text = f"Step {name!r} failed{where}: {evalue}"  # our message is a whole sentence already
    else:
        text = f"Step {name!r} failed{where}: {ename}: {evalue}"
    if info.get("traceback"):
        text += "\n" + info["traceback"]
    if notebook_path:
        text += f"\nExecuted notebook: {notebook_path}"
    return text


def start_run(plan: Pipeline, *, params: dict[str, Any], store: Store, history: Any,
              options: RunOptions, background: bool = False,
              listeners: list[Callable] | None = None) -> Run:
    """Create the run, record it, and drive it (in this thread, or a background one)."""
    selected = plan.upstream(options.steps) if options.steps else list(plan.steps)
    try:
        history.mark_interrupted()  # runs whose driver was killed: recorded as such, once and for all
    except Exception:  # noqa: BLE001 - bookkeeping; never a reason not to run
        pass
    run_id = history.new_run_id()
    run = Run(run_id, plan, params, selected, store, history)
    run.listeners.extend(listeners or [])
    history.start_run(run_id, notebook=run.notebook, params=_jsonable(params), plan=plan.to_dict(),
                      options={"steps": options.steps, "force": options.force, "address": options.address})
    for sr in run.steps.values():
        history.record_step(run_id, sr.name, status="pending", resources=sr.resources, attempts=0)
    run._emit("start")
    driver = _Driver(run, options)

    def drive() -> None:
        try:
            driver.loop()
            failed = any(s.status == "failed" for s in run.steps.values())
            run.status = "failed" if failed else "succeeded"
        except KeyboardInterrupt:
            driver.cancel_all()
            run.status = "cancelled"
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised to the caller
            run.error = exc
            if isinstance(exc, InfeasibleRequest) and exc.step in run.steps:
                sr = run.steps[exc.step]
                sr.status, sr.error = "failed", str(exc)
                sr.error_info = {"ename": "InfeasibleRequest", "evalue": exc.message, "traceback": None,
                                 "cell": None}
                run._emit("step", sr)
            driver.cancel_all()
            run.status = "failed"
        finally:
            run.ended = time.time()
            history.finish_run(run.id, run.status)
            run._emit("end")
            run._done.set()

    if background:
        threading.Thread(target=drive, name=f"mlpipe-run-{run_id}", daemon=True).start()
        return run
    try:
        drive()
    except KeyboardInterrupt:  # a second Ctrl-C while cancelling
        run.status = "cancelled"
    if run.error is not None and isinstance(run.error, MlpipeError):
        raise run.error
    if run.error is not None:
        raise run.error
    return run


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    import json

    out = {}
    for key, value in params.items():
        try:
            json.dumps(value)
            out[key] = value
        except (TypeError, ValueError):
            out[key] = repr(value)
    return out
