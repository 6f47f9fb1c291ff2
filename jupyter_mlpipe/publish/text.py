"""Plain-text views of the published pipelines, keys and schedules (the CLI's and the kernel's)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store.records import RunSummary
    from .keys import KeyInfo
    from .registry import PipelineInfo
    from .schedules import ScheduleInfo

__all__ = ["keys_table", "pipeline_text", "pipelines_table", "run_line", "schedules_table", "when"]


def when(ts: float | None) -> str:
    """A time as `2026-01-31 14:05:09` (local), or '-'."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in [header, *rows])


def run_line(run: RunSummary | None) -> str:
    if run is None:
        return "-"
    trigger = (run.get("trigger") or {}).get("kind", "?")
    return f"{run['id']} {run['status']} v{run.get('pipeline_version')} ({trigger}, {when(run['started'])})"


def pipelines_table(items: list[tuple[PipelineInfo, RunSummary | None]]) -> str:
    rows = [[p["name"], f"v{p['default']}", "enabled" if p["enabled"] else "disabled",
             ",".join(str(v["version"]) for v in p["versions"]), run_line(last)] for p, last in items]
    return _table(["NAME", "DEFAULT", "STATE", "VERSIONS", "LAST RUN"], rows)


def pipeline_text(info: PipelineInfo, runs: list[RunSummary], schedules: list[ScheduleInfo]) -> str:
    lines = [f"{info['name']}: default v{info['default']}, {'enabled' if info['enabled'] else 'disabled'}"]
    rows = [[("*" if v["version"] == info["default"] else " ") + f"v{v['version']}", when(v["created"]),
             v["notebook"], v["description"] or ""] for v in info["versions"]]
    lines += ["", _table(["VERSION", "PUBLISHED", "NOTEBOOK", "DESCRIPTION"], rows)]
    if schedules:
        lines += ["", schedules_table(schedules)]
    lines += ["", "Recent runs:" if runs else "No runs yet."]
    lines += [f"  {run_line(r)}" for r in runs]
    return "\n".join(lines)


def keys_table(keys: list[KeyInfo]) -> str:
    if not keys:
        return "No API keys. Make one: mlpipe keys create PIPELINE."
    rows = [[k["id"], k["pipeline"], k["state"], when(k["created"]), when(k["expires"]) if k["expires"] else "never"]
            for k in keys]
    return _table(["ID", "PIPELINE", "STATE", "CREATED", "EXPIRES"], rows)


def schedules_table(schedules: list[ScheduleInfo]) -> str:
    if not schedules:
        return "No schedules. Add one: mlpipe schedule add PIPELINE --every 1h."
    rows: list[list[Any]] = [[s["id"], s["pipeline"], s["describe"], "paused" if s["paused"] else "active",
                              s["overlap"], when(s["next_fire"]), s.get("last_outcome") or "-"] for s in schedules]
    return _table(["ID", "PIPELINE", "WHEN", "STATE", "OVERLAP", "NEXT", "LAST"], rows)
