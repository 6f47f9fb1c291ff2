"""The Ray backend: each step a Ray task in a warm worker, with its resource request.

Ray is started lazily (or warmed up in the background while the user edits), in
a thread that lives as long as the process. Ray waits forever for resources that
do not exist, so every request is checked against the nodes the cluster has
before anything is submitted. `RayBackend` is what a real run's driver submits
to (see `backend.Backend`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InfeasibleRequest, MlpipeError
from .backend import Finished, Resources
from .task import StepResult, StepTask

if TYPE_CHECKING:  # pragma: no cover
    from ray import ObjectRef

__all__ = ["RayBackend", "ensure_ray", "warm_up", "check_feasible", "cluster_summary", "submit"]

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_OWNER: threading.Thread | None = None
_READY = threading.Event()
_ERROR: BaseException | None = None


def _start(address: str | None) -> None:
    """ray.init in the calling thread; raises one MlpipeError for any failure."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": "ERROR", "configure_logging": True}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            # Workers inherit the driver's environment: a fixed hash seed makes sets of
            # strings pickle in the same order in every worker, so their digests (and the
            # cache keys of the steps that read them) are stable across sessions.
            os.environ.setdefault("PYTHONHASHSEED", "0")
            ray.init(address="local", include_dashboard=False, **kwargs)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; the user needs one message
        where = f"the Ray cluster at {address!r}" if address else "an embedded local Ray"
        raise MlpipeError(
            f"Could not start {where}: {type(exc).__name__}: {exc}",
            hint="Check MLPIPE_RAY_ADDRESS / --address, or unset it to use an embedded local Ray.",
        ) from exc


def _own(address: str | None) -> None:
    """The thread that starts Ray lives as long as the process.

    Ray's local processes are started with PR_SET_PDEATHSIG, which fires when the
    *thread* that started them exits: a warm-up or background-run thread that
    returned would take the embedded Ray down with it.
    """
    global _ERROR
    try:
        _start(address)
    except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits
        _ERROR = exc
        _READY.set()
        return
    _READY.set()
    threading.Event().wait()


def _launch(address: str | None) -> None:
    global _OWNER, _ERROR
    with _LOCK:
        if _OWNER is not None and (_OWNER.is_alive() or not _READY.is_set()):
            return
        _ERROR = None
        _READY.clear()
        _OWNER = threading.Thread(target=_own, args=(address,), name="mlpipe-ray", daemon=True)
        _OWNER.start()


def ensure_ray(address: str | None = None) -> None:
    """Connect to `address`, or start an embedded local Ray, once per process."""
    import ray

    if ray.is_initialized():
        return
    _launch(address)
    _READY.wait()
    if _ERROR is not None:
        error = _ERROR
        with _LOCK:
            global _OWNER
            _OWNER = None  # a later call may try again
        raise error


def warm_up(address: str | None = None) -> None:
    """Start Ray in the background so the first run does not wait for it."""
    import ray

    if not ray.is_initialized():
        _launch(address)


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


def check_feasible(steps: dict[str, Resources], nodes: list[dict[str, float]] | None = None) -> None:
    """Raise InfeasibleRequest for the first step that no node of the cluster can ever hold."""
    nodes = _node_resources() if nodes is None else nodes
    for name, resources in steps.items():
        wanted = _request(resources)
        if any(all(node.get(k, 0) >= v for k, v in wanted.items()) for node in nodes):
            continue
        have = cluster_summary(nodes)
        asked = ", ".join(f"{_fmt(k, v)}" for k, v in wanted.items())
        largest = ", ".join(f"{_fmt(k, v)}" for k, v in sorted(have.items()) if k in ("CPU", "GPU", "memory") or k in wanted)
        hint = ("Run it on a machine or Ray cluster with a GPU (MLPIPE_RAY_ADDRESS / --address), or "
                "remove --compute gpu / --gpus from the step.") if wanted.get("GPU") else \
            "Lower the request in the %%step line or in mlpipe.toml, or use a bigger Ray cluster."
        raise InfeasibleRequest(
            f"Step {name!r} asks for {asked}, but no node of the Ray cluster has that "
            f"(the cluster has {largest or 'nothing'}{', no GPU' if not have.get('GPU') else ''}). "
            "Nothing was submitted.",
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
    """Steps as Ray tasks (see `backend.Backend`): on the cluster at `address`, or an embedded local Ray."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.refs: dict[str, ObjectRef] = {}  # running step -> its task's result

    def start(self, requests: dict[str, Resources]) -> None:
        ensure_ray(self.address)
        check_feasible(requests)

    def submit(self, name: str, task: StepTask, resources: Resources, retries: int) -> None:
        from .worker import run_step_task

        self.refs[name] = submit(run_step_task, task, resources, retries)

    def wait(self, timeout: float) -> list[Finished]:
        import ray

        if not self.refs:
            return []
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
            finished.append(self._outcome(name, ref))
        return finished

    def _outcome(self, name: str, ref: ObjectRef) -> Finished:
        import ray

        try:
            return Finished(name, "returned", result=ray.get(ref))
        except ray.exceptions.TaskCancelledError:
            return Finished(name, "cancelled")
        except ray.exceptions.RayTaskError as exc:  # the task body itself raised: a bug on our side
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            return Finished(name, "crashed", error=cause)
        except Exception as exc:  # noqa: BLE001 - worker death, OOM, lost node, ...
            return Finished(name, "lost", error=exc)

    def cancel(self, name: str) -> None:
        import ray

        ref = self.refs.pop(name, None)
        if ref is None:
            return
        try:
            ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - it finished meanwhile: nothing left to stop
            logger.debug("could not cancel the task of step %r", name, exc_info=True)
