"""Schedules of published pipelines: when they fire (cron, every, on file change) and how they are kept.

Cron expressions are APScheduler's (`CronTrigger.from_crontab`, with a time
zone): five fields, as crontab writes them, never parsed here. `--every` fires
at fixed steps from the moment the schedule was added; `--on-change GLOB`
polls the files matching GLOB (relative to the notebook's folder, where the
steps run) and fires when one is new or changed, passing the changed paths in
the parameter named by `--path-param`.

What happens when a fire comes while the schedule's previous run still goes
is `overlap`: `skip` (the default: the fire is recorded as skipped), `queue`
(it runs when the previous one ends; one waits at most) or `allow`.
`catch_up`: `none` records fires missed while nothing was serving as missed;
`last` also runs the last of them once, on start. The firing itself is
`scheduler.Scheduler`'s job.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from ..errors import ScheduleError
from .db import RegistryDB
from .durations import format_duration
from .params import check_params
from .registry import Registry

if TYPE_CHECKING:
    from .workspace import Workspace

__all__ = ["CATCH_UP", "OVERLAP", "CatchUp", "FireOutcome", "Overlap", "ScheduleInfo", "ScheduleKind",
           "Schedules", "next_fire"]

ScheduleKind = Literal["cron", "every", "on_change"]
Overlap = Literal["skip", "queue", "allow"]
CatchUp = Literal["none", "last"]
FireOutcome = Literal["started", "queued", "skipped", "missed", "failed"]
OVERLAP: tuple[Overlap, ...] = ("skip", "queue", "allow")
CATCH_UP: tuple[CatchUp, ...] = ("none", "last")


class ScheduleInfo(TypedDict):
    id: str
    pipeline: str
    kind: ScheduleKind
    spec: dict[str, Any]  # cron: {cron, tz}; every: {every}; on_change: {glob, path_param, poll}; all: {version}
    params: dict[str, Any]
    overlap: Overlap
    catch_up: CatchUp
    paused: bool
    created: float
    next_fire: float | None
    state: dict[str, Any] | None  # on_change: {"seen": {path: [mtime, size]}}
    describe: str
    last_outcome: str | None


def cron_trigger(expression: str, tz: str | None) -> Any:
    """APScheduler's CronTrigger for a crontab line; ScheduleError naming what is wrong."""
    from apscheduler.triggers.cron import CronTrigger

    zone = _zone(tz)
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as exc:
        raise ScheduleError(f"--cron {expression!r} is not a cron expression: {exc}.",
                            hint="Five fields: minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\" "
                            "(every day at 03:00).") from None


def _zone(tz: str | None) -> Any:
    from datetime import timezone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not tz:
        return timezone.utc
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"--tz {tz!r} is not a time zone.",
                            hint="Use an IANA name such as Europe/Paris, America/New_York or UTC.") from None


