"""What `%pipeline SUBCOMMAND` does in a kernel; the magic only parses."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .errors import MlpipeError
from .kernel import session_of

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
    from .api import parse_param, run

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
    from .why import why_text

    session = session_of(shell)
    path, _ = _notebook_for_run(shell)
    from .api import _store_for
    from .history import History

    where, _ = _store_for(path)
    if not where.history_path.exists():
        raise MlpipeError("No runs yet.", hint="Run the pipeline first: %pipeline run.")
    history = History(where.history_path)
    last = history.last_step_run(str(Path(path).resolve()), args.step,
                                 statuses=("succeeded", "reused", "failed", "skipped", "cancelled"))
    if last is None:
        raise MlpipeError(f"Step {args.step!r} has not been part of any run yet.",
                          hint=f"Run it: %pipeline run {args.step}.")
    print(why_text(history.get_run(last["run_id"]), args.step))
    del session


def _runs(shell: Any, args: argparse.Namespace) -> Any:
    from .api import _store_for, runs
    from .panel import runs_table_widget, widgets_can_render
    from .progress import runs_table

    path, _ = _notebook_for_run(shell)
    items = runs(path)
    if not items:
        print("No runs yet: %pipeline run starts one.")
    elif widgets_can_render():
        from IPython.display import display

        from .history import History

        where, _ = _store_for(path)
        display(runs_table_widget(History(where.history_path), str(Path(path).resolve())))
    else:
        print(runs_table(items))


def _show(shell: Any, args: argparse.Namespace) -> Any:
    from .panel import show_plan, widgets_can_render

    session = session_of(shell)
    last = session.last_run
    if args.run_id:
        from .api import load_run

        path, _ = _notebook_for_run(shell)
        last = load_run(args.run_id, path)
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


_HANDLERS = {"plan": _plan, "show": _show, "run": _run, "why": _why, "runs": _runs}
