"""The driver's side of a fan-out step: split, run the elements not stored yet in chunks, gather.

A fan-out step (`plan.fanout`) that is not reused as a whole goes through three
phases, each one or more tasks on the run's backend (`fanout_task`), named
`STEP#split`, `STEP#cN`, `STEP#gather` (`#` never appears in a step name):

1. split: ITERABLE's elements are stored; each gets a key made of the step's
   key parts, with ITERABLE replaced by the element's content digest (or, with
   `--files`, the file's path and content hash);
2. elements whose key the cache holds are reused; the others run in chunks,
   about four per slot of the cluster for the step's resources, so a warm
   worker runs many elements per task (the per-element cost is the cell, not
   a task or a notebook); each element that succeeds is cached under its key;
3. gather: each name's values, in element order, become the step's output.

The step's progress (elements done, running, failed, reused; tasks run; the
failed elements' errors) is `StepRun.reason["foreach"]`, so the run record,
the panel and `mlpipe run` all read it. More failed elements than
`--error-threshold` allows fail the step; the rest of its chunks are cancelled.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..plan.fanout import allowed_failures, element_reads
from ..plan.source import to_python
from .backend import Finished
from .decision import artifact_state
from .reuse import key_of

if TYPE_CHECKING:  # pragma: no cover
    from ..plan import Step
    from .run import StepRun

__all__ = ["FanOuts", "element_key"]

logger = logging.getLogger(__name__)

CHUNKS_PER_SLOT = 4
_MAX_SHOWN_FAILURES = 50  # failures kept in the run record (their count is always exact)


def element_key(components: dict[str, Any], step: Step, element: str) -> str:
    """An element's cache key: the step's key parts without ITERABLE (nor the fan-out options that only
    shape the whole), with the element's own content."""
    source = step.options.foreach
    parts = {k: v for k, v in components.items() if k != "fanout"}
    parts["inputs"] = {n: d for n, d in components.get("inputs", {}).items() if n != source}
    parts["params"] = {n: v for n, v in components.get("params", {}).items() if n != source}
    parts["element"] = {"as": step.options.as_name, "content": element}
    return key_of(parts)


