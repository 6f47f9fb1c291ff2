"""Firing schedules: one scheduler per workspace at a time, inside `mlpipe serve` or a Jupyter server.

Every process that serves a workspace runs a `Scheduler`, but only the one
holding the workspace's lease fires (the lease is a row of the registry,
renewed while its holder lives and taken over once it expires or its holder's
process is gone), so a schedule fires once even when two servers share a
workspace. Fire times come from the schedules (`schedules.next_fire`); moving a
schedule's next fire is a compare-and-set in the registry, a second guard.

Fires due before this scheduler took the lease happened while nothing served:
they are recorded as `missed`, and with `catch_up="last"` the last of them
runs once. A fire while the schedule's previous run still goes follows the
schedule's `overlap`. Runs go through the server's `RunQueue`.
"""

from __future__ import annotations

import glob
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MlpipeError
from ..store.ids import pid_alive
from .db import RegistryDB
from .queue import QueueFull, RunQueue
from .registry import Registry
from .runs import prepare
from .schedules import ScheduleInfo, Schedules, next_fire

if TYPE_CHECKING:
    from ..store.records import Trigger
    from .workspace import Workspace

__all__ = ["LEASE_S", "Scheduler"]

logger = logging.getLogger(__name__)

LEASE_S = 15.0
"""How long the lease lasts without being renewed (its holder renews it on every tick)."""
_MAX_MISSED_RECORDED = 100


