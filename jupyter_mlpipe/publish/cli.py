"""`mlpipe publish`, `published`, `keys`, `schedule` and `serve`: parse, make one call, print.

`add_commands` adds the subcommands to the `mlpipe` parser; `COMMANDS` maps each
to the function that runs it (exit status 0; errors are `MlpipeError`s, which
`mlpipe` prints and turns into exit status 2).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MlpipeError
from .durations import parse_duration
from .keys import Keys
from .registry import Registry
from .runs import pipeline_runs
from .schedules import CATCH_UP, OVERLAP, Schedules
from .text import keys_table, pipeline_text, pipelines_table, schedules_table
from .workspace import Workspace, workspace_at, workspace_of

__all__ = ["COMMANDS", "add_commands"]

_WORKSPACE_HELP = ("the workspace folder (default: the nearest folder at or above the current one that holds "
                   "an mlpipe.toml, else the current folder)")


def _positive_int(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number (got {text!r})") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be at least 1 (got {value})")
        return value

    return parse


def add_commands(sub: Any) -> None:
    """Add publish, published, keys, schedule and serve to `mlpipe`'s subparsers."""
    publish = sub.add_parser("publish", help="publish a notebook as a new version of a named pipeline")
    publish.add_argument("notebook", metavar="NOTEBOOK")
    publish.add_argument("--name", required=True, help="the pipeline's name (letters, digits, '_', '-', '.')")
    publish.add_argument("--description", default=None, metavar="TEXT")
    publish.add_argument("--json", action="store_true", help='print {"name", "version", "default"}')

    published = sub.add_parser("published", help="list published pipelines; change or run one")
    published.add_argument("name", nargs="?", default=None, metavar="NAME")
    published.add_argument("--workspace", default=None, metavar="DIR", help=_WORKSPACE_HELP)
    published.add_argument("--json", action="store_true")
    change = published.add_mutually_exclusive_group()
    change.add_argument("--set-default", type=_positive_int("--set-default"), default=None, metavar="N",
                        help="make version N the default (what triggers run when they name no version)")
    change.add_argument("--disable", action="store_true", help="refuse triggers and skip its schedules")
    change.add_argument("--enable", action="store_true", help="accept triggers and fire its schedules again")
    change.add_argument("--run", action="store_true", help="run it now (its default version, or --version)")
    published.add_argument("--version", type=_positive_int("--version"), default=None, metavar="N",
                           help="with --run: the version to run")
    published.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                           help="with --run: a parameter value (a Python literal, else a string)")

    keys = sub.add_parser("keys", help="API keys that can trigger one pipeline and read its runs")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION")
    keys_sub.required = True
    create = keys_sub.add_parser("create", help="make a key for pipeline NAME (printed once)")
    create.add_argument("name", metavar="NAME")
    create.add_argument("--expires", default=None, metavar="AGE", help="e.g. 90d, 12h (default: never)")
    create.add_argument("--json", action="store_true", help='print {"id", "key", "pipeline", "expires"}')
    listing = keys_sub.add_parser("list", help="list the keys (ids, pipelines, states; never the keys)")
    listing.add_argument("--json", action="store_true")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", metavar="KEY_ID")
    for parser in (create, listing, revoke):
        parser.add_argument("--workspace", default=None, metavar="DIR", help=_WORKSPACE_HELP)

    add_schedule_command(sub, workspace_flag=True)

    serve = sub.add_parser("serve", help="a headless REST server for a workspace's published pipelines and "
                           "schedules (a Jupyter server with only this extension)")
    serve.add_argument("--root", default=".", metavar="DIR", help="the folder served (default: .)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--ip", default="127.0.0.1")
    serve.add_argument("--max-runs", type=_positive_int("--max-runs"), default=2, metavar="N",
                       help="published runs at once (default: 2)")
    serve.add_argument("--max-queued", type=int, default=10, metavar="N",
                       help="runs waiting for a slot before triggers get 429 (default: 10)")
    serve.add_argument("--no-schedules", action="store_true", help="do not fire schedules in this server")
    serve.add_argument("--allow-root", action="store_true", help="run as root (Jupyter refuses to by default)")


def add_schedule_command(sub: Any, *, workspace_flag: bool) -> None:
    """`schedule add|list|pause|resume|remove` (also `%pipeline schedule`, without --workspace)."""
    schedule = sub.add_parser("schedule", help="run a published pipeline on a schedule")
    sched_sub = schedule.add_subparsers(dest="schedule_command", metavar="ACTION")
    sched_sub.required = True
    add = sched_sub.add_parser("add", help="add a schedule: --cron, --every or --on-change")
    add.add_argument("name", metavar="NAME")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", default=None, metavar="EXPR", help='a crontab line, e.g. "0 3 * * *"')
    when.add_argument("--every", default=None, metavar="DURATION", help="e.g. 15m, 1h, 2s")
    when.add_argument("--on-change", default=None, metavar="GLOB",
                      help="fire when a file matching GLOB (relative to the notebook's folder) is new or changed")
    add.add_argument("--tz", default=None, help="the time zone of --cron (default: UTC), e.g. Europe/Paris")
    add.add_argument("--path-param", default=None, metavar="NAME",
                     help="with --on-change: the parameter (a list) that receives the changed paths")
    add.add_argument("--poll", default="5s", metavar="DURATION", help="with --on-change: how often (default: 5s)")
    add.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    add.add_argument("--overlap", choices=OVERLAP, default="skip",
                     help="when its previous run still goes: skip (default), queue, allow")
    add.add_argument("--catch-up", choices=CATCH_UP, default="none",
                     help="fires missed while nothing served: none (recorded as missed) or last (run it once)")
    add.add_argument("--version", type=_positive_int("--version"), default=None, metavar="N",
                     help="always run version N (default: the default version at each fire)")
    add.add_argument("--json", action="store_true")
    slist = sched_sub.add_parser("list", help="list the schedules")
    slist.add_argument("name", nargs="?", default=None, metavar="NAME")
    slist.add_argument("--json", action="store_true")
    parsers = [add, slist]
    for action, text in (("pause", "stop firing (fires meanwhile are not missed)"), ("resume", "fire again"),
                         ("remove", "delete the schedule")):
        one = sched_sub.add_parser(action, help=text)
        one.add_argument("schedule_id", metavar="SCHEDULE_ID")
        parsers.append(one)
    for parser in parsers:
        if workspace_flag:
            parser.add_argument("--workspace", default=None, metavar="DIR", help=_WORKSPACE_HELP)
        else:
            parser.set_defaults(workspace=None)


