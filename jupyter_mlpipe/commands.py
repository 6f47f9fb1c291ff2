"""What `%pipeline SUBCOMMAND` does in a kernel; the magic only parses."""

from __future__ import annotations

import argparse
from typing import Any

from .kernel import session_of

__all__ = ["dispatch"]


def dispatch(shell: Any, args: argparse.Namespace) -> Any:
    handler = _HANDLERS.get(args.command or "show")
    return handler(shell, args)


def _plan(shell: Any, args: argparse.Namespace) -> Any:
    source = session_of(shell).plan()
    if getattr(args, "json", False):
        print(source.plan.to_json())
    else:
        print(source.plan.describe())
    for note in source.notes:
        print(f"note: {note}")
    return None


def _not_yet(shell: Any, args: argparse.Namespace) -> Any:
    print(f"%pipeline {args.command}: not available in this version.")


_HANDLERS = {"plan": _plan, "show": _plan, "run": _not_yet, "why": _not_yet, "runs": _not_yet}
