"""Shared code: the imports, functions, classes and literal constants that are replayed, not passed.

A step that uses `np` or `clean_frame` gets the statement that defines it
replayed in its own process, so shared code is never an edge between steps
(rule 4 in docs/concepts.md). This module says what a piece of shared code is
(`SharedDef`), recognises the statements that define some (`shared_code`), and
finds the names a `from MODULE import *` binds, which needs importing MODULE
(cached).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .nodes import frozen_names, is_literal
from .scope import Scope, class_free, function_facts, scope_walk

__all__ = ["SHARED_STATEMENTS", "SharedCode", "SharedDef", "SharedKind", "shared_code", "star_defs", "star_names"]

SharedKind = Literal["import", "def", "class", "const", "setup"]


@dataclass(frozen=True)
class SharedDef:
    """An import, function, class, literal constant or module setup line.

    Shared code is replayed in each step that uses it instead of being passed
    as a value, so it is never an edge.
    """

    name: str  # "*" for a star import not resolved yet
    kind: SharedKind
    source: str
    free: frozenset[str] = frozenset()
    global_writes: frozenset[str] = frozenset()
    module: str | None = None  # for star imports: the module to resolve
    params: tuple[str, ...] = ()  # a function's positional parameters, in order
    mutated_params: frozenset[str] = frozenset()  # parameters it changes in place (`df['x'] = ...`)


@dataclass(frozen=True)
class SharedCode:
    """What one statement of shared code defines, and the expressions it evaluates when the cell runs."""

    defs: tuple[SharedDef, ...]
    run_now: tuple[ast.expr, ...] = ()  # decorators, default values, base classes


# the statements that may be shared code: a walker can skip shared_code for every other statement
SHARED_STATEMENTS = frozenset({ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                               ast.Try, ast.If})


def shared_code(node: ast.stmt, segment: Callable[[ast.AST], str]) -> SharedCode | None:
    """The shared code a top-level statement defines, or None when it is not shared code.

    Imports, defs and classes are shared code wherever they appear; a `try` or
    `if` block is when it only imports (`try: import ujson as json except
    ImportError: import json`). `segment` gives a node's source text.
    """
    if node.__class__ not in SHARED_STATEMENTS:
        return None
    if isinstance(node, (ast.Try, ast.If)) and not _is_import_block(node):
        return None
    source = segment(node) or ast.unparse(node)
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        defs = []
        for alias in node.names:
            if alias.name == "*":
                defs.append(SharedDef("*", "import", source, module=getattr(node, "module", None) or ""))
            else:
                defs.append(SharedDef((alias.asname or alias.name).split(".")[0], "import", source))
        return SharedCode(tuple(defs))
    if isinstance(node, ast.ClassDef):
        free, writes = class_free(node)
        sdef = SharedDef(node.name, "class", source, frozen_names(free - {node.name}), frozen_names(writes))
        return SharedCode((sdef,), (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)))
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        free, writes, changed = function_facts(node)
        args = node.args
        defaults = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
        extra = Scope()
        scope_walk([*node.decorator_list, *defaults], extra)
        free = free | frozenset(extra.loads)
        sdef = SharedDef(node.name, "def", source, frozen_names(free - {node.name}), frozen_names(writes),
                         params=tuple(a.arg for a in (*args.posonlyargs, *args.args)),
                         mutated_params=frozen_names(changed))
        return SharedCode((sdef,), (*node.decorator_list, *defaults))
    names: set[str] = set()  # an import block
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in sub.names if a.name != "*"}
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
    if not names:
        return None
    return SharedCode(tuple(SharedDef(name, "import", source) for name in sorted(names)))


def _is_import_block(node: ast.Try | ast.If) -> bool:
    saw_import = False
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Import, ast.ImportFrom)):
            saw_import = True
        elif isinstance(sub, ast.stmt) and sub is not node:
            if isinstance(sub, (ast.Pass, ast.Raise, ast.ExceptHandler)):
                continue
            if isinstance(sub, ast.Assign) and is_literal(sub.value):
                continue
            if isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Constant):
                continue
            if isinstance(sub, (ast.Try, ast.If)):
                continue
            return False
    return saw_import


@lru_cache(maxsize=512)
def star_names(module: str) -> tuple[str, ...]:
    """The names `from MODULE import *` binds (its __all__, else its public names)."""
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_")]
    return tuple(str(n) for n in names)


@lru_cache(maxsize=4096)
def star_defs(module: str, source: str) -> tuple[SharedDef, ...]:
    """The shared definitions a `from MODULE import *` statement (its text: `source`) stands for."""
    return tuple(SharedDef(name, "import", source) for name in star_names(module))
