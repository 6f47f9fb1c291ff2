"""Free names of nested scopes: functions, lambdas, classes and comprehensions.

A cell's top-level statements run when the cell runs, so the cell analyser
(`cells`) follows them in order; the body of a function runs later, when it is
called. For those nested scopes only their free names matter (what they read
from the notebook's globals), which globals they rebind or change in place, and
which of their parameters they change in place: the walkers here compute that
without following the flow.
"""

from __future__ import annotations

import ast

from .nodes import (
    CHILD_FIELDS,
    COMPREHENSIONS,
    LEAVES,
    READ_ONLY_METHODS,
    bind_target,
    child_fields,
    root_name,
)

__all__ = ["Scope", "class_free", "function_facts", "scope_walk"]

_Name, _Call, _Attribute, _Subscript = ast.Name, ast.Call, ast.Attribute, ast.Subscript
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_MATCH_NAMED = tuple(t for t in (getattr(ast, "MatchAs", None), getattr(ast, "MatchStar", None)) if t)
_MATCH_MAPPING = getattr(ast, "MatchMapping", ())


class Scope:
    """Free names of a nested scope (function, lambda, class, comprehension)."""

    __slots__ = ("calls", "globals", "is_class", "loads", "locals", "mutated", "nested", "stores")

    def __init__(self, calls: list[ast.Call] | None = None, is_class: bool = False) -> None:
        self.locals: set[str] = set()
        self.globals: set[str] = set()
        self.loads: set[str] = set()
        self.stores: set[str] = set()
        self.mutated: set[str] = set()  # names changed in place by a statement of this scope
        self.nested: set[str] = set()  # free names of functions nested in a class body
        self.calls = calls  # when a list: every call met, nested scopes included
        self.is_class = is_class


def _mutation_root(node: ast.AST) -> str | None:
    """The name a statement changes in place (`x.a = v`, `x[k] += 1`, `x.m()`), if any."""
    cls = node.__class__
    if cls is ast.Expr:
        call = node.value  # type: ignore[attr-defined]
        if call.__class__ is ast.Await:
            call = call.value
        if call.__class__ is _Call and call.func.__class__ is _Attribute and call.func.attr not in READ_ONLY_METHODS:
            root = root_name(call.func.value)
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
            return root_name(target)
    return None


def scope_walk(nodes: list[ast.AST], scope: Scope) -> None:
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
        if cls in LEAVES:
            continue
        if cls is _Call:
            if calls is not None:
                calls.append(node)  # type: ignore[arg-type]
            for kw in node.keywords:  # type: ignore[attr-defined]
                if kw.arg == "inplace" and kw.value.__class__ is ast.Constant and kw.value.value is True:
                    root = root_name(node.func) if node.func.__class__ is _Attribute else None  # type: ignore[attr-defined]
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
            free = function_facts(node, calls)[0]  # type: ignore[arg-type]
            (scope.nested if scope.is_class else loads).update(free)
            continue
        elif cls is ast.ClassDef:
            stores.add(node.name)  # type: ignore[attr-defined]
            loads.update(class_free(node, calls)[0])  # type: ignore[arg-type]
            continue
        elif cls in COMPREHENSIONS:
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
        for field_name in CHILD_FIELDS.get(cls) or child_fields(cls):
            value = getattr(node, field_name, None)
            if value.__class__ is list:
                stack.extend(value)
            elif value is not None:
                stack.append(value)


def _finish(scope: Scope) -> tuple[frozenset[str], frozenset[str]]:
    """(free names, module globals it rebinds or changes in place)."""
    local = (scope.stores | scope.locals) - scope.globals
    free = (scope.loads - local) | (scope.loads & scope.globals) | scope.nested
    writes = (scope.stores & scope.globals) | (scope.mutated - local)
    return frozenset(free), frozenset(writes)


def function_facts(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
                   calls: list[ast.Call] | None = None
                   ) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(free names, globals it rebinds or changes, parameters it changes in place)."""
    scope = Scope(calls)
    args = node.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
              if a is not None}
    scope.locals.update(params)
    body = [node.body] if isinstance(node, ast.Lambda) else node.body
    scope_walk(list(body), scope)
    free, writes = _finish(scope)
    rebound = scope.stores - scope.globals  # a parameter rebound in the body may no longer be the argument
    return free, writes, frozenset((scope.mutated & params) - rebound)


def class_free(node: ast.ClassDef, calls: list[ast.Call] | None = None) -> tuple[frozenset[str], frozenset[str]]:
    """(free names, globals it rebinds or changes) of a class: its bases, decorators and body."""
    outer = Scope(calls)
    scope_walk([*node.bases, *node.keywords, *node.decorator_list], outer)
    inner = Scope(calls, is_class=True)
    scope_walk(node.body, inner)
    free, writes = _finish(inner)
    return frozenset(outer.loads | free), writes


def _comprehension_free(node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                        calls: list[ast.Call] | None = None) -> tuple[frozenset[str], frozenset[str]]:
    scope = Scope(calls)
    outer_loads = Scope(calls)
    first = True
    for gen in node.generators:
        if first:
            scope_walk([gen.iter], outer_loads)
            first = False
        else:
            scope_walk([gen.iter], scope)
        bind_target(gen.target, scope.locals)
        scope_walk(list(gen.ifs), scope)
    elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    scope_walk(elts, scope)
    exposed = frozenset(scope.stores - scope.locals)  # walrus targets escape the comprehension
    free = (scope.loads - scope.locals - exposed) | outer_loads.loads
    return frozenset(free), exposed | frozenset(outer_loads.stores)
