"""What an IPython magic or shell line in a cell means for the names it reads and binds.

After translation (`source`), `%time x = f()` is the call
`get_ipython().run_line_magic('time', 'x = f()')`, and `!ls $path` is
`get_ipython().system('ls $path')`. The cell analyser recognises such calls;
this module reads their arguments: code that runs in the cell's namespace (the
body of `%time`, `%%capture`, `%timeit`), names IPython expands if they exist
(`$path`, `{path}`), names a magic binds (`%%capture out`), and magics whose
effect cannot be known (`%run`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MagicUse", "magic_use"]

_TIMING_LINE_MAGICS = frozenset({"time", "timeit", "prun"})
_CODE_CELL_MAGICS = frozenset({"time", "timeit", "prun", "capture"})
_SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAGIC_ARG_FLAGS = {"timeit": {"-n", "-r", "-p"}, "prun": {"-l", "-s", "-T", "-D"}, "time": set()}


@dataclass(frozen=True)
class MagicUse:
    """One magic or shell call, in the terms of the cell analyser; apply in this order: soft, binds, code."""

    soft: tuple[str, ...] = ()  # names expanded if they exist (`$name`, `{name}`)
    binds: tuple[str, ...] = ()  # names the magic itself binds
    code: str | None = None  # code run in the cell's namespace
    keep_defs: bool = True  # False for %timeit: its code runs, but keeps no names
    opaque: str | None = None  # why the cell's effect cannot be known


def magic_use(kind: str, args: list[str]) -> MagicUse | None:
    """`kind` is the get_ipython() method (run_line_magic, run_cell_magic, system, getoutput), `args` its
    string arguments. None when the call says nothing about names."""
    if not args:
        return None
    name = args[0]
    if kind == "run_line_magic" and len(args) >= 2:
        if name in _TIMING_LINE_MAGICS:
            return MagicUse(code=_strip_magic_options(name, args[1]), keep_defs=name != "timeit")
        opaque = f"runs `%run {args[1]}`" if name == "run" else None
        return MagicUse(soft=_shell_vars(args[1]), opaque=opaque)
    if kind == "run_cell_magic" and len(args) >= 3:
        binds: tuple[str, ...] = ()
        if name == "capture":
            words = [w for w in args[1].split() if not w.startswith("-")]
            if words and words[0].isidentifier():
                binds = (words[0],)
        code = args[2] if name in _CODE_CELL_MAGICS else None
        return MagicUse(soft=_shell_vars(args[1]), binds=binds, code=code, keep_defs=name != "timeit")
    if kind in ("system", "getoutput"):
        return MagicUse(soft=_shell_vars(args[0]))
    return None


def _shell_vars(text: str) -> tuple[str, ...]:
    """`$name`, `${name}` and `{name}` in a shell or magic line."""
    if "$" not in text and "{" not in text:
        return ()
    return tuple(name for a, b in _SHELL_VAR.findall(text) if (name := a or b).isidentifier())


def _strip_magic_options(magic: str, line: str) -> str:
    """`-n 10 -r 3 x = f()` -> `x = f()`: the code part of a %timeit / %prun / %time line."""
    takes_value = _MAGIC_ARG_FLAGS.get(magic, set())
    rest = line.lstrip()
    while rest.startswith("-"):
        flag, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if flag in takes_value:
            _, _, rest = rest.partition(" ")
            rest = rest.lstrip()
    return rest
