"""What one cell defines and uses: an AST pass, cached by source text.

The planner combines these per-cell facts into steps and edges. Everything
here is pure (source in, facts out), so an edited notebook re-plans by
re-analysing only the cells that changed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["CellAnalysis", "SharedDef", "analyze_cell", "strip_control_lines", "CellSyntaxError"]

# Methods that read their receiver; a statement calling one of them is not a mutation.
READ_ONLY_METHODS = frozenset(
    """head tail describe info plot hist show summary count mean median sum min max std var
    value_counts nunique unique isna isnull notna notnull copy to_csv to_parquet to_json
    to_pickle to_excel to_html to_string to_markdown to_numpy to_dict to_list tolist savefig
    print display corr cov memory_usage get keys values items predict predict_proba score
    transform evaluate save save_pretrained write_image write_html any all""".split()
)
_TIMING_LINE_MAGICS = frozenset({"time", "timeit", "prun"})
_CODE_CELL_MAGICS = frozenset({"time", "timeit", "prun", "capture"})
_OPAQUE_CALLS = frozenset({"exec", "eval", "globals", "locals", "vars"})
_QUERY_METHODS = frozenset({"query", "eval"})
_AT_NAME = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
_SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NEEDS_IPYTHON = re.compile(r"^\s*[%!]|=\s*[%!]|\?\s*$", re.MULTILINE)
_CONTROL_LINE = re.compile(r"^\s*%(pipeline\b|(re)?load_ext\s+jupyter_mlpipe\b).*$", re.MULTILINE)


class CellSyntaxError(SyntaxError):
    """A cell's code does not parse; carries the line for the PlanError."""


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
    setup: tuple[SharedDef, ...] = field(default=())


def strip_control_lines(source: str) -> str:
    """Remove `%pipeline ...` and `%load_ext jupyter_mlpipe` lines: they drive, they are not step code."""
    if "%" not in source:
        return source
    return _CONTROL_LINE.sub("", source)


def _to_python(source: str) -> str:
    if not _NEEDS_IPYTHON.search(source):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(_to_python(source))
    except SyntaxError as exc:
        err = CellSyntaxError(exc.msg)
        err.lineno, err.offset, err.text = exc.lineno, exc.offset, exc.text
        raise err from None


