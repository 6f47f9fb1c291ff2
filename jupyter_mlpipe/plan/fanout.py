"""Fan-out steps (`%%step NAME --foreach ITERABLE --as NAME`): what the options mean, pure.

A fan-out step runs its cell once per element of ITERABLE (or per file of a
`--files` glob), with the element bound to the `--as` name. The planner sees
the `--as` name as bound by the loop (not an input), ITERABLE as an input, and
every name the cell defines as an output that becomes, after the step, the
list of its values in element order (or, with `--gather concat`, their
concatenation). The execution is `execute.fanout_driver`/`fanout_task`; the
kernel's loop is `kernel.foreach`.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Any, Literal

__all__ = ["GATHER_MODES", "Gather", "allowed_failures", "check_fanout", "fanout_names", "is_fanout",
           "threshold_arg", "element_reads"]

Gather = Literal["list", "concat"]
GATHER_MODES: tuple[Gather, ...] = ("list", "concat")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_THRESHOLD_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def threshold_arg(text: str) -> str:
    """An argparse `type` for --error-threshold: a whole number of elements, or a percentage 0-100%."""
    match = _THRESHOLD_RE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"--error-threshold must be a number of elements such as 5, or a percentage such as 10% (got {text!r})")
    number, percent = match.groups()
    if not percent:
        if "." in number:
            raise argparse.ArgumentTypeError(
                f"--error-threshold must be a whole number of elements, or a percentage such as 2.5% (got {text!r})")
        return str(int(number))
    value = float(number)
    if value > 100:
        raise argparse.ArgumentTypeError(f"--error-threshold as a percentage must be 0% to 100% (got {text!r})")
    return f"{value:g}%"


def allowed_failures(threshold: str | None, total: int) -> int:
    """How many failed elements out of `total` a step with this --error-threshold tolerates."""
    if not threshold:
        return 0
    if threshold.endswith("%"):
        return math.floor(float(threshold[:-1]) / 100 * total + 1e-9)
    return int(threshold)


def is_fanout(options: Any) -> bool:
    """Whether the step's options make it a fan-out step."""
    return bool(getattr(options, "foreach", None) or getattr(options, "files", None))


def check_fanout(ns: argparse.Namespace) -> str | None:
    """What is wrong with the fan-out options of a parsed `%%step` line (None: nothing)."""
    fanout = ns.foreach is not None or ns.files is not None
    if ns.foreach is not None and ns.files is not None:
        return "use either --foreach ITERABLE or --files GLOB, not both"
    if not fanout:
        given = [flag for flag, value in (("--as", ns.as_name), ("--gather", ns.gather),
                                           ("--batch-size", ns.batch_size),
                                           ("--error-threshold", ns.error_threshold)) if value is not None]
        if given:
            return (f"{given[0]} belongs to a fan-out step: add --foreach ITERABLE --as NAME "
                    "(or --files GLOB --as NAME)")
        return None
    flag = "--foreach ITERABLE" if ns.foreach is not None else "--files GLOB"
    if ns.foreach is not None and not _IDENT_RE.match(ns.foreach):
        return (f"--foreach takes the name of a variable holding the elements (got {ns.foreach!r}); "
                "assign the iterable to a variable in an earlier step and name it here")
    if ns.as_name is None:
        return f"{flag} needs --as NAME: the name each element is bound to in the cell"
    if not _IDENT_RE.match(ns.as_name):
        return f"--as must be a Python identifier such as batch (got {ns.as_name!r})"
    if ns.foreach is not None and ns.as_name == ns.foreach:
        return f"--as {ns.as_name} is also the --foreach name: give the element another name"
    if ns.files is not None and not ns.files.strip():
        return "--files needs a glob such as 'data/*.parquet' (relative to the notebook's folder)"
    if ns.files is not None and ns.batch_size is not None:
        return "--batch-size splits a DataFrame or an array; with --files each element is one file: drop it"
    return None


def fanout_names(options: Any, refs: dict[str, int], defs: dict[str, None]
                 ) -> tuple[dict[str, int], dict[str, None]]:
    """A fan-out step's reads and definitions: the `--as` name is bound by the loop (neither read
    from an earlier step nor an output); ITERABLE is read. Returns `defs` itself when unchanged."""
    bound = options.as_name
    refs = {n: o for n, o in refs.items() if n != bound}
    if options.foreach:
        refs.setdefault(options.foreach, 0)
    if bound in defs:
        defs = {n: None for n in defs if n != bound}
    return refs, defs


_DYNAMIC = frozenset({"globals", "locals", "vars", "eval", "exec", "get_ipython"})


def element_reads(body: str, name: str) -> bool:
    """Whether the cell's own code may read `name` (the iterable) for one element. An element task that
    does not loads no copy of the whole iterable (a 1 GB DataFrame per task): each element is its part.
    Code that reaches names dynamically (`globals()`, `eval`) counts as reading it."""
    import ast

    from .source import CellSyntaxError, to_python

    try:
        tree = ast.parse(to_python(body))
    except (SyntaxError, CellSyntaxError, ValueError):
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and (node.id == name or node.id in _DYNAMIC):
            return True
    return False
