"""What one cell defines and uses: an AST pass, cached by source text.

The planner combines these per-cell facts into steps and edges. Everything
here is pure (source in, facts out), so an edited notebook re-plans by
re-analysing only the cells that changed.

Turning a cell's text into Python and parsing it is in `_source.py`; the free-name
walkers for nested scopes and the AST tables are in `_scope.py`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import lru_cache

from . import source as _source
from .scope import (
    _CHILD_FIELDS,
    _COMPS,
    _LEAVES,
    READ_ONLY_METHODS,
    _Attribute,
    _bind_target,
    _Call,
    _child_fields,
    _class_free,
    _const_names,
    _function_facts,
    _is_literal,
    _magic_call,
    _Name,
    _root_name,
    _Scope,
    _scope_walk,
    _Subscript,
)
from .source import CellSyntaxError, _parse_cell, _Segments, strip_control_lines

__all__ = ["CellAnalysis", "SharedDef", "analyze_cell", "strip_control_lines", "CellSyntaxError"]

# Moved to _source.py; importable from here as before (plan.py, cache.py and the tests use it).
_to_python = _source._to_python

_TIMING_LINE_MAGICS = frozenset({"time", "timeit", "prun"})
_CODE_CELL_MAGICS = frozenset({"time", "timeit", "prun", "capture"})
_OPAQUE_CALLS = frozenset({"exec", "eval", "globals", "locals", "vars"})
_QUERY_METHODS = frozenset({"query", "eval"})
_AT_NAME = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
_SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\}")


NOTHING: frozenset[str] = frozenset()


def _fs(items) -> frozenset[str]:
    """A frozenset, sharing one empty instance: thousands of cached analyses hold mostly empty sets,
    and each distinct set is one more object for the cycle collector to walk."""
    return frozenset(items) if items else NOTHING


@dataclass(frozen=True)
class SharedDef:
    """An import, function, class, literal constant or module setup line.

    Shared code is replayed in each step that uses it instead of being passed
    as a value, so it is never an edge.
    """

    name: str
    kind: str  # "import" | "def" | "class" | "const" | "setup"
    source: str
    free: frozenset[str] = frozenset()
    global_writes: frozenset[str] = frozenset()
    module: str | None = None  # for star imports: the module to resolve
    params: tuple[str, ...] = ()  # a function's positional parameters, in order
    mutated_params: frozenset[str] = frozenset()  # parameters it changes in place (`df['x'] = ...`)


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


_SHARED_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try, ast.If)


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

    def bind(self, name: str, *, computed: bool = True) -> None:
        self.bound.add(name)
        self.value_bound.add(name)
        self.consts.pop(name, None)
        if name in self.shared_names:
            self.shared_names.discard(name)
        self.defs[name] = None
        if computed:
            self.computed[name] = None
        else:
            self.computed.pop(name, None)

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
            if cls in _LEAVES:
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
            if cls in _COMPS or cls is ast.Lambda or cls is ast.NamedExpr:
                scope = _Scope(calls)  # a nested scope: its free names, and walrus targets that escape
                _scope_walk([node], scope)
                loads.extend(scope.loads)
                stores.extend(scope.stores)
                continue
            for field_name in _CHILD_FIELDS.get(cls) or _child_fields(cls):
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
            magic = _magic_call(node)
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
                root = _root_name(func.value)  # type: ignore[attr-defined]
                if root:
                    self.mutate(root)

    def magic(self, kind: str, args: list[str]) -> None:
        if not args:
            return
        name = args[0]
        if kind == "run_line_magic" and len(args) >= 2:
            if name in _TIMING_LINE_MAGICS:
                self.sub_code(_strip_magic_options(name, args[1]), keep_defs=name != "timeit")
                return
            if name == "run" and self.opaque is None:
                self.opaque = f"runs `%run {args[1]}`"
            self.shell_vars(args[1])
        elif kind == "run_cell_magic" and len(args) >= 3:
            self.shell_vars(args[1])
            if name == "capture":
                words = [w for w in args[1].split() if not w.startswith("-")]
                if words and words[0].isidentifier():
                    self.bind(words[0])
            if name in _CODE_CELL_MAGICS:
                self.sub_code(args[2], keep_defs=name != "timeit")
        elif kind in ("system", "getoutput"):
            self.shell_vars(args[0])

    def shell_vars(self, text: str) -> None:
        if "$" not in text and "{" not in text:
            return
        for a, b in _SHELL_VAR.findall(text):
            name = a or b
            if name.isidentifier():
                self.soft(name)

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
            tree, python = _parse_cell(code)
        except CellSyntaxError:
            return
        outer = self.segment
        self.segment = _Segments(python)
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
            root = _root_name(target)
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

    def shared_stmt(self, node: ast.stmt) -> bool:
        """Imports, defs and classes are shared code, wherever they appear."""
        if not isinstance(node, _SHARED_NODES):
            return False
        if isinstance(node, (ast.Try, ast.If)) and not _is_import_block(node):
            return False
        source = self.segment(node) or ast.unparse(node)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    self.shared.append(SharedDef("*", "import", source, module=node.module or ""))
                    continue
                name = (alias.asname or alias.name).split(".")[0]
                self.add_shared(SharedDef(name, "import", source))
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            positional: tuple[str, ...] = ()
            changed: frozenset[str] = frozenset()
            if isinstance(node, ast.ClassDef):
                free, writes = _class_free(node)
            else:
                free, writes, changed = _function_facts(node)
                positional = tuple(a.arg for a in (*node.args.posonlyargs, *node.args.args))
                extra = _Scope()
                _scope_walk([*node.decorator_list, *node.args.defaults,
                             *[d for d in node.args.kw_defaults if d is not None]], extra)
                free = free | frozenset(extra.loads)
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            self.add_shared(SharedDef(node.name, kind, source, _fs(free - {node.name}), _fs(writes),
                                      params=positional, mutated_params=_fs(changed)))
            # decorators, default values and base classes run when the cell runs
            if isinstance(node, ast.ClassDef):
                run_now = [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
            else:
                run_now = [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]
            for expr in run_now:
                self.expr(expr)
            return True
        if isinstance(node, (ast.Try, ast.If)):  # an import block (checked above)
            names: set[str] = set()
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    names |= {(a.asname or a.name).split(".")[0] for a in sub.names if a.name != "*"}
                elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
            for name in sorted(names):
                self.add_shared(SharedDef(name, "import", source))
            return bool(names)
        return False

    def add_shared(self, sdef: SharedDef) -> None:
        self.shared.append(sdef)
        self.shared_names.add(sdef.name)
        self.bound.add(sdef.name)
        self.defs.pop(sdef.name, None)
        self.computed.pop(sdef.name, None)

    def stmt(self, node: ast.stmt, top: bool = False) -> None:
        if self.shared_stmt(node):
            return
        if isinstance(node, ast.Assign):
            self.expr(node.value)
            const = _const_names(node.value) if top else None
            for target in node.targets:
                self.targets(target, node)
                self.record_aliases(target, node.value)
                if const is not None and isinstance(target, ast.Name):
                    self.computed.pop(target.id, None)
                    self.consts[target.id] = (self.segment(node), _fs(const))
        elif isinstance(node, ast.AnnAssign):
            self.expr(node.value)
            if node.value is not None:
                self.targets(node.target)
                const = _const_names(node.value) if top else None
                if const is not None and isinstance(node.target, ast.Name):
                    self.computed.pop(node.target.id, None)
                    self.consts[node.target.id] = (self.segment(node), _fs(const))
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
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and _magic_call(call) is None:
                root = _root_name(call.func.value)
                if root and call.func.attr not in READ_ONLY_METHODS:
                    self.mutate(root, node)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter)
            self.targets(node.target)
            names = _element_sources(node.iter)
            if names:
                bound: set[str] = set()
                _bind_target(node.target, bound)
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
        tree, python = _parse_cell(self.source)
        self.segment = _Segments(python)
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
            mutated=_fs(self.mutated),
            loads=_fs(self.loads),
            shared=tuple(self.shared) + consts,
            computed=tuple(self.computed),
            aliases=tuple(self.aliases),
            opaque=self.opaque,
            code=self.source,
            setup=tuple(self.setup),
            soft_refs=tuple(n for n in self.soft_refs if n not in self.refs),
            bound=_fs(self.value_bound & self.defs.keys()),
            calls=tuple(self.calls),
        )


_PASS_ELEMENTS = frozenset({"zip", "enumerate", "reversed", "sorted", "list", "tuple", "filter"})
_ELEMENT_METHODS = frozenset({"values", "items"})


def _element_sources(node: ast.expr) -> set[str]:
    """Names whose elements a `for` loop over `node` may bind: `combine`, `[train, test]`,
    `zip(frames, names)`, `frames.values()`. Not `range(n)` or `df.columns`: those make new values."""
    names: set[str] = set()
    stack = [node]
    while stack:
        node = stack.pop()
        cls = node.__class__
        if cls is ast.Name:
            names.add(node.id)  # type: ignore[attr-defined]
        elif cls in (ast.Tuple, ast.List, ast.Set):
            stack.extend(node.elts)  # type: ignore[attr-defined]
        elif cls is ast.Starred or cls is ast.Subscript:
            stack.append(node.value)  # type: ignore[attr-defined]
        elif cls is ast.Call:
            func = node.func  # type: ignore[attr-defined]
            if func.__class__ is ast.Name and func.id in _PASS_ELEMENTS:
                stack.extend(node.args)  # type: ignore[attr-defined]
            elif func.__class__ is ast.Attribute and func.attr in _ELEMENT_METHODS:
                stack.append(func.value)
    return names


def _is_import_block(node: ast.Try | ast.If) -> bool:
    saw_import = False
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Import, ast.ImportFrom)):
            saw_import = True
        elif isinstance(sub, ast.stmt) and sub is not node:
            if isinstance(sub, (ast.Pass, ast.Raise, ast.ExceptHandler)):
                continue
            if isinstance(sub, ast.Assign) and _is_literal(sub.value):
                continue
            if isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Constant):
                continue
            if isinstance(sub, (ast.Try, ast.If)):
                continue
            return False
    return saw_import


_MAGIC_ARG_FLAGS = {"timeit": {"-n", "-r", "-p"}, "prun": {"-l", "-s", "-T", "-D"}, "time": set()}


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


@lru_cache(maxsize=65536)
def analyze_cell(source: str) -> CellAnalysis:
    """Analyse one cell's code (the `%%step` line already removed). Raises CellSyntaxError."""
    return _CellAnalyzer(strip_control_lines(source)).run()