def _workspace(args: argparse.Namespace) -> Workspace:
    if args.workspace is not None and not Path(args.workspace).is_dir():
        raise MlpipeError(f"--workspace {args.workspace!r} is not a folder.")
    return workspace_at(args.workspace or os.getcwd())


def _params(items: list[str]) -> dict[str, Any]:
    from ..api import parse_param

    return dict(parse_param(p) for p in items)


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_publish(args: argparse.Namespace) -> int:
    workspace = workspace_of(args.notebook)
    registry = Registry(workspace)
    snapshot = registry.publish(args.notebook, args.name, args.description)
    default = registry.pipeline(args.name)["default"]
    if args.json:
        _print({"name": snapshot["name"], "version": snapshot["version"], "default": default})
    else:
        print(f"{snapshot['name']} v{snapshot['version']}")
        print(f"  workspace {workspace}; default version: v{default}"
              + ("" if default == snapshot["version"] else
                 f" (make this one the default: mlpipe published {args.name} --set-default {snapshot['version']})"))
    return 0


def cmd_published(args: argparse.Namespace) -> int:
    from ..text import run_summary
    from .runs import run_published

    workspace = _workspace(args)
    registry = Registry(workspace)
    if args.name is None:
        if args.set_default or args.disable or args.enable or args.run:
            raise MlpipeError("Name the pipeline to change or run: mlpipe published NAME --set-default N.")
        items = [(p, next(iter(pipeline_runs(workspace, p["name"], limit=1)), None)) for p in registry.pipelines()]
        if args.json:
            _print([{**p, "last_run": last} for p, last in items])
        elif not items:
            print(f"No published pipelines in {workspace}. Publish one: mlpipe publish NOTEBOOK --name NAME.")
        else:
            print(pipelines_table(items))
        return 0
    if args.set_default is not None:
        registry.set_default(args.name, args.set_default)
    elif args.disable or args.enable:
        registry.set_enabled(args.name, bool(args.enable))
    elif args.run:
        import sys

        from ..text import TextProgress

        run = run_published(workspace, args.name, version=args.version, params=_params(args.param),
                            trigger={"kind": "cli"}, listeners=[] if args.json else [TextProgress(stream=sys.stdout)])
        if args.json:
            _print({"run_id": run.id, "name": args.name, "status": run.status})
        else:
            print(run_summary(run, step_lines=False))
        return 0 if run.status == "succeeded" else 1
    info = registry.pipeline(args.name)
    runs = pipeline_runs(workspace, args.name, limit=10)
    schedules = Schedules(workspace).list(args.name)
    if args.json:
        _print({**info, "runs": runs, "schedules": schedules})
    else:
        print(pipeline_text(info, runs, schedules))
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    keys = Keys(_workspace(args))
    if args.keys_command == "create":
        expires = parse_duration(args.expires, flag="--expires") if args.expires else None
        made = keys.create(args.name, expires_in=expires)
        if args.json:
            _print(made)
        else:
            print(made["key"])
            print(f"  id {made['id']} for pipeline {made['pipeline']!r}; shown once: store it now. "
                  f"Send it as 'Authorization: Bearer {made['key'][:16]}...'.")
    elif args.keys_command == "list":
        found = keys.list()
        print(json.dumps(found, indent=2) if args.json else keys_table(found))
    else:
        info = keys.revoke(args.key_id)
        print(f"revoked key {info['id']} of pipeline {info['pipeline']!r}")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    schedules = Schedules(_workspace(args))
    action = args.schedule_command
    if action == "add":
        every = parse_duration(args.every, flag="--every", minimum=1) if args.every else None
        poll = parse_duration(args.poll, flag="--poll", minimum=0.5)
        info = schedules.add(args.name, cron=args.cron, tz=args.tz, every=every, on_change=args.on_change,
                             path_param=args.path_param, poll=poll, params=_params(args.param),
                             overlap=args.overlap, catch_up=args.catch_up, version=args.version)
        if args.json:
            _print(info)
        else:
            print(f"schedule {info['id']}: {args.name} {info['describe']}, overlap {info['overlap']}")
            print("  it fires inside `mlpipe serve` (or a Jupyter server with jupyter-mlpipe) for this workspace.")
        return 0
    if action == "list":
        found = schedules.list(args.name)
        print(json.dumps(found, indent=2, default=str) if args.json else schedules_table(found))
        return 0
    if action == "remove":
        info = schedules.remove(args.schedule_id)
    else:
        info = schedules.set_paused(args.schedule_id, action == "pause")
    print(f"schedule {info['id']} ({info['pipeline']}, {info['describe']}): {action}d")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import serve

    return serve(args.root, port=args.port, ip=args.ip, max_runs=args.max_runs, max_queued=args.max_queued,
                 schedules=not args.no_schedules, allow_root=args.allow_root)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "publish": cmd_publish, "published": cmd_published, "keys": cmd_keys, "schedule": cmd_schedule,
    "serve": cmd_serve}
