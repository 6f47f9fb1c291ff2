"""A module step drawn as one node that opens (issue #16): the collapse rule (`plan.collapse`), the layouts
of both panels, the run panel's `expanded` trait, the REST `expand` argument, and the front end against a
fake DOM. tests/browser/test_module_node.py draws it in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from jupyter_mlpipe.panel.layout import graph_from_plan, side_panel_layouts
from jupyter_mlpipe.plan.collapse import collapse_plan, drawn_as
from jupyter_mlpipe.vocab import LOOKS, STATUS_ORDER

from conftest import write_notebook
from test_panel import FAKE_MODEL

LIB = [
    "%load_ext jupyter_mlpipe",
    {"source": "raw = None\nwindow = 3", "tags": ["parameters"]},
    "%%step clean\ndf = [x for x in raw if x is not None]",
    "%%step scale\nX = [x / window for x in df]\nn = len(X)",
    "%%step stats\nsummary = {'mean': sum(df) / len(df)}",
]
WRAP = [
    {"source": "data = None", "tags": ["parameters"]},
    "%%step inner --module features.ipynb\nraw = data\nwindow = 2",
    "%%step total\nt = sum(X) + summary['mean']",
]


def user(module: str = "lib/features.ipynb", binds: str = "raw = df\nwindow = 7",
         final: str = "model = sum(X) + n\nmeans = summary") -> list:
    return [
        "%load_ext jupyter_mlpipe",
        {"source": "k = 4", "tags": ["parameters"]},
        "%%step load\ndf = [1, None, 2, 3, k]",
        f"%%step feats --module {module}\n{binds}",
        f"%%step train\n{final}",
    ]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "lib").mkdir()
    write_notebook(tmp_path / "lib" / "features.ipynb", LIB)
    write_notebook(tmp_path / "lib" / "wrap.ipynb", WRAP)
    return tmp_path


def plan_dict(project, **cells) -> dict:
    from jupyter_mlpipe.api import plan as plan_of

    return plan_of(write_notebook(project / "user.ipynb", user(**cells))).to_dict()


# -- the rule, on plain dicts -----------------------------------------------------------------------

STEPS = ["load", "feats", "feats.clean", "feats.inner", "feats.inner.x", "feats.inner.y", "feats.total", "train"]
MODULES = {
    "feats": {"label": "lib/wrap.ipynb", "version": None,
              "steps": ["feats", "feats.clean", "feats.inner", "feats.inner.x", "feats.inner.y", "feats.total"]},
    "feats.inner": {"label": "features@3", "version": 3, "steps": ["feats.inner", "feats.inner.x", "feats.inner.y"]},
}
EDGES = [
    {"from": "load", "to": "feats", "variables": ["df"]},
    {"from": "load", "to": "feats.inner.x", "variables": ["k"]},  # into a nested module, from outside
    {"from": "feats", "to": "feats.clean", "variables": ["raw"]},
    {"from": "feats.clean", "to": "feats.inner", "variables": ["d"]},
    {"from": "feats.inner", "to": "feats.inner.x", "variables": ["raw"]},
    {"from": "feats.inner.x", "to": "feats.inner.y", "variables": ["a"]},
    {"from": "feats.inner.y", "to": "feats.total", "variables": ["b", "c"]},
    {"from": "feats.inner.x", "to": "feats.total", "variables": ["c", "a"]},
    {"from": "feats.total", "to": "train", "variables": ["t"]},
    {"from": "feats.inner.y", "to": "train", "variables": ["b"]},
    {"from": "load", "to": "train", "variables": []},  # order only (--after)
]


def drawn(expanded=()):
    steps, edges = collapse_plan([{"name": s, "cells": [i]} for i, s in enumerate(STEPS)], EDGES, MODULES, expanded)
    return steps, [(e["from"], e["to"], e["variables"]) for e in edges]


def test_every_module_is_one_node_by_default_and_edges_are_redirected_and_merged():
    steps, edges = drawn()
    assert [s["name"] for s in steps] == ["load", "feats", "train"]
    feats = steps[1]
    assert feats["module"] == {"label": "lib/wrap.ipynb", "version": None, "members": MODULES["feats"]["steps"],
                               "count": 5, "expanded": False}
    assert "group" not in feats and "module" not in steps[0] and feats["cells"] == [1]
    # into the module: one edge, variables in order without repeats; edges inside it: gone
    assert edges == [("load", "feats", ["df", "k"]), ("feats", "train", ["t", "b"]), ("load", "train", [])]


def test_an_open_module_draws_its_steps_in_its_group_and_a_nested_module_stays_closed():
    steps, edges = drawn(["feats"])
    assert [s["name"] for s in steps] == ["load", "feats", "feats.clean", "feats.inner", "feats.total", "train"]
    by = {s["name"]: s for s in steps}
    assert by["feats"]["module"]["expanded"] is True and "group" not in by["feats"]
    assert by["feats.clean"]["group"] == "feats" and "module" not in by["feats.clean"]
    assert by["feats.inner"]["group"] == "feats"
    assert by["feats.inner"]["module"] == {"label": "features@3", "version": 3, "count": 2, "expanded": False,
                                           "members": ["feats.inner", "feats.inner.x", "feats.inner.y"]}
    assert edges == [
        ("load", "feats", ["df"]), ("load", "feats.inner", ["k"]), ("feats", "feats.clean", ["raw"]),
        ("feats.clean", "feats.inner", ["d"]), ("feats.inner", "feats.total", ["b", "c", "a"]),
        ("feats.total", "train", ["t"]), ("feats.inner", "train", ["b"]), ("load", "train", [])]


def test_nested_modules_open_only_inside_open_parents_and_unknown_names_are_ignored():
    assert drawn(["feats.inner"]) == drawn()  # its parent is closed: still one node
    assert drawn(["nope", "feats.nope"]) == drawn()  # the plan changed since the client asked
    steps, edges = drawn(["feats", "feats.inner", "nope"])
    assert [s["name"] for s in steps] == STEPS
    by = {s["name"]: s for s in steps}
    assert by["feats.inner"]["module"]["expanded"] is True and by["feats.inner"]["group"] == "feats"
    assert by["feats.inner.x"]["group"] == "feats.inner" and by["feats.total"]["group"] == "feats"
    assert ("feats.inner.x", "feats.total", ["c", "a"]) in edges and len(edges) == len(EDGES)
    where = drawn_as(STEPS, MODULES, ["feats"])
    assert where["feats.inner.y"] == ("feats.inner", "feats") and where["train"] == ("train", "")


def test_status_order_is_one_list_of_every_status_with_failed_first():
    assert sorted(STATUS_ORDER) == sorted(LOOKS) and len(set(STATUS_ORDER)) == len(STATUS_ORDER)
    assert STATUS_ORDER[:2] == ("failed", "running")
    assert STATUS_ORDER.index("succeeded") < STATUS_ORDER.index("reused")  # some ran, the rest reused: succeeded
    plan = {"steps": [{"name": s} for s in STEPS], "edges": EDGES, "modules": MODULES}
    layouts = [graph_from_plan(plan), graph_from_plan(plan)["TB"], *side_panel_layouts(plan).values(),
               graph_from_plan(None), graph_from_plan({"steps": ["a"], "edges": []})]
    assert all(g["status_order"] == list(STATUS_ORDER) for g in layouts)


# -- the layouts of a real plan ------------------------------------------------------------------------

def test_the_layouts_of_a_plan_with_a_module(project):
    data = plan_dict(project)
    graph = graph_from_plan(data)
    assert [n["name"] for n in graph["nodes"]] == ["load", "feats", "train"]
    feats = graph["nodes"][1]
    assert feats["module"]["label"] == "lib/features.ipynb" and feats["module"]["count"] == 3
    assert feats["module"]["members"] == ["feats", "feats.clean", "feats.scale", "feats.stats"]
    assert feats["cell"] == 3 and feats["width"] > 0
    assert [(e["from"], e["to"], e["variables"]) for e in graph["edges"]] == [
        ("load", "feats", ["df"]), ("feats", "train", ["X", "n", "summary"])]
    assert [n["name"] for n in graph["TB"]["nodes"]] == ["load", "feats", "train"]
    side = side_panel_layouts(data, ["feats"])
    for direction in ("LR", "TB"):
        nodes = {n["name"]: n for n in side[direction]["nodes"]}
        assert set(nodes) == {"load", "feats", "feats.clean", "feats.scale", "feats.stats", "train"}
        assert nodes["feats"]["module"]["expanded"] and nodes["feats.scale"]["group"] == "feats"
    # a plan without modules is drawn as before: no `module`, no `group`
    plain = graph_from_plan({"steps": [{"name": "a"}, {"name": "b"}], "edges": [{"from": "a", "to": "b"}]})
    assert all("module" not in n and "group" not in n for n in plain["nodes"])


def test_nested_modules_in_a_real_plan_and_the_text_plan_follows_the_same_rule(project):
    from jupyter_mlpipe.api import plan as plan_of

    plan = plan_of(write_notebook(project / "user.ipynb", user(module="lib/wrap.ipynb", binds="data = df",
                                                               final="model = t")))
    assert [n["name"] for n in graph_from_plan(plan)["nodes"]] == ["load", "feats", "train"]
    opened = [n["name"] for n in graph_from_plan(plan, ["feats"])["nodes"]]
    assert opened == ["load", "feats", "feats.inner", "feats.total", "train"]
    every = graph_from_plan(plan, list(plan.modules))["nodes"]
    assert len(every) == len(plan.steps) and {n.get("group") for n in every} == {None, "feats", "feats.inner"}
    text = plan.describe()
    assert "3 steps, 2 edges" in text and "feats.inner" not in text and "module feats  (cell 4; lib/wrap.ipynb" in text


# -- the widget -----------------------------------------------------------------------------------------

@pytest.fixture
def comm_log(monkeypatch):
    import comm
    from comm.base_comm import BaseComm

    log: list[dict] = []

    class RecordingComm(BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            log.append({"msg_type": msg_type, "data": data})

    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    return log


def _names(panel) -> list[str]:
    return [n["name"] for n in panel.graph["nodes"]]


def test_the_run_panel_opens_and_closes_a_module_also_during_a_run(comm_log, project):
    from jupyter_mlpipe.api import plan as plan_of
    from jupyter_mlpipe.execute.runner import Run
    from jupyter_mlpipe.panel import RunPanel, show_plan
    from jupyter_mlpipe.store.history import History
    from jupyter_mlpipe.store.paths import Store

    path = write_notebook(project / "user.ipynb", user())
    plan = plan_of(path)
    panel = RunPanel(plan, min_interval=60)
    assert _names(panel) == ["load", "feats", "train"] and panel.expanded == []
    assert set(panel.states) == set(plan.steps)  # every step has its state, drawn or not
    panel.expanded = ["feats"]  # what the front end's toggle sends
    assert _names(panel) == ["load", "feats", "feats.clean", "feats.scale", "feats.stats", "train"]
    assert panel.graph["nodes"][2]["group"] == "feats" and panel.graph["TB"]["nodes"][2]["group"] == "feats"
    panel.expanded = ["feats", "gone"]
    assert len(panel.graph["nodes"]) == 6
    assert _names(show_plan(plan, expanded=list(plan.modules))) == _names(panel)

    # a live run: opening and closing redraws the graph; the states stay, by step name
    store = Store.for_notebook(path)
    history = History(store.history_path)
    run_id = history.new_run_id()
    history.start_run(run_id, notebook=str(path), params={}, plan=plan.to_dict())
    run = Run(run_id, plan, {}, list(plan.steps), store, history)
    live = RunPanel(min_interval=60)
    run.listeners.append(live.listener)
    run._emit("start")
    assert _names(live) == ["load", "feats", "train"] and set(live.states) == set(plan.steps)
    sr = run.steps["feats.scale"]
    sr.status, sr.started, sr.ended = "failed", time.time(), time.time()
    run._emit("step", sr)
    live.flush()
    live.expanded = ["feats"]
    assert "feats.scale" in _names(live) and live.states["feats.scale"]["status"] == "failed"
    sent = [m["data"]["state"] for m in comm_log if m["msg_type"] == "comm_msg"
            and m["data"].get("method") == "update" and "graph" in m["data"]["state"]]
    assert any(len(s["graph"]["nodes"]) == 6 for s in sent)  # the front end got the open graph
    live.expanded = []
    assert _names(live) == ["load", "feats", "train"] and live.states["feats.scale"]["status"] == "failed"
    live.close()
    panel.close()


def test_pipeline_show_expand_is_a_flag_of_the_magic():
    from jupyter_mlpipe.kernel.magics import pipeline_parser

    assert pipeline_parser().parse_args(["show", "--expand"]).expand is True
    assert pipeline_parser().parse_args(["show"]).expand is False


# -- the REST API -----------------------------------------------------------------------------------

def test_rest_plan_and_run_take_expand(project):
    """`plan_view` as the handlers call it (tests/test_server.py has the routes; this checks the argument)."""
    from jupyter_mlpipe.server.records import plan_view

    data = plan_dict(project)
    closed = plan_view(data, "user.ipynb")
    assert [n["name"] for n in closed["layouts"]["LR"]["nodes"]] == ["load", "feats", "train"]
    assert closed["layouts"]["TB"]["status_order"] == list(STATUS_ORDER)
    assert [s["name"] for s in closed["steps"]][2] == "feats.clean"  # the plan's own steps stay whole
    opened = plan_view(data, "user.ipynb", expanded=["feats", "nope"])
    assert len(opened["layouts"]["TB"]["nodes"]) == 6


# -- the front end, against a fake DOM (node) -------------------------------------------------------------

NODE = shutil.which("node")

SCRIPT = FAKE_MODEL + r"""
const host = document.createElement("div");
const cleanup = mod.default.render({ model, el: host });
const out = {};
const node = (name) => host.findAll((n) => n.attrs && n.attrs["data-step"] === name)[0];
const feats = node("feats");
out.nodes = host.findAll((n) => n.attrs && n.attrs["data-step"]).map((n) => n.attrs["data-step"]);
out.feats = { cls: feats.attrs.class, status: feats.attrs["data-status"], module: feats.attrs["data-module"],
  text: feats.textContent };
