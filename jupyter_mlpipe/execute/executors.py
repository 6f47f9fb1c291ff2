"""Warm step executors: detached Ray actors that keep a step interpreter ready for every driver.

Ray's workers belong to one driver: every `mlpipe run` process, and every run of
a kernel (which connects for the run only, see `ray_connect`), would otherwise
get cold workers that import IPython, papermill and pandas again (seconds per
run). An executor is a named, detached actor in the `mlpipe` namespace that runs
step tasks (`worker.run_step_task`, the same body a plain task runs) for any
driver, one at a time:

- executors are created on demand, up to one per CPU of the cluster, and hold
  the one CPU a default step asks for, so Ray's accounting stays true across
  drivers;
- an executor exits after `MLPIPE_EXECUTOR_IDLE_S` seconds without a step
  (default 60; 0 turns executors off), and when a driver needs its CPU for a
  step that runs as a plain task (`retire`);
- only default-shaped steps use them: one CPU, nothing else requested, no
  retries. A GPU, memory or custom resource request, a `runtime_env`, or
  `--retries` gets a plain Ray task with exactly what it asked for.

Executors are named after a fingerprint of this package's code, so an upgraded
or edited jupyter-mlpipe never runs steps in an executor holding the old code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backend import Resources
from .task import StepResult, StepTask

if TYPE_CHECKING:  # pragma: no cover
    from ray.actor import ActorHandle

__all__ = ["NAMESPACE", "idle_seconds", "fits_executor", "fingerprint", "StepExecutor", "ExecutorPool"]

logger = logging.getLogger(__name__)

NAMESPACE = "mlpipe"
_PREFIX = "mlpipe-step-executor-"
_DEFAULT_IDLE_S = 60.0
_FINGERPRINT: str | None = None


def idle_seconds() -> float:
    """How long an idle executor waits for its next step (MLPIPE_EXECUTOR_IDLE_S; 0: no executors)."""
    try:
        return max(0.0, float(os.environ.get("MLPIPE_EXECUTOR_IDLE_S", _DEFAULT_IDLE_S)))
    except ValueError:
        return _DEFAULT_IDLE_S


def fits_executor(resources: Resources, retries: int) -> bool:
    """Whether a step asks for exactly what an executor holds (one CPU, nothing else)."""
    if retries:
        return False
    if float(resources.get("num_cpus") if resources.get("num_cpus") is not None else 1) != 1:
        return False
    return not any(resources.get(k) for k in ("num_gpus", "memory", "resources", "accelerator_type",
                                                "runtime_env"))


def fingerprint() -> str:
    """The installed code, in 10 hex digits: the package's source files, their sizes and times, and Ray's version."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        import ray

        root = Path(__file__).resolve().parents[1]
        digest = hashlib.sha256(ray.__version__.encode())
        for path in sorted(root.rglob("*.py")):
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        _FINGERPRINT = digest.hexdigest()[:10]
    return _FINGERPRINT


class StepExecutor:
    """The actor's body (made a Ray actor class by `ExecutorPool`)."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.lock = threading.Lock()
        self.busy = False
        self.last = time.time()
        threading.Thread(target=self._exit_when_idle, name="mlpipe-executor-idle", daemon=True).start()

    def run(self, task: StepTask) -> StepResult:
        from .worker import run_step_task

        with self.lock:
            self.busy = True
        try:
            return run_step_task(task)
        finally:
            with self.lock:
                self.busy = False
                self.last = time.time()

    def retire(self) -> None:
        """Exit now (a driver needs this CPU); called between steps, since the actor runs one call at a time."""
        import ray

        ray.actor.exit_actor()

    def _exit_when_idle(self) -> None:
        while True:
            time.sleep(min(5.0, max(0.5, self.idle_s / 4)))
            with self.lock:  # held while exiting: a step cannot begin in between
                if not self.busy and time.time() - self.last > self.idle_s:
                    logger.info("step executor idle for %.0f s: exiting", self.idle_s)
                    os._exit(0)


class ExecutorPool:
    """The executors one driver uses: up to one per CPU of the cluster, shared by name with other drivers."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self.in_use: dict[int, int] = {}  # executor index -> how many of our steps it runs or holds queued
        self.handles: dict[int, ActorHandle] = {}
        self._actor_class: Any = None

    def acquire(self, step: str) -> tuple[int, ActorHandle] | None:
        """The least loaded executor for `step` (created if need be); None when there are none.

        When every executor is busy the step queues on one (it runs one call at a time) rather
        than becoming a plain task: every CPU is an executor's, so a plain task would only wait
        for one to retire and then start a cold worker."""
        if not self.size:
            return None
        index = min(range(self.size), key=lambda i: (self.in_use.get(i, 0), i))
        handle = self._handle(index)
        self.in_use[index] = self.in_use.get(index, 0) + 1
        return index, handle

    def release(self, index: int) -> None:
        left = self.in_use.pop(index, 0) - 1
        if left > 0:
            self.in_use[index] = left

    def forget(self, index: int) -> None:
        """The executor died or was killed: the next acquire makes a new one."""
        self.in_use.pop(index, None)
        self.handles.pop(index, None)

    def retire_idle(self) -> None:
        """Let the CPUs of the executors we are not using go to a plain task that needs them.

        An executor another driver is using retires after its step (it runs one call at a
        time); that driver's next step for it is submitted again elsewhere."""
        self._retire(lambda fp, index: fp != fingerprint() or index not in self.in_use)

    def retire_stale(self) -> None:
        """Executors holding another version of our code would keep their CPUs until they idle out."""
        self._retire(lambda fp, index: fp != fingerprint())

    def _retire(self, wanted: Callable[[str, int], bool]) -> None:
        import ray

        for entry in ray.util.list_named_actors(all_namespaces=True):
            name, namespace = entry["name"], entry["namespace"]
            fp, _, index = name[len(_PREFIX):].rpartition("-")
            if namespace != NAMESPACE or not name.startswith(_PREFIX) or not index.isdigit():
                continue
            if not wanted(fp, int(index)):
                continue
            try:
                ray.get_actor(name, namespace=NAMESPACE).retire.remote()
            except ValueError:  # it exited meanwhile
                continue
            if fp == fingerprint():
                self.handles.pop(int(index), None)

    def _handle(self, index: int) -> ActorHandle:
        if index not in self.handles:
            import ray

            if self._actor_class is None:
                self._actor_class = ray.remote(StepExecutor)
            self.handles[index] = self._actor_class.options(
                name=f"{_PREFIX}{fingerprint()}-{index}", namespace=NAMESPACE, lifetime="detached",
                get_if_exists=True, num_cpus=1, max_restarts=0, max_concurrency=1, scheduling_strategy="DEFAULT",
            ).remote(idle_seconds())
        return self.handles[index]
