"""What the run panel shows, as plain JSON built from a Run: no widget imports here.

The widget (`widget.py`) puts these dicts into its synced traits; keeping them
pure makes them testable and reusable (the REST server can serve the same).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from typing import Any

from ..text import connecting_line
from ..vocab import FINISHED, finite_number, look_of, to_json

__all__ = [
    "run_state",
    "step_state",
    "pending_states",
    "look_state",
    "MetricBuffer",
    "output_tail",
    "comparison_curves",
]
MAX_CURVES = 12  # metric charts in a comparison of two runs

MAX_POINTS = 500  # per metric series sent to the front end (the history keeps all)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TAIL_LINES = 20
_TAIL_MAX_BYTES = 20 * 1024 * 1024


def strip_ansi(text: str | None) -> str | None:
    return None if text is None else _ANSI.sub("", text)


def run_state(run: Any, now: float | None = None) -> dict[str, Any]:
    """The run line: id, status, counts per state, elapsed time, progress, the kernel's clock, and
    `connecting` (what to say while Ray starts, else None)."""
    now = time.time() if now is None else now
    counts: dict[str, int] = {}
    for step in run.steps.values():
        counts[step.status] = counts.get(step.status, 0) + 1
    started = getattr(run, "started", None)
    ended = getattr(run, "ended", None)
    elapsed = None if started is None else (ended or now) - started
    return {
        "id": run.id,
        "status": run.status,
        "counts": counts,
        "total": len(run.steps),
        "finished": sum(counts.get(s, 0) for s in FINISHED),
        "started": started,
        "ended": ended,
        "elapsed": elapsed,
        "now": now,  # lets the front end tick elapsed times without trusting the browser's clock
        "notebook": getattr(run, "notebook", "") or "",
        "params": to_json(getattr(run, "params", {}) or {}),
        # while the backend starts, before the first step is submitted: what the run line says
        "connecting": connecting_line() if getattr(run, "connecting", False) else None,
        "cancelling": bool(getattr(run, "cancel_requested", False)) and run.status == "running",  # Cancel pressed
    }


def look_state(status: str) -> dict[str, Any]:
    """{status, icon, label}: how the panel shows a step's status (`vocab.LOOKS`)."""
    look = look_of(status)
    return {"status": status, "icon": look["icon"], "label": look["label"]}


def pending_states(names: list[str]) -> dict[str, dict[str, Any]]:
    """Every step pending (a plan that has not run)."""
    return {name: look_state("pending") for name in names}


def step_state(run: Any, step: Any, *, tail: list[str] | None = None) -> dict[str, Any]:
    """One step's details for the panel."""
    status = step.status
    ended = step.ended
    started = step.started
    state: dict[str, Any] = {
        **look_state(status),
        "started": started,
        "ended": ended,
        "duration": (ended - started) if (started is not None and ended is not None) else None,
        "elapsed_since": started if status == "running" else None,
        "attempts": step.attempts,
        "warnings": list(step.warnings or []),
        "resources": to_json(step.resources or {}),
        "error": _error(step),
        "reason": _reason(step.reason),
        "outputs": {var: _artifact(ref) for var, ref in (step.outputs or {}).items()},
        "inputs": _inputs(run, step),
        "notebook_path": step.notebook_path,
    }
    fanout = (step.reason or {}).get("foreach")
    if fanout:  # a fan-out step: its elements' progress and failures (`execute.fanout_driver`)
        state["fanout"] = {**fanout, "failures": [
            {k: f.get(k) for k in ("index", "ename", "evalue", "attempts")} for f in fanout.get("failures") or []]}
    if tail:
        state["output_tail"] = tail
    return state


def _error(step: Any) -> dict[str, Any] | None:
    info = getattr(step, "error_info", None)
    if not step.error and not info:
        return None
    info = info or {}
    traceback = info.get("traceback")
    if isinstance(traceback, list):
        traceback = "\n".join(str(line) for line in traceback)
    return {
        "ename": info.get("ename"),
        "evalue": strip_ansi(str(info.get("evalue"))) if info.get("evalue") is not None else None,
        "traceback": strip_ansi(traceback),
        "cell": info.get("cell"),
        "message": strip_ansi(step.error),
    }


def _reason(reason: dict[str, Any] | None) -> dict[str, Any] | None:
    if not reason:
        return None
    return {
        "decision": reason.get("decision"),
        "summary": reason.get("summary"),
        "changes": [str(c) for c in (reason.get("changes") or [])],
        "from_run": reason.get("from_run"),
    }


