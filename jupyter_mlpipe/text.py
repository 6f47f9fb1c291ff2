"""Plain-text views: a run's progress line and summary, the runs table, a comparison (CLI, terminals).

Rendering only: the rows and comparisons come from `queries`, the icons from `vocab.LOOKS`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from .queries import ResultTable, RunComparison, RunRecord, RunView, StepView, result_table, short_run_id
from .vocab import FINISHED, LOOKS, STEP_STATUSES

__all__ = [
    "ICONS",
    "TextProgress",
    "comparison_text",
    "connecting_line",
    "fanout_failures",
    "fanout_text",
    "progress_line",
    "run_summary",
    "runs_table",
    "runs_text",
    "step_line",
]

ICONS: dict[str, str] = {status: LOOKS[status]["icon"] for status in STEP_STATUSES}
"""The icon of each step status, in status order (from `vocab.LOOKS`)."""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def progress_line(run: RunView) -> str:
    """`run ID [finished/total] status duration — counts per status`."""
    counts = run.counts()
    total = len(run.steps)
    finished = sum(counts.get(s, 0) for s in FINISHED)
    parts = [f"{counts[s]} {s}" for s in ICONS if counts.get(s)]
    return f"run {run.id} [{finished}/{total}] {run.status} {_duration(run.duration)} — " + ", ".join(parts)


def step_line(step: StepView) -> str:
    """One step: icon, name, status, duration; a reused step says from which run (its short id), as
    it took no time in this one."""
    head = f"  {ICONS.get(step.status, '?')} {step.name:<20}"
    if step.status == "reused":
        return f"{head} reused from {short_run_id((step.reason or {}).get('from_run'))}"
    return f"{head} {step.status:<10} {_duration(step.duration):>9}{fanout_text(step)}"


def fanout_text(step: StepView) -> str:
    """A fan-out step's elements: `  40 elements: 38 done (30 reused), 2 running, 1 failed`; '' for others."""
    info = (step.reason or {}).get("foreach")
    if not info:
        return ""
    if info.get("phase") == "split":
        return "  splitting its elements…"
    if not info.get("total") and step.status != "succeeded":  # the split failed: its error says why
        return ""
    parts = [f"{info['done']} done" + (f" ({info['reused']} reused)" if info.get("reused") else "")]
    if info.get("running"):
        parts.append(f"{info['running']} running")
    if info.get("failed"):
        parts.append(f"{info['failed']} failed (allowed {info.get('allowed', 0)})")
    return f"  {info['total']} elements: " + ", ".join(parts)


def fanout_failures(step: StepView) -> list[str]:
    """The failed elements of a fan-out step that succeeded within its --error-threshold, one line each."""
    info = (step.reason or {}).get("foreach") or {}
    if step.status != "succeeded" or not info.get("failures"):
        return []
    lines = [f"{step.name}: {info['failed']} of {info['total']} elements failed, within its --error-threshold:"]
    lines += [f"  element {f['index']}: {f.get('ename')}: {f.get('evalue')}" for f in info["failures"]]
    return lines


def connecting_line() -> str:
    """What a run says while its backend starts, before its first step is submitted (event "connecting").

    The first run of a process imports and starts Ray (seconds); later ones only connect again.
    """
    if "ray" not in sys.modules:
        return "starting Ray (first run in this session)…"
    return "connecting to Ray…"


def run_summary(run: RunView, *, step_lines: bool = True) -> str:
    """The run line, each step's line (unless they were already printed live), errors, warnings."""
    lines = [progress_line(run)]
    if getattr(run, "connecting", False):
        lines.append(f"  {connecting_line()}")
    if step_lines:
        lines += [step_line(step) for step in run.steps.values()]
    if run.corrections:
        lines.append("corrected while running (the plan did not show it; the next plan knows it):")
        lines += [f"  {correction}" for correction in run.corrections]
    for step in run.steps.values():
        if step.error:
            lines.append("")
            lines.append(step.error)
        lines += fanout_failures(step)
        for warning in step.warnings:
            lines.append(f"warning ({step.name}): {warning}")
    lines += _notebooks_line(run)
    return "\n".join(lines)


def _notebooks_line(run: RunView) -> list[str]:
    """Where this run's executed notebooks are; a reused step's stays with the run that made it."""
    made_here = sorted(step.notebook_path for step in run.steps.values()
                       if step.notebook_path and step.status != "reused")
    if made_here:
        return [f"step notebooks: {os.path.dirname(made_here[0])}/"]
    if any(step.notebook_path for step in run.steps.values()):
        return [("step notebooks: every step was reused; each one's notebook is in the run that made it "
                "(mlpipe show RUN_ID, or the panel's step details)")]
    return []


