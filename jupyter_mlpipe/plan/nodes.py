"""Small facts about AST nodes that the cell analyser and the scope walkers share.

The analysis walks every expression of every cell, so its walkers dispatch on
node classes through the tables here (leaves, comprehensions, the fields that
can hold child nodes) instead of `ast.walk`. The rest are one-question facts
about an expression: is it a literal constant, which name does it start from,
is it a call of an IPython magic, which names does a `for` loop over it take
elements from. `frozen_names` is here because every analysis result is made of
such sets.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

__all__ = [
    "CHILD_FIELDS", "COMPREHENSIONS", "LEAVES", "NOTHING", "READ_ONLY_METHODS", "bind_target", "child_fields",
    "const_names", "element_sources", "frozen_names", "is_literal", "magic_call", "root_name",
]

NOTHING: frozenset[str] = frozenset()


def frozen_names(items: Iterable[str]) -> frozenset[str]:
    """A frozenset, sharing one empty instance: thousands of cached analyses hold mostly empty sets,
    and each distinct set is one more object for the cycle collector to walk."""
    return frozenset(items) if items else NOTHING


# Methods that read their receiver; a statement calling one of them is not a mutation.
READ_ONLY_METHODS = frozenset(
    """head tail describe info plot hist show summary count mean median sum min max std var
    value_counts nunique unique isna isnull notna notnull copy to_csv to_parquet to_json
    to_pickle to_excel to_html to_string to_markdown to_numpy to_dict to_list tolist savefig
    print display corr cov memory_usage get keys values items predict predict_proba score
    transform evaluate save save_pretrained write_image write_html any all""".split()
)

COMPREHENSIONS = frozenset({ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp})
# node classes with no child worth visiting
LEAVES = frozenset({ast.Constant, ast.Load, ast.Store, ast.Del, ast.Pass, ast.Break, ast.Continue,
                    ast.alias}) | frozenset(ast.operator.__subclasses__()) | frozenset(
    ast.cmpop.__subclasses__()) | frozenset(ast.unaryop.__subclasses__()) | frozenset(ast.boolop.__subclasses__())
LEAVES |= {type(None)}
# fields that never hold nodes: skipped by the walkers
_NOT_CHILDREN = frozenset({"ctx", "id", "attr", "arg", "kind", "conversion", "is_async", "level", "module",
                           "type_comment", "names", "name", "simple", "tag", "rest"})
# node class -> the fields that may hold child nodes; filled by child_fields, read directly in hot loops
CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(cls: type) -> tuple[str, ...]:
    fields = CHILD_FIELDS.get(cls)
    if fields is None:
        fields = CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in _NOT_CHILDREN)  # type: ignore[attr-defined]
        if cls is ast.Constant:
            fields = CHILD_FIELDS[cls] = ()
    return fields


def is_literal(node: ast.expr) -> bool:
    """Literal constants: numbers, strings, and containers/operators of them only."""
    return const_names(node) == set()


def const_names(node: ast.expr) -> set[str] | None:
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
        elif cls is ast.BoolOp or cls is ast.JoinedStr:
            stack.extend(node.values)  # type: ignore[attr-defined]
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
        elif cls is ast.FormattedValue:
            stack.append(node.value)  # type: ignore[attr-defined]
            if node.format_spec is not None:  # type: ignore[attr-defined]
                stack.append(node.format_spec)  # type: ignore[attr-defined]
        else:
            return None
    return names


def root_name(node: ast.expr) -> str | None:
    """The name an attribute, subscript or call chain starts from: `df` for `df.loc[0].x`."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def magic_call(node: ast.Call) -> tuple[str, list[str]] | None:
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


def bind_target(target: ast.expr, out: set[str]) -> None:
    """Add the names an assignment target binds (`a, (b, *c)`) to `out`."""
    if isinstance(target, ast.Name):
        out.add(target.id)
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            bind_target(elt, out)
    elif isinstance(target, ast.Starred):
        bind_target(target.value, out)


_PASS_ELEMENTS = frozenset({"zip", "enumerate", "reversed", "sorted", "list", "tuple", "filter"})
_ELEMENT_METHODS = frozenset({"values", "items"})


def element_sources(node: ast.expr) -> set[str]:
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