@dataclass
class _State:
    """One fan-out step in flight."""

    name: str
    step: Step
    base: dict[str, Any]  # what every task of it carries
    elements: list[dict[str, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    parts: dict[int, dict[str, dict]] = field(default_factory=dict)  # element index -> its stored values
    failures: dict[int, dict[str, Any]] = field(default_factory=dict)
    chunks: dict[str, list[int]] = field(default_factory=dict)  # task name in flight -> element indexes
    warnings: list[str] = field(default_factory=list)
    reused: int = 0
    tasks: int = 0


class FanOuts:
    """The fan-out steps of one run, driven through the run's backend (`driver` is `runner`'s driver)."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.active: dict[str, _State] = {}

    # -- the driver's calls ------------------------------------------------
    def owns(self, task: str) -> bool:
        """Whether `task` is a fan-out step's task (`#` is in no step name)."""
        return "#" in task

    def start(self, name: str, step: Step, inputs: dict[str, dict], required: list[str]) -> None:
        """Begin step `name` (the driver decided it runs): submit its split task."""
        driver, run = self.driver, self.driver.run
        driver.ensure_backend()
        run_dir = run.store.run_dir(run.id)
        run_dir.mkdir(parents=True, exist_ok=True)
        options = step.options
        base = {
            "step": name, "run_id": run.id, "store": run.store.artifacts_root, "cwd": str(run.store.base),
            "project": driver.project(),  # `[ray] ship_project`: the folder, for nodes that lack it
            "inputs": {v: ref["digest"] for v, ref in inputs.items()},
            "params": {p: run.params[p] for p in step.params},
            "shared": [to_python(s.source) for s in step.shared], "line": step.line, "body": step.code[0][1] if step.code else "",
            "cell": step.code[0][0] if step.code else None, "as_name": options.as_name,
            "foreach": options.foreach, "files": options.files, "batch_size": options.batch_size,
            "outputs": [o for o in step.outputs if not o.startswith("@")], "required": required,
            "retries": options.retries, "timeout": options.timeout, "gather": options.gather,
            "started_marker": str(run_dir / f"{name}.fanout.started"),
        }
        state = _State(name, step, base)
        self.active[name] = state
        sr = run.steps[name]
        sr.status, sr.started = "running", time.time()
        self.progress(state, phase="split")
        self.submit(state, f"{name}#split", {**base, "fanout": "split"}, [])

    def finish(self, finished: Finished) -> Finished | None:
        """A task of a fan-out step ended; the step's own `Finished` once it is over, else None."""
        name, _, part = finished.name.partition("#")
        state = self.active.get(name)
        if state is None or finished.name not in state.chunks:
            return None  # a task of a step already over (cancelled when it failed, or the run's end)
        indexes = state.chunks.pop(finished.name, [])
        result = finished.result or {}
        if finished.outcome != "returned" or result.get("status") == "failed":
            error = result.get("error") or {
                "ename": "WorkerLost" if finished.outcome == "lost" else type(finished.error).__name__,
                "evalue": f"the task running these elements {finished.outcome}: {finished.error}",
                "traceback": None, "cell": state.base["cell"], "role": "fanout"}
            if finished.outcome == "cancelled":
                return self.end(state, Finished(name, "cancelled"))
            if part == "split" or part == "gather" or error.get("ename") in ("InputChanged", "StepMachineryError"):
                return self.fail(state, error)
            for index in indexes:  # a lost chunk: its elements failed
                state.failures[index] = {"error": error, "attempts": 1}
        elif part == "split":
            return self.plan_elements(state, result["elements"])
        elif part == "gather":
            return self.end(state, Finished(name, "returned", result={
                "status": "succeeded", "outputs": result["outputs"], "warnings": state.warnings,
                "started": self.driver.run.steps[name].started, "ended": time.time()}))
        else:
            self.take_chunk(state, result)
        if self.too_many(state):
            return self.fail(state, self.failure_info(state))
        if state.chunks:
            self.progress(state, phase="elements")
            return None
        return self.gather(state)

    def cancel(self, name: str) -> None:
        state = self.active.pop(name, None)
        for task in list(state.chunks) if state else []:
            self.driver.backend.cancel(task)

    # -- phases --------------------------------------------------------------
    def plan_elements(self, state: _State, elements: list[dict[str, str]]) -> Finished | None:
        driver = self.driver
        sr = driver.run.steps[state.name]
        components = (sr.reason or {}).get("components") or {}
        state.elements = elements
        state.keys = [element_key(components, state.step, e["key"]) for e in elements]
        wanted = set(state.base["outputs"])
        todo: list[int] = []
        for index, key in enumerate(state.keys):
            hit = None if (driver.options.force or state.step.options.no_cache) else driver.history.cache_get(key)
            outputs = (hit or {}).get("outputs") or {}
            if hit is not None and set(state.base["required"]) <= set(outputs) and set(outputs) <= wanted and \
                    all(artifact_state(driver.run.artifacts, ref["digest"]) is None for ref in outputs.values()):
                state.parts[index] = outputs
                state.reused += 1
            else:
                todo.append(index)
        if not todo:
            return self.gather(state)
        slots = getattr(driver.backend, "parallelism", lambda _: 1)(state.step.resources)
        count = min(len(todo), max(1, slots) * CHUNKS_PER_SLOT)
        source = state.step.options.foreach
        chunk_inputs = {v: d for v, d in state.base["inputs"].items()  # elements are the iterable's parts
                        if v != source or element_reads(state.base["body"], v)}
        for c in range(count):
            indexes = todo[c * len(todo) // count:(c + 1) * len(todo) // count]
            task = {**state.base, "fanout": "chunk", "inputs": chunk_inputs,
                    "elements": [(i, elements[i]["ref"]) for i in indexes]}
            self.submit(state, f"{state.name}#c{c}", task, indexes)
        self.progress(state, phase="elements")
        return None

    def take_chunk(self, state: _State, result: dict[str, Any]) -> None:
        driver, run = self.driver, self.driver.run
        entries = []
        for done in result.get("done") or []:
            state.parts[done["index"]] = done["outputs"]
            entries.append((state.keys[done["index"]], done["outputs"]))
        for failed in result.get("failed") or []:
            state.failures[failed["index"]] = {"error": failed["error"], "attempts": failed.get("attempts", 1)}
        for warning in result.get("warnings") or []:
            if warning not in state.warnings:
                state.warnings.append(warning)
        if entries and not state.step.options.no_cache:
            try:
                driver.history.cache_put_many(entries, step=f"{state.name}#element", notebook=run.notebook,
                                              run_id=run.id)
            except Exception:  # noqa: BLE001 - the run is still right; these elements run again next time
                logger.warning("could not cache the elements of step %r", state.name, exc_info=True)

    def gather(self, state: _State) -> Finished | None:
        succeeded = [i for i in range(len(state.elements)) if i in state.parts]
        parts = {v: [state.parts[i][v]["digest"] for i in succeeded if v in state.parts[i]]
                 for v in state.base["outputs"]}
        self.progress(state, phase="gather")
        self.submit(state, f"{state.name}#gather", {**state.base, "fanout": "gather", "parts": parts}, [])
        return None

    # -- bookkeeping -----------------------------------------------------------
    def submit(self, state: _State, task_name: str, task: dict[str, Any], indexes: list[int]) -> None:
        state.chunks[task_name] = indexes
        if task["fanout"] == "chunk":
            state.tasks += 1
        resources = self.driver.decider.envs.resources(state.step)  # --env: pip's pins (resolved when it began)
        self.driver.backend.submit(task_name, task, resources, state.step.options.retries)

    def too_many(self, state: _State) -> bool:
        total = len(state.elements)
        return len(state.failures) > allowed_failures(state.step.options.error_threshold, total)

    def failure_info(self, state: _State) -> dict[str, Any]:
        total, count = len(state.elements), len(state.failures)
        allowed = allowed_failures(state.step.options.error_threshold, total)
        first = min(state.failures)
        shown = "; ".join(f"element {i}: {f['error'].get('ename')}: {f['error'].get('evalue')}"
                          for i, f in sorted(state.failures.items())[:3])
        threshold = state.step.options.error_threshold
        limit = f"--error-threshold {threshold} allows {allowed}" if threshold else \
            "without --error-threshold none may fail"
        return {"ename": "FanOutFailed", "cell": state.base["cell"], "role": "fanout",
                "evalue": f"{count} of {total} elements failed ({limit}): {shown}",
                "traceback": state.failures[first]["error"].get("traceback")}

    def fail(self, state: _State, error: dict[str, Any]) -> Finished:
        for task in list(state.chunks):
            self.driver.backend.cancel(task)
        state.chunks.clear()
        return self.end(state, Finished(state.name, "returned", result={
            "status": "failed", "error": error, "started": self.driver.run.steps[state.name].started,
            "ended": time.time()}))

    def end(self, state: _State, finished: Finished) -> Finished:
        self.progress(state, phase="done", emit=False)
        self.active.pop(state.name, None)
        return finished

    def progress(self, state: _State, *, phase: str, emit: bool = True) -> None:
        """The step's progress into its reason (recorded, shown by the panel and the CLI)."""
        sr: StepRun = self.driver.run.steps[state.name]
        running = sum(len(ix) for ix in state.chunks.values())
        failures = [{"index": i, "ename": f["error"].get("ename"), "evalue": f["error"].get("evalue"),
                     "traceback": f["error"].get("traceback"), "attempts": f.get("attempts", 1)}
                    for i, f in sorted(state.failures.items())[:_MAX_SHOWN_FAILURES]]
        reason = dict(sr.reason or {})
        reason["foreach"] = {
            "phase": phase, "total": len(state.elements), "done": len(state.parts), "running": running,
            "failed": len(state.failures), "reused": state.reused, "ran": len(state.parts) - state.reused,
            "tasks": state.tasks, "failures": failures,
            "allowed": allowed_failures(state.step.options.error_threshold, len(state.elements)),
        }
        sr.reason = reason  # type: ignore[assignment]
        if emit:
            self.driver.run.emit("step", sr)