class Scheduler:
    """Fires the schedules of one workspace from a background thread (`start`, `stop`), or by `tick()`."""

    def __init__(self, workspace: Workspace, queue: RunQueue, *, interval: float = 0.5) -> None:
        self.workspace = workspace
        self.queue = queue
        self.interval = interval
        self.db = RegistryDB(workspace.registry_path)
        self.schedules = Schedules(workspace)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.leading_since: float | None = None
        self.active: dict[str, str] = {}  # schedule id -> run id of its latest run
        self.pending: dict[str, tuple[ScheduleInfo, float, dict[str, Any]]] = {}  # --overlap queue: one waits
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread --------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"mlpipe-scheduler-{self.workspace.root.name}",
                                        daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Stop after the current tick, without waiting (the lease expires by itself)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop, wait for the thread, and hand the lease over."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.release()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - logged; the next tick tries again
                logger.warning("mlpipe scheduler of %s: a tick failed", self.workspace, exc_info=True)

    # -- the lease ---------------------------------------------------------
    def lead(self) -> bool:
        """Take or renew the workspace's lease; True while this scheduler holds it."""
        now = time.time()
        host = socket.gethostname()

        def claim(c: Any) -> bool:
            row = c.execute("SELECT holder, expires FROM lease WHERE name = 'scheduler'").fetchone()
            if row is not None and row["holder"] != self.holder and row["expires"] > now:
                other_host, _, rest = row["holder"].partition(":")
                other_pid = rest.split(":")[0]
                gone = (other_host == host and other_pid.isdigit() and int(other_pid) != os.getpid()
                        and not pid_alive(int(other_pid)))
                if not gone:
                    return False  # another live scheduler leads
            c.execute("INSERT OR REPLACE INTO lease (name, holder, expires) VALUES ('scheduler', ?, ?)",
                      (self.holder, now + LEASE_S))
            return True

        leads = self.db.write(claim)
        if leads and self.leading_since is None:
            self.leading_since = now
            logger.info("mlpipe scheduler: %s fires the schedules of %s", self.holder, self.workspace)
        elif not leads:
            self.leading_since = None
        return leads

    def release(self) -> None:
        if self.leading_since is None or not self.db.exists():
            return
        self.db.write(lambda c: c.execute("DELETE FROM lease WHERE name = 'scheduler' AND holder = ?",
                                          (self.holder,)))
        self.leading_since = None

    # -- one tick ----------------------------------------------------------
    def tick(self, now: float | None = None) -> None:
        """Fire what is due. Does nothing (and creates nothing) in a workspace without a registry."""
        if not self.db.exists() or not self.lead():
            return
        now = time.time() if now is None else now
        self._release_pending()
        enabled = {p["name"]: p["enabled"] for p in Registry(self.workspace).pipelines()}
        for schedule in self.schedules.list():
            if schedule["paused"] or schedule["next_fire"] is None or schedule["next_fire"] > now:
                continue
            try:
                self._due(schedule, now, enabled.get(schedule["pipeline"], False))
            except Exception:  # noqa: BLE001 - one schedule's trouble does not stop the others
                logger.warning("mlpipe scheduler: schedule %s failed", schedule["id"], exc_info=True)

    def _due(self, schedule: ScheduleInfo, now: float, enabled: bool) -> None:
        sid, due = schedule["id"], float(schedule["next_fire"] or now)
        nxt = next_fire(schedule["kind"], schedule["spec"], after=now, created=schedule["created"])
        assert self.leading_since is not None
        if due < self.leading_since and schedule["kind"] != "on_change":
            self._missed(schedule, due, now, nxt)
            return
        if schedule["kind"] == "on_change":
            changed, state = self._scan(schedule)
            if not self.schedules.advance(sid, schedule["next_fire"], nxt, state):
                return
            if not changed:
                return
            extra: dict[str, Any] = {schedule["spec"]["path_param"]: changed}
        else:
            if not self.schedules.advance(sid, schedule["next_fire"], nxt):
                return  # another process fired it
            extra = {}
        if not enabled:
            self.schedules.record_fire(sid, due, "skipped", detail=f"the pipeline {schedule['pipeline']!r} is disabled")
            return
        self._fire(schedule, due, extra)

    def _missed(self, schedule: ScheduleInfo, due: float, now: float, nxt: float) -> None:
        """Fires due while nothing served: recorded as missed; `catch_up="last"` runs the last one."""
        sid, since = schedule["id"], self.leading_since or now
        times = [due]
        while len(times) < _MAX_MISSED_RECORDED:
            later = next_fire(schedule["kind"], schedule["spec"], after=times[-1], created=schedule["created"])
            if later > now or later >= since:
                break
            times.append(later)
        if not self.schedules.advance(sid, schedule["next_fire"], nxt):
            return
        for t in times:
            self.schedules.record_fire(sid, t, "missed", detail="nothing was serving the workspace at that time")
        if schedule["catch_up"] == "last":
            self._fire(schedule, times[-1], {}, note="catch-up of a missed fire")

    def _scan(self, schedule: ScheduleInfo) -> tuple[list[str], dict[str, Any]]:
        """Files matching the schedule's glob that are new or changed since the last poll (first poll: none)."""
        snapshot, _ = Registry(self.workspace).snapshot(schedule["pipeline"], schedule["spec"].get("version"))
        base = self.workspace.resolve(snapshot["notebook"]).parent
        seen: dict[str, list[float]] = {}
        for match in sorted(glob.glob(str(base / schedule["spec"]["glob"]), recursive=True)):
            path = Path(match)
            if path.is_file() and ".mlpipe" not in path.relative_to(base).parts:
                stat = path.stat()
                seen[path.relative_to(base).as_posix()] = [stat.st_mtime, stat.st_size]
        before = (schedule["state"] or {}).get("seen")
        if before is None:
            return [], {"seen": seen}
        changed = [p for p, sig in seen.items() if before.get(p) != sig]
        return changed, {"seen": seen}

    def _fire(self, schedule: ScheduleInfo, due: float, extra: dict[str, Any], note: str | None = None) -> None:
        sid = schedule["id"]
        previous = self.active.get(sid)
        if previous is not None and self.queue.active(previous):
            if schedule["overlap"] == "skip":
                self.schedules.record_fire(sid, due, "skipped",
                                           detail=f"its previous run {previous} is still going (--overlap skip)")
                return
            if schedule["overlap"] == "queue":
                if sid in self.pending:
                    self.schedules.record_fire(sid, due, "skipped", detail="a fire already waits for the "
                                               f"previous run {previous} (--overlap queue keeps one)")
                    return
                self.pending[sid] = (schedule, due, extra)
                self.schedules.record_fire(sid, due, "queued", detail=f"waits for its previous run {previous}")
                return
        self._launch(schedule, due, extra, note)

    def _launch(self, schedule: ScheduleInfo, due: float, extra: dict[str, Any], note: str | None = None) -> None:
        sid = schedule["id"]
        trigger: Trigger = {"kind": "schedule", "schedule": sid, "fire_time": due}
        if extra:
            trigger["changed"] = list(next(iter(extra.values())))
        try:
            prepared = prepare(self.workspace, schedule["pipeline"], version=schedule["spec"].get("version"),
                               params={**schedule["params"], **extra}, trigger=trigger)
            self.queue.submit(prepared)
        except (MlpipeError, QueueFull) as exc:
            self.schedules.record_fire(sid, due, "failed", detail=str(exc))
            return
        self.active[sid] = prepared.run_id
        self.schedules.record_fire(sid, due, "started", run_id=prepared.run_id, detail=note)

    def _release_pending(self) -> None:
        """--overlap queue: start the fire that waited, once the run before it ended."""
        for sid, (schedule, due, extra) in list(self.pending.items()):
            previous = self.active.get(sid)
            if previous is None or not self.queue.active(previous):
                del self.pending[sid]
                self._launch(schedule, due, extra, note="waited for the previous run (--overlap queue)")
