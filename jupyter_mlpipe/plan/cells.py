"""What one cell defines and uses: a flow-ordered AST pass over its top-level statements, cached by text.

The planner combines these per-cell facts into steps and edges (through
`step_facts`). Everything here is pure (source in, facts out), so an edited
notebook re-plans by re-analysing only the cells that changed. The pass
follows the statements that run when the cell runs; it leaves to `scope` the
bodies of functions and classes, to `shared` the recognition of shared code,
and to `magics` the meaning of IPython magics and shell lines.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

from .magics import magic_use
from .nodes import (
    CHILD_FIELDS,
    COMPREHENSIONS,
    LEAVES,
    READ_ONLY_METHODS,
    bind_target,
    child_fields,
    const_names,
    element_sources,
    frozen_names,
    magic_call,
    root_name,
)
from .scope import Scope, scope_walk
from .shared import SHARED_STATEMENTS, SharedDef, shared_code
from .source import CellSyntaxError, SourceSegments, parse_cell, strip_control_lines

__all__ = ["CellAnalysis", "analyze_cell"]

_OPAQUE_CALLS = frozenset({"exec", "eval", "globals", "locals", "vars"})
_QUERY_METHODS = frozenset({"query", "eval"})
_AT_NAME = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
_Name, _Call, _Attribute, _Subscript = ast.Name, ast.Call, ast.Attribute, ast.Subscript


@dataclass(frozen=True)
class CellAnalysis:
    """Facts about one cell, in terms of top-level names."""

    refs: tuple[str, ...]  # names loaded before this cell binds them
    defs: tuple[str, ...]  # value names bound or mutated
    mutated: frozenset[str]  # names changed in place (also in refs or defs)
    loads: frozenset[str]  # every name loaded at top level, bound or not
    shared: tuple[SharedDef, ...]
    computed: tuple[str, ...]  # value names bound by code that is not a literal constant
    aliases: tuple[tuple[str, str], ...]  # (a, b): a may refer to b or contain it
    opaque: str | None = None
    code: str = ""  # the cell source with pipeline control lines removed
    setup: tuple[tuple[str, str], ...] = ()  # (name, statement) for `name.attr = v` / `name.f(...)` lines
    soft_refs: tuple[str, ...] = ()  # `$name` / `{name}` in shell escapes and magic lines: used only if defined
    bound: frozenset[str] = frozenset()  # value names (re)bound here, as opposed to only changed in place
    calls: tuple[tuple[str, tuple[tuple[int | str, str], ...]], ...] = ()  # f(a, k=b): ("f", ((0, "a"), ("k", "b")))


class _CellAnalyzer:
    """Flow-ordered pass over a cell's top-level statements."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.refs: dict[str, None] = {}
        self.bound: set[str] = set()
        self.defs: dict[str, None] = {}
        self.mutated: set[str] = set()
        self.loads: set[str] = set()
        self.shared: list[SharedDef] = []
        self.setup: list[tuple[str, str]] = []
        self.shared_names: set[str] = set()
        self.computed: dict[str, None] = {}
        self.aliases: list[tuple[str, str]] = []
        self.opaque: str | None = None
        self.soft_refs: dict[str, None] = {}
        self.value_bound: set[str] = set()
        self.calls: list[tuple[str, tuple[tuple[int | str, str], ...]]] = []
        self.consts: dict[str, tuple[str, frozenset[str]]] = {}  # name -> (source, names it reads)

    # -- name events ------------------------------------------------------
    def load(self, name: str) -> None:
        self.loads.add(name)
        if name not in self.bound and name not in self.refs:
            self.refs[name] = None

    def soft(self, name: str) -> None:
        """A name IPython expands in a shell line or magic line if it exists (`!ls $path`)."""
        self.loads.add(name)
        if name not in self.bound and name not in self.refs:
            self.soft_refs.setdefault(name, None)

    def bind(self, name: str) -> None:
        """A value bound here: computed unless the statement turns out to be a literal constant."""
        self.bound.add(name)
        self.value_bound.add(name)
        self.consts.pop(name, None)
        self.shared_names.discard(name)
        self.defs[name] = None
        self.computed[name] = None

    def mutate(self, name: str, stmt: ast.stmt | None = None) -> None:
        self.load(name)
        if stmt is not None:  # a candidate setup line if `name` turns out to be a module
            self.setup.append((name, self.segment(stmt)))
        if name in self.shared_names:
            return
        self.mutated.add(name)
        self.defs.setdefault(name, None)
        self.computed[name] = None

    # -- expressions -------------------------------------------------------
    def expr(self, node: ast.AST | None) -> None:
        if node is None:
            return
        cls = node.__class__
        if cls is _Name:  # the common case, without the walk
            if node.ctx.__class__ is ast.Load:  # type: ignore[attr-defined]
                self.load(node.id)  # type: ignore[attr-defined]
            return
        if cls is ast.Constant:
            return
        loads: list[str] = []
        stores: list[str] = []
        calls: list[ast.Call] = []
        stack = [node]
        while stack:
            node = stack.pop()
            cls = node.__class__
            if cls is _Name:
                if node.ctx.__class__ is ast.Load:  # type: ignore[attr-defined]
                    loads.append(node.id)  # type: ignore[attr-defined]
                else:
                    stores.append(node.id)  # type: ignore[attr-defined]
                continue
            if cls is _Attribute:
                if node.attr == "user_ns" and self.opaque is None:  # type: ignore[attr-defined]
                    self.opaque = f"reads the IPython namespace (user_ns) on line {node.lineno}"  # type: ignore[attr-defined]
                stack.append(node.value)  # type: ignore[attr-defined]
                continue
            if cls in LEAVES:
                continue
            if cls is _Call:  # the common nodes, without the generic field loop
                calls.append(node)  # type: ignore[arg-type]
                stack.append(node.func)  # type: ignore[attr-defined]
                stack.extend(node.args)  # type: ignore[attr-defined]
                for kw in node.keywords:  # type: ignore[attr-defined]
                    stack.append(kw.value)
                continue
            if cls is _Subscript:
                stack.append(node.value)  # type: ignore[attr-defined]
                stack.append(node.slice)  # type: ignore[attr-defined]
                continue
            if cls is ast.BinOp:
                stack.append(node.left)  # type: ignore[attr-defined]
                stack.append(node.right)  # type: ignore[attr-defined]
                continue
            if cls is ast.Tuple or cls is ast.List:
                stack.extend(node.elts)  # type: ignore[attr-defined]
                continue
            if cls in COMPREHENSIONS or cls is ast.Lambda or cls is ast.NamedExpr:
                scope = Scope(calls)  # a nested scope: its free names, and walrus targets that escape
                scope_walk([node], scope)
                loads.extend(scope.loads)
                stores.extend(scope.stores)
                continue
            for field_name in CHILD_FIELDS.get(cls) or child_fields(cls):
                value = getattr(node, field_name, None)
                if value.__class__ is list:
                    stack.extend(value)
                elif value is not None:
                    stack.append(value)
        refs, bound = self.refs, self.bound
        self.loads.update(loads)
        for name in loads:
            if name not in bound and name not in refs and name != "get_ipython":
                refs[name] = None
        for call in reversed(calls):
            self.call(call)
        for name in stores:  # walrus targets
            self.bind(name)

    def call(self, node: ast.Call) -> None:
        func = node.func
        cls = func.__class__
        if cls is _Name:
            if node.args or node.keywords:
                args = tuple((i, a.id) for i, a in enumerate(node.args) if a.__class__ is _Name)
                args += tuple((k.arg, k.value.id) for k in node.keywords if k.arg and k.value.__class__ is _Name)
                if args:
                    self.calls.append((func.id, args))  # type: ignore[attr-defined]
            if func.id in _OPAQUE_CALLS and not (func.id == "vars" and node.args):  # type: ignore[attr-defined]
                if func.id not in self.bound and self.opaque is None:  # type: ignore[attr-defined]
                    self.opaque = f"calls {func.id}() on line {node.lineno}"  # type: ignore[attr-defined]
            return
        if cls is not _Attribute:
            return
        if func.value.__class__ is _Call:  # type: ignore[attr-defined]
            magic = magic_call(node)
            if magic is not None:
                self.magic(*magic)
                return
        if func.attr in _QUERY_METHODS and node.args:  # type: ignore[attr-defined]
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                for name in _AT_NAME.findall(first.value):
                    self.load(name)
        for kw in node.keywords:
            if kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                root = root_name(func.value)  # type: ignore[attr-defined]
                if root:
                    self.mutate(root)

    def magic(self, kind: str, args: list[str]) -> None:
        use = magic_use(kind, args)
        if use is None:
            return
        for name in use.soft:
            self.soft(name)
        for name in use.binds:
            self.bind(name)
        if use.code is not None:
            self.sub_code(use.code, keep_defs=use.keep_defs)
        if use.opaque and self.opaque is None:
            self.opaque = use.opaque

    def sub_code(self, code: str, *, keep_defs: bool = True) -> None:
        """The code given to %time, %%capture, %timeit...: analysed in place (%timeit keeps no names)."""
        if not keep_defs:
            try:
                inner = analyze_cell(code)
            except CellSyntaxError:
                return
            for name in inner.refs:
                self.load(name)
            for name in inner.soft_refs:
                self.soft(name)
            self.loads |= inner.loads
            if inner.opaque and self.opaque is None:
                self.opaque = inner.opaque
            return
        try:
            tree, python = parse_cell(code)
        except CellSyntaxError:
            return
        outer = self.segment
        self.segment = SourceSegments(python)
        try:
            for stmt in tree.body:
                self.stmt(stmt, top=True)
        finally:
            self.segment = outer

    # -- statements --------------------------------------------------------
    def targets(self, target: ast.expr, stmt: ast.stmt | None = None) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.targets(elt, stmt)
        elif isinstance(target, ast.Starred):
            self.targets(target.value, stmt)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            self.expr(target.value)
            if isinstance(target, ast.Subscript):
                self.expr(target.slice)
            root = root_name(target)
            if root:
                self.mutate(root, stmt)

    def record_aliases(self, target: ast.expr, value: ast.expr) -> None:
        if not isinstance(target, ast.Name):
            return
        sources: list[ast.expr] = [value]
        while sources:
            node = sources.pop()
            if isinstance(node, ast.Name):
                self.aliases.append((target.id, node.id))
            elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                sources.extend(node.elts)
            elif isinstance(node, ast.Dict):
                sources.extend(v for v in node.values)
            elif isinstance(node, (ast.Starred, ast.Subscript)):
                # `first = frames[0]`: changing `first` may change `frames` (and what it holds)
                sources.append(node.value)

    def constant(self, target: ast.expr, stmt: ast.stmt, reads: set[str] | None) -> None:
        """`N = 10` or `PATH = f"{ROOT}/x"` at top level (`reads`: the names it reads; None: not a constant)."""
        if reads is not None and target.__class__ is _Name:
            self.computed.pop(target.id, None)
            self.consts[target.id] = (self.segment(stmt), frozen_names(reads))

    def shared_stmt(self, node: ast.stmt) -> bool:
        """Imports, defs and classes are shared code, wherever they appear."""
        found = shared_code(node, self.segment)
        if found is None:
            return False
        for sdef in found.defs:
            if sdef.name == "*":  # resolved per step (step_facts), where a failed import is an error
                self.shared.append(sdef)
            else:
                self.add_shared(sdef)
        for expr in found.run_now:
            self.expr(expr)
        return True

    def add_shared(self, sdef: SharedDef) -> None:
        self.shared.append(sdef)
        self.shared_names.add(sdef.name)
        self.bound.add(sdef.name)
        self.defs.pop(sdef.name, None)
        self.computed.pop(sdef.name, None)

    def stmt(self, node: ast.stmt, top: bool = False) -> None:
        if node.__class__ in SHARED_STATEMENTS and self.shared_stmt(node):
            return
        if isinstance(node, ast.Assign):
            self.expr(node.value)
            const = const_names(node.value) if top else None
            for target in node.targets:
                self.targets(target, node)
                self.record_aliases(target, node.value)
                if const is not None:
                    self.constant(target, node, const)
        elif isinstance(node, ast.AnnAssign):
            self.expr(node.value)
            if node.value is not None:
                self.targets(node.target)
                self.constant(node.target, node, const_names(node.value) if top else None)
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value)
            if isinstance(node.target, ast.Name):
                self.load(node.target.id)
                self.bind(node.target.id)
            else:
                self.targets(node.target)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.load(target.id)
                else:
                    self.targets(target, node)
        elif isinstance(node, ast.Expr):
            self.expr(node.value)
            call = node.value
            if isinstance(call, ast.Await):
                call = call.value
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and magic_call(call) is None:
                root = root_name(call.func.value)
                if root and call.func.attr not in READ_ONLY_METHODS:
                    self.mutate(root, node)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter)
            self.targets(node.target)
            names = element_sources(node.iter)
            if names:
                bound: set[str] = set()
                bind_target(node.target, bound)
                for t in sorted(bound):
                    for n in sorted(names):
                        self.aliases.append((t, n))
            self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.While):
            self.expr(node.test)
            self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.If):
            self.expr(node.test)
            self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.targets(item.optional_vars)
            self.block(node.body)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            self.block(node.body)
            for handler in node.handlers:
                self.expr(handler.type)
                fresh = handler.name and handler.name not in self.bound
                if handler.name:
                    self.bound.add(handler.name)
                self.block(handler.body)
                if fresh:
                    self.bound.discard(handler.name)
            self.block(node.orelse)
            self.block(node.finalbody)
        elif isinstance(node, ast.Match):
            self.expr(node.subject)
            for case in node.cases:
                stores: set[str] = set()
                for sub in ast.walk(case.pattern):
                    if isinstance(sub, (ast.MatchAs, ast.MatchStar)) and sub.name:
                        stores.add(sub.name)
                    elif isinstance(sub, ast.MatchMapping) and sub.rest:
                        stores.add(sub.rest)
                    elif isinstance(sub, ast.MatchValue):
                        self.expr(sub.value)
                for name in sorted(stores):
                    self.bind(name)
                self.expr(case.guard)
                self.block(case.body)
        elif isinstance(node, ast.Global):
            pass
        else:  # return/raise/assert/pass/break/continue and anything new
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)

    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.stmt(stmt)

    def run(self) -> CellAnalysis:
        tree, python = parse_cell(self.source)
        self.segment = SourceSegments(python)
        for node in tree.body:
            self.stmt(node, top=True)
        consts = tuple(
            SharedDef(name, "const", self.consts[name][0], self.consts[name][1])
            for name in self.defs
            if name not in self.computed and name not in self.mutated and name in self.consts
        )
        return CellAnalysis(
            refs=tuple(self.refs),
            defs=tuple(self.defs),
            mutated=frozen_names(self.mutated),
            loads=frozen_names(self.loads),
            shared=tuple(self.shared) + consts,
            computed=tuple(self.computed),
            aliases=tuple(self.aliases),
            opaque=self.opaque,
            code=self.source,
            setup=tuple(self.setup),
            soft_refs=tuple(n for n in self.soft_refs if n not in self.refs),
            bound=frozen_names(self.value_bound & self.defs.keys()),
            calls=tuple(self.calls),
        )


@lru_cache(maxsize=65536)
def analyze_cell(source: str) -> CellAnalysis:
    """Analyse one cell's code (the `%%step` line already removed). Raises CellSyntaxError."""
    return _CellAnalyzer(strip_control_lines(source)).run()
