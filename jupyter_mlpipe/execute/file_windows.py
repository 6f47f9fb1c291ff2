"""When each attempt of a step ran in this run, and which files it touched: to find steps that touched one
file at the same time.

On a first run the driver does not yet know which steps share a file, so two of them can run at once and
one can see (and hand on) the other's half-done change. Every attempt counts, not only the one a step's
record ends with: an attempt whose result was dropped, one that failed, and one a later re-run replaced
all changed files while they ran. (A step re-run for another reason before its neighbour ended used to
take its first window with it, and the neighbour kept handing on a folder the first attempt had deleted.)

Two attempts that share a file do not agree with the notebook when they ran at the same time, or when the
step later in notebook order changed it first and the earlier one found the file as it was on disk rather
than as the run gave it (`restored`: as an earlier step left it, or as it was before the run).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from .files import FILE_PREFIX

__all__ = ["Attempt", "FileWindows"]


class Attempt(NamedTuple):
    """One finished attempt of a step: its time window and the files (`@file:` names) it touched."""

    step: str
    started: float
    ended: float
    files: frozenset[str]
    restored: frozenset[str] = frozenset()  # files the run made what they should be before it started
    wrote: frozenset[str] = frozenset()  # files it changed (as far as the worker saw)

    def overlaps(self, started: float, ended: float) -> bool:
        return self.started < ended and started < self.ended


def touched_files(result: Any) -> frozenset[str]:
    """The files a step's result (succeeded, failed or dropped) says it touched."""
    result = result or {}
    names = [*(result.get("learned") or {}), *(result.get("outputs") or {}), *(result.get("touched") or [])]
    return frozenset(v for v in names if v.startswith(FILE_PREFIX))


class FileWindows:
    """The attempts of this run that touched files, in the order they finished."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []

    def record(self, step: str, result: Any, restored: frozenset[str] = frozenset()) -> Attempt | None:
        """Keep a finished attempt (None: it touched no file, or says nothing of when it ran)."""
        files = touched_files(result)
        started, ended = (result or {}).get("started"), (result or {}).get("ended")
        if not files or started is None or ended is None:
            return None
        wrote = frozenset(n for n, seen in ((result or {}).get("found") or {}).items() if seen[3:4] == ["write"])
        attempt = Attempt(step, float(started), float(ended), files, restored, wrote)
        self.attempts.append(attempt)
        return attempt

    def latest(self, step: str) -> Attempt | None:
        return next((a for a in reversed(self.attempts) if a.step == step), None)

    def overlapping(self, attempt: Attempt, position: Callable[[str], int]) -> list[tuple[str, str, str]]:
        """(earlier, later, file) for each other step whose attempt and this one may each have seen the other's
        change to a file they share (`_disagree`); earlier and later in notebook order."""
        found: list[tuple[str, str, str]] = []
        for other in self.attempts:
            if other.step == attempt.step:
                continue
            first, second = sorted((other, attempt), key=lambda a: position(a.step))
            for variable in sorted(attempt.files & other.files):
                if _disagree(first, second, variable) and (first.step, second.step, variable) not in found:
                    found.append((first.step, second.step, variable))
        return found

    def crowded(self, step: str, variable: str, started: float | None, ended: float | None) -> bool:
        """Whether another step touched `variable` while `step` ran from `started` to `ended`."""
        if started is None or ended is None:
            return True  # not known: not to be trusted
        return any(a.step != step and variable in a.files and a.overlaps(started, ended) for a in self.attempts)


def _disagree(first: Attempt, second: Attempt, variable: str) -> bool:
    """`first` (earlier in notebook order) and `second` touched `variable`: they ran at the same time, or
    `second` changed it before `first` ended and `first` took the file as it found it on disk."""
    if second.started >= first.ended:
        return False  # the notebook's order
    if first.started < second.ended:
        return True  # at the same time
    return variable in second.wrote and variable not in first.restored
