"""Where the run panel and the JupyterLab side panel draw each step: a layered layout, in Python.

The only layout of the project: the run panel gets it in its `graph` trait, the
side panel in the REST API's plan (`side_panel_layouts`), and both only draw it.

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

Left to right (sources on the left) or top to bottom (sources on top): the same
steps, with the "layer" axis along x or y. The run panel gets both and draws the
one that fits the room it has (top to bottom in a narrow notebook); the side
panel draws top to bottom.

The result is plain JSON: node boxes, edge polylines through their dummies, the
SVG path of each edge, and where each edge's label goes (its variables, or
"4 values" when they do not fit: the whole list is in `full`, the tooltip).
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, NamedTuple

from ..plan.collapse import collapse_plan
from ..vocab import STATUS_ORDER
from .ordering import count_crossings, place, sort_by_barycenter, topological, total_crossings, transpose

__all__ = [
    "layout_graph",
    "graph_from_plan",
    "side_panel_layouts",
    "edge_path",
    "count_crossings",
    "Spacing",
    "RUN_PANEL",
    "RUN_PANEL_TB",
    "SIDE_PANEL",
    "NODE_W",
    "NODE_H",
]

Direction = Literal["LR", "TB"]

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


class Spacing(NamedTuple):
    """The room around the steps: between layers, between two steps of a layer, around the graph;
    whether edges get labels."""

    layer_gap: float
    order_gap: float
    pad: float
    labels: bool = True


RUN_PANEL = Spacing(layer_gap=GAP_X, order_gap=GAP_Y, pad=PAD)
"""The run panel's, left to right: room for the edge labels between layers."""
RUN_PANEL_TB = Spacing(layer_gap=50, order_gap=20, pad=PAD)
"""The run panel's, top to bottom (a narrow notebook): a label line between layers, room beside the arrows."""
SIDE_PANEL: dict[Direction, Spacing] = {
    "LR": Spacing(layer_gap=70, order_gap=18, pad=12),
    "TB": Spacing(layer_gap=40, order_gap=16, pad=12, labels=False),
}
"""The side panel's (it draws no edge labels): left to right when it fits, else top to bottom."""


def _plan_data(plan: Any, expanded: Iterable[str] = ()) -> tuple[list, list]:
    """The steps and edges to draw: each module step one node unless it is in `expanded`
    (`plan.collapse`, the rule the text plan follows too)."""
    if plan is None:
        return [], []
    data = plan.to_dict() if hasattr(plan, "to_dict") else dict(plan)
    return collapse_plan(data.get("steps") or [], data.get("edges") or [], data.get("modules"), expanded)


def graph_from_plan(plan: Any, expanded: Iterable[str] = ()) -> dict[str, Any]:
    """The run panel's laid-out graph of a plan: a `Pipeline`, its `to_dict()`, or None (empty).

    Left to right, with the same graph top to bottom under "TB": the panel draws the one that
    needs less shrinking in the width it has (and pans what still does not fit). Module steps are
    one node each, except those named in `expanded` (their steps drawn with `group`).
    """
    steps, edges = _plan_data(plan, expanded)
    graph = layout_graph(steps, edges)
    graph["TB"] = layout_graph(steps, edges, direction="TB", spacing=RUN_PANEL_TB)
    return graph


