"""The step graph: edges from what each step reads, --after and opaque steps; and the check for cycles.

The last stage of planning: once every step knows which step produces each of
its inputs (`planner`), the edges follow. They are cached per Step object,
because a re-plan reuses the Step objects of the steps it did not plan again
(`replan`), and their edges are then the same.
"""

from __future__ import annotations

from ..errors import PlanError
from ..vocab import cell_number
from .model import Edge, Step

__all__ = ["EdgeCache", "check_acyclic", "plan_edges"]

EdgeCache = dict[int, tuple[Step, list[Edge]]]  # id(step) -> (that step, its incoming edges)


def plan_edges(steps: dict[str, Step], cache: EdgeCache) -> tuple[list[Edge], EdgeCache]:
    """The edges into every step, in notebook order, and the cache for the next plan.

    Checks that each --after names a step; does not check for cycles (`check_acyclic`).
    """
    order = {name: i for i, name in enumerate(steps)}
    new_cache: EdgeCache = {}
    edges: list[Edge] = []
    for step in steps.values():
        for after in step.options.after:
            if after not in order:
                raise PlanError(
                    f"Step {step.name!r} (cell {cell_number(step.cells[0])}) runs --after {after!r}, but no step "
                    f"is called {after!r}.",
                    step=step.name, cell=step.cells[0], variable=after,
                    hint=f"Steps are: {', '.join(steps)}.",
                )
        simple = not step.opaque and not step.options.after
        hit = cache.get(id(step)) if simple else None
        if hit is not None and hit[0] is step:  # a Step object reused from a checkpoint
            step_edges = hit[1]
        else:
            incoming: dict[str, set[str]] = {}
            for name, source in step.input_sources.items():
                incoming.setdefault(source, set()).add(name)
            if step.opaque:
                for other in steps.values():
                    if other.position < step.position:
                        incoming.setdefault(other.name, set())
            for after in step.options.after:
                incoming.setdefault(after, set())
            step_edges = [Edge(source, step.name, tuple(sorted(incoming[source])))
                          for source in sorted(incoming, key=order.__getitem__)]
        if simple:
            new_cache[id(step)] = (step, step_edges)
        edges.extend(step_edges)
    return edges, new_cache


def check_acyclic(steps: dict[str, Step], edges: list[Edge]) -> None:
    """Raise a PlanError naming one cycle if the steps wait for each other in a circle."""
    outgoing: dict[str, list[str]] = {n: [] for n in steps}
    indegree = {n: 0 for n in steps}
    for e in edges:
        outgoing[e.source].append(e.target)
        indegree[e.target] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        for m in outgoing[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    if done != len(steps):
        cycle = _find_cycle({n: [m for m in outgoing[n] if indegree[m] > 0] for n, d in indegree.items() if d > 0})
        after = [e for e in edges if not e.variables and (e.source, e.target) in zip(cycle, cycle[1:])]
        made_by = f" (made by --after on step {after[0].target!r})" if after else ""
        raise PlanError(
            f"Steps wait for each other in a cycle: {' -> '.join(cycle)}{made_by}.",
            step=cycle[0],
            hint="Remove the --after that points to a later step which already depends on this one.",
        )


def _find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """One cycle of a graph where every node is on or downstream of a cycle: [a, b, ..., a]."""
    start = next(iter(graph))
    path, index = [start], {start: 0}
    node = start
    while True:
        node = next(m for m in graph[node] if m in graph)
        if node in index:
            return path[index[node]:] + [node]
        index[node] = len(path)
        path.append(node)