const toggle = feats.findAll((n) => n.attrs && n.attrs["data-role"] === "module-toggle")[0];
out.toggle = toggle.textContent;
toggle.dispatch("click");
out.expanded = model.data.expanded;
out.selectedAfterToggle = model.data.selected;
feats.dispatch("click");
const details = host.children[0].children[2].children[1];
out.details = details.findAll((n) => n.attrs && n.attrs["data-member"]).map((n) => [n.attrs["data-member"], n.attrs["data-status"]]);
out.detailsText = details.textContent;
out.bindingRowClickable = details.findAll((n) => n.attrs && n.attrs["data-member"] === "feats")[0].attrs.class || "";
model.set("expanded", []);
details.findAll((n) => n.attrs && n.attrs["data-member"] === "feats.scale")[0].dispatch("click");
out.openAt = { expanded: model.data.expanded, selected: model.data.selected };
out.order = mod.moduleStatus({ a: { status: "reused" }, b: { status: "succeeded" } }, ["a", "b"], data.graph.status_order);
out.allReused = mod.moduleStatus({ a: { status: "reused" } }, ["a"], data.graph.status_order);
out.bindingThenReused = mod.moduleStatus({ f: { status: "succeeded" }, a: { status: "reused" }, b: { status: "reused" } },
  ["f", "a", "b"], data.graph.status_order);