def next_fire(kind: ScheduleKind, spec: dict[str, Any], *, after: float, created: float) -> float:
    """The first fire time strictly after `after`."""
    if kind == "cron":
        from datetime import datetime

        trigger = cron_trigger(spec["cron"], spec.get("tz"))
        now = datetime.fromtimestamp(after + 0.001, tz=trigger.timezone)
        return trigger.get_next_fire_time(None, now).timestamp()
    interval = float(spec["every"] if kind == "every" else spec["poll"])
    steps = int((after - created) // interval) + 1
    return created + max(steps, 1) * interval


def describe(kind: ScheduleKind, spec: dict[str, Any]) -> str:
    if kind == "cron":
        return f"cron {spec['cron']!r}" + (f" {spec['tz']}" if spec.get("tz") else " UTC")
    if kind == "every":
        return f"every {format_duration(spec['every'])}"
    return f"on change {spec['glob']!r} (poll {format_duration(spec['poll'])}, -> {spec['path_param']})"


def _info(row: sqlite3.Row, last: str | None) -> ScheduleInfo:
    spec = json.loads(row["spec"])
    return {"id": row["id"], "pipeline": row["pipeline"], "kind": row["kind"], "spec": spec,
            "params": json.loads(row["params"]), "overlap": row["overlap"], "catch_up": row["catch_up"],
            "paused": bool(row["paused"]), "created": row["created"], "next_fire": row["next_fire"],
            "state": json.loads(row["state"]) if row["state"] else None, "describe": describe(row["kind"], spec),
            "last_outcome": last}


class Schedules:
    """The schedules of a workspace, and the record of their fires."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.db = RegistryDB(workspace.registry_path)

    def add(self, pipeline: str, *, cron: str | None = None, tz: str | None = None, every: float | None = None,
            on_change: str | None = None, path_param: str | None = None, poll: float = 5.0,
            params: dict[str, Any] | None = None, overlap: Overlap = "skip", catch_up: CatchUp = "none",
            version: int | None = None) -> ScheduleInfo:
        """A new schedule; exactly one of `cron`, `every`, `on_change`. Its parameters are checked now."""
        chosen = [flag for flag, value in (("--cron", cron), ("--every", every), ("--on-change", on_change))
                  if value is not None]
        if len(chosen) != 1:
            raise ScheduleError(f"A schedule needs exactly one of --cron, --every, --on-change (got "
                                f"{' '.join(chosen) or 'none'}).", hint="e.g. mlpipe schedule add NAME --every 15m.")
        if overlap not in OVERLAP:
            raise ScheduleError(f"--overlap {overlap!r}: use one of {', '.join(OVERLAP)}.")
        if catch_up not in CATCH_UP:
            raise ScheduleError(f"--catch-up {catch_up!r}: use one of {', '.join(CATCH_UP)}.")
        if tz is not None and cron is None:
            raise ScheduleError("--tz goes with --cron (intervals and file changes need no time zone).")
        registry = Registry(self.workspace)
        snapshot, _ = registry.snapshot(pipeline, version)
        params = check_params(snapshot["params"], params)
        kind: ScheduleKind
        if cron is not None:
            cron_trigger(cron, tz)
            kind, spec = "cron", {"cron": cron, "tz": tz}
        elif every is not None:
            kind, spec = "every", {"every": float(every)}
        else:
            if not path_param:
                raise ScheduleError("--on-change needs --path-param NAME: the parameter that receives the "
                                    "changed paths.", hint="Add e.g. `files = []` to the parameters cell.")
            found = snapshot["params"].get(path_param)
            if found is None or found["type"] not in ("list", "any"):
                raise ScheduleError(
                    f"--path-param {path_param!r} must be a parameter of {pipeline!r} whose default is a list "
                    f"({'it has no such parameter' if found is None else 'its default is ' + repr(found['default'])}).",
                    hint=f"Add `{path_param} = []` to the notebook's parameters cell and publish again.")
            kind, spec = "on_change", {"glob": on_change, "path_param": path_param, "poll": float(poll)}
        spec["version"] = version
        now = time.time()
        schedule_id = "s" + secrets.token_hex(4)
        first = next_fire(kind, spec, after=now, created=now)
        self.db.write(lambda c: c.execute(
            "INSERT INTO schedules (id, pipeline, kind, spec, params, overlap, catch_up, created, next_fire)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (schedule_id, pipeline, kind, json.dumps(spec), json.dumps(params), overlap, catch_up, now, first)))
        return self.get(schedule_id)

    def list(self, pipeline: str | None = None) -> list[ScheduleInfo]:
        if not self.db.exists():
            return []

        def query(c: sqlite3.Connection) -> list[ScheduleInfo]:
            sql, args = "SELECT * FROM schedules", ()
            if pipeline is not None:
                sql, args = sql + " WHERE pipeline = ?", (pipeline,)
            return [_info(r, self._last(c, r["id"])) for r in c.execute(sql + " ORDER BY created", args)]

        return self.db.read(query)

    @staticmethod
    def _last(c: sqlite3.Connection, schedule_id: str) -> str | None:
        row = c.execute("SELECT outcome, run_id FROM fires WHERE schedule_id = ? ORDER BY id DESC LIMIT 1",
                        (schedule_id,)).fetchone()
        return None if row is None else row["outcome"] + (f" {row['run_id']}" if row["run_id"] else "")

    def get(self, schedule_id: str) -> ScheduleInfo:
        def query(c: sqlite3.Connection) -> ScheduleInfo | None:
            row = c.execute("SELECT * FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
            return None if row is None else _info(row, self._last(c, schedule_id))

        found = self.db.read(query) if self.db.exists() else None
        if found is None:
            raise ScheduleError(f"No schedule {schedule_id!r} in the workspace {self.workspace}.",
                                schedule=schedule_id, hint="mlpipe schedule list shows their ids.")
        return found

    def set_paused(self, schedule_id: str, paused: bool) -> ScheduleInfo:
        info = self.get(schedule_id)
        now = time.time()
        nxt = None if paused else next_fire(info["kind"], info["spec"], after=now, created=info["created"])
        self.db.write(lambda c: c.execute("UPDATE schedules SET paused = ?, next_fire = ? WHERE id = ?",
                                          (int(paused), nxt, schedule_id)))
        return self.get(schedule_id)

    def remove(self, schedule_id: str) -> ScheduleInfo:
        info = self.get(schedule_id)
        self.db.write(lambda c: c.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)))
        return info

    # -- the scheduler's side ----------------------------------------------
    def advance(self, schedule_id: str, expected: float | None, next_time: float | None,
                state: dict[str, Any] | None = None) -> bool:
        """Move a schedule's next fire from `expected` to `next_time`; False when another process moved it."""
        def update(c: sqlite3.Connection) -> bool:
            sql = "UPDATE schedules SET next_fire = ?" + (", state = ?" if state is not None else "")
            sql += " WHERE id = ? AND next_fire IS ?"
            args = [next_time] + ([json.dumps(state)] if state is not None else []) + [schedule_id, expected]
            return c.execute(sql, args).rowcount == 1

        return self.db.write(update)

    def record_fire(self, schedule_id: str, fire_time: float, outcome: FireOutcome, *, run_id: str | None = None,
                    detail: str | None = None) -> None:
        self.db.write(lambda c: c.execute(
            "INSERT INTO fires (schedule_id, fire_time, outcome, run_id, detail, recorded) VALUES (?, ?, ?, ?, ?, ?)",
            (schedule_id, fire_time, outcome, run_id, detail, time.time())))

    def fires(self, schedule_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The recorded fires, newest first: {schedule_id, fire_time, outcome, run_id, detail, recorded}."""
        if not self.db.exists():
            return []
        sql = "SELECT * FROM fires"
        args: list[Any] = []
        if schedule_id is not None:
            sql, args = sql + " WHERE schedule_id = ?", [schedule_id]
        return self.db.read(lambda c: [dict(r) for r in c.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit])])
