"""The queue of published runs in a server: a limit on runs at once, and on runs waiting.

A trigger never blocks the server: an accepted run starts at once when fewer
than `max_running` runs go, else it waits in the queue (its run id is reserved
and already answered); when the queue holds `max_queued`, the trigger is refused
with `QueueFull`, which says when to retry (the REST answer is a 429 with
Retry-After). Runs start in the background; each one's end starts the next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import PublishError

if TYPE_CHECKING:
    from ..execute.run import Event, Run, StepRun
    from .runs import PreparedRun

__all__ = ["QueueFull", "QueueState", "RunQueue"]

logger = logging.getLogger(__name__)

QueueState = Literal["queued", "running", "done", "failed"]


@dataclass(eq=False, repr=False, kw_only=True)
class QueueFull(PublishError):
    """Too many runs waiting: try again in `retry_after` seconds (HTTP 429)."""

    retry_after: int = 30

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retry_after": self.retry_after}


class RunQueue:
    """Runs of published pipelines in this process, at most `max_running` at once."""

    def __init__(self, max_running: int = 2, max_queued: int = 10,
                 on_start: Callable[[Run], None] | None = None) -> None:
        if max_running < 1 or max_queued < 0:
            raise PublishError(f"A run queue needs max_running >= 1 and max_queued >= 0 (got {max_running}, "
                               f"{max_queued}).")
        self.max_running = max_running
        self.max_queued = max_queued
        self.on_start = on_start
        self._lock = threading.Lock()
        self._waiting: deque[PreparedRun] = deque()
        self._active: set[str] = set()  # run ids given a slot (started, or starting)
        self._running: dict[str, Run] = {}
        self._states: dict[str, QueueState] = {}
        self._errors: dict[str, str] = {}
        self._durations: deque[float] = deque(maxlen=20)
        self._listeners: dict[str, list[Callable[[str, QueueState], None]]] = {}

    def submit(self, prepared: PreparedRun, *, on_state: Callable[[str, QueueState], None] | None = None
               ) -> QueueState:
        """Start `prepared` now, or queue it; QueueFull when the queue is full. Returns "running" or "queued"."""
        with self._lock:
            if len(self._active) >= self.max_running and len(self._waiting) >= self.max_queued:
                raise QueueFull(
                    f"{len(self._active)} runs are going and {len(self._waiting)} are waiting, the most this "
                    f"server queues; {prepared.name!r} was not started.", pipeline=prepared.name,
                    retry_after=self._retry_after(),
                    hint="Retry after the time in the Retry-After header, or raise the limits: "
                    "mlpipe serve --max-runs N --max-queued M.")
            if on_state is not None:
                self._listeners.setdefault(prepared.run_id, []).append(on_state)
            if len(self._active) < self.max_running:
                self._active.add(prepared.run_id)
                self._states[prepared.run_id] = "running"
                start_now = True
            else:
                self._waiting.append(prepared)
                self._states[prepared.run_id] = "queued"
                start_now = False
        if start_now:
            self._start(prepared)
            return "running"
        return "queued"

    def state(self, run_id: str) -> QueueState | None:
        with self._lock:
            return self._states.get(run_id)

    def error(self, run_id: str) -> str | None:
        with self._lock:
            return self._errors.get(run_id)

    def run(self, run_id: str) -> Run | None:
        with self._lock:
            return self._running.get(run_id)

    def drain(self, timeout: float = 30.0) -> None:
        """Drop the waiting runs, cancel the running ones and wait for them (a server shutting down)."""
        with self._lock:
            for prepared in self._waiting:
                self._states[prepared.run_id] = "failed"
                self._errors[prepared.run_id] = "the server stopped before the run started"
            self._waiting.clear()
            running = list(self._running.values())
        for run in running:
            run.cancel()
        for run in running:
            run.wait(timeout)

    def active(self, run_id: str) -> bool:
        """True while the run waits or goes."""
        return self.state(run_id) in ("queued", "running")

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"running": len(self._active), "queued": len(self._waiting)}

    def _retry_after(self) -> int:
        typical = sorted(self._durations)[len(self._durations) // 2] if self._durations else 30.0
        return max(1, min(3600, round(typical * (1 + len(self._waiting)) / self.max_running)))

    def _set(self, run_id: str, state: QueueState) -> None:
        with self._lock:
            self._states[run_id] = state
            listeners = list(self._listeners.get(run_id, []))
            if state in ("done", "failed"):
                self._listeners.pop(run_id, None)
        for listener in listeners:
            try:
                listener(run_id, state)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the queue
                logger.warning("run queue: a listener of run %s failed", run_id, exc_info=True)

    def _start(self, prepared: PreparedRun) -> None:
        began = time.time()

        def ended(run: Run, event: Event, step: StepRun | None) -> None:
            if event != "end":
                return
            with self._lock:
                self._active.discard(run.id)
                self._running.pop(run.id, None)
                self._durations.append(time.time() - began)
            self._set(run.id, "done")
            self._next()

        try:
            run = prepared.start(background=True, listeners=[ended])
        except Exception as exc:  # noqa: BLE001 - recorded for whoever asks about the run; the queue goes on
            logger.warning("run %s of %r could not start", prepared.run_id, prepared.name, exc_info=True)
            with self._lock:
                self._active.discard(prepared.run_id)
                self._errors[prepared.run_id] = str(exc)
            self._set(prepared.run_id, "failed")
            self._next()
            return
        with self._lock:
            if run.id in self._active:  # not ended already
                self._running[run.id] = run
        if self.on_start is not None:
            try:
                self.on_start(run)
            except Exception:  # noqa: BLE001
                logger.warning("run queue: on_start failed for %s", run.id, exc_info=True)

    def _next(self) -> None:
        with self._lock:
            if not self._waiting or len(self._active) >= self.max_running:
                return
            prepared = self._waiting.popleft()
            self._active.add(prepared.run_id)
            self._states[prepared.run_id] = "running"
        threading.Thread(target=self._start, args=(prepared,), name=f"mlpipe-queue-{prepared.run_id}",
                         daemon=True).start()
