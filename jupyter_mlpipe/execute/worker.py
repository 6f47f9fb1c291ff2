"""The step task body: run one step bundle with the in-process papermill engine.

A backend calls `run_step_task` where the step runs: in a Ray worker (the
worker process stays warm between tasks, so papermill, IPython and the user's
imports are loaded once per worker, not per step), or in this process for the
in-process backend.

--timeout is enforced here first: a SIGALRM at the deadline raises
`StepTimeout` in the running cell, so the executed notebook shows where the
step was, and the worker stays alive for the next step. The driver kills a
step that is still running a few seconds after its deadline (code stuck in C
that never returns to Python).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from .task import StepResult, StepTask

if TYPE_CHECKING:  # pragma: no cover
    from ..vocab import ErrorInfo
    from .fanout_task import FanOutTask

__all__ = ["run_step_task", "StepTimeout"]

logger = logging.getLogger(__name__)


class StepTimeout(BaseException):
    """Raised in a step's code when it runs past its --timeout (not an Exception: `except
    Exception` in the user's code must not swallow it)."""


def run_step_task(task: StepTask) -> StepResult:
    """Execute a step bundle; never raises for user errors (they come back as data).

    Where the driver's run folder is not on this node (a cluster without a shared file
    system), the step works in a local folder and sends its executed notebook and its
    metrics back in the result (`_away_from_driver`); the driver writes them.
    """
    if "fanout" in task:  # a fan-out step's split, chunk or gather (`fanout_task`)
        from .fanout_task import run_fanout_task

        return run_fanout_task(_fanout_here(task))  # type: ignore[arg-type,return-value]
    away = _away_from_driver(task)
    if away is None:
        return _run(task)
    import shutil

    local, folder = away
    try:
        result = _run(local)
        try:
            with open(local["output_path"], encoding="utf-8") as fh:
                result["notebook"] = fh.read()
        except OSError:
            logger.debug("no executed notebook to send back from %s", local["output_path"])
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _away_from_driver(task: StepTask) -> tuple[StepTask, str] | None:
    """The task as this node can run it when the driver's folders are not here, and its temporary folder."""
    if os.path.isdir(os.path.dirname(task["output_path"])):
        return None
    import tempfile

    from .project import folder_here

    folder = tempfile.mkdtemp(prefix="mlpipe-step-")
    cwd = folder_here(task["cwd"], task.get("project"), task["parameters"]["mlpipe_store"])
    context = {**task["parameters"].get("mlpipe_context", {}), "history": None, "away": True}
    local: StepTask = {**task, "output_path": os.path.join(folder, os.path.basename(task["output_path"])),
                       "started_marker": os.path.join(folder, "started"), "cwd": cwd,
                       "parameters": {**task["parameters"], "mlpipe_context": context}}
    return local, folder


def _fanout_here(task: FanOutTask) -> FanOutTask:
    """A fan-out step's task as this node can run it: in the notebook's folder as this node has it (shipped
    through the store where it lacks it, as a step's), its start marker left out where the driver's run folder
    is not here (the driver could not read it)."""
    from .project import folder_here

    here: FanOutTask = {**task, "cwd": folder_here(task["cwd"], task.get("project"), task["store"])}
    marker = task.get("started_marker")
    if marker and not os.path.isdir(os.path.dirname(marker)):
        del here["started_marker"]
    return here


def _run(task: StepTask) -> StepResult:
    from . import runtime
    from .engine import execute_notebook, register_engine
    from .shell import get_shell

    # A cold worker imports papermill and builds its IPython shell first: that is not the
    # step's time, so the --timeout clock (and the driver's start marker) begins after it.
    register_engine()
    get_shell()
    _stand_somewhere()
    started = time.time()
    marker = task.get("started_marker")
    if marker:
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(f"{started} {os.getpid()}\n")
    gpu_env = os.environ.get("CUDA_VISIBLE_DEVICES")
    alarm = _Alarm(task.get("timeout"))
    try:
        with alarm:
            execute_notebook(task["bundle"], task["output_path"], parameters=task["parameters"],
                             cwd=task["cwd"])
    except (Exception, StepTimeout) as exc:  # noqa: BLE001 - user errors are data for the driver
        runtime.take_result()
        touched = runtime.take_touched()
        error = _error_of(exc, task) if _in_notebook(exc) else _internal_error(exc, task)
        if alarm.fired:
            error["ename"] = "Timeout"
            error["evalue"] = f"the step ran longer than --timeout {task.get('timeout'):g} s"
        return {
            "status": "failed",
            "started": started,
            "ended": time.time(),
            "error": error,
            "touched": touched,
            "found": runtime.take_found(),
            "metrics": runtime.take_metrics(),
            "pid": os.getpid(),
            "cuda_visible_devices": gpu_env,
        }
    result = runtime.take_result() or {"outputs": {}, "warnings": []}
    return {
        "status": "succeeded",
        "started": started,
        "ended": time.time(),
        "outputs": result["outputs"],
        "learned": result.get("learned", {}),
        "found": runtime.take_found(),
        "warnings": result["warnings"] + [f"note: {n}" for n in result.get("notes", [])],
        "metrics": runtime.take_metrics(),
        "pid": os.getpid(),
        "cuda_visible_devices": gpu_env,
    }


def _stand_somewhere() -> None:
    """A step never depends on where its worker stood before: a folder deleted since (the notebook
    folder of an earlier run) would make every later step fail with a FileNotFoundError naming no file."""
    try:
        os.getcwd()
    except FileNotFoundError:
        import tempfile

        os.chdir(tempfile.gettempdir())


def _in_notebook(exc: BaseException) -> bool:
    """Whether the error came from the step's notebook (its code, or our load and save cells in it)."""
    return isinstance(exc, StepTimeout) or type(exc).__name__ == "PapermillExecutionError" \
        or hasattr(exc, "ename")


def _internal_error(exc: BaseException, task: StepTask) -> ErrorInfo:
    """Something failed around the step's notebook, before or after its cells: say what, with our traceback."""
    import traceback

    from .project import missing_folder

    where = task["cwd"]
    if not os.path.isdir(where):
        evalue = f"{missing_folder(where)} ({type(exc).__name__}: {exc})"
    else:
        evalue = f"jupyter-mlpipe could not run the step's notebook: {type(exc).__name__}: {exc}"
    return {"ename": "StepMachineryError", "evalue": evalue, "cell": None, "role": "internal",
            "traceback": "".join(traceback.format_exception(exc))}


class _Alarm:
    """A one-shot SIGALRM that raises StepTimeout in the main thread, only while armed."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.fired = False
        self.armed = False
        self.previous: Callable[[int, FrameType | None], object] | int | None = None

    def __enter__(self) -> "_Alarm":
        if not self.seconds or threading.current_thread() is not threading.main_thread() \
                or not hasattr(signal, "setitimer"):
            return self  # the driver's deadline still applies
        self.previous = signal.signal(signal.SIGALRM, self._handler)
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, float(self.seconds))
        return self

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.armed:
            self.armed = False
            self.fired = True
            raise StepTimeout(f"the step ran longer than --timeout {self.seconds:g} s")

    def __exit__(self, *exc: object) -> None:
        if self.previous is None:
            return
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        self.previous = None


def _error_of(exc: BaseException, task: StepTask) -> ErrorInfo:
    """The step's error as data: papermill's exception, with the failing cell read from the notebook."""
    from .tracebacks import format_user_traceback

    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    traceback = None
    cell = None
    role = None
    try:
        import nbformat

        nb = nbformat.read(task["output_path"], as_version=4)
        traceback = format_user_traceback(nb)
        for c in nb.cells:
            if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
                cell = (c.get("metadata", {}).get("mlpipe") or {}).get("cell")
                role = (c.get("metadata", {}).get("mlpipe") or {}).get("role")
                break
    except Exception:  # noqa: BLE001 - the notebook may not exist if papermill failed early
        logger.debug("no executed notebook to read the error of step from: %s", task["output_path"],
                     exc_info=True)
    if role in ("load", "save"):
        # our own cells: the message says what went wrong; their frames are not the user's code
        traceback, cell = None, None
    return {"ename": ename, "evalue": evalue, "traceback": traceback, "cell": cell, "role": role}
