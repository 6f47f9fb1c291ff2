"""What `%pipeline SUBCOMMAND` does in a kernel; the magic only parses."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..errors import MlpipeError
from ..queries import result_table_for, shown_runs, why
from ..text import runs_text
from .publishing import HANDLERS as PUBLISH_HANDLERS
from .sweeping import HANDLERS as SWEEP_HANDLERS
from .sweeping import show_trials
from .session import session_of

if TYPE_CHECKING:
    from ..recorded import RecordedRun

__all__ = ["PipelineFailed", "dispatch"]


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


def _plan(shell: Any, args: argparse.Namespace) -> Any:
    source = session_of(shell).plan()
    print(source.plan.to_json() if getattr(args, "json", False) else
          source.plan.describe(expand=getattr(args, "expand", False)))
    for note in source.notes:
        print(f"note: {note}")


def _run(shell: Any, args: argparse.Namespace) -> Any:
    from ..api import parse_param, run

    session = session_of(shell)
    path, notes = session.notebook_for_run()
    for note in notes:
        print(f"note: {note}")
    params = dict(parse_param(p) for p in args.param)
    listeners = [session.display_listener()]
    result = run(path, params, steps=args.steps or None, force=args.force, address=args.address,
                 private_ray=args.private_ray or None, background=args.background, listeners=listeners)
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
    path, _ = session_of(shell).notebook_for_run()
    print(why(path, args.step, no_history_hint="Run the pipeline first: %pipeline run.",
              not_run_hint=f"Run it: %pipeline run {args.step}."))


def _debug(shell: Any, args: argparse.Namespace) -> Any:
    """The values STEP received in a run, bound in the kernel; what they are and where the step is."""
    from .debug import debug_text, load_step_inputs

    session = session_of(shell)
    source = session.plan()  # where the step's cell is now
    path = source.notebook or session.notebook_for_run()[0]
    found = load_step_inputs(path, args.step, args.run, current_plan=source.plan, element=args.element)
    shell.push(found.values)
    print(debug_text(found))


def _load(shell: Any, args: argparse.Namespace) -> Any:
    """A recorded run's values bound in the kernel: the names given, else what `%pipeline run` brings back."""
    from ..plan.loop_names import loop_only_names

    run = _recorded_run(shell, args.run_id)
    if run is None:
        raise MlpipeError("This notebook has no runs yet: nothing to load.", hint="Run it: %pipeline run.")
    names = list(args.names)
    if not names:  # the final steps' results, as `Run.final_values` (the recorded plan's edges, the code now)
        planned = (run.record.get("plan") or {}).get("edges") or []
        sources = {e["from"] for e in planned if e.get("to") in run.steps}
        current = session_of(shell).plan().plan.steps
        for step, sr in run.steps.items():
            if step in sources:
                continue
            leftovers = loop_only_names(b for _, b in current[step].code) if step in current else frozenset()
            names += [n for n in sr.outputs if n not in names and not n.startswith("@") and n not in leftovers]
    try:
        values = run.values(names)
    except KeyError as exc:
        raise MlpipeError(str(exc.args[0]), hint=f"Name values run {run.id} stored, or none for its results.") from None
    shell.push(values)
    if values:
        print(f"loaded from run {run.id} ({run.status}) into this kernel: {', '.join(values)}")
    else:
        print(f"Run {run.id} ({run.status}) stored no results of its final steps: nothing loaded.")


def _runs(shell: Any, args: argparse.Namespace) -> Any:
    from ..panel import widgets_can_render

    if getattr(args, "sweep", None):
        return show_trials(shell, args.sweep)
    chosen = list(getattr(args, "compare", None) or [])
    if len(chosen) not in (0, 2):
        raise MlpipeError(f"%pipeline runs compares two runs; got {len(chosen)} ({' '.join(chosen)}).",
                          hint="%pipeline runs lists the runs; %pipeline runs RUN_A RUN_B compares two.")
    path, _ = session_of(shell).notebook_for_run()
    shown = shown_runs(path, chosen)  # the two are resolved first: a clear error before any display
    if not shown.records:
        print("No runs yet: %pipeline run starts one.")
        return None
    table = result_table_for(shown.records, args.metric, args.sort, args.order)  # as `mlpipe runs` does
    if widgets_can_render():
        from IPython.display import display

        from ..panel import RunsTable

        widget = RunsTable(table)
        widget.selected = shown.chosen  # the table computes the comparison, as when two are ticked
        display(widget)
        return None
    print(runs_text(table, shown.comparison))
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
        opened = list(source.plan.modules) if getattr(args, "expand", False) else []
        display(show_plan(source.plan, last, expanded=opened))
        return
    _plan(shell, args)
    if last is not None:
        print()
        print(last.summary())


def _recorded_run(shell: Any, run_id: str | None) -> RecordedRun | None:
    """A run from the history: `run_id` (or a unique part of it), else this notebook's newest (None if none).

    A fresh kernel has no run in memory; the history still has what earlier sessions and `mlpipe run` did.
    """
    from ..api import load_run, runs

    path, _ = session_of(shell).notebook_for_run()
    if not run_id:
        newest = runs(path, limit=1)
        return load_run(newest[0]["id"], path) if newest else None
    return load_run(run_id, path)


_HANDLERS = {"plan": _plan, "show": _show, "run": _run, "why": _why, "debug": _debug, "runs": _runs, "load": _load,
             **PUBLISH_HANDLERS, **SWEEP_HANDLERS}
