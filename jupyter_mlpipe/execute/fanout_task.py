"""The task bodies of a fan-out step, where it runs (a Ray worker or executor, or this process).

The driver (`fanout_driver`) sends three kinds of `FanOutTask`, through the
same backend and the same `worker.run_step_task` entry as a step's notebook:

- `split`: load ITERABLE (or list the `--files` glob), store each element as
  an artifact, return their digests: the driver keys each element by it;
- `chunk`: run the step's cell once per element of a chunk, each in a fresh
  namespace made of the step's inputs, parameters and shared code (loaded once
  per chunk), storing each element's values; an element's failure is data;
- `gather`: load the elements' values and store each name's list (or
  concatenation) as the step's output.

A chunk runs in the same fresh process state as a step's notebook
(`isolation.process_state`: namespace, `sys.path`, environment, warnings,
stdin, its own modules forgotten afterwards), in the notebook's folder (shipped
through the store to a node that lacks it, as a step's: `worker`). It
fails as a whole when an element changed one of the step's inputs in place
(the next element would have seen it, the notebook's loop too, but not the
element in another task); files its elements write are reported.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any, Literal, TypedDict

from ..vocab import ErrorInfo

__all__ = ["FanOutTask", "run_fanout_task"]

logger = logging.getLogger(__name__)

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range)
_TAIL_CHARS = 4000


class FanOutTask(TypedDict, total=False):
    """One task of a fan-out step (plain data, like `task.StepTask`)."""

    fanout: Literal["split", "chunk", "gather"]
    step: str
    run_id: str
    store: str  # the artifact store's root
    cwd: str  # the notebook's folder
    project: str | None  # the notebook's folder packed in the store, for nodes that lack it (`project.py`)
    started_marker: str  # left out where the driver's run folder is not on this node (`worker`)
    inputs: dict[str, str]  # variable -> reference (digest or DIGEST#NAME)
    params: dict[str, Any]
    shared: list[str]  # the shared code's sources, in order
    line: str  # the %%step line
    body: str
    cell: int | None
    as_name: str
    foreach: str | None
    files: str | None
    batch_size: int | None
    outputs: list[str]
    required: list[str]
    elements: list[tuple[int, str]]  # chunk: (index, element reference)
    retries: int
    timeout: float | None  # per element
    parts: dict[str, list[str]]  # gather: variable -> the elements' references, in order
    gather: str | None


def run_fanout_task(task: FanOutTask) -> dict[str, Any]:
    """Run one fan-out task; the step's failures come back as data (`status`, `error`)."""
    from ..errors import StepFailed

    started = time.time()
    marker = task.get("started_marker")
    if marker:
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(f"{started} {os.getpid()}\n")
    try:
        kind = task["fanout"]
        if kind != "gather" and not os.path.isdir(task["cwd"]):  # no folder, none shipped: an empty glob would lie
            from .project import missing_folder

            result = {"status": "failed", "error": {"ename": "StepMachineryError", "role": "internal",
                                                    "evalue": missing_folder(task["cwd"]), "traceback": None,
                                                    "cell": task.get("cell")}}
        else:
            result = _split(task) if kind == "split" else _chunk(task) if kind == "chunk" else _gather(task)
    except StepFailed as exc:
        result = {"status": "failed", "error": {"ename": "FanOutError", "evalue": exc.message + (
            f" Hint: {exc.hint}" if exc.hint else ""), "traceback": None, "cell": task.get("cell"), "role": "fanout"}}
    result.setdefault("status", "succeeded")
    result.update(started=started, ended=time.time(), pid=os.getpid())
    return result


def _store(task: FanOutTask) -> Any:
    from ..store.artifacts import ArtifactStore

    return ArtifactStore(task["store"])


def _load(artifacts: Any, refs: dict[str, str]) -> dict[str, Any]:
    from ..store.sharing import split_ref

    groups: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for name, ref in refs.items():
        digest, member = split_ref(ref)
        if member is None:
            values[name] = artifacts.get(digest)
        else:
            if digest not in groups:
                groups[digest] = artifacts.get_group(digest)
            values[name] = groups[digest].members[member]
    return values


