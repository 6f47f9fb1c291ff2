"""The `%%step NAME [options]` line: one parser for the magic and the planner.

The kernel-side magic and the file-side planner must agree exactly on what a
step line means, so both go through :func:`parse_step_line`.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from ..errors import StepOptionError
from .fanout import GATHER_MODES, check_fanout, threshold_arg

__all__ = ["STEP_NAME_RE", "StepOptions", "int_arg", "parse_memory", "parse_step_line", "step_help"]

STEP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_N = TypeVar("_N", int, float)
_MEMORY_UNITS = {"": 1, "B": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


@dataclass(frozen=True)
class StepOptions:
    """What a `%%step` line asks for; resources and fault handling are not in the cache key."""

    name: str
    compute: str | None = None
    env: str | None = None  # --env: an [env.NAME] of mlpipe.toml (its content, not its name, is in the key)
    gpus: float | None = None
    cpus: float | None = None
    memory: int | None = None
    retries: int = 0
    timeout: float | None = None
    no_cache: bool = False
    inputs: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None
    after: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()
    defer: bool = False
    foreach: str | None = None  # fan-out (`fanout`): the variable whose elements the step runs on
    files: str | None = None  # fan-out over the files of a glob in the notebook's folder
    as_name: str | None = None  # --as: the name each element is bound to
    batch_size: int | None = None
    gather: str | None = None  # list (default) or concat
    error_threshold: str | None = None  # "5" or "10%"
    module: str | None = None  # --module: a notebook path or a published NAME@VERSION run as this step (`modules`)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        if data["env"] is None:  # no --env: its JSON as before
            data.pop("env")
        if data["module"] is None:  # not a module step: its JSON as before
            data.pop("module")
        if data["foreach"] is None and data["files"] is None:  # not a fan-out step: its JSON as before
            for key in _FANOUT_FIELDS:
                data.pop(key)
        for key in ("inputs", "outputs", "after", "deps"):
            if data[key] is not None:
                data[key] = list(data[key])
        return data


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise StepOptionError(f"Bad %%step line: {message}.", hint="Run %%step? for the options.")


def _number(text: str, kind: str, cast: Callable[[str], _N], noun: str) -> _N:
    try:
        return cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{kind} must be {noun} (got {text!r})") from None


def _float(kind: str, minimum: float, strict: bool = False, resource: bool = False) -> Callable[[str], float]:
    def convert(text: str) -> float:
        value = _number(text, kind, float, "a number")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{kind} must be a finite number (got {text!r})")
        if value < minimum or (strict and value == minimum):
            bound = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"
            raise argparse.ArgumentTypeError(f"{kind} must be {bound} (got {text!r})")
        if resource and value > 1 and not value.is_integer():
            # Ray's rule: fractions of a resource only below 1
            raise argparse.ArgumentTypeError(
                f"{kind} above 1 must be a whole number (got {text!r}); fractions are allowed only below 1"
            )
        return value

    return convert


def int_arg(kind: str, minimum: int = 0) -> Callable[[str], int]:
    """An argparse `type` for a whole number of at least `minimum` (`kind` names the option in errors)."""

    def convert(text: str) -> int:
        value = _number(text, kind, int, "a whole number")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{kind} must be {minimum} or more (got {text!r})")
        return value

    return convert


def parse_memory(text: str) -> int:
    """'4GB', '512MiB', '1.5G', '2000000' -> bytes."""
    match = _MEMORY_RE.match(str(text))
    if not match:
        raise argparse.ArgumentTypeError(
            f"--memory must be a size such as 4GB, 512MB or 2GiB (got {text!r})"
        )
    number, unit = match.groups()
    if float(number) <= 0:
        raise argparse.ArgumentTypeError(f"--memory must be more than 0 (got {text!r})")
    unit = (unit or "").upper()
    binary = "I" in unit
    letter = unit[:1] if unit not in ("", "B") else unit
    factor = _MEMORY_UNITS[letter]
    if binary:
        factor = 1024 ** {"K": 1, "M": 2, "G": 3, "T": 4}[letter]
    return int(float(number) * factor)


def _names(kind: str, pattern: re.Pattern[str] = _IDENT_RE):
    def convert(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        bad = [n for n in names if not pattern.match(n)]
        if bad:
            raise argparse.ArgumentTypeError(f"{kind} has an invalid name {bad[0]!r}")
        return names

    return convert


def _paths(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="%%step",
        description=(
            "Make this cell a pipeline step named NAME. The plain code cells after it "
            "belong to the same step, up to the next %%step cell. Running the cell runs "
            "its body here as usual (unless --defer) and registers the step."
        ),
        add_help=False,
        allow_abbrev=False,
    )
    parser.add_argument("name", metavar="NAME", help="step name: letters, digits, _ and -")
    parser.add_argument(
        "--compute",
        metavar="TARGET",
        help="compute target: cpu, gpu (one GPU) or a name from mlpipe.toml [compute.NAME]",
    )
    parser.add_argument("--env", metavar="NAME",
                        help="environment: a name from mlpipe.toml [env.NAME] (pip, conda, container, env_vars)")
    parser.add_argument("--gpus", type=_float("--gpus", 0, resource=True), metavar="N",
                        help="GPUs (fractions below 1 allowed, e.g. 0.5)")
    parser.add_argument("--cpus", type=_float("--cpus", 0, resource=True), metavar="N",
                        help="CPUs (fractions below 1 allowed; 0 reserves none)")
    parser.add_argument("--memory", type=parse_memory, metavar="SIZE", help="memory, e.g. 4GB")
    parser.add_argument("--retries", type=int_arg("--retries"), default=0, metavar="N",
                        help="retry when the worker process dies")
    parser.add_argument("--timeout", type=_float("--timeout", 0, strict=True), metavar="SECONDS",
                        help="fail the step if it runs longer")
    parser.add_argument("--no-cache", action="store_true", dest="no_cache",
                        help="always run this step (non-deterministic or reads live data)")
    parser.add_argument("--inputs", type=_names("--inputs"), metavar="A,B",
                        help="override the inputs the planner inferred")
    parser.add_argument("--outputs", type=_names("--outputs"), metavar="C",
                        help="override the outputs the planner inferred")
    parser.add_argument("--after", type=_names("--after", STEP_NAME_RE), default=(), metavar="STEP[,STEP]",
                        help="run after these steps, without data flow")
    parser.add_argument("--deps", type=_paths, default=(), metavar="PATH[,GLOB]",
                        help="files the step reads; their content is part of its cache key")
    parser.add_argument("--defer", action="store_true",
                        help="register the step without running the cell now")
    fan = parser.add_argument_group("fan-out (docs/fanout.md)")
    fan.add_argument("--foreach", metavar="ITERABLE",
                     help="run the cell once per element of this variable (list, tuple, dict items; a "
                          "DataFrame or array in --batch-size rows), each element a Ray task")
    fan.add_argument("--files", metavar="GLOB",
                     help="run the cell once per file matching GLOB in the notebook's folder (the element is "
                          "its path)")
    fan.add_argument("--as", dest="as_name", metavar="NAME", help="the name each element is bound to")
    fan.add_argument("--batch-size", dest="batch_size", type=int_arg("--batch-size", 1), metavar="N",
                     help="split a DataFrame, Series or array into elements of N rows")
    fan.add_argument("--gather", choices=GATHER_MODES, metavar="list|concat",
                     help="each name the cell defines becomes the list of its values (list, the default) "
                          "or their concatenation (concat: DataFrames, Series, arrays, lists)")
    fan.add_argument("--error-threshold", dest="error_threshold", type=threshold_arg, metavar="N|P%",
                     help="tolerate up to N failed elements (or P%% of them); more fail the step")
    parser.add_argument("--module", metavar="SOURCE",
                        help="run a notebook (a path relative to this one) or a published pipeline NAME@VERSION as "
                             "this step; the cell assigns its parameters (docs/modules.md)")
    return parser


_PARSER: _Parser | None = None
_FLAGS = frozenset({"--compute", "--env", "--gpus", "--cpus", "--memory", "--retries", "--timeout", "--no-cache",
                    "--inputs", "--outputs", "--after", "--deps", "--defer", "--foreach", "--files", "--as",
                    "--batch-size", "--gather", "--error-threshold", "--module"})
_FANOUT_FIELDS = ("foreach", "files", "as_name", "batch_size", "gather", "error_threshold")


def _parser() -> _Parser:
    global _PARSER
    if _PARSER is None:
        _PARSER = _build_parser()
    return _PARSER


def step_help() -> str:
    """The help text shown by `%%step?` (generated from the parser, so it cannot drift)."""
    return _parser().format_help()


@lru_cache(maxsize=16384)
def parse_step_line(line: str) -> StepOptions:
    """Parse the text after `%%step`; raise StepOptionError naming the bad flag or value.

    Cached: a notebook re-planned after an edit parses only the lines that changed
    (StepOptions is frozen, so sharing one instance is safe).
    """
    try:
        argv = shlex.split(line, comments=True)
    except ValueError as exc:
        raise StepOptionError(f"Bad %%step line {line.strip()!r}: {exc}.") from None
    if not argv:
        raise StepOptionError(
            "%%step needs a step name.", hint="Write %%step NAME, for example %%step train."
        )
    if argv[0].startswith("-"):
        raise StepOptionError(
            f"%%step needs a step name before the options (got {argv[0]!r} first).",
            hint="Write %%step NAME [options], for example %%step train --compute gpu.",
        )
    if not STEP_NAME_RE.match(argv[0]):
        raise StepOptionError(
            f"Invalid step name {argv[0]!r}: a step name starts with a letter or _ and has only "
            "letters, digits, _ and - (at most 64).",
            step=argv[0],
            hint=f"Try %%step {_suggest_name(argv[0])}.",
        )
    if len(argv) > 1 and not argv[1].startswith("-"):
        raise StepOptionError(
            f"Invalid step name {' '.join(argv[:2])!r}: a step name cannot contain spaces "
            f"(or {argv[1]!r} is an option without its leading --).",
            step=argv[0],
            hint=f"Try %%step {_suggest_name('_'.join(argv[:2]))}.",
        )
    unknown = [a.split("=", 1)[0] for a in argv[1:] if a.startswith("--") and a.split("=", 1)[0] not in _FLAGS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(_FLAGS), n=1)
        raise StepOptionError(
            f"Bad %%step line: unknown option {unknown[0]}.",
            step=argv[0],
            hint=(f"Did you mean {close[0]}? " if close else "") + "Run %%step? for the options.",
        )
    try:
        ns = _parser().parse_args(argv)
    except StepOptionError as exc:
        exc.step = argv[0]
        raise
    if ns.compute is not None and not STEP_NAME_RE.match(ns.compute):
        raise StepOptionError(f"Invalid --compute target {ns.compute!r}.", step=ns.name,
                              hint="Use cpu, gpu or a name defined in mlpipe.toml.")
    if ns.env is not None and not STEP_NAME_RE.match(ns.env):
        raise StepOptionError(f"Invalid --env name {ns.env!r}.", step=ns.name,
                              hint="Use a name defined in mlpipe.toml under [env.NAME].")
    if ns.name in ns.after:
        raise StepOptionError(f"Step {ns.name!r} cannot run --after itself.", step=ns.name)
    fanout_problem = check_fanout(ns)
    if fanout_problem:
        raise StepOptionError(f"Bad %%step line for step {ns.name!r}: {fanout_problem}.", step=ns.name,
                              hint="Run %%step? for the options; docs/fanout.md explains fan-out steps.")
    module_problem = _check_module(ns)
    if module_problem:
        raise StepOptionError(f"Bad %%step line for step {ns.name!r}: {module_problem}.", step=ns.name,
                              hint="docs/modules.md explains module steps.")
    return StepOptions(**vars(ns))  # the parser's destinations are StepOptions' fields


_NOT_FOR_MODULES = (("compute", "--compute"), ("env", "--env"), ("gpus", "--gpus"), ("cpus", "--cpus"),
                    ("memory", "--memory"), ("timeout", "--timeout"), ("inputs", "--inputs"), ("deps", "--deps"),
                    ("foreach", "--foreach"), ("files", "--files"))


def _check_module(ns: argparse.Namespace) -> str | None:
    """What is wrong with a `--module` line (None: nothing): the module's own steps carry their resources."""
    if ns.module is None:
        return None
    if not ns.module.strip():
        return "--module needs a notebook path (lib/features.ipynb) or a published pipeline (NAME@VERSION)"
    given = [flag for dest, flag in _NOT_FOR_MODULES if getattr(ns, dest) not in (None, ())]
    given += ["--retries"] if ns.retries else []
    given += ["--no-cache"] if ns.no_cache else []
    if given:
        return (f"{given[0]} does not apply to a module step: its own steps carry their resources and options "
                "(set them in the module notebook)")
    return None


def _suggest_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-") or "step"
    if not re.match(r"[A-Za-z_]", cleaned):
        cleaned = "step_" + cleaned
    return cleaned[:64]
