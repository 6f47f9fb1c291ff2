"""Free names of nested scopes (functions, lambdas, classes, comprehensions) and small AST facts.

Split out of `analysis.py`: the walkers the cell analyser uses for code it does not
follow statement by statement (a function body is not run when the cell runs), and
the AST node tables they share with it.
"""

from __future__ import annotations

import ast

# Methods that read their receiver; a statement calling one of them is not a mutation.
READ_ONLY_METHODS = frozenset(
    """head tail describe info plot hist show summary count mean median sum min max std var
    value_counts nunique unique isna isnull notna notnull copy to_csv to_parquet to_json
    to_pickle to_excel to_html to_string to_markdown to_numpy to_dict to_list tolist savefig
    print display corr cov memory_usage get keys values items predict predict_proba score
    transform evaluate save save_pretrained write_image write_html any all""".split()
)


def _is_literal(node: ast.expr) -> bool:
    """Literal constants: numbers, strings, and containers/operators of them only."""
    return _const_names(node) == set()


def _const_names(node: ast.expr) -> set[str] | None:
    """The names a constant expression reads (`N * 2`, `f"{ROOT}/data"`), or None when it is not one.

    Constant expressions are literals, names, and operators, containers and
    f-strings of them: no calls, attributes or subscripts. The planner accepts
    one in the preamble when every name it reads is itself a constant.
    """
    names: set[str] = set()
    stack = [node]
    while stack:
        node = stack.pop()
        cls = node.__class__
        if cls is ast.Constant:
            continue
        if cls is ast.Name:
            names.add(node.id)  # type: ignore[attr-defined]
        elif cls in (ast.Tuple, ast.List, ast.Set):
            stack.extend(node.elts)  # type: ignore[attr-defined]
        elif cls is ast.Dict:
            if any(k is None for k in node.keys):  # type: ignore[attr-defined]
                return None
            stack.extend(node.keys)  # type: ignore[attr-defined]
            stack.extend(node.values)  # type: ignore[attr-defined]
        elif cls is ast.UnaryOp:
            stack.append(node.operand)  # type: ignore[attr-defined]
        elif cls is ast.BinOp:
            stack.append(node.left)  # type: ignore[attr-defined]
            stack.append(node.right)  # type: ignore[attr-defined]
        elif cls is ast.BoolOp:
            stack.extend(node.values)  # type: ignore[attr-defined]
        elif cls is ast.JoinedStr:
            stack.extend(node.values)  # type: ignore[attr-defined]
        elif cls is ast.FormattedValue:
            stack.append(node.value)  # type: ignore[attr-defined]
            if node.format_spec is not None:  # type: ignore[attr-defined]
                stack.append(node.format_spec)  # type: ignore[attr-defined]
        else:
            return None
    return names


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

    __slots__ = ("locals", "globals", "loads", "stores", "mutated", "nested", "calls", "is_class")

    def __init__(self, calls: list[ast.Call] | None = None, is_class: bool = False) -> None:
        self.locals: set[str] = set()
        self.globals: set[str] = set()
        self.loads: set[str] = set()
        self.stores: set[str] = set()
        self.mutated: set[str] = set()  # names changed in place by a statement of this scope
        self.nested: set[str] = set()  # free names of functions nested in a class body
        self.calls = calls  # when a list: every call met, nested scopes included
        self.is_class = is_class


def _bind_target(target: ast.expr, out: set[str]) -> None:
    if isinstance(target, ast.Name):
        out.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            _bind_target(elt, out)
    elif isinstance(target, ast.Starred):
        _bind_target(target.value, out)


_Name, _Call, _Attribute, _Subscript = ast.Name, ast.Call, ast.Attribute, ast.Subscript
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPS = frozenset({ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp})
_LEAVES = frozenset({ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass, ast.Break, ast.Continue,
                     ast.alias}) | frozenset(ast.operator.__subclasses__()) | frozenset(
    ast.cmpop.__subclasses__()) | frozenset(ast.unaryop.__subclasses__()) | frozenset(ast.boolop.__subclasses__())
