"""Run ids and run drivers: checks the history, the API and the front ends make without a database.

Run ids arrive from URLs, CLI arguments and file names; checking their shape in
one place keeps them safe to put in paths and tells the user early that an id
is a typo. A run records its driver's pid and host, so that a run whose driver
died can be told from one still in progress (`pid_alive`).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from ..errors import RunNotFound

__all__ = ["LIST_RUNS_HINT", "RUN_ID_RE", "pid_alive", "run_not_found", "validate_run_id"]

RUN_ID_RE = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
"""The shape `History.new_run_id` makes: UTC date, time, 6 random hex digits."""

LIST_RUNS_HINT = "List the recorded runs with `%pipeline runs` or `mlpipe runs`."
"""What to do about an unknown run id, wherever it was given."""


def validate_run_id(run_id: Any) -> str:
    """Return `run_id` if it has the shape `new_run_id` makes, else raise RunNotFound.

    Run ids arrive from URLs, CLI arguments and file names; checking the shape
    keeps them safe to put in paths and tells the user early that it is a typo.
    """
    if isinstance(run_id, str) and RUN_ID_RE.match(run_id):
        return run_id
    raise RunNotFound(
        f"{run_id!r} is not a run id (expected the form 20261125-023501-3f9a1c).",
        hint=LIST_RUNS_HINT,
    )


def run_not_found(run_id: str, where: str) -> RunNotFound:
    """The error for a well-formed run id that the history at `where` does not hold."""
    return RunNotFound(f"No run with id {run_id!r} in {where}.", hint=LIST_RUNS_HINT)


def pid_alive(pid: int | None) -> bool:
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
