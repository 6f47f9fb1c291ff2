"""Text views of a run: a compact progress line and a summary (CLI, terminals, until widgets render)."""

from __future__ import annotations

from typing import Any

__all__ = ["run_summary", "progress_line", "ICONS", "TextProgress"]

ICONS = {
    "pending": "·", "running": "▶", "succeeded": "✓", "reused": "↺",
    "failed": "✗", "skipped": "⤼", "cancelled": "■",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def progress_line(run: Any) -> str:
    counts = run.counts()
    total = len(run.steps)
    finished = sum(counts.get(s, 0) for s in ("succeeded", "reused", "failed", "skipped", "cancelled"))
    parts = [f"{counts[s]} {s}" for s in ICONS if counts.get(s)]
    return f"run {run.id} [{finished}/{total}] {run.status} {_duration(run.duration)} — " + ", ".join(parts)


def step_line(step: Any) -> str:
    text = f"  {ICONS.get(step.status, '?')} {step.name:<20} {step.status:<10} {_duration(step.duration):>9}"
    if step.status == "reused" and step.reason:
        text += f"  ({step.reason.get('summary', '')})"
    return text


def run_summary(run: Any, *, step_lines: bool = True) -> str:
    """The run line, each step's line (unless they were already printed live), errors, warnings."""
    lines = [progress_line(run)]
    if step_lines:
        lines += [step_line(step) for step in run.steps.values()]
    for step in run.steps.values():
        if step.error:
            lines.append("")
            lines.append(step.error)
        for warning in step.warnings:
            lines.append(f"warning ({step.name}): {warning}")
    notebooks = {step.notebook_path for step in run.steps.values() if step.notebook_path}
    if notebooks:
        folder = sorted(notebooks)[0].rsplit("/", 1)[0]
        lines.append(f"step notebooks: {folder}/")
    return "\n".join(lines)


class TextProgress:
    """Prints one line per finished step (CLI) or keeps a display updated in place (kernel)."""

    def __init__(self, *, in_place: bool = False, stream: Any = None) -> None:
        self.in_place = in_place
        self.stream = stream
        self.handle: Any = None

    def __call__(self, run: Any, event: str, step: Any) -> None:
        if self.in_place:
            from IPython.display import display

            text = {"text/plain": run_summary(run)}
            if self.handle is None:
                self.handle = display(text, raw=True, display_id=True)
            else:
                self.handle.update(text, raw=True)
            return
        import sys

        out = self.stream or sys.stdout
        if event == "step" and step is not None and step.status not in ("pending", "running"):
            print(step_line(step), file=out, flush=True)
        elif event == "start":
            print(f"run {run.id}: {len(run.steps)} steps", file=out, flush=True)


def runs_table(items: list[dict[str, Any]]) -> str:
    """A table of runs (history.list_runs records): id, status, duration, steps, parameters."""
    import time

    rows = [("run", "started", "status", "duration", "steps", "parameters")]
    for item in items:
        counts = item.get("step_counts") or item.get("counts") or {}
        steps = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(item["started"])) if item.get("started") else "-"
        duration = _duration(item.get("duration")) if item.get("duration") is not None else "-"
        params = ", ".join(f"{k}={v!r}" for k, v in (item.get("params") or {}).items())
        rows.append((item["id"], started, item.get("status", "?"), duration, steps, params))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
