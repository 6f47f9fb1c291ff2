"""Plain-text views of a sweep: a line per finished trial while it runs, and the trials table."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from ..queries import short_run_id
from ..store.sweeps import SweepRecord
from .records import best_trial

__all__ = ["SweepProgress", "sweep_table", "trial_line"]

_ICONS = {"pending": "·", "running": "▶", "succeeded": "✓", "failed": "✗", "stopped": "⏹", "cancelled": "■"}


def _value(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else (repr(v) if isinstance(v, str) else str(v))


def trial_line(trial: dict[str, Any], best: int | None = None) -> str:
    params = " ".join(f"{k}={_value(v)}" for k, v in (trial.get("params") or {}).items())
    mark = " ★ best" if best is not None and trial.get("number") == best else ""
    status = trial.get("status") or "pending"
    return (f"  {_ICONS.get(status, '?')} trial {trial.get('number')}: {params}  {status}  "
            f"metric {_value(trial.get('metric'))}  run {short_run_id(trial.get('run_id'))}{mark}")


def sweep_table(record: SweepRecord) -> str:
    """The sweep's head line, its trials (parameters, status, metric, run; the best marked) and what it saved."""
    trials = record.get("trials") or []
    best = best_trial(record)
    names = list(dict.fromkeys(k for t in trials for k in (t.get("params") or {})))
    rows = [("#", *names, "status", str(record.get("metric")), "run", "")]
    for t in trials:
        rows.append((str(t.get("number")), *(_value((t.get("params") or {}).get(n)) for n in names),
                     str(t.get("status")), _value(t.get("metric")), short_run_id(t.get("run_id")),
                     "★ best" if best is not None and t.get("number") == best.get("number") else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
    options = record.get("options") or {}
    head = (f"sweep {record['id']} {record.get('status')}: {record.get('metric')} ({record.get('goal')}), "
            f"{record.get('search')} search, {len(trials)} trials")
    lines = [head, table]
    shared = options.get("shared_steps") or []
    if shared:
        lines.append(f"shared steps ({', '.join(shared)}) ran once for all trials "
                     f"(run {short_run_id(record.get('shared_run_id'))}); "
                     f"step runs saved: {_value(record.get('steps_saved'))}")
    if best is not None:
        lines.append(f"best: trial {best.get('number')}, run {best.get('run_id')}, "
                     f"{record.get('metric')} = {_value(best.get('metric'))}")
    if record.get("error"):
        lines.append(f"error: {record.get('error')}")
    return "\n".join(lines)


class SweepProgress:
    """A sweep listener that prints a line when the shared run ends and when each trial ends (CLI)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self.ended: set[int] = set()

    def __call__(self, sweep: Any, event: str) -> None:
        out = self.stream or sys.stdout
        if event == "start":
            plan = sweep.plan
            print(f"sweep {sweep.id}: {plan.trials} trials over {plan.space.describe()}, "
                  f"{plan.metric} ({plan.goal}); shared steps: {', '.join(plan.shared_steps) or 'none'}",
                  file=out, flush=True)
        elif event == "shared":
            print(f"shared steps ran once: run {sweep.record.get('shared_run_id')}", file=out, flush=True)
        elif event == "trial":
            for trial in sweep.trials:
                if trial.get("status") not in ("pending", "running") and trial["number"] not in self.ended:
                    self.ended.add(trial["number"])
                    print(trial_line(trial), file=out, flush=True)
