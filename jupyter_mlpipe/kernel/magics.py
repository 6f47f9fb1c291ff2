"""`%%step`, `%%scratch` and `%pipeline`: parse, delegate, no logic of their own."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ..errors import MlpipeError
from ..plan.fanout import is_fanout
from ..plan.options import parse_step_line, step_help
from .session import session_of

__all__ = ["MlpipeMagics", "StepCellFailed"]


class StepCellFailed(Exception):
    """Marks the %%step cell as failed after its body's traceback was already shown.

    IPython renders `_render_traceback_()` instead of a second traceback, so the
    user sees their own lines once, and "Run All" still stops here.
    """

    def __init__(self, step: str) -> None:
        super().__init__(step)
        self.step = step

    def _render_traceback_(self) -> list[str]:
        return [f"(step {self.step!r} raised: see the traceback above)"]


class _PipelineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"%pipeline: {message}. Run %pipeline? for help.")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or "%pipeline: stopped.")


def pipeline_parser() -> argparse.ArgumentParser:
    parser = _PipelineParser(prog="%pipeline", add_help=False, description=(
        "Plan, run and inspect this notebook's pipeline."))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plan = sub.add_parser("plan", help="show the plan of this notebook", add_help=False)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--expand", action="store_true", help="show each module step's own steps")
    run = sub.add_parser("run", help="run the pipeline (or STEP and what it needs)", add_help=False)
    run.add_argument("steps", nargs="*", metavar="STEP")
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="override a parameter (a Python literal, else a string)")
    run.add_argument("--background", action="store_true", help="return at once; the run goes on")
    run.add_argument("--pull", default=None, metavar="A,B", help="also bring these values back")
    run.add_argument("--no-pull", action="store_true", help="bring no values back")
    run.add_argument("--force", action="store_true", help="rerun every step, reuse nothing")
    run.add_argument("--address", default=None, help="Ray cluster address")
    run.add_argument("--private-ray", action="store_true", help="a Ray of this kernel's own, not the shared head")
    why = sub.add_parser("why", help="why STEP ran or was reused in the last run", add_help=False)
    why.add_argument("step", metavar="STEP")
    from ..queries import add_result_arguments

    runs = sub.add_parser("runs", help="list this notebook's runs; with two run ids, what differs between them",
                          add_help=False)
    runs.add_argument("compare", nargs="*", default=[], metavar="RUN",
                      help="two runs to compare (ids, or a unique part such as the last six characters)")
    add_result_arguments(runs)  # --metric, --sort, --order, as `mlpipe runs` has them
    runs.add_argument("--sweep", default=None, metavar="SWEEP",
                      help="the trials of a sweep side by side, best first (its id, or a unique part)")
    debug = sub.add_parser("debug", help="put the values STEP received in a run into this kernel, to fix it here",
                           add_help=False)
    debug.add_argument("step", metavar="STEP")
    debug.add_argument("--run", default=None, metavar="RUN",
                       help="the run (id, or a unique part); default: the last run that has STEP")
    debug.add_argument("--element", type=int, default=None, metavar="N",
                       help="a fan-out step's element N (from 0): its inputs, and the element under the --as name")
    load = sub.add_parser("load", help="put a run's values into this kernel (a run started elsewhere: the side "
                          "panel, mlpipe run)", add_help=False)
    load.add_argument("run_id", nargs="?", default=None, metavar="RUN",
                      help="the run (id, or a unique part); default: this notebook's newest")
    load.add_argument("names", nargs="*", metavar="NAME", help="these values; default: its final steps' results")
    show = sub.add_parser("show", help="show the plan and the last run", add_help=False)
    show.add_argument("run_id", nargs="?", default=None)
    show.add_argument("--expand", action="store_true", help="draw each module step open, as its own steps")
    from .publishing import add_commands

    add_commands(sub)  # publish, schedule
    from .sweeping import add_commands as add_sweep_commands

    add_sweep_commands(sub)  # sweep
    return parser


def _keep_line_numbers(magic: str, line: str, cell: str) -> str:
    """The magic line as a comment on line 1, so tracebacks show the user's line numbers."""
    return f"# %%{magic} {line}".rstrip() + "\n" + cell


@magics_class
class MlpipeMagics(Magics):
    """The magics registered by `%load_ext jupyter_mlpipe`."""

    @cell_magic
    def step(self, line: str, cell: str) -> Any:
        try:
            options = parse_step_line(line)
        except MlpipeError as exc:
            raise UsageError(str(exc)) from None
        session = session_of(self.shell)
        session.register(options.name, line, cell)
        session.on_step_cell()
        if options.defer:
            return None
        special = None
        if options.module is not None:  # the module runs through the pipeline machinery (`modules`)
            from .modules import run_module_cell as special
        elif is_fanout(options):  # the loop over the elements, here in the kernel (`foreach`)
            from .foreach import run_foreach_cell as special
        if special is not None:
            try:
                ok = special(self.shell, options, line, cell)
            except MlpipeError as exc:
                raise UsageError(str(exc)) from None
            if not ok:
                raise StepCellFailed(options.name)
            return None
        result = self.shell.run_cell(_keep_line_numbers("step", line, cell), store_history=False)
        if not result.success:
            raise StepCellFailed(options.name)
        return None

    @cell_magic
    def scratch(self, line: str, cell: str) -> Any:
        """Run this cell normally and leave it out of the pipeline (exploration, plots)."""
        result = self.shell.run_cell(_keep_line_numbers("scratch", line, cell), store_history=False)
        if not result.success:
            raise StepCellFailed("scratch")
        return None

    @line_magic
    def pipeline(self, line: str) -> Any:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%pipeline: {exc}") from None
        args = pipeline_parser().parse_args(argv or ["show"])
        from . import commands

        try:
            return commands.dispatch(self.shell, args)
        except MlpipeError as exc:
            raise UsageError(str(exc)) from None


MlpipeMagics.step.__doc__ = step_help()
MlpipeMagics.pipeline.__doc__ = pipeline_parser().format_help() + "\nCommands: plan [--json], run [STEP ...] " \
    "[-p NAME=VALUE] [--background] [--pull A,B] [--force], why STEP, debug STEP [--run RUN] [--element N], " \
    "load [RUN] [NAME ...], runs [RUN_A RUN_B] [--metric M] [--sort [M]] [--order asc|desc] [--sweep ID], " \
    "sweep -p NAME=VALUES ... --metric M --goal min|max [--search grid|random|bayes] [--trials N] [--seed N] " \
    "[--parallel K] [--early-stop median|asha], show [RUN_ID]."