_LEAVES |= {type(None)}
_MATCH_NAMED = tuple(t for t in (getattr(ast, "MatchAs", None), getattr(ast, "MatchStar", None)) if t)
# fields that never hold nodes: skipped by the walkers
_NOT_CHILDREN = frozenset({"ctx", "id", "attr", "arg", "kind", "conversion", "is_async", "level", "module",
                           "type_comment", "names", "name", "simple", "tag", "rest"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        fields = _CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in _NOT_CHILDREN)  # type: ignore[attr-defined]
        if cls is ast.Constant:
            fields = _CHILD_FIELDS[cls] = ()
    return fields
_MATCH_MAPPING = getattr(ast, "MatchMapping", ())


def _mutation_root(node: ast.AST) -> str | None:
    """The name a statement changes in place (`x.a = v`, `x[k] += 1`, `x.m()`), if any."""
    cls = node.__class__
    if cls is ast.Expr:
        call = node.value  # type: ignore[attr-defined]
        if call.__class__ is ast.Await:
            call = call.value
        if call.__class__ is _Call and call.func.__class__ is _Attribute and call.func.attr not in READ_ONLY_METHODS:
            root = _root_name(call.func.value)
            return None if root == "get_ipython" else root
        return None
    if cls is ast.Assign:
        targets = node.targets  # type: ignore[attr-defined]
    elif cls is ast.AugAssign or cls is ast.AnnAssign:
        targets = [node.target]  # type: ignore[attr-defined]
    elif cls is ast.Delete:
        targets = node.targets  # type: ignore[attr-defined]
    else:
        return None
    for target in targets:
        if target.__class__ is _Attribute or target.__class__ is _Subscript:
            return _root_name(target)
    return None


def _scope_walk(nodes: list[ast.AST], scope: _Scope) -> None:
    """Collect loads and stores of one scope, recursing into nested scopes for their free names."""
    stack = list(nodes)
    loads, stores = scope.loads, scope.stores
    calls = scope.calls
    while stack:
        node = stack.pop()
        cls = node.__class__
        if cls is _Name:
            if node.ctx.__class__ is ast.Load:  # type: ignore[attr-defined]
                loads.add(node.id)  # type: ignore[attr-defined]
            else:
                stores.add(node.id)  # type: ignore[attr-defined]
            continue
        if cls in _LEAVES:
            continue
        if cls is _Call:
            if calls is not None:
                calls.append(node)  # type: ignore[arg-type]
            for kw in node.keywords:  # type: ignore[attr-defined]
                if kw.arg == "inplace" and kw.value.__class__ is ast.Constant and kw.value.value is True:
                    root = _root_name(node.func) if node.func.__class__ is _Attribute else None  # type: ignore[attr-defined]
                    if root:
                        scope.mutated.add(root)
        elif cls in _FUNCS or cls is ast.Lambda:
            args = node.args  # type: ignore[attr-defined]
            stack.extend(args.defaults)
            stack.extend(d for d in args.kw_defaults if d is not None)
            if cls is not ast.Lambda:
                stores.add(node.name)  # type: ignore[attr-defined]
                stack.extend(node.decorator_list)  # type: ignore[attr-defined]
                for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                    if a is not None and a.annotation is not None:
                        stack.append(a.annotation)
                if node.returns is not None:  # type: ignore[attr-defined]
                    stack.append(node.returns)  # type: ignore[attr-defined]
            free, writes = _function_free(node, calls)  # type: ignore[arg-type]
            (scope.nested if scope.is_class else loads).update(free)
            continue
        elif cls is ast.ClassDef:
            stores.add(node.name)  # type: ignore[attr-defined]
            free, _writes = _class_free(node, calls)  # type: ignore[arg-type]
            loads.update(free)
            continue
        elif cls in _COMPS:
            free, exposed = _comprehension_free(node, calls)  # type: ignore[arg-type]
            loads.update(free)
            stores.update(exposed)
            continue
        elif cls is ast.NamedExpr:
            stores.add(node.target.id)  # type: ignore[attr-defined]
            stack.append(node.value)  # type: ignore[attr-defined]
            continue
        elif cls is ast.Global:
            scope.globals.update(node.names)  # type: ignore[attr-defined]
            continue
        elif cls is ast.Nonlocal:
            scope.locals.update(node.names)  # type: ignore[attr-defined]  # an enclosing function's name
            continue
        elif cls is ast.Import or cls is ast.ImportFrom:
            for alias in node.names:  # type: ignore[attr-defined]
                if alias.name != "*":
                    stores.add((alias.asname or alias.name).split(".")[0])
            continue
        elif cls is ast.ExceptHandler:
            if node.name:  # type: ignore[attr-defined]
                stores.add(node.name)  # type: ignore[attr-defined]
        elif cls is ast.arg:
            stores.add(node.arg)  # type: ignore[attr-defined]
            continue
        elif _MATCH_NAMED and isinstance(node, _MATCH_NAMED):
            if node.name:  # type: ignore[attr-defined]
                stores.add(node.name)  # type: ignore[attr-defined]
        elif _MATCH_MAPPING and cls is _MATCH_MAPPING:
            if node.rest:  # type: ignore[attr-defined]
                stores.add(node.rest)  # type: ignore[attr-defined]
        elif isinstance(node, ast.stmt):
            if cls is ast.AugAssign and node.target.__class__ is _Name:  # type: ignore[attr-defined]
                loads.add(node.target.id)  # type: ignore[attr-defined]  # `n += 1` reads n
            root = _mutation_root(node)
            if root:
                scope.mutated.add(root)
        for field_name in _CHILD_FIELDS.get(cls) or _child_fields(cls):
            value = getattr(node, field_name, None)
            if value.__class__ is list:
                stack.extend(value)
            elif value is not None:
                stack.append(value)


def _finish(scope: _Scope) -> tuple[frozenset[str], frozenset[str]]:
    """(free names, module globals it rebinds or changes in place)."""
    local = (scope.stores | scope.locals) - scope.globals
    free = (scope.loads - local) | (scope.loads & scope.globals) | scope.nested
    writes = (scope.stores & scope.globals) | (scope.mutated - local)
    return frozenset(free), frozenset(writes)


def _function_free(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
                   calls: list[ast.Call] | None = None) -> tuple[frozenset[str], frozenset[str]]:
    return _function_facts(node, calls)[:2]  # type: ignore[return-value]


def _function_facts(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
                    calls: list[ast.Call] | None = None
                    ) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(free names, globals it rebinds or changes, parameters it changes in place)."""
    scope = _Scope(calls)
    args = node.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
              if a is not None}
    scope.locals.update(params)
    body = [node.body] if isinstance(node, ast.Lambda) else node.body
    _scope_walk(list(body), scope)
    free, writes = _finish(scope)
    rebound = scope.stores - scope.globals  # a parameter rebound in the body may no longer be the argument
    return free, writes, frozenset((scope.mutated & params) - rebound)


def _class_free(node: ast.ClassDef, calls: list[ast.Call] | None = None) -> tuple[frozenset[str], frozenset[str]]:
    outer = _Scope(calls)
    _scope_walk([*node.bases, *node.keywords, *node.decorator_list], outer)
    inner = _Scope(calls, is_class=True)
    _scope_walk(node.body, inner)
    free, writes = _finish(inner)
    return frozenset(outer.loads | free), writes


def _comprehension_free(node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                        calls: list[ast.Call] | None = None) -> tuple[frozenset[str], frozenset[str]]:
    scope = _Scope(calls)
    outer_loads = _Scope(calls)
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
