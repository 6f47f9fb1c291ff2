"""The `mlpipe` command: plan, run and inspect notebooks headless.

Exit status: 0 success, 1 a step failed, 2 usage or plan errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .errors import MlpipeError

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"mlpipe: error: {message}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlpipe", description="Plan, run and inspect notebook pipelines.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    plan = sub.add_parser("plan", help="print the plan of a notebook")
    plan.add_argument("notebook", metavar="NOTEBOOK")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    return parser


def _cmd_plan(args: argparse.Namespace) -> int:
    from .plan import Pipeline

    plan = Pipeline.from_notebook(args.notebook)
    print(plan.to_json() if args.json else plan.describe())
    return EXIT_OK


_COMMANDS = {"plan": _cmd_plan}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except MlpipeError as exc:
        if getattr(args, "json", False):
            print(json.dumps(exc.to_dict()), file=sys.stdout)
        print(f"mlpipe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mlpipe: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
