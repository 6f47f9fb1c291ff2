"""The run panel without a browser: layout, widget state across a run, comm traffic, text fallback.

The comm is a recording `BaseComm`; the front end's ES modules are syntax-checked
and rendered once against a tiny fake DOM with node, when node is installed.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_mlpipe.panel.layout import (GAP_Y, NODE_H, NODE_W, SIDE_PANEL, edge_path, graph_from_plan,
                                         layout_graph, side_panel_layouts)

PANEL_DIR = Path(__file__).resolve().parents[1] / "jupyter_mlpipe" / "panel"


# --------------------------------------------------------------------------- helpers


def random_dag(n: int, seed: int, p: float = 0.08, reach: int | None = None) -> tuple[list[str], list[dict]]:
    rng = random.Random(seed)
    names = [f"step_{i}" for i in range(n)]
    edges = []
    for j in range(n):
        for i in range(max(0, j - (reach or n)), j):
            if rng.random() < p:
                edges.append({"from": names[i], "to": names[j], "variables": [f"v{i}"]})
    return names, edges


def boxes_overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def check_layout(graph: dict) -> None:
    """No overlapping nodes; every edge runs left to right, between nodes, never through one."""
    nodes = graph["nodes"]
    by_name = {n["name"]: n for n in nodes}
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            assert not boxes_overlap(a, b), (a, b)
        assert 0 <= a["x"] and a["x"] + a["width"] <= graph["width"]
        assert 0 <= a["y"] and a["y"] + a["height"] <= graph["height"]
    columns = sorted({n["x"] for n in nodes})
    for edge in graph["edges"]:
        src, dst = by_name[edge["from"]], by_name[edge["to"]]
        assert src["layer"] < dst["layer"]
        pts = edge["points"]
        assert pts[0][0] == src["x"] + src["width"] and src["y"] <= pts[0][1] <= src["y"] + src["height"]
        assert pts[-1][0] == dst["x"] and dst["y"] <= pts[-1][1] <= dst["y"] + dst["height"]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            assert x1 > x0, f"edge {edge['from']}->{edge['to']} goes right to left"
            if x0 in columns and x1 == x0 + NODE_W:
                # a straight run through a column (a dummy): it must miss that column's nodes
                assert y0 == y1
                for node in nodes:
                    if node["x"] == x0:
                        assert not node["y"] - 2 <= y0 <= node["y"] + node["height"] + 2, (edge, node)
            else:
                # a curve across the gap between two columns, where no node is
                assert x1 - x0 < NODE_W or (x0 - NODE_W in columns or x0 == pts[0][0])
                assert not any(x0 < n["x"] + n["width"] and n["x"] < x1 for n in nodes), (edge, x0, x1)


# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("seed", range(6))
def test_random_50_step_dag_lays_out_without_overlaps(seed):
    names, edges = random_dag(50, seed, p=0.12, reach=12)
    graph = layout_graph(names, edges)
    assert len(graph["nodes"]) == 50 and len(graph["edges"]) == len(edges)
    check_layout(graph)
    assert graph == layout_graph(names, edges)  # deterministic


def test_dense_random_dag_lays_out_quickly():
    names, edges = random_dag(50, 99, p=0.2)
    started = time.perf_counter()
    graph = layout_graph(names, edges)
    assert time.perf_counter() - started < 2.0
    check_layout(graph)


def test_sources_are_on_the_left_and_layers_are_longest_paths():
    graph = layout_graph(["a", "b", "c", "d"], [
        {"from": "a", "to": "b", "variables": ["x"]},
        {"from": "b", "to": "c", "variables": ["y"]},
        {"from": "a", "to": "c", "variables": ["x"]},
        {"from": "d", "to": "c", "variables": ["z"]},
    ])
    layer = {n["name"]: n["layer"] for n in graph["nodes"]}
    assert layer == {"a": 0, "b": 1, "c": 2, "d": 0}
    x = {n["name"]: n["x"] for n in graph["nodes"]}
    assert x["a"] == x["d"] < x["b"] < x["c"]
    check_layout(graph)


def test_fan_out_of_20_stays_legible():
    targets = [f"train_model_{i}" for i in range(20)]
    edges = [{"from": "prepare", "to": t, "variables": ["X_train", "y_train"]} for t in targets]
    edges += [{"from": t, "to": "compare", "variables": [f"score_{i}"]} for i, t in enumerate(targets)]
    graph = layout_graph(["prepare", *targets, "compare"], edges)
    check_layout(graph)
    middle = sorted((n for n in graph["nodes"] if n["layer"] == 1), key=lambda n: n["y"])
    assert len(middle) == 20
    for a, b in zip(middle, middle[1:]):
        assert b["y"] - a["y"] >= NODE_H + GAP_Y
    assert graph["crossings"] == 0
    # labels sit at the end with one edge (the fan-out's targets, the fan-in's sources): no two overlap
    labels = sorted((e["label"] for e in graph["edges"]), key=lambda lab: (lab["x"], lab["y"]))
    for a, b in zip(labels, labels[1:]):
        if abs(a["x"] - b["x"]) < 100:
            assert abs(a["y"] - b["y"]) >= 12, (a, b)
    assert {lab["text"] for lab in labels} >= {"X_train, y_train", "score_0"}
    # the source sits in the middle of its fan, not at the top
    source = next(n for n in graph["nodes"] if n["name"] == "prepare")
    assert middle[0]["y"] < source["y"] < middle[-1]["y"]


def test_barycenter_ordering_removes_avoidable_crossings():
    # plan order would cross: a->d, b->c with c above d; sweeps untangle it
    edges = [{"from": "a", "to": "d", "variables": ["x"]}, {"from": "b", "to": "c", "variables": ["y"]},
             {"from": "c", "to": "e", "variables": ["u"]}, {"from": "d", "to": "f", "variables": ["w"]}]
    graph = layout_graph(["a", "b", "c", "d", "e", "f"], edges)
    assert graph["crossings"] == 0
    y = {n["name"]: n["y"] for n in graph["nodes"]}
    assert (y["a"] < y["b"]) == (y["d"] < y["c"]) == (y["f"] < y["e"])


def test_chain_of_50_is_one_straight_row():
    names = [f"s{i}" for i in range(50)]
    graph = layout_graph(names, [{"from": a, "to": b, "variables": ["x"]} for a, b in zip(names, names[1:])])
    assert graph["layers"] == 50 and len({n["y"] for n in graph["nodes"]}) == 1
    check_layout(graph)


def test_labels_that_do_not_fit_become_a_count_and_keep_the_names_in_full():
    graph = layout_graph(["a", "b"], [{"from": "a", "to": "b", "variables": [f"a_long_variable_{i}" for i in range(5)]}])
    label = graph["edges"][0]["label"]
    assert label["text"] == "5 values"  # the tooltip (`full`) has the names
    assert label["full"] == ", ".join(f"a_long_variable_{i}" for i in range(5))
    one = layout_graph(["a", "b"], [{"from": "a", "to": "b", "variables": ["a_really_very_long_variable_name_here"]}])
    label = one["edges"][0]["label"]
    assert label["text"].endswith("…") and len(label["text"]) < len(label["full"])
    short = layout_graph(["a", "b"], [{"from": "a", "to": "b", "variables": ["X", "y"]}])
    assert short["edges"][0]["label"]["text"] == "X, y"


FAN_STEPS = ["data", "logreg", "forest", "boosting", "svc", "compare"]
FAN_EDGES = ([{"from": "data", "to": m, "variables": ["X_train", "y_train", "X_test", "y_test"]} for m in FAN_STEPS[1:5]]
             + [{"from": m, "to": "compare", "variables": [f"{m}_score"]} for m in FAN_STEPS[1:5]])


def test_the_run_panel_gets_the_graph_top_to_bottom_too_with_labels_that_do_not_overlap():
    graph = graph_from_plan({"steps": FAN_STEPS, "edges": FAN_EDGES})
    assert graph["direction"] == "LR" and graph["TB"]["direction"] == "TB"
    tb = graph["TB"]
    assert [n["name"] for n in tb["nodes"]] == [n["name"] for n in graph["nodes"]]
    assert [n["layer"] for n in tb["nodes"]] == [0, 1, 1, 1, 1, 2]
    check_boxes(tb)
    labels = [e["label"] for e in tb["edges"]]
    assert all(lab is not None for lab in labels)
    # the fan-out's four-variable edges read "4 values"; the names are in the tooltip
    assert [lab["text"] for lab in labels[:4]] == ["4 values"] * 4
    assert labels[0]["full"] == "X_train, y_train, X_test, y_test"
    # each label in the gap between two layers, beside its arrow, clear of every box and of the next label
    for edge, lab in zip(tb["edges"], labels):
        width = len(lab["text"]) * 6.4
        box = {"x": lab["x"], "y": lab["y"] - 11, "width": width, "height": 12}
        assert not any(boxes_overlap(box, n) for n in tb["nodes"]), (edge, lab)
        assert 0 <= lab["x"] and lab["x"] + width <= tb["width"]
    for a, b in zip(labels, labels[1:]):
        if a["y"] == b["y"]:
            assert a["x"] + len(a["text"]) * 6.4 < b["x"], (a, b)
    # the side panel's top-to-bottom graph has no labels (it draws none)
    assert all(e["label"] is None for e in side_panel_layouts({"steps": FAN_STEPS, "edges": FAN_EDGES})["TB"]["edges"])


def test_odd_graphs_do_not_break_the_layout():
    assert layout_graph([], [])["nodes"] == []
    graph = layout_graph(["a", "b", "c"], [
        {"from": "a", "to": "b", "variables": ["x"]}, {"from": "b", "to": "a", "variables": ["y"]},
        {"from": "a", "to": "a", "variables": ["z"]}, {"from": "a", "to": "nowhere", "variables": []},
        {"from": "a", "to": "b", "variables": ["x2"]},
    ])
    nodes = graph["nodes"]
    assert len(nodes) == 3 and not boxes_overlap(nodes[0], nodes[1])
    assert {(e["from"], e["to"]) for e in graph["edges"]} == {("a", "b"), ("b", "a")}
    assert next(e for e in graph["edges"] if e["from"] == "a")["variables"] == ["x", "x2"]


def test_graph_from_a_plan_carries_compute_and_cells():
    from jupyter_mlpipe.plan import Pipeline

    plan = Pipeline.from_sources(["%%step load\nx = 1", "%%step train --compute gpu\ny = x + 1"],
                                 compute={"cpu": {}, "gpu": {"num_gpus": 1}})
    graph = graph_from_plan(plan)
    nodes = {n["name"]: n for n in graph["nodes"]}
    assert nodes["train"]["compute"] == "gpu" and nodes["train"]["num_gpus"] == 1
    assert nodes["load"]["cell"] == 0
    assert graph["edges"][0]["variables"] == ["x"]
    assert graph_from_plan(plan.to_dict()) == graph


# ------------------------------------------------------- the side panel's layouts (served by the REST API)

CHAIN_STEPS = ["load", "features", "train", "evaluate"]
CHAIN_EDGES = [
    {"from": "load", "to": "features", "variables": ["X", "y"]},
    {"from": "features", "to": "train", "variables": ["X_train"]},
    {"from": "train", "to": "evaluate", "variables": ["model"]},
    {"from": "features", "to": "evaluate", "variables": ["X_test", "y_test"]},
]


def check_boxes(graph: dict) -> None:
    """Every step inside the canvas, no two overlapping (either direction)."""
    nodes = graph["nodes"]
    for i, a in enumerate(nodes):
        assert 0 <= a["x"] and a["x"] + a["width"] <= graph["width"], a
        assert 0 <= a["y"] and a["y"] + a["height"] <= graph["height"], a
        for b in nodes[i + 1:]:
            assert not boxes_overlap(a, b), (a, b)


def test_the_side_panel_gets_both_directions():
    layouts = side_panel_layouts({"steps": CHAIN_STEPS, "edges": CHAIN_EDGES})
    assert set(layouts) == {"LR", "TB"}
    lr, tb = layouts["LR"], layouts["TB"]
    assert (lr["direction"], tb["direction"]) == ("LR", "TB")
    # left to right: one layer per step, in order, no crossings; the side panel's narrower gaps
    assert [n["layer"] for n in lr["nodes"]] == [0, 1, 2, 3] and lr["crossings"] == 0
    xs = [n["x"] for n in lr["nodes"]]
    assert xs == sorted(xs) and xs[1] - xs[0] == NODE_W + SIDE_PANEL["LR"].layer_gap
    assert lr["width"] < layout_graph(CHAIN_STEPS, CHAIN_EDGES)["width"]  # narrower than the run panel's
    # top to bottom: the same steps one under the other, taller than wide
    ys = [n["y"] for n in tb["nodes"]]
    assert ys == sorted(ys) and len(set(ys)) == 4 and tb["height"] > tb["width"]
    by_name = {n["name"]: n for n in tb["nodes"]}
    for edge in tb["edges"]:
        (x0, y0), (x1, y1) = edge["points"][0], edge["points"][-1]
        src, dst = by_name[edge["from"]], by_name[edge["to"]]
        assert y0 == src["y"] + src["height"] and src["x"] <= x0 <= src["x"] + src["width"]  # leaves the bottom
        assert y1 == dst["y"] and dst["x"] <= x1 <= dst["x"] + dst["width"]  # enters the top
        assert edge["label"] is None  # the side panel draws no labels
    check_boxes(lr)
    check_boxes(tb)


def test_a_long_edge_goes_round_the_layer_it_passes_in_both_directions():
    for direction, layout in side_panel_layouts({"steps": CHAIN_STEPS, "edges": CHAIN_EDGES}).items():
        long = next(e for e in layout["edges"] if (e["from"], e["to"]) == ("features", "evaluate"))
        assert len(long["points"]) == 4 and long["variables"] == ["X_test", "y_test"]
        train = next(n for n in layout["nodes"] if n["name"] == "train")
        axis, size = ("y", "height") if direction == "LR" else ("x", "width")
        inside = long["points"][1][0 if axis == "x" else 1]
        assert inside < train[axis] or inside > train[axis] + train[size], (direction, long, train)


def test_served_nodes_keep_compute_gpus_and_first_cell():
    steps = [{"name": "fit", "cells": [7, 8], "resources": {"compute": "gpu", "num_gpus": 1}},
             {"name": "plain", "cells": [9]}]
    for layout in side_panel_layouts({"steps": steps, "edges": []}).values():
        fit, plain = layout["nodes"]
        assert (fit["name"], fit["compute"], fit["num_gpus"], fit["cell"]) == ("fit", "gpu", 1, 7)
        assert plain["compute"] == "cpu" and "num_gpus" not in plain and plain["cell"] == 9


def test_served_layouts_of_odd_plans():
    empty = side_panel_layouts(None)
    assert all(g["nodes"] == [] and g["edges"] == [] and g["layers"] == 0 for g in empty.values())
    layouts = side_panel_layouts({"steps": ["a", "b"], "edges": [
        {"from": "a", "to": "zz"}, {"from": "a", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "a"}]})
    for graph in layouts.values():
        assert len(graph["nodes"]) == 2 and len([e for e in graph["edges"] if e["reversed"]]) == 1
    with pytest.raises(ValueError):
        layout_graph(["a"], [], direction="RL")


@pytest.mark.parametrize("seed", range(20))
def test_served_layouts_never_overlap_two_steps(seed):
    rng = random.Random(seed)
    n = 2 + rng.randrange(14)
    names = [f"n{i}" for i in range(n)]
    edges = [{"from": names[a], "to": names[b], "variables": ["v"]}
             for a, b in ((rng.randrange(n), rng.randrange(n)) for _ in range(int(n * 1.5))) if a < b]
    fan = {"steps": [f"s{i}" for i in range(8)], "edges": [{"from": "s0", "to": f"s{i}"} for i in range(1, 8)]}
    for plan in ({"steps": names, "edges": edges}, fan):
        layouts = side_panel_layouts(plan)
        for graph in layouts.values():
            assert len(graph["nodes"]) == len(plan["steps"])
            check_boxes(graph)
            for edge in graph["edges"]:
                assert edge["path"] == edge_path(edge["points"], graph["direction"])
        assert layouts == side_panel_layouts(plan)  # deterministic


def test_edge_paths_are_lines_and_curves_as_javascript_writes_numbers():
    assert edge_path([[0, 0], [10, 0]]) == "M0,0 L10,0"
    assert edge_path([[0.0, 0.0], [10.0, 20.0]]) == "M0,0 C5,0 5,20 10,20"
    assert edge_path([[0, 0], [15, 20.5]]) == "M0,0 C7.5,0 7.5,20.5 15,20.5"
    assert edge_path([]) == ""
    assert edge_path([[0, 0], [20, 10]], "TB") == "M0,0 C0,5 20,5 20,10"
    assert edge_path([[4, 0], [4, 10]], "TB") == "M4,0 L4,10"
    graph = layout_graph(CHAIN_STEPS, CHAIN_EDGES)  # the run panel draws the same paths
    assert all(e["path"] == edge_path(e["points"]) for e in graph["edges"])


# --------------------------------------------------------------------------- the widget


@pytest.fixture
def comm_log(monkeypatch):
    """Every widget opened during the test gets a comm that records what it publishes."""
    import comm
    from comm.base_comm import BaseComm

    log: list[dict] = []

    class RecordingComm(BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            log.append({"msg_type": msg_type, "data": data, "comm_id": self.comm_id})

    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    return log


def updates(log: list[dict], widget=None) -> list[dict]:
    return [m["data"]["state"] for m in log
            if m["msg_type"] == "comm_msg" and m["data"].get("method") == "update"
            and (widget is None or m["comm_id"] == widget.model_id)]


def make_run(tmp_path, n_steps: int = 4, *, fan: bool = False):
    """A real Run and History for a plan of `n_steps` chained steps (no Ray: we drive the states)."""
    from jupyter_mlpipe.execute.runner import Run
    from jupyter_mlpipe.store.paths import Store
    from jupyter_mlpipe.store.history import History
    from jupyter_mlpipe.plan import Pipeline

    cells = ["%%step load\nx0 = 1"] + [f"%%step s{i}\nx{i} = x{i - 1} + 1" for i in range(1, n_steps)]
    if fan:
        cells.append(f"%%step report\nr = x0 + x{n_steps - 1}")
    notebook = tmp_path / "pipe.ipynb"
    notebook.write_text("{}")
    plan = Pipeline.from_sources(cells, notebook=str(notebook))
    store = Store.for_notebook(notebook)
    history = History(store.history_path)
    run_id = history.new_run_id()
    history.start_run(run_id, notebook=str(notebook), params={"lr": 0.1}, plan=plan.to_dict())
    run = Run(run_id, plan, {"lr": 0.1}, list(plan.steps), store, history)
    return run, history


def succeed(run, name: str, outputs: dict | None = None) -> None:
    sr = run.steps[name]
    sr.status, sr.ended = "succeeded", time.time()
    sr.outputs = outputs or {f"x_{name}": {"digest": "d" * 64, "format": "pickle", "type_name": "int",
                                            "size": 28, "summary": "1"}}
    run._emit("step", sr)


def start(run, name: str) -> None:
    sr = run.steps[name]
    sr.status, sr.started = "running", time.time()
    sr.reason = {"decision": "ran", "summary": "this step never ran before", "changes": []}
    run._emit("step", sr)


def test_the_panel_follows_a_run(comm_log, tmp_path):
    from jupyter_mlpipe.panel import RunPanel

    run, history = make_run(tmp_path, 3, fan=True)
    panel = RunPanel(min_interval=60)  # no timer flushes: this test flushes by hand
    run.listeners.append(panel.listener)
    run._emit("start")
    assert [n["name"] for n in panel.graph["nodes"]] == ["load", "s1", "s2", "report"]
    assert {(e["from"], e["to"]) for e in panel.graph["edges"]} >= {("load", "s1"), ("load", "report")}
    assert {s["status"] for s in panel.states.values()} == {"pending"}
    assert panel.run["id"] == run.id and panel.run["total"] == 4 and panel.run["params"] == {"lr": 0.1}
    assert panel.run["counts"] == {"pending": 4}

    start(run, "load")
    assert panel.states["load"]["status"] == "pending"  # batched: nothing sent until the flush
    assert panel.flush()
    load = panel.states["load"]
    assert load["status"] == "running" and load["icon"] == "▶" and load["label"] == "running"
    assert load["elapsed_since"] == run.steps["load"].started
    assert load["reason"]["summary"] == "this step never ran before"

    history.record_metric(run.id, "load", "loss", 0.9, step_index=0)
    history.record_metric(run.id, "load", "loss", 0.5, step_index=1)
    history.record_metric(run.id, "load", "acc", float("nan"))
    assert panel.flush()
    assert panel.metrics["load"]["loss"] == [[0, 0.9], [1, 0.5]]
    assert panel.metrics["load"]["acc"] == [[0, None]]  # NaN travels as null
    assert not panel.flush()  # nothing new: nothing sent

    succeed(run, "load", {"x0": {"digest": "d" * 64, "format": "pickle", "type_name": "int", "size": 28,
                                 "summary": "1"}})
    run.steps["s1"].inputs = {"x0": "d" * 64}
    start(run, "s1")
    sr = run.steps["s1"]
    sr.status, sr.ended = "failed", time.time()
    sr.error = "Step 's1' failed in cell 1: ZeroDivisionError: division by zero"
    sr.error_info = {"ename": "ZeroDivisionError", "evalue": "division by zero", "cell": 1,
                     "traceback": "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"}
    sr.notebook_path = str(tmp_path / ".mlpipe" / "runs" / run.id / "s1.ipynb")
    run._emit("step", sr)
    for name in ("s2", "report"):
        run.steps[name].status = "skipped"
        run.steps[name].reason = {"decision": "skipped", "summary": "step 's1' did not succeed"}
        run._emit("step", run.steps[name])
    history.record_metric(run.id, "s1", "loss", 2.0)
    run.status, run.ended = "failed", time.time()
    run._emit("end")  # flushed at once

    states = panel.states
    assert states["load"]["status"] == "succeeded" and states["load"]["duration"] >= 0
    assert states["load"]["outputs"]["x0"] == {"type_name": "int", "size": 28, "summary": "1",
                                                   "format": "pickle", "digest": "d" * 12}
    failed = states["s1"]
    assert failed["icon"] == "✗" and failed["label"] == "failed"
    assert failed["error"]["ename"] == "ZeroDivisionError" and failed["error"]["cell"] == 1
    assert "\x1b" not in failed["error"]["traceback"]
    assert failed["inputs"]["x0"]["from"] == "load" and failed["inputs"]["x0"]["type_name"] == "int"
    assert failed["notebook_path"].endswith(f"/.mlpipe/runs/{run.id}/s1.ipynb")
    assert states["s2"]["status"] == states["report"]["status"] == "skipped"
    assert states["s2"]["reason"]["summary"] == "step 's1' did not succeed"
    assert panel.run["status"] == "failed" and panel.run["finished"] == 4
    assert panel.run["counts"] == {"succeeded": 1, "failed": 1, "skipped": 2}
    assert panel.metrics["s1"]["loss"] == [[0, 2.0]]

    # what reached the front end agrees with the traits
    sent: dict = {}
    for state in updates(comm_log, panel):
        sent.update(state)
    assert sent["states"] == json.loads(json.dumps(panel.states))
    assert sent["run"]["status"] == "failed"
    assert sent["metrics"]["load"]["loss"] == [[0, 0.9], [1, 0.5]]

    # a click in the front end selects a step
    panel.set_state({"selected": "s1"})
    assert panel.selected == "s1"


def test_a_50_step_run_sends_a_bounded_number_of_messages(comm_log, tmp_path):
    from jupyter_mlpipe.panel import RunPanel

    run, history = make_run(tmp_path, 50)
    panel = RunPanel(min_interval=0.2)
    run.listeners.append(panel.listener)
    began = time.monotonic()
    run._emit("start")
    for i, name in enumerate(run.steps):
        start(run, name)
        for epoch in range(5):
            history.record_metric(run.id, name, "loss", 1 / (epoch + 1), step_index=epoch)
        time.sleep(0.01)
        succeed(run, name)
    run.status, run.ended = "succeeded", time.time()
    run._emit("end")
    elapsed = time.monotonic() - began

    sent = updates(comm_log, panel)
    # 100 step events, 250 metric points: one message at start, one at end, at most 5 a second between
    assert len(sent) <= 2 + elapsed / 0.2 + 2, (len(sent), elapsed)
    assert len(sent) < 30
    assert panel.updates == len(sent)
    assert {s["status"] for s in panel.states.values()} == {"succeeded"}
    assert panel.run["counts"] == {"succeeded": 50}
    assert len(panel.metrics) == 50 and panel.metrics["s49"]["loss"][-1] == [4, 0.2]
    assert panel._timer is None  # the timer thread ended with the run


def test_the_timer_streams_metrics_while_a_step_runs(comm_log, tmp_path):
    from jupyter_mlpipe.panel import RunPanel

    run, history = make_run(tmp_path, 2)
    panel = RunPanel(min_interval=0.05)
    run.listeners.append(panel.listener)
    run._emit("start")
    start(run, "load")
    history.record_metric(run.id, "load", "loss", 0.7, step_index=3)
    deadline = time.monotonic() + 5
    while "load" not in panel.metrics and time.monotonic() < deadline:
        time.sleep(0.02)
    assert panel.metrics["load"]["loss"] == [[3, 0.7]]
    assert panel.states["load"]["status"] == "running"
    run.status = "cancelled"
    run._emit("end")


def test_long_metric_series_are_thinned():
    from jupyter_mlpipe.panel.state import MAX_POINTS, MetricBuffer

    buffer = MetricBuffer()
    for i in range(5000):
        buffer.add("train", "loss", i, 1 / (i + 1))
    points = buffer.snapshot()["train"]["loss"]
    assert len(points) <= MAX_POINTS + 1
    assert points[0] == [0, 1.0] and points[-1][0] == 4999


def test_text_fallback(comm_log, tmp_path):
    from jupyter_mlpipe.panel import RunPanel, show_plan

    run, _ = make_run(tmp_path, 3)
    panel = RunPanel(min_interval=60)
    panel.listener(run, "start", None)
    succeed(run, "load")
    run.status, run.ended = "failed", time.time()
    panel.listener(run, "end", None)
    data, _metadata = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    text = data["text/plain"]
    assert text.startswith(f"run {run.id} [1/3] failed")
    assert "✓ load" in text and "· s1" in text

    plan_panel = show_plan(run.plan)
    data, _ = plan_panel._repr_mimebundle_()
    assert "step s1" in data["text/plain"] and "<- load: x0" in data["text/plain"]
    assert plan_panel.run == {} and {s["status"] for s in plan_panel.states.values()} == {"pending"}


def test_show_plan_with_a_recorded_run(comm_log, tmp_path):
    from jupyter_mlpipe.panel import show_plan
    from jupyter_mlpipe.plan import Pipeline
    from jupyter_mlpipe.recorded import RecordedRun

    run, history = make_run(tmp_path, 2)
    for name in run.steps:
        start(run, name)
        succeed(run, name)
    history.record_metric(run.id, "s1", "acc", 0.75, step_index=1)
    history.finish_run(run.id, "succeeded")
    recorded = RecordedRun(history.get_run(run.id), run._store)

    panel = show_plan(None, recorded)
    assert [n["name"] for n in panel.graph["nodes"]] == ["load", "s1"]  # the plan recorded with the run
    assert panel.graph["edges"][0]["variables"] == ["x0"]
    assert panel.states["s1"]["status"] == "succeeded" and panel.run["status"] == "succeeded"
    assert panel.metrics == {"s1": {"acc": [[1, 0.75]]}}
    assert panel._timer is None

    # today's plan has one more step: shown, marked as not part of that run
    plan = Pipeline.from_sources(["%%step load\nx0 = 1", "%%step s1\nx1 = x0 + 1", "%%step s2\nx2 = x1"],
                                 notebook=run.notebook)
    panel = show_plan(plan, recorded)
    assert panel.states["s2"]["status"] == "excluded" and panel.states["s1"]["status"] == "succeeded"


def test_the_display_listener_shows_the_panel_at_start(comm_log, tmp_path):
    from jupyter_mlpipe.panel import PanelListener, make_display_listener
    from jupyter_mlpipe.text import TextProgress

    assert isinstance(make_display_listener(), TextProgress)  # no kernel here: text

    shown = []

    class Handle:
        def __init__(self):
            self.updated = []

        def update(self, obj):
            self.updated.append(obj._repr_mimebundle_()[0]["text/plain"])

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(obj)
        return Handle()

    listener = PanelListener(display=display, min_interval=60)
    run, _ = make_run(tmp_path, 2)
    run.listeners.append(listener)
    run._emit("start")
    assert shown == [listener.panel] and listener.panel.run["id"] == run.id
    start(run, "load")
    succeed(run, "load")
    run.status, run.ended = "succeeded", time.time()
    run._emit("end")
    assert listener.panel.states["load"]["status"] == "succeeded"
    assert listener.handle.updated and listener.handle.updated[-1].startswith(f"run {run.id}")


def test_comparison_curves_put_each_metric_of_two_runs_on_one_chart():
    from jupyter_mlpipe.panel.state import MAX_CURVES, MAX_POINTS, comparison_curves

    a = {"metrics": {"train": {"loss": [(0, 1.0, 1.0), (1, 0.5, 2.0)]}, "eval": {"acc": [(0, 0.8, 1.0)]}}}
    b = {"metrics": {"train": {"loss": [(0, 0.9, 1.0), (1, float("nan"), 2.0), (2, 0.3, 3.0)],
                               "lr": [(i, 0.1, 1.0) for i in range(3 * MAX_POINTS)]}}}
    curves = comparison_curves(a, b)
    assert list(curves) == ["train.loss", "eval.acc", "train.lr"]  # the older run's order, then the newer's
    assert curves["train.loss"] == {"a": [[0, 1.0], [1, 0.5]], "b": [[0, 0.9], [1, None], [2, 0.3]]}
    assert curves["eval.acc"]["b"] == [] and curves["train.lr"]["a"] == []  # not logged in that run
    assert len(curves["train.lr"]["b"]) <= MAX_POINTS + 1  # thinned as the panel's series
    many = {"metrics": {"s": {f"m{i:02d}": [(0, 1.0, 0.0)] for i in range(MAX_CURVES + 5)}}}
    assert len(comparison_curves(many, {})) == MAX_CURVES
    assert comparison_curves({}, {"metrics": None}) == {}


def test_pipeline_show_opens_the_metric_charts(comm_log, tmp_path):
    from jupyter_mlpipe.panel import RunPanel, show_plan

    run, history = make_run(tmp_path, 2)
    history.record_metric(run.id, "s1", "loss", 0.5, step_index=0)
    assert RunPanel().metrics_open is False  # a live run's panel keeps them folded
    shown = show_plan(run.plan, run, history=history)
    assert shown.metrics_open is True and shown.metrics == {"s1": {"loss": [[0, 0.5]]}}


def test_the_runs_table_compares_two_runs(comm_log, tmp_path):
    from jupyter_mlpipe.panel import runs_table_widget

    run_a, history = make_run(tmp_path, 2)
    for name in run_a.steps:
        start(run_a, name)
        succeed(run_a, name)
    history.record_metric(run_a.id, "s1", "acc", 0.7)
    history.finish_run(run_a.id, "succeeded")
    time.sleep(0.01)
    from jupyter_mlpipe.execute.runner import Run

    run_b_id = history.new_run_id()
    while run_b_id == run_a.id:
        run_b_id = history.new_run_id()
    history.start_run(run_b_id, notebook=run_a.notebook, params={"lr": 0.5}, plan=run_a.plan.to_dict())
    run_b = Run(run_b_id, run_a.plan, {"lr": 0.5}, list(run_a.plan.steps), run_a._store, history)
    run_b.steps["load"].status = "reused"
    run_b._emit("step", run_b.steps["load"])
    start(run_b, "s1")
    succeed(run_b, "s1")
    history.record_metric(run_b.id, "s1", "acc", 0.9)
    history.finish_run(run_b.id, "succeeded")

    table = runs_table_widget(history, run_a.notebook)
    rows = {r["id"]: r for r in table.rows}
    assert set(rows) == {run_a.id, run_b.id}
    assert rows[run_b.id]["reused"] == 1 and rows[run_a.id]["reused"] == 0
    assert rows[run_b.id]["params"] == {"lr": 0.5} and rows[run_b.id]["metrics"] == {"s1.acc": 0.9}

    table.set_state({"selected": [run_b.id, run_a.id]})  # as the front end would
    comparison = table.comparison
    assert (comparison["a"], comparison["b"]) == (run_a.id, run_b.id)  # oldest first
    assert comparison["params"] == {"lr": [0.1, 0.5]}
    assert comparison["metrics"]["s1.acc"][:2] == [0.7, 0.9]
    assert comparison["metrics"]["s1.acc"][2] == pytest.approx(0.2)
    assert comparison["steps"]["load"] == ["succeeded", "reused"] and comparison["steps_differ"] == ["load"]
    # the same metric across the two runs, for one chart: each run's points, oldest run first
    assert comparison["curves"] == {"s1.acc": {"a": [[0, 0.7]], "b": [[0, 0.9]]}}
    table.set_state({"selected": [run_a.id]})
    assert table.comparison == {}

    # the result column: the metric the last step logged, in the widget's rows and first in the text
    assert rows[run_b.id]["result"] == {"metric": "s1.acc", "value": 0.9, "best": "desc"}
    text = table._repr_mimebundle_()[0]["text/plain"].splitlines()
    # the text table has the same columns: reuse, the result, parameters, other metrics' last values
    assert text[0].split() == ["run", "started", "status", "duration", "reused", "s1.acc", "lr"]
    row_b = next(line for line in text if line.startswith(run_b.id)).split()
    assert row_b[-3:] == ["1/2", "0.9", "0.5"]


def test_importing_the_package_stays_light():
    code = ("import sys, jupyter_mlpipe, jupyter_mlpipe.panel, jupyter_mlpipe.panel.layout, "
            "jupyter_mlpipe.panel.state; "
            "print(sorted(m for m in ('anywidget', 'ipywidgets', 'traitlets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_front_end_files_ship_with_the_widget():
    from jupyter_mlpipe.panel import RunPanel, RunsTable

    assert "export default { render }" in RunPanel._esm
    assert ".mlpw-state-failed" in RunPanel._css and RunsTable._css == RunPanel._css
    assert "export default { render }" in RunsTable._esm


# --------------------------------------------------------------------------- the front end, with node

NODE = shutil.which("node")


def front_end(name: str) -> str:
    """panel.js or runs.js as widget.py puts it together, without uPlot: the charts are text here (no canvas)."""
    return (PANEL_DIR / "chart.js").read_text() + "\n" + (PANEL_DIR / name).read_text()

FAKE_DOM = r"""
class Node {
  constructor(tag) { this.tagName = tag; this.children = []; this.attrs = {}; this.listeners = {}; this._text = "";
    this.parentNode = null;
    const self = this;
    this.classList = {
      _set() { return new Set((self.attrs.class || "").split(/\s+/).filter(Boolean)); },
      add(c) { const s = this._set(); s.add(c); self.attrs.class = [...s].join(" "); },
      remove(c) { const s = this._set(); s.delete(c); self.attrs.class = [...s].join(" "); },
      toggle(c, on) { if (on === undefined ? !this.contains(c) : on) this.add(c); else this.remove(c); },
      contains(c) { return this._set().has(c); },
    };
  }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  getAttribute(k) { return this.attrs[k] ?? null; }
  appendChild(c) { c.parentNode = this; this.children.push(c); return c; }
  append(...cs) { for (const c of cs) this.appendChild(typeof c === "string" ? new Text(c) : c); }
  replaceChildren(...cs) { this.children = []; this.append(...cs); }
  addEventListener(t, f) { (this.listeners[t] ||= []).push(f); }
  dispatch(t, ev = {}) { for (const f of this.listeners[t] || []) f({ preventDefault() {}, stopPropagation() {}, ...ev }); }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  set textContent(v) { this.children = []; this._text = String(v); }
  *walk() { yield this; for (const c of this.children) if (c.walk) yield* c.walk(); }
  querySelector(sel) { const m = sel.match(/^\[([\w-]+)="(.*)"\]$/);
    for (const n of this.walk()) if (n !== this && n.attrs && n.attrs[m[1]] === m[2]) return n; return null; }
  findAll(pred) { return [...this.walk()].filter(pred); }
}
class Text { constructor(t) { this._t = t; } get textContent() { return this._t; } }
globalThis.document = {
  createElement: (t) => new Node(t), createElementNS: (ns, t) => new Node(t),
  createTextNode: (t) => new Text(t), getElementById: () => null,
};
globalThis.window = { location: { pathname: "/lab/tree/work/pipe.ipynb" } };
"""

FAKE_MODEL = r"""
const mod = await import(process.argv[2]);
const data = JSON.parse(await (await import("node:fs")).promises.readFile(process.argv[3], "utf8"));
const handlers = {};
const model = {
  data, get(k) { return this.data[k]; }, set(k, v) { this.data[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  save_changes() { this.saved = (this.saved || 0) + 1; },
  on(e, f) { (handlers[e] ||= []).push(f); }, off(e, f) { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
  send() {},
};
"""
"""A node script's start: the front end module (argv[2]) and an anywidget model over the JSON in argv[3]."""

SMOKE = FAKE_MODEL + r"""
const host = document.createElement("div");
const cleanup = mod.default.render({ model, el: host });
const out = {};
const nodes = host.findAll((n) => n.attrs && n.attrs["data-step"]);
out.nodes = nodes.map((n) => [n.attrs["data-step"], n.attrs.class, n.textContent]);
out.edges = host.findAll((n) => n.attrs && n.attrs.class === "mlpw-edge" && n.attrs["data-from"]).length;
out.paths = host.findAll((n) => n.tagName === "path" && n.attrs["marker-end"]).map((n) => n.attrs.d);
out.runline = host.children[0].children[1].textContent;
out.announced = host.children[0].children[0].textContent;
nodes.find((n) => n.attrs["data-step"] === process.argv[4]).dispatch("click");
out.selected = model.data.selected;
out.saved = model.saved;
out.details = host.children[0].children[2].children[1].textContent;
out.plots = host.children[0].children[2].children[1].findAll((n) => n.attrs && n.attrs["data-metric"]).length;
out.curves = host.children[0].children[3].findAll((n) => n.attrs && n.attrs["data-metric"]).map((n) => n.textContent);
out.links = host.findAll((n) => n.tagName === "a").map((a) => a.attrs.href);
model.set("states", { ...model.data.states });
cleanup();
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("name", ["panel.js", "runs.js"])
def test_front_end_modules_parse(name, tmp_path):
    target = tmp_path / (name.replace(".js", ".mjs"))
    target.write_text(front_end(name))
    result = subprocess.run([NODE, "--check", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_front_end_renders_a_run_against_a_fake_dom(comm_log, tmp_path):
    from jupyter_mlpipe.panel import RunPanel

    run, history = make_run(tmp_path, 3)
    panel = RunPanel(min_interval=60)
    run.listeners.append(panel.listener)
    run._emit("start")
    start(run, "load")
    succeed(run, "load")
    run.steps["s1"].notebook_path = str(tmp_path / ".mlpipe" / "runs" / run.id / "s1.ipynb")
    start(run, "s1")
    history.record_metric(run.id, "s1", "loss", 0.5, step_index=0)
    history.record_metric(run.id, "s1", "loss", 0.25, step_index=1)
    panel.flush()
    state = {k: getattr(panel, k) for k in ("graph", "states", "run", "metrics", "selected", "looks")}
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "panel.mjs").write_text(FAKE_DOM + front_end("panel.js"))
    (tmp_path / "smoke.mjs").write_text(SMOKE)
    result = subprocess.run([NODE, str(tmp_path / "smoke.mjs"), (tmp_path / "panel.mjs").as_uri(),
                             str(tmp_path / "state.json"), "s1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    classes = {name: cls for name, cls, _ in out["nodes"]}
    assert classes["load"] == "mlpw-node mlpw-state-succeeded" and "mlpw-state-running" in classes["s1"]
    texts = {name: text for name, _, text in out["nodes"]}
    assert "✓" in texts["load"] and "succeeded" in texts["load"]  # icon and label, not only colour
    assert "▶" in texts["s1"] and "running" in texts["s1"]
    assert out["edges"] == 2
    assert out["paths"] == [e["path"] for e in panel.graph["edges"]]  # drawn as laid out in Python
    assert "✓ 1 succeeded" in out["runline"] and "▶ run" in out["runline"]  # icons from the `looks` trait
    assert f"run {run.id}" in out["runline"] and "1/3 done" in out["runline"]
    assert out["announced"] == f"run {run.id} running"
    assert out["selected"] == "s1" and out["saved"] == 1
    assert "this step never ran before" in out["details"] and "loss = 0.25" in out["details"]
    assert out["plots"] == 1
    # the run's charts below the graph: one per metric name, its series named by step (text without uPlot)
    assert out["curves"] == ["loss■ s1: 0.25 (2 points)"]
    # no Jupyter page config here (as in VS Code): the executed notebook's path, not a dead link
    assert out["links"] == []
    assert run.steps["s1"].notebook_path in out["details"]


RUNS_SMOKE = r"""
const mod = await import(process.argv[2]);
const data = JSON.parse(await (await import("node:fs")).promises.readFile(process.argv[3], "utf8"));
const handlers = {};
const model = {
  data, get(k) { return this.data[k]; }, set(k, v) { this.data[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  save_changes() {}, on(e, f) { (handlers[e] ||= []).push(f); }, off(e, f) { handlers[e] = (handlers[e] || []).filter((g) => g !== f); },
};
const host = document.createElement("div");
const cleanup = mod.default.render({ model, el: host });
const rows = () => host.findAll((n) => n.attrs && n.attrs["data-run"]);
const out = { rows: rows().map((r) => r.textContent) };
rows()[0].dispatch("click");
rows()[1].dispatch("click");
out.selected = model.data.selected;
out.waiting = host.children[0].children[2].textContent;
model.set("comparison", data.answer);
out.comparison = host.children[0].children[2].textContent;
const head = () => host.findAll((n) => n.attrs && n.attrs["data-role"] === "result")[0];
out.result = head() ? [head().textContent, head().attrs.title] : null;
const order = () => rows().map((r) => r.attrs["data-run"]);
out.orders = [order()];
for (let i = 0; i < 3; i++) { head().dispatch("click"); out.orders.push(order()); }
model.set("comparison", data.same);
out.same = host.children[0].children[2].textContent;
cleanup();
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_runs_table_front_end_against_a_fake_dom(tmp_path):
    result = {"metric": "train.acc", "best": "desc"}
    rows = [
        {"id": "20260101-000002-bbbbbb", "started": 2.0, "status": "succeeded", "duration": 1.5,
         "params": {"lr": 0.5}, "metrics": {"train.acc": 0.9}, "result": {**result, "value": 0.9},
         "counts": {"succeeded": 1, "reused": 1}, "reused": 1, "ran": 1,
         "steps": {"load": "reused", "train": "succeeded"}},
        {"id": "20260101-000001-aaaaaa", "started": 1.0, "status": "failed", "duration": 0.5,
         "params": {"lr": 0.1}, "metrics": {}, "result": {**result, "value": None},
         "counts": {"succeeded": 1, "failed": 1}, "reused": 0, "ran": 2,
         "steps": {"load": "succeeded", "train": "failed"}},
        {"id": "20260101-000000-cccccc", "started": 0.5, "status": "succeeded", "duration": 0.5,
         "params": {"lr": 0.2}, "metrics": {"train.acc": 0.95}, "result": {**result, "value": 0.95},
         "counts": {"succeeded": 2}, "reused": 0, "ran": 2, "steps": {"load": "succeeded", "train": "succeeded"}},
    ]
    from jupyter_mlpipe.queries import compare_runs

    answer = compare_runs(rows[1], rows[0])
    bare = {**rows[1], "metrics": {}}
    same = compare_runs(bare, {**bare, "id": rows[0]["id"]})  # neither logged a metric
    from jupyter_mlpipe.vocab import looks_json

    (tmp_path / "state.json").write_text(json.dumps({"rows": rows, "selected": [], "comparison": {},
                                                     "answer": answer, "same": same, "looks": looks_json()}))
    (tmp_path / "runs.mjs").write_text(FAKE_DOM + front_end("runs.js"))
    (tmp_path / "smoke.mjs").write_text(RUNS_SMOKE)
    result = subprocess.run([NODE, str(tmp_path / "smoke.mjs"), (tmp_path / "runs.mjs").as_uri(),
                             str(tmp_path / "state.json")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert "1/2" in out["rows"][0] and "0.9" in out["rows"][0] and "0.5" in out["rows"][0]
    assert "✓ succeeded" in out["rows"][0] and "✗ failed" in out["rows"][1]  # the icons it was sent
    assert out["selected"] == [rows[0]["id"], rows[1]["id"]]
    assert "comparing" in out["waiting"]
    assert "lr0.1→0.5" in out["comparison"] and "train.acc" in out["comparison"]
    assert "succeeded→reused" in out["comparison"].replace("↺ ", "").replace("✓ ", "")
    # the result column: its metric in the header, first after "reused"; clicking it sorts best first,
    # worst first, then back to newest first; a run without the metric stays last
    assert out["result"][0] == "train.acc" and "highest first" in out["result"][1]
    assert "1/20.90.5" in out["rows"][0].replace(" ", "")
    a, b, c = (r["id"] for r in rows)
    assert out["orders"] == [[a, b, c], [c, a, b], [a, c, b], [a, b, c]]
    assert "neither run logged a metric" in out["same"] and "same metrics" not in out["same"]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_panel_says_when_ray_starts_and_where_a_reused_step_comes_from(comm_log, tmp_path):
    from jupyter_mlpipe.panel import RunPanel
    from jupyter_mlpipe.text import connecting_line

    run, _ = make_run(tmp_path, 2)
    panel = RunPanel(min_interval=60)
    run.listeners.append(panel.listener)
    run._emit("start")
    panel.flush()
    assert panel.run["connecting"] is None
    load = run.steps["load"]
    load.status, load.started, load.ended = "reused", time.time(), time.time()
    load.reason = {"decision": "reused", "from_run": "20261203-120001-3f9a1c", "summary": "nothing changed"}
    run._emit("step", load)
    run.connecting = True  # as the runner does before the backend starts
    run._emit("connecting")
    assert panel.flush() and panel.run["connecting"] == connecting_line()
    state = {k: getattr(panel, k) for k in ("graph", "states", "run", "metrics", "selected", "looks")}
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "panel.mjs").write_text(FAKE_DOM + front_end("panel.js"))
    (tmp_path / "smoke.mjs").write_text(SMOKE)
    result = subprocess.run([NODE, str(tmp_path / "smoke.mjs"), (tmp_path / "panel.mjs").as_uri(),
                             str(tmp_path / "state.json"), "load"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    texts = {name: text for name, _, text in out["nodes"]}
    assert "reused from 3f9a1c" in texts["load"] and "ms" not in texts["load"]
    assert connecting_line() in out["runline"]
    assert "from 3f9a1c" in out["details"]
    run.connecting = False
    start(run, "s1")  # the first step is submitted: the run line no longer says it
    panel.flush()
    assert panel.run["connecting"] is None


@pytest.mark.slow
def test_a_real_kernel_receives_updates_sent_from_the_driver_thread(tmp_path):
    """In an ipykernel, the panel is displayed at start and updated from background threads."""
    import queue

    pytest.importorskip("jupyter_client")
    from jupyter_client.manager import start_new_kernel

    code = f"""
import time, threading, pathlib
from jupyter_mlpipe.panel import make_display_listener
from jupyter_mlpipe.execute.runner import Run
from jupyter_mlpipe.store.paths import Store
from jupyter_mlpipe.store.history import History
from jupyter_mlpipe.plan import Pipeline
nb = pathlib.Path({str(tmp_path)!r}) / "p.ipynb"; nb.write_text("{{}}")
plan = Pipeline.from_sources(["%%step a\\nx = 1", "%%step b\\ny = x + 1"], notebook=str(nb))
store = Store.for_notebook(nb); h = History(store.history_path); rid = h.new_run_id()
h.start_run(rid, notebook=str(nb), params={{}}, plan=plan.to_dict())
run = Run(rid, plan, {{}}, list(plan.steps), store, h)
run.listeners.append(make_display_listener())
run._emit("start")
def drive():
    for n, s in run.steps.items():
        s.status, s.started = "running", time.time(); run._emit("step", s)
        h.record_metric(rid, n, "loss", 0.5, 0); time.sleep(0.3)
        s.status, s.ended = "succeeded", time.time(); run._emit("step", s)
    run.status, run.ended = "succeeded", time.time(); run._emit("end"); run._done.set()
threading.Thread(target=drive).start()
"""
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        kc.execute(code)
        shown, states, final_text = [], [], None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and final_text is None:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            kind, content = msg["msg_type"], msg["content"]
            assert kind != "error", content
            if kind == "display_data":
                shown.append(content["data"])
            elif kind == "comm_msg" and "state" in content["data"]:
                states.append(content["data"]["state"])
            elif kind == "update_display_data":
                final_text = content["data"]["text/plain"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0]
    assert final_text is not None and "2 succeeded" in final_text
    runs = [s["run"] for s in states if "run" in s]
    assert runs[-1]["counts"] == {"succeeded": 2}
    assert any(s.get("metrics", {}).get("a") for s in states)
    assert len(states) <= 12


def test_finished_steps_show_the_last_lines_they_printed(comm_log, tmp_path):
    from jupyter_mlpipe.panel import RunPanel

    run, _ = make_run(tmp_path, 2)
    executed = tmp_path / ".mlpipe" / "runs" / run.id / "load.ipynb"
    executed.parent.mkdir(parents=True)
    executed.write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": "", "metadata": {}, "execution_count": 1, "outputs": [
            {"output_type": "stream", "name": "stdout", "text": [f"epoch {i}\n" for i in range(30)]},
            {"output_type": "execute_result", "data": {"text/plain": "\x1b[1m42\x1b[0m"}, "metadata": {},
             "execution_count": 1}]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    panel = RunPanel(min_interval=60)
    run.listeners.append(panel.listener)
    run._emit("start")
    run.steps["load"].notebook_path = str(executed)
    start(run, "load")
    panel.flush()
    assert "output_tail" not in panel.states["load"]  # still running: not read yet
    succeed(run, "load")
    panel.flush()
    tail = panel.states["load"]["output_tail"]
    assert len(tail) == 20 and tail[-2:] == ["epoch 29", "42"]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_notebook_links_in_lab_and_notebook_7(tmp_path):
    """The executed notebook opens through the extension's mlpipe: drive; without the extension, no link."""
    script = tmp_path / "links.mjs"
    script.write_text(FAKE_DOM + front_end("panel.js") + r"""
const ext = [{ name: "jupyter-mlpipe", load: "static/remoteEntry.js" }];
const lab = JSON.stringify({ baseUrl: "/user/ada/", appName: "JupyterLab", federated_extensions: ext });
const nb7 = JSON.stringify({ baseUrl: "/", appName: "Jupyter Notebook", federated_extensions: ext });
const bare = JSON.stringify({ baseUrl: "/", appName: "JupyterLab", federated_extensions: [] });
console.log(JSON.stringify([
  notebookHref("20261125-023501-3f9a1c", "train", lab),
  notebookHref("20261125-023501-3f9a1c", "train-2", nb7),
  notebookHref("20261125-023501-3f9a1c", "train", bare),
  notebookHref("20261125-023501-3f9a1c", "train", null),
  notebookHref("20261125-023501-3f9a1c", "train", "{not json"),
  notebookHref("", "train", lab),
]));
""")
    result = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "/user/ada/lab/tree/mlpipe:20261125-023501-3f9a1c/train.ipynb",
        "/notebooks/mlpipe:20261125-023501-3f9a1c/train-2.ipynb",
        None, None, None, None,
    ]


def test_the_panels_cancel_button_cancels_the_live_run(comm_log, tmp_path):
    """The run line's Cancel (a running run only) sends {"type": "cancel"}: the kernel's run is cancelled."""
    from jupyter_mlpipe.panel import RunPanel

    run, _ = make_run(tmp_path, 2)
    panel = RunPanel(min_interval=60)
    run.listeners.append(panel.listener)
    run._emit("start")
    start(run, "load")
    panel.flush()
    state = {k: getattr(panel, k) for k in ("graph", "states", "run", "metrics", "selected", "looks")}
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "panel.mjs").write_text(FAKE_DOM + front_end("panel.js"))
    (tmp_path / "smoke.mjs").write_text(SMOKE)
    result = subprocess.run([NODE, str(tmp_path / "smoke.mjs"), (tmp_path / "panel.mjs").as_uri(),
                             str(tmp_path / "state.json"), "load"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Cancel" in json.loads(result.stdout)["runline"]
    panel._handle_custom_msg({"type": "cancel", "run": "another-run"}, [])  # not the run shown: nothing happens
    assert not run.cancel_requested
    panel._handle_custom_msg({"type": "cancel", "run": run.id}, [])
    assert run.cancel_requested and panel.run["cancelling"] is True
