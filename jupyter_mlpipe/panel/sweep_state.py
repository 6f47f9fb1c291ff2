"""What the sweep table shows, as plain JSON (the widget syncs it; tests read it without a browser)."""

from __future__ import annotations

from typing import Any

from ..vocab import LOOKS, StateLook, finite_number

__all__ = ["TRIAL_LOOKS", "sweep_state", "trial_rows"]

TRIAL_LOOKS: dict[str, StateLook] = {
    **{status: LOOKS[status] for status in ("pending", "running", "succeeded", "failed")},
    "stopped": {"icon": "⏹", "label": "stopped early", "color": "#9a6700"},
    "cancelled": LOOKS["cancelled"],
}
"""A trial's statuses: a run's, and `stopped` (ended early by the sweep's early-stopping rule)."""


def _best_number(record: dict[str, Any]) -> int | None:
    done = [t for t in record.get("trials") or []
            if t.get("status") == "succeeded" and finite_number(t.get("metric")) is not None]
    if not done:
        return None
    pick = max if record.get("goal") == "max" else min
    return int(pick(done, key=lambda t: float(t["metric"]))["number"])


def trial_rows(record: dict[str, Any], curves: dict[int, list[tuple[int, float]]] | None = None) -> list[dict]:
    """One row per trial, in order: {number, params, status, metric, run_id, points, curve, best}."""
    best = _best_number(record)
    rows = []
    for t in record.get("trials") or []:
        number = int(t["number"])
        curve = [[int(i), finite_number(v)] for i, v in (curves or {}).get(number, [])]
        rows.append({"number": number, "params": dict(t.get("params") or {}), "status": t.get("status") or "pending",
                     "metric": finite_number(t.get("metric")), "run_id": t.get("run_id"),
                     "points": int(t.get("points") or 0), "curve": curve, "best": number == best,
                     "error": (t.get("error") or None) and str(t.get("error")).strip().splitlines()[-1][:300]})
    return rows


def sweep_state(record: dict[str, Any], *, planned: int | None = None) -> dict[str, Any]:
    """The head of the table: {id, status, metric, goal, search, space, planned, finished, best,
    shared_steps, shared_run_id, steps_saved, error}."""
    options = record.get("options") or {}
    trials = record.get("trials") or []
    return {"id": record.get("id"), "status": record.get("status"), "metric": record.get("metric"),
            "goal": record.get("goal"), "search": record.get("search"), "space": record.get("space") or {},
            "planned": planned if planned is not None else options.get("trials"),
            "finished": sum(1 for t in trials if t.get("status") not in ("pending", "running")),
            "best": _best_number(record), "shared_steps": options.get("shared_steps") or [],
            "shared_run_id": record.get("shared_run_id"), "steps_saved": record.get("steps_saved"),
            "error": record.get("error")}
