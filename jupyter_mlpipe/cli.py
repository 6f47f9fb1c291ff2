"""The `mlpipe` command: plan, run and inspect notebooks headless.

Exit status: 0 success, 1 a step failed (or the run was cancelled, or Ray could
not be reached or went away), 2 usage, plan and configuration errors.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import MlpipeError, RayUnavailable
from .plan.options import int_arg
from .queries import (RunView, add_result_arguments, compare, list_runs, listed_with_rows, recorded_run,
                      result_table_for, shown_runs, why)
from .store.paths import open_history
from .text import TextProgress, comparison_text, run_summary, runs_table

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
NO_HISTORY_HINT = "Run the notebook first: mlpipe run NOTEBOOK."


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlpipe", description="Plan, run and inspect notebook pipelines.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    plan = sub.add_parser("plan", help="print the plan of a notebook")
    plan.add_argument("notebook", metavar="NOTEBOOK")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--expand", action="store_true", help="show each module step's own steps")
    run = sub.add_parser("run", help="run a notebook's pipeline")
    run.add_argument("notebook", metavar="NOTEBOOK")
    run.add_argument("steps", nargs="*", metavar="STEP", help="run only these steps and what they need")
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="override a parameter (a Python literal, else a string)")
    run.add_argument("--address", default=None, help="Ray cluster address (default: MLPIPE_RAY_ADDRESS, "
                     "[ray] address, else the local Ray head shared by this machine's processes)")
    run.add_argument("--private-ray", action="store_true",
                     help="start a Ray of this process's own instead of using the shared local head")
    run.add_argument("--force", action="store_true", help="rerun every step, reuse nothing")
    run.add_argument("--json", action="store_true", help="print the run as JSON")
    why = sub.add_parser("why", help="why a step ran or was reused in the last run")
    why.add_argument("notebook", metavar="NOTEBOOK")
    why.add_argument("step", metavar="STEP")
    runs = sub.add_parser("runs", help="list a notebook's runs")
    runs.add_argument("notebook", metavar="NOTEBOOK")
    runs.add_argument("--json", action="store_true")
    runs.add_argument("--limit", type=int_arg("--limit", 1), default=20, help="list at most N runs (default: 20)",
                      metavar="N")
    runs.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), default=None,
                      help="what differs between two runs: parameters, metrics, which steps ran "
                      "(ids, or a unique part such as the last six characters)")
    add_result_arguments(runs)  # --metric, --sort, --order (as %pipeline runs has them)
    runs.add_argument("--pipeline", default=None, metavar="NAME", help="only the runs of published pipeline NAME")
    runs.add_argument("--trigger", default=None, choices=["cli", "kernel", "rest", "schedule", "api"],
                      help="only the published runs with this kind of trigger")
    runs.add_argument("--sweep", default=None, metavar="SWEEP",
                      help="the trials of a sweep side by side, best first (its id, or a unique part)")
    show = sub.add_parser("show", help="show one run's steps")
    show.add_argument("run_id", metavar="RUN_ID", help="a run id, or a unique part of it (its last six characters)")
    show.add_argument("--store", default=".", metavar="PATH",
                      help="the notebook (or its folder) the run belongs to (default: .)")
    show.add_argument("--json", action="store_true")
    gc = sub.add_parser("gc", help="remove artifacts no recorded run refers to")
    gc.add_argument("path", metavar="NOTEBOOK_OR_FOLDER")
    gc.add_argument("--older-than", default=None, metavar="AGE",
                    help="also forget runs older than AGE (e.g. 30d, 12h, 90m)")
    gc.add_argument("--dry-run", action="store_true", help="say what would be removed")
    ray = sub.add_parser("ray", help="the local Ray head this machine's kernels and commands share")
    ray.add_argument("action", choices=["status", "start", "stop"], help="status: is it running, where, who uses "
                     "it; start: start it now; stop: stop it (connected runs fail)")
    ray.add_argument("--json", action="store_true")
    from .publish.cli import add_commands

    add_commands(sub)  # publish, published, keys, schedule, serve
    from .sweep.cli import add_commands as add_sweep_commands

    add_sweep_commands(sub)  # sweep, sweeps
    return parser


def _cmd_plan(args: argparse.Namespace) -> int:
    from .api import plan as plan_of

    plan = plan_of(args.notebook)
    print(plan.to_json() if args.json else plan.describe(expand=args.expand))
    return EXIT_OK


def _run_json(run: RunView) -> dict[str, Any]:
    return {
        "id": run.id, "notebook": run.notebook, "status": run.status, "duration": run.duration,
        "params": run.params, "corrections": list(run.corrections),
        "steps": {name: {"status": s.status, "duration": s.duration, "error": s.error,
                         "notebook_path": s.notebook_path,
                         "reason": (s.reason or {}).get("summary"), "outputs": s.outputs}
                  for name, s in run.steps.items()},
    }


def _cmd_run(args: argparse.Namespace) -> int:
    from .api import parse_param, run

    params = dict(parse_param(p) for p in args.param)
    listeners = [] if args.json else [TextProgress(stream=sys.stdout)]
    # Ray prints what its workers report (a worker that died, ...) on stdout: --json keeps stdout for the JSON
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = run(args.notebook, params, steps=args.steps or None, force=args.force, address=args.address,
                     private_ray=args.private_ray or None, listeners=listeners)
    if args.json:
        print(json.dumps(_run_json(result), indent=2, default=str))
    else:
        print(run_summary(result, step_lines=False))  # each step's line was printed as it finished
        finals = [n for n in result.final_values() if isinstance(_scalar(result, n), (int, float, str))]
        for name in finals[:5]:
            print(f"{name} = {_scalar(result, name)!r}")
    if result.status == "succeeded":
        return EXIT_OK
    return EXIT_FAILED


def _scalar(run: RunView, name: str) -> int | float | str | None:
    """A small number or string the run stored as `name`, worth printing; else None."""
    ref = run.steps[run.producer_of(name)].outputs[name]
    if ref.get("format") != "pickle" or ref.get("size", 0) > 10_000:
        return None
    value = run[name]
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None


def _cmd_why(args: argparse.Namespace) -> int:
    from .api import plan as plan_of

    plan = plan_of(args.notebook)  # with its modules' steps (published ones too)
    if args.step not in plan.steps:
        raise MlpipeError(f"No step named {args.step!r} in {args.notebook}.",
                          hint=f"Steps are: {', '.join(plan.steps)}.")
    print(why(args.notebook, args.step, no_history_hint=NO_HISTORY_HINT,
              not_run_hint=f"Run it: mlpipe run {args.notebook} {args.step}."))
    return EXIT_OK


def _cmd_runs(args: argparse.Namespace) -> int:
    if args.sweep:
        from .sweep.cli import print_trials

        return print_trials(args.notebook, args.sweep, as_json=args.json)
    if args.compare:
        comparison = compare(args.notebook, *args.compare)
        print(json.dumps(comparison, indent=2, default=str) if args.json else comparison_text(comparison))
        return EXIT_OK
    items = list_runs(args.notebook, limit=args.limit, pipeline=args.pipeline, trigger=args.trigger)
    if not items and not Path(args.notebook).is_file():  # a typo, not a notebook without runs
        raise MlpipeError(f"No notebook at {args.notebook!r} and no runs recorded for it.",
                          hint="Check the path: mlpipe runs path/to/notebook.ipynb.")
    if not items:
        print("[]" if args.json else f"No runs of {args.notebook} yet.")
        return EXIT_OK
    if args.pipeline or args.trigger:  # the runs that passed the filter, however old
        history, _ = open_history(args.notebook, hint=NO_HISTORY_HINT)
        records = [recorded_run(history, item["id"]) for item in items]
    else:
        records = shown_runs(args.notebook, limit=args.limit).records
    table = result_table_for(records, args.metric, args.sort, args.order)
    if args.json:  # each run as listed (or sorted), with the metrics' last values, its result, how many reused
        print(json.dumps(listed_with_rows(items, table), indent=2, default=str))
    else:
        print(runs_table(table))
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    from .api import load_run

    run = load_run(args.run_id, args.store)
    if args.json:
        print(json.dumps(_run_json(run), indent=2, default=str))
    else:
        print(run.summary())
    return EXIT_OK


def _parse_age(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise MlpipeError(f"Bad age {text!r}: write a number with s, m, h, d or w, e.g. 30d.") from None


def _cmd_gc(args: argparse.Namespace) -> int:
    from .store.gc import collect

    history, where = open_history(args.path, hint=NO_HISTORY_HINT)
    report = collect(history, where, older_than=_parse_age(args.older_than) if args.older_than else None,
                     dry_run=args.dry_run)
    print(report)
    return EXIT_OK


def _cmd_ray(args: argparse.Namespace) -> int:
    import time

    from .execute import ray_head

    if args.action == "stop":
        info = ray_head.stop_head()
        print(json.dumps({"stopped": info}) if args.json else
              f"stopped the local Ray head at {info['address']}" if info else "no local Ray head was running")
        return EXIT_OK
    if args.action == "start":
        ray_head.ensure_head()
    info = ray_head.read_head()
    users = ray_head.clients() if info else []
    if args.json:
        print(json.dumps({"running": info is not None, "head": info, "clients": users,
                          "home": str(ray_head.head_home())}))
    elif info is None:
        print(f"no local Ray head is running (its files: {ray_head.head_home()}); the next run starts one")
    else:
        up = time.time() - info["started"]
        print(f"local Ray head at {info['address']} (Ray {info['ray_version']}), up {up / 60:.1f} min, "
              f"stops after {info['idle_minutes']:g} idle minutes\n"
              f"  connected processes: {', '.join(map(str, users)) or 'none'}\n"
              f"  supervisor pid {info['pid']}; files and logs: {ray_head.head_home()}")
    return EXIT_OK


_COMMANDS = {"plan": _cmd_plan, "run": _cmd_run, "why": _cmd_why, "runs": _cmd_runs, "show": _cmd_show,
             "gc": _cmd_gc, "ray": _cmd_ray}


def main(argv: Sequence[str] | None = None) -> int:
    from .publish.cli import COMMANDS as PUBLISH_COMMANDS
    from .sweep.cli import COMMANDS as SWEEP_COMMANDS

    args = build_parser().parse_args(argv)
    try:
        return {**_COMMANDS, **PUBLISH_COMMANDS, **SWEEP_COMMANDS}[args.command](args)
    except MlpipeError as exc:
        if getattr(args, "json", False):
            print(json.dumps(exc.to_dict()))
        print(f"mlpipe: {exc}", file=sys.stderr)
        return EXIT_FAILED if isinstance(exc, RayUnavailable) else EXIT_USAGE
    except KeyboardInterrupt:
        print("mlpipe: interrupted", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