def _is_literal(node: ast.expr) -> bool:
    """Literal constants: numbers, strings, and containers/operators of them only."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_literal(k) for k in node.keys) and all(_is_literal(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return _is_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_literal(node.left) and _is_literal(node.right)
    return False


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _magic_call(node: ast.Call) -> tuple[str, list[str]] | None:
    """`get_ipython().run_line_magic('time', 'x = 1')` -> ('run_line_magic', ['time', 'x = 1'])."""
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
    ):
        args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        return func.attr, args
    return None


class _Scope:
    """Free names of a nested scope (function, lambda, class, comprehension)."""

    def __init__(self) -> None:
        self.locals: set[str] = set()
        self.globals: set[str] = set()
        self.loads: set[str] = set()
        self.stores: set[str] = set()
        self.exposed_stores: set[str] = set()  # walrus in comprehensions: bind in the enclosing scope


def _bind_target(target: ast.expr, out: set[str]) -> None:
    if isinstance(target, ast.Name):
        out.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _bind_target(elt, out)
    elif isinstance(target, ast.Starred):
        _bind_target(target.value, out)


def _scope_walk(nodes: list[ast.AST], scope: _Scope) -> None:
    """Collect loads and stores of one scope, recursing into nested scopes for their free names."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                scope.loads.add(node.id)
            else:
                scope.stores.add(node.id)
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                scope.stores.add(node.name)
                stack.extend(node.decorator_list)
                if node.returns:
                    stack.append(node.returns)
            stack.extend(d for d in node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            free, _writes = _function_free(node)
            scope.loads |= free
            continue
        if isinstance(node, ast.ClassDef):
            scope.stores.add(node.name)
            free, _writes = _class_free(node)
            scope.loads |= free
            continue
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            free, exposed = _comprehension_free(node)
            scope.loads |= free
            scope.stores |= exposed
            continue
        if isinstance(node, ast.NamedExpr):
            scope.stores.add(node.target.id)
            stack.append(node.value)
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            if isinstance(node, ast.Global):
                scope.globals.update(node.names)
            else:
                scope.locals.update(node.names)  # resolved by an enclosing function, not a global
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    scope.stores.add((alias.asname or alias.name).split(".")[0])
            continue
        if isinstance(node, ast.ExceptHandler) and node.name:
            scope.stores.add(node.name)
        if isinstance(node, ast.arg):
            scope.stores.add(node.arg)
            continue
        name = getattr(node, "name", None)
        if isinstance(name, str) and isinstance(node, (ast.MatchAs, ast.MatchStar)):
            scope.stores.add(name)
        if isinstance(node, ast.MatchMapping) and node.rest:
            scope.stores.add(node.rest)
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _finish(scope: _Scope) -> tuple[frozenset[str], frozenset[str]]:
    local = (scope.stores | scope.locals) - scope.globals
    free = (scope.loads - local) | (scope.loads & scope.globals)
    return frozenset(free), frozenset(scope.stores & scope.globals)


def _function_free(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> tuple[frozenset[str], frozenset[str]]:
    scope = _Scope()
    args = node.args
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if a is not None:
            scope.locals.add(a.arg)
    body = [node.body] if isinstance(node, ast.Lambda) else node.body
    _scope_walk(list(body), scope)
    return _finish(scope)


def _class_free(node: ast.ClassDef) -> tuple[frozenset[str], frozenset[str]]:
    outer = _Scope()
    _scope_walk([*node.bases, *node.keywords, *node.decorator_list], outer)
    inner = _Scope()
    _scope_walk(node.body, inner)
    free, writes = _finish(inner)
    return frozenset(outer.loads | free), writes


def _comprehension_free(node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> tuple[frozenset[str], frozenset[str]]:
    scope = _Scope()
    outer_loads = _Scope()
    first = True
    for gen in node.generators:
        if first:
            _scope_walk([gen.iter], outer_loads)
            first = False
        else:
            _scope_walk([gen.iter], scope)
        _bind_target(gen.target, scope.locals)
        _scope_walk(list(gen.ifs), scope)
    elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    _scope_walk(elts, scope)
    exposed = frozenset(scope.stores - scope.locals)  # walrus targets escape the comprehension
    free = (scope.loads - scope.locals - exposed) | outer_loads.loads
    return frozenset(free), exposed | frozenset(outer_loads.stores)


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
        self.setup: list[SharedDef] = []
        self.shared_names: set[str] = set()
        self.computed: dict[str, None] = {}
        self.aliases: list[tuple[str, str]] = []
        self.opaque: str | None = None
        self.transient: set[str] = set()

    # -- name events ------------------------------------------------------
    def load(self, name: str) -> None:
        self.loads.add(name)
        if name not in self.bound and name not in self.refs:
            self.refs[name] = None

    def bind(self, name: str, *, computed: bool = True) -> None:
        self.bound.add(name)
        self.transient.discard(name)
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
            self.setup.append(SharedDef(name, "setup", ast.get_source_segment(self.code, stmt) or ast.unparse(stmt)))
        if name in self.shared_names:
            return
        self.mutated.add(name)
        self.defs.setdefault(name, None)
        self.computed[name] = None

    # -- expressions -------------------------------------------------------
    def expr(self, node: ast.AST | None) -> None:
        if node is None:
            return
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            self.call(call)
        scope = _Scope()
        _scope_walk([node], scope)
        for name in sorted(scope.loads):
            self.load(name)
        for name in sorted(scope.stores):  # walrus targets
            self.bind(name)

    def call(self, node: ast.Call) -> None:
        func = node.func
        magic = _magic_call(node)
        if magic is not None:
            self.magic(*magic)
            return
        if isinstance(func, ast.Name) and func.id in _OPAQUE_CALLS and not (func.id == "vars" and node.args):
            if func.id not in self.bound and self.opaque is None:
                self.opaque = f"calls {func.id}() on line {node.lineno}"
        if isinstance(func, ast.Attribute):
            if func.attr in _QUERY_METHODS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    for name in _AT_NAME.findall(first.value):
                        self.load(name)
            for kw in node.keywords:
                if kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                    root = _root_name(func.value)
                    if root:
                        self.mutate(root)

    def magic(self, kind: str, args: list[str]) -> None:
        if kind == "run_line_magic" and len(args) >= 2 and args[0] in _TIMING_LINE_MAGICS:
            self.sub_code(_strip_magic_options(args[1]))
        elif kind == "run_cell_magic" and len(args) >= 3 and args[0] in _CODE_CELL_MAGICS:
            if args[0] == "capture":
                words = [w for w in args[1].split() if not w.startswith("-")]
                if words:
                    self.bind(words[0])
            self.sub_code(args[2])
        elif kind in ("system", "getoutput", "run_line_magic", "run_cell_magic"):
            for text in args:
                for a, b in _SHELL_VAR.findall(text):
                    name = a or b
                    if name.isidentifier():
                        self.load(name)

    def sub_code(self, code: str) -> None:
        try:
            tree = _parse(code)
        except CellSyntaxError:
            return
        outer, self.code = self.code, _to_python(code)
        try:
            for stmt in tree.body:
                self.stmt(stmt, top=True)
        finally:
            self.code = outer

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
            elif isinstance(node, ast.Starred):
                sources.append(node.value)

    def shared_stmt(self, node: ast.stmt) -> bool:
        """Imports, defs and classes are shared code, wherever they appear."""
        source = ast.get_source_segment(self.code, node) or ast.unparse(node)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    self.shared.append(SharedDef("*", "import", source, module=node.module or ""))
                    continue
                name = (alias.asname or alias.name).split(".")[0]
                self.add_shared(SharedDef(name, "import", source))
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if isinstance(node, ast.ClassDef):
                free, writes = _class_free(node)
            else:
                free, writes = _function_free(node)
                extra = _Scope()
                _scope_walk([*node.decorator_list, *node.args.defaults,
                             *[d for d in node.args.kw_defaults if d is not None]], extra)
                free = free | frozenset(extra.loads)
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            self.add_shared(SharedDef(node.name, kind, source, free - {node.name}, writes))
            return True
        if isinstance(node, (ast.Try, ast.If)) and _is_import_block(node):
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
            literal = _is_literal(node.value)
            for target in node.targets:
                self.targets(target, node)
                self.record_aliases(target, node.value)
                if literal and isinstance(target, ast.Name):
                    self.computed.pop(target.id, None)
        elif isinstance(node, ast.AnnAssign):
            self.expr(node.value)
            if node.value is not None:
                self.targets(node.target)
                if _is_literal(node.value) and isinstance(node.target, ast.Name):
                    self.computed.pop(node.target.id, None)
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
            names = {n.id for n in ast.walk(node.iter) if isinstance(n, ast.Name)}
            bound: set[str] = set()
            _bind_target(node.target, bound)
            for t in bound:
                for n in names:
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
        self.code = _to_python(self.source)
        tree = _parse(self.code)
        for node in tree.body:
            self.stmt(node, top=True)
        consts = tuple(
            SharedDef(name, "const", _const_source(tree, self.code, name))
            for name in self.defs
            if name not in self.computed and name not in self.mutated
        )
        return CellAnalysis(
            refs=tuple(self.refs),
            defs=tuple(self.defs),
            mutated=frozenset(self.mutated),
            loads=frozenset(self.loads),
            shared=tuple(self.shared) + consts,
            computed=tuple(self.computed),
            aliases=tuple(self.aliases),
            opaque=self.opaque,
            code=self.source,
            setup=tuple(self.setup),
        )


def _const_source(tree: ast.Module, code: str, name: str) -> str:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name) and target.id == name:
                return ast.get_source_segment(code, node) or ast.unparse(node)
    return ""


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


def _strip_magic_options(line: str) -> str:
    """`-n 10 -r 3 x = f()` -> `x = f()` for %timeit-style lines."""
    parts = line.split()
    while parts and parts[0].startswith("-"):
        flag = parts.pop(0)
        if flag in ("-n", "-r", "-p", "-o") or (len(flag) == 2 and flag not in ("-q",)):
            if parts and flag in ("-n", "-r", "-p"):
                parts.pop(0)
    rest = line
    if parts:
        rest = line[line.index(parts[0]):] if parts[0] in line else " ".join(parts)
    return rest if parts else ""


@lru_cache(maxsize=65536)
def analyze_cell(source: str) -> CellAnalysis:
    """Analyse one cell's code (the `%%step` line already removed). Raises CellSyntaxError."""
    return _CellAnalyzer(strip_control_lines(source)).run()
