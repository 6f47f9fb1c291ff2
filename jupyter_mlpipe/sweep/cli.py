"""`mlpipe sweep` and `mlpipe sweeps`: parse, make one call, print.

`add_commands` adds them to the `mlpipe` parser; `COMMANDS` maps each to the
function that runs it. Exit status: 0 when the sweep found a best trial, 1 when
no trial succeeded (or the sweep stopped on an error), 2 for bad input (raised
as `MlpipeError`, which `mlpipe` prints).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from typing import Any

from .arguments import add_sweep_arguments, sweep_kwargs
from .records import find_sweep, list_sweeps, sweep_summary
from .text import SweepProgress, sweep_table

__all__ = ["COMMANDS", "add_commands", "print_trials"]


def add_commands(sub: Any) -> None:
    """Add sweep and sweeps to `mlpipe`'s subparsers."""
    sweep = sub.add_parser("sweep", help="run a notebook with many parameter values and find the best "
                           "(trials on Ray Tune; steps that read no swept parameter run once)")
    sweep.add_argument("notebook", metavar="NOTEBOOK")
    add_sweep_arguments(sweep)
    sweep.add_argument("--address", default=None, help="Ray cluster address (as for mlpipe run)")
    sweep.add_argument("--private-ray", action="store_true",
                       help="start a Ray of this process's own instead of using the shared local head")
    sweep.add_argument("--json", action="store_true",
                       help='print {"sweep_id", "best": {"run_id", "params", "metric"}, "trials": [...]}')
    sweeps = sub.add_parser("sweeps", help="list a notebook's sweeps, or show one's trials")
    sweeps.add_argument("notebook", metavar="NOTEBOOK")
    sweeps.add_argument("sweep_id", nargs="?", default=None, metavar="SWEEP",
                        help="a sweep id, or a unique part of it (its last six characters)")
    sweeps.add_argument("--json", action="store_true")


def cmd_sweep(args: argparse.Namespace) -> int:
    from .driver import sweep

    listeners = [] if args.json else [SweepProgress(stream=sys.stdout)]
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = sweep(args.notebook, list(args.param), **sweep_kwargs(args), address=args.address,
                       private_ray=args.private_ray or None, listeners=listeners)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
    else:
        print(sweep_table(result.record))
    return 0 if result.status == "succeeded" else 1


def cmd_sweeps(args: argparse.Namespace) -> int:
    if args.sweep_id:
        record = find_sweep(args.notebook, args.sweep_id)
        print(json.dumps(sweep_summary(record), indent=2, default=str) if args.json else sweep_table(record))
        return 0
    records = list_sweeps(args.notebook)
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "trials"} for r in records], indent=2, default=str))
    elif not records:
        print(f"No sweeps of {args.notebook} yet.")
    else:
        for r in records:
            best = "" if r.get("best_metric") is None else f", best {r['metric']} = {r['best_metric']:.4g}"
            print(f"{r['id']}  {r['status']}  {r['metric']} ({r['goal']}), {r['search']}{best}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"sweep": cmd_sweep, "sweeps": cmd_sweeps}


def print_trials(notebook: str, sweep_id: str, *, as_json: bool) -> int:
    """`mlpipe runs NOTEBOOK --sweep ID`: the trials' runs as the runs table, the sweep's metric the result."""
    from ..queries import listed_with_rows
    from ..store.paths import open_history
    from ..text import runs_table
    from .records import NO_SWEEPS_HINT, trial_table

    record = find_sweep(notebook, sweep_id)
    history, _ = open_history(notebook, hint=NO_SWEEPS_HINT)
    with history:
        table = trial_table(history, record)
    if as_json:
        items = [{k: r.get(k) for k in ("id", "started", "status", "params")} for r in table.records]
        print(json.dumps(listed_with_rows(items, table), indent=2, default=str))
    else:
        print(f"sweep {record['id']}: {record.get('metric')} ({record.get('goal')}), best first")
        print(runs_table(table))
    return 0
