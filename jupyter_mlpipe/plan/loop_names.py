"""Names a step's cells bind only as `for` loop variables (`for name, score in results.items():`).

A final step's outputs are brought back into the kernel after `%pipeline run`; its loop variables
are what the loop left behind (the last element), not results, so they stay out unless asked for
(`--pull name`). A name also bound any other way (`best = name`, `with ... as name`, an import) is a
result and is kept.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from .nodes import bind_target
from .source import CellSyntaxError, parse_cell

__all__ = ["loop_only_names"]

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def loop_only_names(bodies: Iterable[str]) -> frozenset[str]:
    """The names the cells (their code, IPython syntax allowed) bind at top level only as loop variables."""
    loop: set[str] = set()
    other: set[str] = set()
    for body in bodies:
        try:
            tree, _ = parse_cell(body)
        except CellSyntaxError:
            continue  # the planner reports it; nothing to leave out here
        _visit(tree, loop, other)
    return frozenset(loop - other)


def _visit(node: ast.AST, loop: set[str], other: set[str]) -> None:
    for child in ast.iter_child_nodes(node):
        _visit_one(child, loop, other)


def _visit_one(node: ast.AST, loop: set[str], other: set[str]) -> None:
    if isinstance(node, (ast.For, ast.AsyncFor)):
        bind_target(node.target, loop)
        for part in (node.iter, *node.body, *node.orelse):
            _visit_one(part, loop, other)
        return
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        other.add(node.name)
        return
    if isinstance(node, _SCOPES):
        return  # names bound inside are not the cell's
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        other.add(node.id)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        other.update((a.asname or a.name).split(".")[0] for a in node.names)
    _visit(node, loop, other)
