"""The Ray backend: each step a Ray task with its resource request, or a call to a warm executor.

`RayBackend` is what a real run's driver submits to (see `backend.Backend`). It
connects to Ray for the length of the run (`ray_connect`: the shared local head,
a cluster, or a private Ray). Ray waits forever for resources that do not exist,
so every request is checked against the nodes the cluster has before anything
is submitted; with no cluster address, against what this machine has before
Ray is even started. Default-shaped steps run in warm step executors
(`executors`), the others as plain tasks with exactly what they asked for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InfeasibleRequest, RayUnavailable
from . import ray_connect
from .backend import Finished, Resources
from .environments import env_failure_result, installer_message
from .executors import ExecutorPool, fits_executor, idle_seconds
from .ray_head import local_resources
from .task import StepResult, StepTask

if TYPE_CHECKING:  # pragma: no cover
    from ray import ObjectRef

__all__ = ["RayBackend", "check_feasible", "cluster_summary", "submit"]

logger = logging.getLogger(__name__)


def _node_resources() -> list[dict[str, float]]:
    import ray

    return [dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]


def cluster_summary(nodes: list[dict[str, float]]) -> dict[str, float]:
    """The resources of all nodes added up (CPU, GPU, memory, custom ones)."""
    total: dict[str, float] = {}
    for node in nodes:
        for key, value in node.items():
            if key.startswith("node:") or key == "object_store_memory":
                continue
            total[key] = total.get(key, 0) + value
    return total


def _request(resources: Resources) -> dict[str, float]:
    wanted = {"CPU": float(resources.get("num_cpus") or 0), "GPU": float(resources.get("num_gpus") or 0)}
    if resources.get("memory"):
        wanted["memory"] = float(resources["memory"])
    for key, value in (resources.get("resources") or {}).items():
        wanted[key] = float(value)
    return {k: v for k, v in wanted.items() if v}


def check_feasible(steps: dict[str, Resources], nodes: list[dict[str, float]] | None = None, *,
                   machine: bool = False) -> None:
    """Raise InfeasibleRequest for the first step that no node of the cluster can ever hold.

    `machine`: `nodes` is this machine, checked before any Ray is started."""
    nodes = _node_resources() if nodes is None else nodes
    for name, resources in steps.items():
        wanted = _request(resources)
        if any(all(node.get(k, 0) >= v for k, v in wanted.items()) for node in nodes):
            continue
        have = cluster_summary(nodes)
        asked = ", ".join(f"{_fmt(k, v)}" for k, v in wanted.items())
        largest = ", ".join(f"{_fmt(k, v)}" for k, v in sorted(have.items())
                            if (k in ("CPU", "GPU", "memory") or k in wanted) and v not in (0, float("inf")))
        hint = ("Run it on a machine or Ray cluster with a GPU (MLPIPE_RAY_ADDRESS / --address), or "
                "remove --compute gpu / --gpus from the step.") if wanted.get("GPU") else \
            "Lower the request in the %%step line or in mlpipe.toml, or use a bigger Ray cluster."
        where, it = ("this machine does not have that", "it has") if machine else \
            ("no node of the Ray cluster has that", "the cluster has")
        raise InfeasibleRequest(
            f"Step {name!r} asks for {asked}, but {where} "
            f"({it} {largest or 'nothing'}{', no GPU' if not have.get('GPU') else ''}). "
            "Nothing was submitted" + (" and no Ray was started." if machine else "."),
            step=name, requested=wanted, available=have, hint=hint,
        )


def _fmt(key: str, value: float) -> str:
    if key == "memory":
        return f"{value / 1e9:.1f} GB memory"
    return f"{value:g} {key}"


def submit(func: Callable[[StepTask], StepResult], task: StepTask, resources: Resources,
           retries: int) -> ObjectRef:
    """Submit the step task with its resource request; returns the ObjectRef."""
    options: dict[str, Any] = {
        "num_cpus": float(resources.get("num_cpus") or 0),
        "num_gpus": float(resources.get("num_gpus") or 0),
        "max_retries": int(retries),
        "retry_exceptions": False,
        "scheduling_strategy": "DEFAULT",  # never the caller's placement group (a sweep's trial is a Tune actor)
    }
    if resources.get("memory"):
        options["memory"] = int(resources["memory"])
    for key in ("resources", "accelerator_type", "runtime_env"):
        if resources.get(key):
            options[key] = resources[key]
    remote = _remote(func)
    return remote.options(**options).remote(task)


_REMOTES: dict[Callable, Any] = {}  # function -> its ray.remote wrapper


def _remote(func: Callable) -> Any:
    import ray

    if func not in _REMOTES:
        _REMOTES[func] = ray.remote(func)
    return _REMOTES[func]


class RayBackend:
    """Steps on Ray (see `backend.Backend`): the local head by default, the cluster at `address`, or a
    private Ray embedded in this process."""

    def __init__(self, address: str | None = None, *, private: bool = False, token_file: str | None = None,
                 idle_minutes: float | None = None) -> None:
        self.address = address
        self.private = private
        self.token_file = token_file
        self.idle_minutes = idle_minutes
        self.refs: dict[str, ObjectRef] = {}  # running step -> its task's result
        self.submitted: dict[str, tuple[StepTask, Resources, int, int]] = {}  # step -> task, request, retries,
        # and how many attempts its start marker showed when it was submitted
        self.on_executor: dict[str, int] = {}  # step -> the index of the executor running it
        self.pool: ExecutorPool | None = None
        self.connected = False
        self.gone: RayUnavailable | None = None  # the cluster stopped answering during the run
        self.checked = 0.0  # when `_unblock` last looked

    def start(self, requests: dict[str, Resources]) -> None:
        if not self.address and not ray_connect.initialized():
            # refuse what this machine can never hold before Ray is started at all (milliseconds)
            check_feasible(requests, [local_resources() | {"memory": float("inf")}], machine=True)
        ray_connect.connect(self.address, private=self.private, token_file=self.token_file,
                            idle_minutes=self.idle_minutes)
        self.connected = True
        check_feasible(requests)
        cpus = int(cluster_summary(_node_resources()).get("CPU", 0))
        self.pool = ExecutorPool(cpus if idle_seconds() > 0 else 0)
        if self.pool.size:
            self.pool.retire_stale()

    def parallelism(self, resources: Resources) -> int:
        """How many tasks asking for `resources` the cluster holds at once (a fan-out step's chunks)."""
        wanted = _request(resources) or {"CPU": 1.0}
        fits = [min(int(node.get(k, 0) // v) for k, v in wanted.items()) for node in _node_resources()]
        return max(1, sum(fits))

    def close(self) -> None:
        if self.connected:
            self.connected = False
            ray_connect.release()

    def submit(self, name: str, task: StepTask, resources: Resources, retries: int) -> None:
        from .worker import run_step_task

        self.submitted[name] = (task, resources, retries, _attempts(task))
        slot = self.pool.acquire(name) if self.pool and fits_executor(resources, retries) else None
        if slot is not None:
            index, handle = slot
            self.on_executor[name] = index
            self.refs[name] = handle.run.remote(task)
            return
        if self.pool and float(resources.get("num_cpus") or 0):
            self.pool.retire_idle()  # an idle executor must not hold the CPU this task waits for
        self.refs[name] = submit(run_step_task, task, resources, retries)

    def wait(self, timeout: float) -> list[Finished]:
        import ray

        if self.gone is not None:
            raise self.gone
        if not self.refs:
            return []
        self._unblock()
        by_ref = {ref: name for name, ref in self.refs.items()}
        # return as soon as one step finishes (a chain must not pay the poll interval per step),
        # then take every other one that is ready too
        ready, rest = ray.wait(list(by_ref), num_returns=1, timeout=timeout, fetch_local=True)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0, fetch_local=True)
            ready += more
        finished = []
        for ref in ready:
            name = by_ref[ref]
            del self.refs[name]
            outcome = self._outcome(name, ref)
            if outcome is not None:
                finished.append(outcome)
        return finished

    def _outcome(self, name: str, ref: ObjectRef) -> Finished | None:
        import ray

        index = self.on_executor.pop(name, None)
        try:
            result = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            self._free(index)
            return Finished(name, "cancelled")
        except ray.exceptions.RuntimeEnvSetupError as exc:  # its environment could not be built: say what pip said
            self._free(index)
            task, resources = self.submitted[name][:2]
            return Finished(name, "returned", result=env_failure_result(
                name, resources.get("env"), installer_message(str(exc)), task["output_path"]))
        except ray.exceptions.RayTaskError as exc:  # the task body itself raised: a bug on our side
            self._free(index)
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            return Finished(name, "crashed", error=cause)
        except Exception as exc:  # noqa: BLE001 - worker death, OOM, lost node, ...
            self._free(index, dead=True)
            if not ray_connect.head_alive():
                raise self._lost_cluster(name) from exc
            task, resources, retries, attempts = self.submitted[name]
            if index is not None and _attempts(task) == attempts:
                # the executor went away before the step began (it retired or idled out): run it elsewhere
                logger.info("step %r: its executor exited before the step began; submitting it again", name)
                self.submit(name, task, resources, retries)
                return None
            return Finished(name, "lost", error=exc)
        self._free(index)
        return Finished(name, "returned", result=result)

    def _unblock(self) -> None:
        """A plain task still waiting for a CPU that an idle executor of ours holds gets it (checked once a
        second: executors keep their CPU while they wait for the next step)."""
        pool = self.pool
        if pool is None or not pool.handles or time.time() - self.checked < 1.0:
            return
        self.checked = time.time()
        if all(index in pool.in_use for index in pool.handles):
            return
        waiting = [n for n in self.refs if n not in self.on_executor
                   and _attempts(self.submitted[n][0]) == self.submitted[n][3]]
        if waiting:
            pool.retire_idle()

    def _free(self, index: int | None, *, dead: bool = False) -> None:
        if index is not None and self.pool is not None:
            (self.pool.forget if dead else self.pool.release)(index)

    def _lost_cluster(self, name: str) -> RayUnavailable:
        kind, address = ray_connect.using()
        where = "The local Ray head" if kind == "local" else f"The Ray cluster at {address}"
        self.gone = RayUnavailable(
            f"{where} stopped answering while step {name!r} ran (was it stopped or killed?). The run was "
            "stopped; the steps that finished before are kept.",
            address=address,
            hint="Run again: the finished steps are reused" + (
                " and a new local head is started." if kind == "local" else "."))
        return self.gone

    def cancel(self, name: str) -> None:
        import ray

        ref = self.refs.pop(name, None)
        index = self.on_executor.pop(name, None)
        if ref is None or self.gone is not None:
            return
        try:
            if index is not None and self.pool is not None:  # an actor's call cannot be force-cancelled
                handle = self.pool.handles.get(index)
                self.pool.forget(index)
                if handle is not None:
                    ray.kill(handle, no_restart=True)
            else:
                ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - it finished meanwhile: nothing left to stop
            logger.debug("could not cancel the task of step %r", name, exc_info=True)


def _attempts(task: StepTask) -> int:
    """How many attempts the step's start marker shows (a worker appends one line per attempt)."""
    try:
        return len([line for line in Path(task["started_marker"]).read_text().splitlines() if line.strip()])
    except OSError:
        return 0