class _Tail:
    """A sink for `isolation.process_state` that keeps the end of what the elements printed."""

    def __init__(self) -> None:
        self.text = ""

    def stream(self, name: str, text: str) -> bool:
        self.text = (self.text + text)[-_TAIL_CHARS:]
        return True

    def flush_output(self) -> None:
        return None

    def display(self, data: dict, metadata: dict, transient: dict, update: bool) -> None:
        plain = data.get("text/plain")
        if plain:
            self.stream("stdout", str(plain) + "\n")

    def execute_result(self, data: dict, metadata: dict, count: int) -> None:
        return None

    def error(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        return None

    def clear_output(self, wait: bool) -> None:
        return None


def _base_namespace(task: FanOutTask, ns: dict[str, Any], artifacts: Any) -> dict[str, Any]:
    """Fill `ns` as a step's notebook starts: inputs, parameters, shared code. Returns the inputs."""
    inputs = _load(artifacts, {n: r for n, r in task.get("inputs", {}).items() if not n.startswith("@")})
    ns.update(task.get("params") or {})
    ns.update(inputs)
    for source in task.get("shared") or []:
        exec(compile(source, "<mlpipe shared code>", "exec"), ns)  # noqa: S102 - the notebook's shared code
    return inputs


def _in_process_state(task: FanOutTask, body: Any) -> Any:
    """Run `body(shell, ns)` in a step's fresh process state, in the notebook's folder."""
    from .isolation import process_state
    from .shell import get_shell

    shell = get_shell()
    tail = _Tail()
    with process_state(shell, tail, lambda: None, "mlpipe-fanout"):  # type: ignore[arg-type]
        os.chdir(task["cwd"])
        result = body(shell, shell.user_ns)
    if tail.text:
        result["output_tail"] = tail.text
    return result


def _split(task: FanOutTask) -> dict[str, Any]:
    from .files import file_key
    from .foreach import elements_of, file_elements

    step = task["step"]
    artifacts = _store(task)
    if task.get("files"):
        paths = file_elements(task["cwd"], task["files"], step=step)
        elements = []
        for path in paths:
            ref = artifacts.put(path, variable=task["as_name"], step=step).digest
            elements.append({"ref": ref, "key": f"file:{path}:{file_key(os.path.join(task['cwd'], path))}"})
        return {"elements": elements}

    def split(shell: Any, ns: dict[str, Any]) -> dict[str, Any]:
        _base_namespace(task, ns, artifacts)
        source = task["foreach"] or ""
        if source not in ns:
            from ..errors import StepFailed

            raise StepFailed(f"Step {step!r}: --foreach {source}: no value {source!r} reached the step.",
                             step=step, hint=f"Define {source!r} in an earlier step or the parameters cell.")
        values = elements_of(ns[source], step=step, source=source, batch_size=task.get("batch_size"))
        refs = [artifacts.put(v, variable=task["as_name"], step=step).digest for v in values]
        return {"elements": [{"ref": r, "key": r} for r in refs]}

    return _in_process_state(task, split)


def _chunk(task: FanOutTask) -> dict[str, Any]:
    from ..errors import UnstorableValue
    from ..store.codec import content_hash
    from .files import FileAccess, watch
    from .foreach import ElementCode, ElementFailed

    step, as_name = task["step"], task["as_name"]
    artifacts = _store(task)
    outputs, required = list(task["outputs"]), set(task.get("required") or [])

    def chunk(shell: Any, ns: dict[str, Any]) -> dict[str, Any]:
        inputs = _base_namespace(task, ns, artifacts)
        ns["get_ipython"] = lambda: shell
        mutable = {n: v for n, v in inputs.items() if type(v) not in _IMMUTABLE}
        before = {n: content_hash(v, variable=n, step=step) for n, v in mutable.items()}
        code = ElementCode(step, task["line"], task["body"], cell=task.get("cell"))
        base = dict(ns)
        done: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        warnings: list[str] = []
        access = FileAccess(task["cwd"])
        watch(access)
        try:
            for index, ref in task["elements"]:
                element = artifacts.get(ref)
                for attempt in range(int(task.get("retries") or 0) + 1):
                    try:
                        with _Deadline(task.get("timeout")):
                            values = code.run(base, as_name, element, outputs)
                        break
                    except ElementFailed as exc:
                        error: ErrorInfo | None = exc.info
                else:
                    failed.append({"index": index, "error": error, "attempts": attempt + 1})
                    continue
                stored: dict[str, dict] = {}
                try:
                    for name, value in values.items():
                        try:
                            stored[name] = artifacts.put(value, variable=name, step=step).to_dict()
                        except UnstorableValue as exc:
                            if name in required:
                                raise
                            warnings.append(f"{name!r} was not stored ({exc.type_name}); no later step reads it.")
                except UnstorableValue as exc:
                    failed.append({"index": index, "attempts": attempt + 1, "error": {
                        "ename": "UnstorableValue", "evalue": exc.message, "traceback": None,
                        "cell": task.get("cell"), "role": "save"}})
                    continue
                done.append({"index": index, "outputs": stored})
        finally:
            watch(None)
        changed = [n for n, v in mutable.items() if content_hash(v, variable=n, step=step) != before[n]]
        if changed:
            return {"status": "failed", "error": {
                "ename": "InputChanged", "cell": task.get("cell"), "role": "step", "traceback": None,
                "evalue": (f"an element of step {step!r} changed its input {changed[0]!r} in place: elements run "
                           "in parallel, each from the step's inputs, so the next element would not see the change "
                           f"as it does in the notebook's loop. Work on a copy ({changed[0]}.copy()) in the cell.")}}
        written = sorted(rel for rel, how in access.touched.items() if how == "write")
        if written:
            warnings.append(f"elements wrote {', '.join(written[:5])} in the notebook's folder: a fan-out step's "
                            "files are not handed on to later steps; return values instead")
        return {"done": done, "failed": failed, "warnings": warnings}

    return _in_process_state(task, chunk)


def _gather(task: FanOutTask) -> dict[str, Any]:
    from .foreach import gather

    step = task["step"]
    artifacts = _store(task)
    outputs: dict[str, dict] = {}
    for name, refs in (task.get("parts") or {}).items():
        values = [artifacts.get(ref) for ref in refs]
        outputs[name] = artifacts.put(gather(step, name, values, task.get("gather")), variable=name,
                                      step=step).to_dict()
    return {"outputs": outputs}


class _Deadline:
    """--timeout per element: a SIGALRM raises in the element's code (main thread only)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.armed = False

    def __enter__(self) -> "_Deadline":
        if self.seconds and threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, float(self.seconds))
            self.armed = True
        return self

    def _fire(self, signum: int, frame: Any) -> None:
        raise TimeoutError(f"the element ran longer than --timeout {self.seconds:g} s")

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
            self.armed = False
