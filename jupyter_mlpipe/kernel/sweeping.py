"""`%pipeline sweep` and `%pipeline runs --sweep ID` in a kernel: parse, one call, a live table or text."""

from __future__ import annotations

import argparse
from typing import Any

from .session import session_of

__all__ = ["HANDLERS", "SweepFailed", "add_commands", "show_trials"]


class SweepFailed(Exception):
    """Marks the `%pipeline sweep` cell as failed; IPython shows the sweep's table, not our frames."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def _render_traceback_(self) -> list[str]:
        return self.text.splitlines()


def add_commands(sub: Any) -> None:
    """Add `sweep` to `%pipeline`'s subparsers."""
    from ..sweep.arguments import add_sweep_arguments

    sweep = sub.add_parser("sweep", help="run this notebook's pipeline with many parameter values and find the "
                           "best (steps that read no swept parameter run once)", add_help=False)
    add_sweep_arguments(sweep)
    sweep.add_argument("--address", default=None, help="Ray cluster address")
    sweep.add_argument("--private-ray", action="store_true", help="a Ray of this kernel's own, not the shared head")


def _sweep(shell: Any, args: argparse.Namespace) -> Any:
    from ..panel import widgets_can_render
    from ..sweep.driver import prepare, run_prepared
    from ..sweep.text import SweepProgress, sweep_table

    session = session_of(shell)
    path, notes = session.notebook_for_run()
    for note in notes:
        print(f"note: {note}")
    from ..sweep.arguments import sweep_kwargs

    plan = prepare(path, list(args.param), **sweep_kwargs(args), address=args.address,
                   private_ray=args.private_ray or None)  # bad input: an error before any display
    if widgets_can_render():
        from IPython.display import display

        from ..panel.sweep_widget import SweepTable

        table = SweepTable()
        display(table)
        listener: Any = table.listener
    else:
        listener = SweepProgress()
    result = run_prepared(plan, listeners=[listener], shared_listeners=[session.display_listener()])
    shell.push({"_mlpipe_sweep": result})
    text = sweep_table(result.record)
    if result.status != "succeeded":
        raise SweepFailed(text)
    if not widgets_can_render():
        print(text)
    best = result.best()
    if best is not None:
        print(f"best: trial {best.get('number')} {best.get('params')} -> {plan.metric} = {best.get('metric')!r} "
              f"(run {best.get('run_id')}); the sweep is `_mlpipe_sweep`")
    return None


def show_trials(shell: Any, sweep_id: str) -> Any:
    """`%pipeline runs --sweep ID`: the trials' runs side by side (parameters, metrics), best first."""
    from ..panel import widgets_can_render
    from ..store.paths import open_history
    from ..sweep.records import NO_SWEEPS_HINT, find_sweep, trial_table
    from ..text import runs_table

    path, _ = session_of(shell).notebook_for_run()
    record = find_sweep(path, sweep_id)
    history, _ = open_history(path, hint=NO_SWEEPS_HINT)
    with history:
        table = trial_table(history, record)
    print(f"sweep {record['id']}: {record.get('metric')} ({record.get('goal')}), {len(table.rows)} trials, best first")
    if widgets_can_render():
        from IPython.display import display

        from ..panel import RunsTable

        display(RunsTable(table))
        return None
    print(runs_table(table))
    return None


HANDLERS = {"sweep": _sweep}
