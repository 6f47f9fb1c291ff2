"""Where the run panel draws each step: a layered left-to-right layout, in Python.

The classic layered ("Sugiyama") recipe, kept small and deterministic so that
it is tested without a browser:

1. layers by longest path from the sources (sources on the left);
2. an edge that spans several layers gets one dummy node per layer it passes,
   so that it is routed *between* the nodes of those layers, never through one;
3. the order within each layer comes from barycenter sweeps (down, up, ...),
   keeping the order with the fewest crossings;
4. vertical positions: each node moves toward the mean of its neighbours in the
   previous layer, as close as the minimum separations in its layer allow
   (an isotonic regression: exact, and nodes never overlap).

The result is plain JSON (the panel's `graph` trait): node boxes, edge polylines
through their dummies, and where each edge's label goes.
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["layout_graph", "graph_from_plan", "count_crossings", "NODE_W", "NODE_H"]

NODE_W = 176
NODE_H = 52
GAP_X = 150  # room for edge labels between layers
GAP_Y = 18
DUMMY_H = 6
DUMMY_GAP = 10  # dummies (long edges) are this far apart, with room for a label
PAD = 16
CHAR_W = 6.4  # width of a character of the 11px label font, roughly
_SWEEPS = 24
_PLACE_PASSES = 8


def graph_from_plan(plan: Any) -> dict[str, Any]:
    """The laid-out graph of a plan: a `Pipeline`, its `to_dict()`, or None (empty)."""
    if plan is None:
        return layout_graph([], [])
    data = plan.to_dict() if hasattr(plan, "to_dict") else dict(plan)
    return layout_graph(data.get("steps") or [], data.get("edges") or [])


def _node_info(step: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(step, str):
        return {"name": step, "compute": "cpu"}
    resources = step.get("resources") or {}
    info = {
        "name": str(step["name"]),
        "compute": str(resources.get("compute") or step.get("compute") or "cpu"),
    }
    gpus = resources.get("num_gpus")
    if gpus:
        info["num_gpus"] = gpus
    cells = step.get("cells")
    if cells:
        info["cell"] = cells[0]
    return info


def layout_graph(steps: Iterable[dict[str, Any] | str], edges: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Lay out steps (dicts with name, resources, cells; or names) and edges ({from, to, variables}).

    Returns {"nodes": [{name, compute, layer, order, x, y, width, height, ...}],
    "edges": [{from, to, variables, points: [[x, y], ...], label: {text, full, x, y, anchor}}],
    "width", "height", "layers"}. Node boxes have their top-left corner at (x, y).
    """
    infos = [_node_info(s) for s in steps]
    names = [i["name"] for i in infos]
    index = {name: i for i, name in enumerate(names)}
    n = len(names)

    # -- edges: known endpoints, no self loops, duplicates merged ------------------
    merged: dict[tuple[int, int], list[str]] = {}
    for edge in edges:
        a, b = index.get(edge.get("from")), index.get(edge.get("to"))
        if a is None or b is None or a == b:
            continue
        variables = merged.setdefault((a, b), [])
        for var in edge.get("variables") or []:
            if var not in variables:
                variables.append(var)
    pairs = list(merged)

    # -- a topological order (plan order first); edges against it are drawn reversed
    topo = _topological(n, pairs)
    rank = {v: i for i, v in enumerate(topo)}
    directed = [(a, b) if rank[a] < rank[b] else (b, a) for a, b in pairs]

    # -- 1. longest-path layers ------------------------------------------------------
    preds: list[list[int]] = [[] for _ in range(n)]
    for a, b in directed:
        preds[b].append(a)
    layer = [0] * n
    for v in topo:
        layer[v] = max((layer[p] + 1 for p in preds[v]), default=0)
    n_layers = max(layer, default=-1) + 1

    # -- 2. dummies ------------------------------------------------------------------
    node_layer = list(layer)
    chains: list[list[int]] = []
    for a, b in directed:
        chain = [a]
        for lay in range(layer[a] + 1, layer[b]):
            node_layer.append(lay)
            chain.append(len(node_layer) - 1)
        chain.append(b)
        chains.append(chain)
    total = len(node_layer)
    up: list[list[int]] = [[] for _ in range(total)]
    down: list[list[int]] = [[] for _ in range(total)]
    for chain in chains:
        for u, v in zip(chain, chain[1:]):
            down[u].append(v)
            up[v].append(u)

    # -- 3. order within layers: barycenter sweeps -------------------------------------
    layers: list[list[int]] = [[] for _ in range(n_layers)]
    for v in range(n):  # real nodes in plan order
        layers[node_layer[v]].append(v)
    for v in range(n, total):
        layers[node_layer[v]].append(v)
    pos = [0] * total

    def renumber(lay: list[int]) -> None:
        for i, v in enumerate(lay):
            pos[v] = i

    for lay in layers:
        renumber(lay)
    for lay in layers[1:]:  # an initial order that follows the predecessors
        _sort_by_barycenter(lay, up, pos)
        renumber(lay)

    best = [list(lay) for lay in layers]
    best_crossings = _total_crossings(layers, down, pos)
    for sweep in range(_SWEEPS):
        if best_crossings == 0:
            break
        if sweep % 2 == 0:
            for lay in layers[1:]:
                _sort_by_barycenter(lay, up, pos)
                renumber(lay)
        else:
            for lay in reversed(layers[:-1]):
                _sort_by_barycenter(lay, down, pos)
                renumber(lay)
        _transpose(layers, up, down, pos)
        crossings = _total_crossings(layers, down, pos)
        if crossings < best_crossings:
            best, best_crossings = [list(lay) for lay in layers], crossings
    layers = best
    for lay in layers:
        renumber(lay)

    # -- 4. vertical positions ---------------------------------------------------------
    height_of = [NODE_H if v < n else DUMMY_H for v in range(total)]

    def gap(a: int, b: int) -> float:
        g = GAP_Y if a < n and b < n else DUMMY_GAP
        return (height_of[a] + height_of[b]) / 2 + g

    center = [0.0] * total
    for lay in layers:
        y = 0.0
        for i, v in enumerate(lay):
            if i:
                y += gap(lay[i - 1], v)
            center[v] = y
    for p in range(_PLACE_PASSES):
        sequence = layers[1:] if p % 2 == 0 else list(reversed(layers[:-1]))
        neighbours = up if p % 2 == 0 else down
        for lay in sequence:
            desired = []
            for v in lay:
                nb = neighbours[v]
                desired.append(sum(center[u] for u in nb) / len(nb) if nb else center[v])
            seps = [gap(a, b) for a, b in zip(lay, lay[1:])]
            for v, y in zip(lay, _place(desired, seps)):
                center[v] = y
    for lay in layers:  # steps with no edges at all close up under their neighbour above
        for i in range(1, len(lay)):
            v = lay[i]
            if not up[v] and not down[v]:
                center[v] = min(center[v], center[lay[i - 1]] + gap(lay[i - 1], v))
    top = min((center[v] - height_of[v] / 2 for v in range(total)), default=0.0)
    shift = PAD - top
    center = [c + shift for c in center]

    def x_of(lay: int) -> float:
        return PAD + lay * (NODE_W + GAP_X)

    # -- output ------------------------------------------------------------------------
    nodes = []
    for v, info in enumerate(infos):
        nodes.append({
            **info,
            "layer": layer[v],
            "order": pos[v],
            "x": round(x_of(layer[v]), 1),
            "y": round(center[v] - NODE_H / 2, 1),
            "width": NODE_W,
            "height": NODE_H,
        })

    out_edges: list[dict[str, Any]] = []
    outdeg = [0] * n
    indeg = [0] * n
    for a, b in directed:
        outdeg[a] += 1
        indeg[b] += 1
    # ports: spread a node's edges over its side, in the order of the other end
    out_port: dict[tuple[int, int], float] = {}
    in_port: dict[tuple[int, int], float] = {}
    for v in range(n):
        outgoing = sorted((c for c in chains if c[0] == v), key=lambda c: center[c[1]])
        for k, chain in enumerate(outgoing):
            out_port[(chain[0], chain[-1])] = _port(center[v], k, len(outgoing))
        incoming = sorted((c for c in chains if c[-1] == v), key=lambda c: center[c[-2]])
        for k, chain in enumerate(incoming):
            in_port[(chain[0], chain[-1])] = _port(center[v], k, len(incoming))
    for (src, dst), (a, b), chain in zip(pairs, directed, chains):
        pts = [[x_of(layer[a]) + NODE_W, out_port[(a, b)]]]
        for d in chain[1:-1]:
            pts.append([x_of(node_layer[d]), center[d]])
            pts.append([x_of(node_layer[d]) + NODE_W, center[d]])
        pts.append([x_of(layer[b]), in_port[(a, b)]])
        pts = [[round(x, 1), round(y, 1)] for x, y in pts]
        variables = merged[(src, dst)]
        out_edges.append({
            "from": names[src],
            "to": names[dst],
            "variables": variables,
            "points": pts,
            "reversed": (src, dst) != (a, b),
            "label": _label(variables, pts, outdeg[a], indeg[b], long=len(chain) > 2),
        })

    width = PAD * 2 + (n_layers * NODE_W + max(n_layers - 1, 0) * GAP_X if n_layers else 0)
    height = max((center[v] + height_of[v] / 2 for v in range(total)), default=0.0) + PAD
    return {
        "nodes": nodes,
        "edges": out_edges,
        "width": round(width, 1),
        "height": round(max(height, PAD * 2), 1),
        "layers": n_layers,
        "crossings": best_crossings,
    }