class TextProgress:
    """Prints one line per finished step (CLI) or keeps a display updated in place (kernel)."""

    def __init__(self, *, in_place: bool = False, stream: TextIO | None = None) -> None:
        self.in_place = in_place
        self.stream = stream
        self.handle: Any = None

    def __call__(self, run: RunView, event: str, step: StepView | None) -> None:
        if self.in_place:
            from IPython.display import display

            text = {"text/plain": run_summary(run)}
            if self.handle is None:
                self.handle = display(text, raw=True, display_id=True)
            else:
                self.handle.update(text, raw=True)
            return
        out = self.stream or sys.stdout
        if event == "step" and step is not None and step.status not in ("pending", "running"):
            print(step_line(step), file=out, flush=True)
        elif event == "step" and step is not None and (step.reason or {}).get("foreach"):
            print(step_line(step), file=out, flush=True)  # a fan-out step's progress
        elif event == "start":
            print(f"run {run.id}: {len(run.steps)} steps", file=out, flush=True)
        elif event == "connecting":
            print(connecting_line(), file=out, flush=True)


MAX_METRIC_COLUMNS = 6  # as many as a terminal's width allows; the widget shows 8


def _value(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return repr(v) if isinstance(v, str) else str(v)


def _columns(rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def runs_table(runs: ResultTable | Iterable[RunRecord]) -> str:
    """The runs as text (`queries.result_table`, or `History.get_run` records, listed as they come):
    status, duration, reuse, the result (the chosen metric's last value), parameters, other metrics."""
    table = runs if isinstance(runs, ResultTable) else result_table(list(runs))
    rows, records = table.rows, table.records
    params = list(dict.fromkeys(k for r in rows for k in r["params"]))
    metrics = sorted({k for r in rows for k in r["metrics"]} - {table.metric})  # one order, whatever was logged first
    result = [table.metric] if table.metric else []
    hidden = len(result) + len(metrics) - MAX_METRIC_COLUMNS
    metrics = metrics[:MAX_METRIC_COLUMNS - len(result)]
    published = [_published(r) for r in records] if any(r.get("pipeline") for r in records) else None
    lines = [("run", "started", "status", "duration", "reused", *(["published"] if published else []),
              *result, *params, *metrics)]
    for index, r in enumerate(rows):
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"])) if r.get("started") else "-"
        duration = _duration(r["duration"]) if r.get("duration") is not None else "-"
        total = sum(r["counts"].values())
        lines.append((r["id"], started, r.get("status") or "?", duration, f"{r['reused']}/{total}",
                      *([published[index]] if published else []),
                      *(_value(r["metrics"].get(m)) for m in result),
                      *(_value(r["params"][p]) if p in r["params"] else "-" for p in params),
                      *(_value(r["metrics"].get(m)) for m in metrics)))
    text = _columns(lines)
    if table.sort:
        best = "lowest" if table.order == "asc" else "highest"
        text += f"\n(sorted by {table.sort}, {best} first; runs without it last)"
    if hidden > 0:
        text += f"\n({hidden} more metrics: mlpipe runs NOTEBOOK --json lists them all)"
    return text


def _published(record: Any) -> str:
    """`daily v2 (schedule)` for a run of a published pipeline, '-' for a run of the notebook."""
    if not record.get("pipeline"):
        return "-"
    kind = (record.get("trigger") or {}).get("kind", "?")
    return f"{record['pipeline']} v{record.get('pipeline_version')} ({kind})"


def comparison_text(comparison: RunComparison) -> str:
    """What differs between two runs (`queries.compare`), as text."""
    lines = [f"{comparison['a']} -> {comparison['b']}", "", "parameters:"]
    params = comparison.get("params") or {}
    lines += [f"  {k}: {_value(a)} -> {_value(b)}" for k, (a, b) in params.items()] or ["  the same"]
    lines += ["", "metrics (last values):"]
    metrics = comparison.get("metrics") or {}
    lines += [f"  {k}: {_value(a)} -> {_value(b)}" + (f"  ({d:+.4g})" if d is not None else "")
              for k, (a, b, d) in metrics.items()] or [_no_metric_difference(comparison)]
    lines += ["", "steps:"]
    differ = set(comparison.get("steps_differ") or [])
    steps = [(f"  {'*' if name in differ else ' '} {name}", a or "not in run", "->", b or "not in run")
             for name, (a, b) in (comparison.get("steps") or {}).items()]
    if steps:
        lines += _columns(steps).splitlines()
    if differ:
        lines.append("  (* differs)")
    return "\n".join(lines)


NO_METRICS = "neither run logged a metric (log_metric(NAME, VALUE) in a step records one)"
"""What a comparison says of metrics when neither run logged any."""


def _no_metric_difference(comparison: RunComparison) -> str:
    same = comparison.get("metrics_same")
    if same is None:  # a comparison made before `metrics_same` existed
        return "  the same"
    return f"  the same ({len(same)} metric{'s' if len(same) != 1 else ''})" if same else f"  {NO_METRICS}"


def runs_text(records: ResultTable | list[RunRecord], comparison: RunComparison | None = None) -> str:
    """The runs table, and below it what differs between the two chosen runs when there are two."""
    text = runs_table(records)
    return f"{text}\n\n{comparison_text(comparison)}" if comparison else text
