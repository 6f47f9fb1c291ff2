"""Module steps drawn as one node: which node each step of a plan is drawn as, given the modules opened.

A module step `feats` is planned as a binding node `feats` and its own steps `feats.clean`, ...
(`plan.modules`). The text plan, the run panel and the side panel draw it as ONE node unless a person
opens it; this module is the one rule they share:

- a step is drawn as the outermost module it is inside that is not open (`expanded`), else as itself;
  a nested module is drawn open only when it and every module around it are open;
- an edge to or from a hidden step goes to the node it is drawn as; edges that then join the same two
  nodes merge (their variables in order, without repeats); an edge inside one collapsed node is dropped;
- names in `expanded` that are not modules of the plan are ignored (the plan may have changed since a
  client asked).

Pure: plain dicts (a plan's `to_dict()`) in, plain dicts out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

__all__ = ["Drawn", "drawn_as", "collapse_plan", "module_info"]


class Drawn(NamedTuple):
    """Where one step goes: the node it is drawn as, and the innermost open module around it ("": none)."""

    node: str
    group: str


def _members(modules: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Module name -> its steps (binding node first), from `ModuleGroup`s or their `to_dict()`s."""
    out: dict[str, tuple[str, ...]] = {}
    for name, group in modules.items():
        steps = group.get("steps") if isinstance(group, Mapping) else getattr(group, "steps", None)
        out[str(name)] = tuple(str(s) for s in (steps or ()))
    return out


def drawn_as(names: Iterable[str], modules: Mapping[str, Any], expanded: Iterable[str] = ()) -> dict[str, Drawn]:
    """Each step name -> `Drawn(node, group)`.

    `modules`: module step name -> its `ModuleGroup` or `to_dict()` (anything with its `steps`, binding
    node first, nested modules' steps too). A collapsed module's binding node is drawn as itself, the
    module's node; an open module's binding node too, its `group` the open module around it.
    """
    members = _members(modules)
    opened = {str(m) for m in expanded} & set(members)
    inside: dict[str, list[str]] = {}  # step -> the modules it is in (a binding node: its own too)
    for module, steps in members.items():
        for step in steps:
            inside.setdefault(step, []).append(module)
    depth = {m: len(inside.get(m, ())) for m in members}  # how many modules hold it (itself included)
    out: dict[str, Drawn] = {}
    for name in names:
        chain = sorted(inside.get(name, ()), key=lambda m: depth[m])  # outermost first
        closed = next((m for m in chain if m not in opened), None)
        if closed is not None:
            out[name] = Drawn(closed, next((m for m in reversed(chain) if depth[m] < depth[closed]), ""))
            continue
        around = [m for m in chain if m != name]
        out[name] = Drawn(name, around[-1] if around else "")
    return out


def module_info(group: Any, *, expanded: bool) -> dict[str, Any]:
    """What a module step's node carries (`module` in a layout's node): label, version, members, count."""
    get = group.get if isinstance(group, Mapping) else (lambda key: getattr(group, key, None))
    members = [str(s) for s in (get("steps") or ())]
    return {"label": get("label") or get("source") or "", "version": get("version"), "members": members,
            "count": max(len(members) - 1, 0), "expanded": expanded}


def collapse_plan(steps: Sequence[Mapping[str, Any] | str], edges: Iterable[Mapping[str, Any]],
                  modules: Mapping[str, Any] | None, expanded: Iterable[str] = ()
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The steps and edges to draw of a plan (`to_dict()`'s `steps`, `edges`, `modules`).

    Each drawn step is a copy of its dict with, for a module step, `module` (`module_info`: expanded or
    not) and, inside an open module, `group` (the innermost open module it is in). Edges are
    {from, to, variables} between drawn steps only, merged, in the order of their first edge.
    """
    modules = modules or {}
    names = [s if isinstance(s, str) else str(s["name"]) for s in steps]
    opened = {str(m) for m in expanded} & set(modules)
    where = drawn_as(names, modules, expanded)
    shown: list[dict[str, Any]] = []
    for name, step in zip(names, steps):
        node, group = where[name]
        if node != name:
            continue
        item = {"name": name} if isinstance(step, str) else dict(step)
        if name in modules:
            # drawn as itself while open: every module around it is open too
            item["module"] = module_info(modules[name], expanded=name in opened)
        if group:
            item["group"] = group
        shown.append(item)
    merged: dict[tuple[str, str], list[str]] = {}
    for edge in edges:
        a, b = where.get(str(edge.get("from"))), where.get(str(edge.get("to")))
        if a is None or b is None or a.node == b.node:
            continue
        variables = merged.setdefault((a.node, b.node), [])
        for variable in edge.get("variables") or ():
            if variable not in variables:
                variables.append(variable)
    return shown, [{"from": a, "to": b, "variables": v} for (a, b), v in merged.items()]

