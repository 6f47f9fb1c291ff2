"""Ray: started lazily (or warmed up in the background), feasibility checked before submitting.

Ray waits forever for resources that do not exist, so every request is checked
against the nodes the cluster has before anything is submitted.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..errors import InfeasibleRequest, MlpipeError

__all__ = ["ensure_ray", "warm_up", "check_feasible", "cluster_summary", "submit"]

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
    total: dict[str, float] = {}
    for node in nodes:
        for key, value in node.items():
            if key.startswith("node:") or key == "object_store_memory":
                continue
            total[key] = total.get(key, 0) + value
    return total


def _request(resources: dict[str, Any]) -> dict[str, float]:
    wanted = {"CPU": float(resources.get("num_cpus") or 0), "GPU": float(resources.get("num_gpus") or 0)}
    if resources.get("memory"):
        wanted["memory"] = float(resources["memory"])
    for key, value in (resources.get("resources") or {}).items():
        wanted[key] = float(value)
    return {k: v for k, v in wanted.items() if v}


def check_feasible(steps: dict[str, dict[str, Any]], nodes: list[dict[str, float]] | None = None) -> None:
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


def submit(func: Any, task: dict[str, Any], resources: dict[str, Any], retries: int) -> Any:
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


_REMOTES: dict[Any, Any] = {}


def _remote(func: Any) -> Any:
    import ray

    if func not in _REMOTES:
        _REMOTES[func] = ray.remote(func)
    return _REMOTES[func]