def side_panel_layouts(plan: Any, expanded: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The JupyterLab side panel's graphs of a plan: {"LR": graph, "TB": graph}; it draws the one that fits.
    Module steps as in `graph_from_plan`."""
    steps, edges = _plan_data(plan, expanded)
    return {d: layout_graph(steps, edges, direction=d, spacing=SIDE_PANEL[d]) for d in ("LR", "TB")}


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
    if step.get("module"):  # a module step (`plan.collapse`): drawn as one node, or open
        info["module"] = step["module"]
    if step.get("group"):  # inside an open module
        info["group"] = step["group"]
    return info


def layout_graph(steps: Iterable[dict[str, Any] | str], edges: Iterable[dict[str, Any]], *,
                 direction: Direction = "LR", spacing: Spacing = RUN_PANEL) -> dict[str, Any]:
    """Lay out steps (dicts with name, resources, cells; or names) and edges ({from, to, variables}).

    Returns {"direction", "status_order", "nodes": [{name, compute, num_gpus?, cell?, module?, group?, layer,
    order, x, y, width, height}],
    "edges": [{from, to, variables, points: [[x, y], ...], path, reversed, label}], "width", "height",
    "layers", "crossings"}. Node boxes have their top-left corner at (x, y); `path` is the edge's SVG
    path (curves between the points); `label` is {text, full, x, y, anchor}, None where
    `spacing.labels` is false.
    """
    if direction not in ("LR", "TB"):
        raise ValueError(f"direction must be 'LR' or 'TB', not {direction!r}")
    lr = direction == "LR"
    extent = NODE_H if lr else NODE_W  # a node's size along a layer
    depth = NODE_W if lr else NODE_H  # a node's size across the layers
    layer_gap, order_gap, pad, labels = spacing

    def at(along_layers: float, along_layer: float) -> list[float]:
        """(layer axis, order axis) -> [x, y], rounded."""
        x, y = (along_layers, along_layer) if lr else (along_layer, along_layers)
        return [round(x, 1), round(y, 1)]

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
    topo = topological(n, pairs)
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
        sort_by_barycenter(lay, up, pos)
        renumber(lay)

    best = [list(lay) for lay in layers]
    best_crossings = total_crossings(layers, down, pos)
    for sweep in range(_SWEEPS):
        if best_crossings == 0:
            break
        if sweep % 2 == 0:
            for lay in layers[1:]:
                sort_by_barycenter(lay, up, pos)
                renumber(lay)
        else:
            for lay in reversed(layers[:-1]):
                sort_by_barycenter(lay, down, pos)
                renumber(lay)
        transpose(layers, up, down, pos)
        crossings = total_crossings(layers, down, pos)
        if crossings < best_crossings:
            best, best_crossings = [list(lay) for lay in layers], crossings
    layers = best
    for lay in layers:
        renumber(lay)

    # -- 4. vertical positions ---------------------------------------------------------
    height_of = [extent if v < n else DUMMY_H for v in range(total)]

    def gap(a: int, b: int) -> float:
        g = order_gap if a < n and b < n else DUMMY_GAP
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
            for v, y in zip(lay, place(desired, seps)):
                center[v] = y
    for lay in layers:  # steps with no edges at all close up under their neighbour above
        for i in range(1, len(lay)):
            v = lay[i]
            if not up[v] and not down[v]:
                center[v] = min(center[v], center[lay[i - 1]] + gap(lay[i - 1], v))
    top = min((center[v] - height_of[v] / 2 for v in range(total)), default=0.0)
    shift = pad - top
    center = [c + shift for c in center]

    def x_of(lay: int) -> float:  # where a layer starts along the layer axis
        return pad + lay * (depth + layer_gap)

    # -- output ------------------------------------------------------------------------
    nodes = []
    for v, info in enumerate(infos):
        x, y = at(x_of(layer[v]), center[v] - extent / 2)
        nodes.append({
            **info,
            "layer": layer[v],
            "order": pos[v],
            "x": x,
            "y": y,
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
            out_port[(chain[0], chain[-1])] = _port(center[v], k, len(outgoing), extent)
        incoming = sorted((c for c in chains if c[-1] == v), key=lambda c: center[c[-2]])
        for k, chain in enumerate(incoming):
            in_port[(chain[0], chain[-1])] = _port(center[v], k, len(incoming), extent)
    for (src, dst), (a, b), chain in zip(pairs, directed, chains):
        pts = [at(x_of(layer[a]) + depth, out_port[(a, b)])]
        for d in chain[1:-1]:
            pts.append(at(x_of(node_layer[d]), center[d]))
            pts.append(at(x_of(node_layer[d]) + depth, center[d]))
        pts.append(at(x_of(layer[b]), in_port[(a, b)]))
        variables = merged[(src, dst)]
        out_edges.append({
            "from": names[src],
            "to": names[dst],
            "variables": variables,
            "points": pts,
            "path": edge_path(pts, direction),
            "reversed": (src, dst) != (a, b),
            "label": (None if not labels
                      else _label(variables, pts, outdeg[a], indeg[b], long=len(chain) > 2, room=layer_gap) if lr
                      else _label_tb(variables, pts, outdeg[a], indeg[b], room=NODE_W / 2 + order_gap - 12)),
        })

    across = pad * 2 + (n_layers * depth + max(n_layers - 1, 0) * layer_gap if n_layers else 0)
    along = max(max((center[v] + height_of[v] / 2 for v in range(total)), default=0.0) + pad, pad * 2)
    width, height = at(across, along)
    return {
        "direction": direction,
        "status_order": list(STATUS_ORDER),  # a collapsed module's status: the first any member has
        "nodes": nodes,
        "edges": out_edges,
        "width": width,
        "height": height,
        "layers": n_layers,
        "crossings": best_crossings,
    }


def _fmt(value: float) -> str:
    """A number as JavaScript writes it (12, not 12.0)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def edge_path(points: list[list[float]], direction: Direction = "LR") -> str:
    """A smooth SVG path through an edge's points: straight along a dummy's run, else a curve
    whose tangents follow the layer axis at both ends."""
    if not points:
        return ""
    x, y = points[0]
    d = f"M{_fmt(x)},{_fmt(y)}"
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if (y0 == y1) if direction == "LR" else (x0 == x1):
            d += f" L{_fmt(x1)},{_fmt(y1)}"
        elif direction == "LR":
            mid = _fmt((x0 + x1) / 2)
            d += f" C{mid},{_fmt(y0)} {mid},{_fmt(y1)} {_fmt(x1)},{_fmt(y1)}"
        else:
            mid = _fmt((y0 + y1) / 2)
            d += f" C{_fmt(x0)},{mid} {_fmt(x1)},{mid} {_fmt(x1)},{_fmt(y1)}"
    return d


def _port(center: float, k: int, count: int, extent: float = NODE_H) -> float:
    if count <= 1:
        return center
    span = extent * 0.6
    return center - span / 2 + span * k / (count - 1)


def _label(variables: list[str], pts: list[list[float]], outdeg: int, indeg: int, *, long: bool,
           room: float = GAP_X) -> dict[str, Any]:
    """Where an edge's label goes, so that fan-outs and fan-ins stay legible.

    At the target when it has no other incoming edge (fan-outs), else at the
    source when it has no other outgoing edge (fan-ins), else along the edge's
    first run through a column (long edges: those runs are kept apart), else
    halfway along its last curve.
    """
    full = ", ".join(variables)
    text = _fit_label(variables, int((room - 16) / CHAR_W))
    if indeg <= 1:
        (x, y), anchor = (pts[-1][0] - 6, pts[-1][1] - 4), "end"
    elif outdeg <= 1:
        (x, y), anchor = (pts[0][0] + 6, pts[0][1] - 4), "start"
    elif long:
        (x0, y0), (x1, _) = pts[1], pts[2]
        text = _fit_label(variables, int((x1 - x0 - 8) / CHAR_W))
        (x, y), anchor = ((x0 + x1) / 2, y0 - 3), "middle"
    else:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        (x, y), anchor = ((x0 + x1) / 2, (y0 + y1) / 2 - 4), "middle"
    return {"text": text, "full": full, "x": round(x, 1), "y": round(y, 1), "anchor": anchor}


def _fit_label(variables: list[str], chars: int) -> str:
    """The names if they fit in `chars`, else their count ("4 values"), else one name cut short."""
    full = ", ".join(variables)
    if len(full) <= chars:
        return full
    if len(variables) > 1:
        return f"{len(variables)} values"
    return full[: max(chars - 1, 1)] + "…"


def _label_tb(variables: list[str], pts: list[list[float]], outdeg: int, indeg: int, *,
              room: float) -> dict[str, Any]:
    """Top to bottom: beside the arrow, just above the target when it has no other incoming edge,
    else just below the source when it has no other outgoing edge, else halfway along the last curve."""
    full = ", ".join(variables)
    text = _fit_label(variables, int(room / CHAR_W))
    if indeg <= 1:
        (x, y), anchor = (pts[-1][0] + 6, pts[-1][1] - 8), "start"
    elif outdeg <= 1:
        (x, y), anchor = (pts[0][0] + 6, pts[0][1] + 15), "start"
    else:
        (x0, y0), (x1, y1) = pts[-2], pts[-1]
        (x, y), anchor = ((x0 + x1) / 2 + 6, (y0 + y1) / 2 + 4), "start"
    return {"text": text, "full": full, "x": round(x, 1), "y": round(y, 1), "anchor": anchor}
