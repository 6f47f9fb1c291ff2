"""The steps of the layered layout (`panel.layout`) that know nothing of plans or drawing: a
topological order, the order within a layer (barycenters, transposes, crossings counted), and
positions along a layer (an isotonic regression). Integers and floats in, integers and floats out.
"""

from __future__ import annotations

import heapq

__all__ = ["topological", "sort_by_barycenter", "transpose", "count_crossings", "total_crossings", "place"]


def topological(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Kahn's algorithm preferring plan order; nodes left in a cycle follow in plan order."""
    indeg = [0] * n
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b in pairs:
        succ[a].append(b)
        indeg[b] += 1
    ready = [v for v in range(n) if indeg[v] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    seen = [False] * n
    while len(order) < n:
        if not ready:  # a cycle: break it at the first node left in plan order
            v = next(i for i in range(n) if not seen[i])
            indeg[v] = 0
            heapq.heappush(ready, v)
        v = heapq.heappop(ready)
        if seen[v]:
            continue
        seen[v] = True
        order.append(v)
        for w in succ[v]:
            indeg[w] -= 1
            if indeg[w] == 0 and not seen[w]:
                heapq.heappush(ready, w)
    return order


def sort_by_barycenter(lay: list[int], neighbours: list[list[int]], pos: list[int]) -> None:
    """Order a layer by the mean position of each node's neighbours in the fixed layer.

    A node without neighbours there keeps its place (its own position as key);
    ties keep the current order (the sort is stable).
    """
    def key(v: int) -> float:
        nb = neighbours[v]
        return sum(pos[u] for u in nb) / len(nb) if nb else float(pos[v])

    lay.sort(key=key)


def transpose(layers: list[list[int]], up: list[list[int]], down: list[list[int]], pos: list[int]) -> None:
    """Swap neighbours in a layer while that removes crossings (the usual refinement after a sweep)."""

    def cost(u: int, w: int) -> int:  # crossings between u's and w's edges with u above w
        return sum(1 for nbs in (up, down) for a in nbs[u] for b in nbs[w] if pos[a] > pos[b])

    for _ in range(4):
        improved = False
        for lay in layers:
            for i in range(len(lay) - 1):
                u, w = lay[i], lay[i + 1]
                if cost(w, u) < cost(u, w):
                    lay[i], lay[i + 1] = w, u
                    pos[u], pos[w] = i + 1, i
                    improved = True
        if not improved:
            return


def count_crossings(upper: list[int], lower: list[int], down: list[list[int]]) -> int:
    """Crossings between two adjacent layers (edges from `upper` to `lower`)."""
    lower_pos = {v: i for i, v in enumerate(lower)}
    ends = []
    for u in upper:
        ends.extend(sorted(lower_pos[w] for w in down[u] if w in lower_pos))
    # inversions of `ends` (pairs i < j with ends[i] > ends[j]), with a Fenwick tree
    size = len(lower) + 1
    tree = [0] * (size + 1)
    crossings = 0
    seen = 0
    for e in ends:
        i, smaller_or_equal = e + 1, 0
        while i > 0:
            smaller_or_equal += tree[i]
            i -= i & -i
        crossings += seen - smaller_or_equal
        seen += 1
        i = e + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return crossings


def total_crossings(layers: list[list[int]], down: list[list[int]], pos: list[int]) -> int:
    del pos  # the layers are kept in position order
    return sum(count_crossings(upper, lower, down) for upper, lower in zip(layers, layers[1:]))


def place(desired: list[float], seps: list[float]) -> list[float]:
    """Positions closest (least squares) to `desired`, in order, at least `seps[i]` apart.

    With offsets o_i = sum(seps[:i]) and z_i = y_i - o_i the constraints become
    z_0 <= z_1 <= ...: pool-adjacent-violators gives the exact answer.
    """
    offsets = [0.0]
    for s in seps:
        offsets.append(offsets[-1] + s)
    targets = [d - o for d, o in zip(desired, offsets)]
    blocks: list[list[float]] = []  # [mean, count]
    for t in targets:
        blocks.append([t, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            prev = blocks[-1]
            prev[0] = (prev[0] * prev[1] + mean * count) / (prev[1] + count)
            prev[1] += count
    z: list[float] = []
    for mean, count in blocks:
        z.extend([mean] * int(count))
    return [zi + o for zi, o in zip(z, offsets)]