out.bindingFailed = mod.moduleStatus({ f: { status: "failed" }, a: { status: "skipped" } }, ["f", "a"], data.graph.status_order);
cleanup();
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_front_end_draws_a_collapsed_module_with_its_steps_status(project, tmp_path):
    from jupyter_mlpipe.panel.state import look_state, pending_states
    from test_panel import FAKE_DOM, front_end

    data = plan_dict(project)
    states = pending_states([s["name"] for s in data["steps"]])
    states.update({"load": look_state("succeeded"), "feats": look_state("succeeded"),
                   "feats.clean": look_state("succeeded"), "feats.scale": look_state("failed")})
    states["feats.scale"]["error"] = {"ename": "ZeroDivisionError", "evalue": "division by zero"}
    model = {"graph": graph_from_plan(data), "states": states, "run": {}, "metrics": {}, "selected": None,
             "expanded": [], "looks": json.loads(json.dumps(LOOKS)), "metrics_open": False}
    (tmp_path / "model.json").write_text(json.dumps(model))
    (tmp_path / "panel.mjs").write_text(FAKE_DOM + "\n" + front_end("panel.js"))
    (tmp_path / "run.mjs").write_text(SCRIPT)
    result = subprocess.run([NODE, str(tmp_path / "run.mjs"), (tmp_path / "panel.mjs").as_uri(), str(tmp_path / "model.json")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["nodes"] == ["load", "feats", "train"]
    assert out["feats"]["status"] == "failed" and "mlpw-state-failed" in out["feats"]["cls"]
    assert out["feats"]["module"] == "collapsed" and "lib/features.ipynb" in out["feats"]["text"]
    assert "▸" in out["toggle"] and "expand: 3 steps of lib/features.ipynb" in out["toggle"]
    assert out["expanded"] == ["feats"] and out["selectedAfterToggle"] is None  # the toggle selects nothing
    assert out["details"] == [["feats", "succeeded"], ["feats.clean", "succeeded"], ["feats.scale", "failed"],
                              ["feats.stats", "pending"]]
    assert "Error in feats.scale" in out["detailsText"] and "ZeroDivisionError" in out["detailsText"]
    # a step's row opens the module at that step; the binding node's row is not a link
    assert out["openAt"] == {"expanded": ["feats"], "selected": "feats.scale"}
    assert "mlpw-member" not in out["bindingRowClickable"]
    assert (out["order"], out["allReused"]) == ("succeeded", "reused")
    # the binding node runs no task: its `succeeded` does not hide that the module's steps were reused
    assert (out["bindingThenReused"], out["bindingFailed"]) == ("reused", "failed")