def _port(center: float, k: int, count: int) -> float:
    if count <= 1:
        return center
    span = NODE_H * 0.6
    return center - span / 2 + span * k / (count - 1)


def _label(variables: list[str], pts: list[list[float]], outdeg: int, indeg: int, *, long: bool) -> dict[str, Any]:
    """Where an edge's label goes, so that fan-outs and fan-ins stay legible.

    At the target when it has no other incoming edge (fan-outs), else at the
    source when it has no other outgoing edge (fan-ins), else along the edge's
    first run through a column (long edges: those runs are kept apart), else
    halfway along its last curve.
    """
    full = ", ".join(variables)
    room = int((GAP_X - 16) / CHAR_W)
    text = full if len(full) <= room else full[: room - 1] + "…"
    if indeg <= 1:
        (x, y), anchor = (pts[-1][0] - 6, pts[-1][1] - 4), "end"
    elif outdeg <= 1:
        (x, y), anchor = (pts[0][0] + 6, pts[0][1] - 4), "start"
    elif long:
        (x0, y0), (x1, _) = pts[1], pts[2]
        room = int((x1 - x0 - 8) / CHAR_W)
        text = full if len(full) <= room else full[: room - 1] + "…"
        (x, y), anchor = ((x0 + x1) / 2, y0 - 3), "middle"
    else:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        (x, y), anchor = ((x0 + x1) / 2, (y0 + y1) / 2 - 4), "middle"
    return {"text": text, "full": full, "x": round(x, 1), "y": round(y, 1), "anchor": anchor}


def _topological(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Kahn's algorithm preferring plan order; nodes left in a cycle follow in plan order."""
    import heapq

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


def _sort_by_barycenter(lay: list[int], neighbours: list[list[int]], pos: list[int]) -> None:
    """Order a layer by the mean position of each node's neighbours in the fixed layer.

    A node without neighbours there keeps its place (its own position as key);
    ties keep the current order (the sort is stable).
    """
    def key(v: int) -> float:
        nb = neighbours[v]
        return sum(pos[u] for u in nb) / len(nb) if nb else float(pos[v])

    lay.sort(key=key)


def _transpose(layers: list[list[int]], up: list[list[int]], down: list[list[int]], pos: list[int]) -> None:
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


def _total_crossings(layers: list[list[int]], down: list[list[int]], pos: list[int]) -> int:
    del pos  # the layers are kept in position order
    return sum(count_crossings(upper, lower, down) for upper, lower in zip(layers, layers[1:]))


def _place(desired: list[float], seps: list[float]) -> list[float]:
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
