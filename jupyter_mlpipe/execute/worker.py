"""The Ray task body: run one step bundle with the in-process papermill engine.

The worker process stays warm between tasks (Ray reuses it), so papermill,
IPython and the user's imports are loaded once per worker, not per step.
"""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["run_step_task"]


def run_step_task(task: dict[str, Any]) -> dict[str, Any]:
    """Execute a step bundle; never raises for user errors (they come back as data)."""
    from .. import _runtime
    from .engine import execute_notebook, format_user_traceback

    started = time.time()
    marker = task.get("started_marker")
    if marker:
        with open(marker, "a", encoding="utf-8") as fh:
            fh.write(f"{started} {os.getpid()}\n")
    gpu_env = os.environ.get("CUDA_VISIBLE_DEVICES")
    try:
        execute_notebook(task["bundle"], task["output_path"], parameters=task["parameters"], cwd=task["cwd"])
    except Exception as exc:  # noqa: BLE001 - user errors are data for the driver
        _runtime.take_result()
        return {
            "status": "failed",
            "started": started,
            "ended": time.time(),
            "error": _error_of(exc, task, format_user_traceback),
            "pid": os.getpid(),
            "cuda_visible_devices": gpu_env,
        }
    result = _runtime.take_result() or {"outputs": {}, "warnings": []}
    return {
        "status": "succeeded",
        "started": started,
        "ended": time.time(),
        "outputs": result["outputs"],
        "warnings": result["warnings"],
        "pid": os.getpid(),
        "cuda_visible_devices": gpu_env,
    }


def _error_of(exc: Exception, task: dict[str, Any], format_tb: Any) -> dict[str, Any]:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    traceback = None
    cell = None
    try:
        import nbformat

        nb = nbformat.read(task["output_path"], as_version=4)
        traceback = format_tb(nb)
        for c in nb.cells:
            if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
                cell = (c.get("metadata", {}).get("mlpipe") or {}).get("cell")
                role = (c.get("metadata", {}).get("mlpipe") or {}).get("role")
                break
        else:
            role = None
    except Exception:  # noqa: BLE001 - the notebook may not exist if papermill failed early
        role = None
    if role in ("load", "save"):
        # our own cells: the message says what went wrong; their frames are not the user's code
        traceback, cell = None, None
    return {"ename": ename, "evalue": evalue, "traceback": traceback, "cell": cell, "role": role}