def _artifact(ref: dict[str, Any] | None) -> dict[str, Any]:
    ref = ref or {}
    digest = ref.get("digest")
    return {
        "type_name": ref.get("type_name"),
        "size": ref.get("size"),
        "summary": ref.get("summary"),
        "format": ref.get("format"),
        "digest": digest[:12] if isinstance(digest, str) else None,
    }


def _inputs(run: Any, step: Any) -> dict[str, dict[str, Any]]:
    """Each input with the step that produced it and what it is (from the producer's outputs)."""
    plan_step = getattr(getattr(run, "plan", None), "steps", {}).get(step.name)
    sources = dict(getattr(plan_step, "input_sources", {}) or {})
    out: dict[str, dict[str, Any]] = {}
    for var, digest in (step.inputs or {}).items():
        source = sources.get(var)
        ref = None
        if source and source in run.steps:
            ref = run.steps[source].outputs.get(var)
        if ref is None:  # a recorded run has no plan objects: find the producer by digest
            for other in run.steps.values():
                candidate = (other.outputs or {}).get(var)
                if candidate and candidate.get("digest") == digest:
                    source, ref = other.name, candidate
                    break
        info = _artifact(ref or {"digest": digest})
        info["from"] = source
        out[var] = info
    return out


def output_tail(path: str | None, lines: int = _TAIL_LINES) -> list[str] | None:
    """The last lines a step printed, read from its executed notebook (None when unknown)."""
    if not path:
        return None
    try:
        if os.path.getsize(path) > _TAIL_MAX_BYTES:
            return None
        with open(path, encoding="utf-8") as fh:
            nb = json.load(fh)
    except (OSError, ValueError):
        return None
    text: list[str] = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) or []:
            kind = out.get("output_type")
            if kind == "stream":
                chunk = out.get("text", "")
            elif kind in ("execute_result", "display_data"):
                chunk = (out.get("data") or {}).get("text/plain", "")
            else:
                continue
            if isinstance(chunk, list):
                chunk = "".join(chunk)
            text.extend(strip_ansi(chunk).splitlines())
    return text[-lines:] if text else None


class MetricBuffer:
    """Metric points per step and name, fed incrementally from the history (or all at once)."""

    def __init__(self) -> None:
        self.series: dict[str, dict[str, list[list[float | None]]]] = {}
        self.last_rowid = 0

    def add(self, step: str, name: str, index: Any, value: Any) -> None:
        points = self.series.setdefault(step, {}).setdefault(name, [])
        x = finite_number(index)
        points.append([len(points) if x is None else x, finite_number(value)])

    def poll(self, history: Any, run_id: str) -> int:
        """Read the points logged since the last poll; returns how many arrived."""
        rows = history.metrics(run_id, since_rowid=self.last_rowid)
        for row in rows:
            self.add(row["step"], row["name"], row.get("step_index"), row.get("value"))
            self.last_rowid = max(self.last_rowid, int(row["rowid"]))
        return len(rows)

    def load(self, recorded: dict[str, dict[str, list]]) -> None:
        """From `History.get_run(...)["metrics"]`: {step: {name: [(index, value, ts), ...]}}."""
        for step, names in (recorded or {}).items():
            for name, points in names.items():
                for point in points:
                    self.add(step, name, point[0], point[1])

    def snapshot(self) -> dict[str, dict[str, list]]:
        """The series for the front end, thinned to at most MAX_POINTS each (first and last kept)."""
        out: dict[str, dict[str, list]] = {}
        for step, names in self.series.items():
            out[step] = {}
            for name, points in names.items():
                if len(points) > MAX_POINTS:
                    stride = math.ceil(len(points) / MAX_POINTS)
                    thinned = points[::stride]
                    if thinned[-1] is not points[-1]:
                        thinned.append(points[-1])
                    points = thinned
                out[step][name] = [list(p) for p in points]
        return out


def comparison_curves(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, list]]:
    """The same metric across two runs (`History.get_run` records, `metrics` {step: {name: [(i, v, ts)]}}),
    for one chart each: {"step.name": {"a": [[i, v], ...], "b": [...]}} (a run that did not log it: []),
    in step and name order, at most MAX_CURVES metrics, each series thinned as the panel's."""
    buffers = []
    for record in (a, b):
        buffer = MetricBuffer()
        buffer.load(record.get("metrics") or {})
        buffers.append(buffer.snapshot())
    keys: list[tuple[str, str]] = []
    for snap in buffers:
        for step, names in snap.items():
            keys += [(step, name) for name in names if (step, name) not in keys]
    return {f"{step}.{name}": {side: snap.get(step, {}).get(name, []) for side, snap in zip("ab", buffers)}
            for step, name in keys[:MAX_CURVES]}
