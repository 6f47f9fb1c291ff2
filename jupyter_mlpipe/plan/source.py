"""A cell's text to Python: remove pipeline control lines, translate IPython syntax, parse.

The text-level half of analysing a cell, kept apart from the AST passes
(`cells`, `scope`) because the executor needs the same translation: a step's
code is compared and bundled as the Python IPython would run. IPython syntax
(`%magic`, `!cmd`, `%%cell_magic`) is translated by a fast line-by-line pass
when possible and by IPython's own transformer (imported on first use)
otherwise.
"""

from __future__ import annotations

import ast
import re
import warnings

__all__ = ["CellSyntaxError", "SourceSegments", "parse_cell", "strip_control_lines", "to_python"]

_NEEDS_IPYTHON = re.compile(r"^\s*[%!]|=\s*[%!]|\?\s*$", re.MULTILINE)
_CONTROL_LINE = re.compile(r"^\s*%(pipeline\b|(re)?load_ext\s+jupyter_mlpipe\b).*$", re.MULTILINE)


class CellSyntaxError(SyntaxError):
    """A cell's code does not parse; carries the line for the PlanError."""


def strip_control_lines(source: str) -> str:
    """Remove `%pipeline ...` and `%load_ext jupyter_mlpipe` lines: they drive, they are not step code."""
    if "%" not in source:
        return source
    return _CONTROL_LINE.sub("", source)


_LINE_ESCAPE = re.compile(
    r"^(?P<indent>[ \t]*)(?:(?P<lhs>[A-Za-z_][A-Za-z0-9_]*(?:[ \t]*,[ \t]*[A-Za-z_][A-Za-z0-9_]*)*)[ \t]*=[ \t]*)?"
    r"(?P<esc>%(?!%)|!!|!)(?P<rest>.*)$"
)
_MAGIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _fast_transform(source: str) -> str | None:
    """IPython syntax to Python for the common forms, line by line, without tokenizing.

    Handles a `%%magic` first line, `%magic args`, `!cmd`, `x = %magic args` and
    `x = !cmd` lines, the way IPython's TransformerManager writes them. Returns
    None when unsure (triple-quoted strings, odd forms): the caller then uses
    IPython's own transformer, which is exact but about a millisecond per cell.
    """
    if '"""' in source or "'''" in source:
        return None
    text = source.lstrip("\n")
    if text.startswith("%%"):
        first, _, body = text.partition("\n")
        name, _, line = first[2:].rstrip().partition(" ")
        if not _MAGIC_NAME.match(name):
            return None
        if body and not body.endswith("\n"):
            body += "\n"
        return f"get_ipython().run_cell_magic({name!r}, {line.strip()!r}, {body!r})\n"
    lines = source.split("\n")
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if not stripped or stripped[0] not in "%!" and "=" not in stripped:
            continue
        match = _LINE_ESCAPE.match(line)
        if match is None:
            continue
        indent, lhs, esc, rest = match.group("indent", "lhs", "esc", "rest")
        if rest.endswith("\\"):
            return None
        if esc == "%":
            name, _, args = rest.partition(" ")
            if not _MAGIC_NAME.match(name):
                return None
            call = f"get_ipython().run_line_magic({name!r}, {args.strip()!r})"
        elif esc == "!!" or lhs:
            call = f"get_ipython().getoutput({rest.strip()!r})"
        else:
            call = f"get_ipython().system({rest.strip()!r})"
        lines[i] = f"{indent}{lhs} = {call}" if lhs else f"{indent}{call}"
    return "\n".join(lines)


def _transform_ipython(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IPython warns about odd input; we only need its best effort
        return TransformerManager().transform_cell(source)


def _ast(code: str) -> ast.Module:
    """ast.parse, with every way it can fail on odd input turned into a SyntaxError."""
    try:
        return ast.parse(code)
    except SyntaxError:
        raise
    except (ValueError, MemoryError, RecursionError) as exc:  # null bytes, absurd nesting
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        err = SyntaxError(f"cannot parse this cell ({detail})")
        err.lineno = 1
        raise err from None


def parse_cell(source: str) -> tuple[ast.Module, str]:
    """Parse a cell (IPython syntax allowed): the tree and the Python code it was made from."""
    ipython = _NEEDS_IPYTHON.search(source) is not None
    fast = _fast_transform(source) if ipython else None
    if fast is not None and fast != source:  # `%time x = f()`: one parse, of the translation
        try:
            return _ast(fast), fast
        except SyntaxError:
            pass
    try:
        return _ast(source), source
    except SyntaxError as exc:
        error = exc
    if ipython or source.lstrip("\n")[:1] in (" ", "\t"):
        try:
            code = _transform_ipython(source)
            return _ast(code), code
        except SyntaxError as exc:
            error = exc
        except Exception:  # noqa: BLE001 - IPython's transformer on input it cannot handle
            pass
    err = CellSyntaxError(error.msg)
    err.lineno, err.offset, err.text = error.lineno, error.offset, error.text
    raise err from None


def to_python(source: str) -> str:
    """The Python code IPython would run for `source` (unchanged when it has no IPython syntax)."""
    try:
        return parse_cell(source)[1]
    except CellSyntaxError:
        if not _NEEDS_IPYTHON.search(source):
            return source
        try:
            return _transform_ipython(source)
        except Exception:  # noqa: BLE001
            return source


_NEWLINE = re.compile(r"\r\n|\r|\n")


class SourceSegments:
    """`ast.get_source_segment` for many nodes of one source: the lines are split once."""

    def __init__(self, code: str) -> None:
        self.code = code
        self._lines: list[str] | None = None

    def __call__(self, node: ast.AST) -> str:
        try:
            lineno, end_lineno = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
            col, end_col = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]
        except AttributeError:
            return ast.unparse(node)
        if end_lineno is None or end_col is None:
            return ast.unparse(node)
        if self._lines is None:
            self._lines = _NEWLINE.split(self.code)
        lines = self._lines
        if end_lineno >= len(lines):
            return ast.unparse(node)
        if lineno == end_lineno:
            line = lines[lineno]
            if line.isascii():
                return line[col:end_col]
            return line.encode()[col:end_col].decode()
        first, last = lines[lineno], lines[end_lineno]
        first = first[col:] if first.isascii() else first.encode()[col:].decode()
        last = last[:end_col] if last.isascii() else last.encode()[:end_col].decode()
        return "\n".join([first, *lines[lineno + 1:end_lineno], last])
