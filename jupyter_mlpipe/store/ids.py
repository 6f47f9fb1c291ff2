"""Small helpers of the run history that need no database: run ids, driver processes, lock errors, SQL lists.

Split out of `history.py`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import RunNotFound

_RUN_ID_RE = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_LIST_RUNS_HINT = "List the recorded runs with `%pipeline runs` or `mlpipe runs`."


def validate_run_id(run_id: Any) -> str:
    """Return `run_id` if it has the shape `new_run_id` makes, else raise RunNotFound.

    Run ids arrive from URLs, CLI arguments and file names; checking the shape
    keeps them safe to put in paths and tells the user early that it is a typo.
    """
    if isinstance(run_id, str) and _RUN_ID_RE.match(run_id):
        return run_id
    raise RunNotFound(
        f"{run_id!r} is not a run id (expected the form 20261125-023501-3f9a1c).",
        hint=_LIST_RUNS_HINT,
    )


def _pid_alive(pid: int | None) -> bool:
    """Whether a process with that pid exists on this machine (True when unsure)."""
    if not pid or pid < 0:
        return True
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate it on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
