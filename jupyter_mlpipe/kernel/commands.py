"""What `%pipeline SUBCOMMAND` does in a kernel; the magic only parses."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import MlpipeError
from .session import session_of

__all__ = ["dispatch", "PipelineFailed"]


class PipelineFailed(Exception):
    """Marks the `%pipeline run` cell as failed; IPython shows the run summary, not our frames."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def _render_traceback_(self) -> list[str]:
        return self.text.splitlines()


def dispatch(shell: Any, args: argparse.Namespace) -> Any:
    handler = _HANDLERS[args.command or "show"]
    return handler(shell, args)


def _notebook_for_run(shell: Any) -> tuple[str, list[str]]:
    """The saved notebook, or (plain IPython) the executed cells written to a notebook file."""
    session = session_of(shell)
    source = session.plan()
    if source.notebook is not None:
        return source.notebook, source.notes
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    folder = Path(session.start_dir) / ".mlpipe"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kernel-session.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in session.executed_cells()]), path)
    return str(path), source.notes


def _plan(shell: Any, args: argparse.Namespace) -> Any:
    source = session_of(shell).plan()
    print(source.plan.to_json() if getattr(args, "json", False) else source.plan.describe())
    for note in source.notes:
        print(f"note: {note}")


def _run(shell: Any, args: argparse.Namespace) -> Any:
    from ..api import parse_param, run

    path, notes = _notebook_for_run(shell)
    for note in notes:
        print(f"note: {note}")
    params = dict(parse_param(p) for p in args.param)
    session = session_of(shell)
    listeners = [session.display_listener()]
    result = run(path, params, steps=args.steps or None, force=args.force, address=args.address,
                 background=args.background, listeners=listeners)
    session.last_run = result
    if args.background:
        print(f"run {result.id} started in the background; its handle is `_mlpipe_run` "
              "(run.status, run.wait(), run.cancel(), run['name']).")
        shell.push({"_mlpipe_run": result})
        return None
    if result.status != "succeeded":
        raise PipelineFailed(result.summary())
    if not args.no_pull:
        names = result.final_values()
        if args.pull:
            names += [n.strip() for n in args.pull.split(",") if n.strip() and n.strip() not in names]
        try:
            values = result.values(names)
        except KeyError as exc:
            raise MlpipeError(str(exc.args[0])) from None
        shell.push(values)
        if values:
            print(f"pulled into this kernel: {', '.join(values)}")
    return None


def _why(shell: Any, args: argparse.Namespace) -> Any:
    from ..execute.why import why_text

    path, _ = _notebook_for_run(shell)
    from ..store.paths import open_history

    history, _ = open_history(path, hint="Run the pipeline first: %pipeline run.")
    last = history.last_step_run(str(Path(path).resolve()), args.step,
                                 statuses=("succeeded", "reused", "failed", "skipped", "cancelled"))
    if last is None:
        raise MlpipeError(f"Step {args.step!r} has not been part of any run yet.",
                          hint=f"Run it: %pipeline run {args.step}.")
    print(why_text(history.get_run(last["run_id"]), args.step))


def _runs(shell: Any, args: argparse.Namespace) -> Any:
    from ..errors import RunNotFound
    from ..queries import compare_records, recorded_run, recorded_runs, resolve_pair
    from ..store.paths import open_history
    from ..panel import widgets_can_render
    from ..text import comparison_text, runs_table

    chosen = list(getattr(args, "compare", None) or [])
    if len(chosen) not in (0, 2):
        raise MlpipeError(f"%pipeline runs compares two runs; got {len(chosen)} ({' '.join(chosen)}).",
                          hint="%pipeline runs lists the runs; %pipeline runs RUN_A RUN_B compares two.")
    path, _ = _notebook_for_run(shell)
    try:
        history, _ = open_history(path, hint="")
    except RunNotFound:
        print("No runs yet: %pipeline run starts one.")
        return None
    notebook = str(Path(path).resolve())
    ids = list(resolve_pair(history, notebook, *chosen)) if chosen else []  # a clear error before any display
    records = recorded_runs(history, notebook)
    listed = {r["id"]: r for r in records}
    records += [recorded_run(history, i) for i in ids if i not in listed]  # older than the newest 30
    if not records:
        print("No runs yet: %pipeline run starts one.")
        return None
    if widgets_can_render():
        from IPython.display import display

        from ..panel import RunsTable

        table = RunsTable(records)
        table.selected = ids  # the table computes the comparison, as when two are ticked
        display(table)
        return None
    print(runs_table(records))
    if ids:
        by_id = {r["id"]: r for r in records}
        print()
        print(comparison_text(compare_records(by_id[ids[0]], by_id[ids[1]])))
    return None


def _show(shell: Any, args: argparse.Namespace) -> Any:
    from ..panel import show_plan, widgets_can_render

    session = session_of(shell)
    last = session.last_run
    if args.run_id or last is None:
        last = _recorded_run(shell, args.run_id)
    if widgets_can_render():
        from IPython.display import display

        source = session.plan()
        for note in source.notes:
            print(f"note: {note}")
        display(show_plan(source.plan, last))
        return
    _plan(shell, args)
    if last is not None:
        print()
        print(last.summary())


def _recorded_run(shell: Any, run_id: str | None) -> Any:
    """A run from the history: `run_id` (or a unique part of it), else this notebook's newest (None if none).

    A fresh kernel has no run in memory; the history still has what earlier sessions and `mlpipe run` did.
    """
    from ..api import load_run, runs

    path, _ = _notebook_for_run(shell)
    if not run_id:
        newest = runs(path, limit=1)
        return load_run(newest[0]["id"], path) if newest else None
    return load_run(run_id, path)


_HANDLERS = {"plan": _plan, "show": _show, "run": _run, "why": _why, "runs": _runs}
