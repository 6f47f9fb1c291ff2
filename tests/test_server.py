"""The REST API of the Jupyter server extension, against a real server (pytest-jupyter).

Requests go through jupyter_server's own authentication and tornado's routing;
runs are real runs on the suite's shared local Ray.
"""

from __future__ import annotations

import json
import time

import pytest

from conftest import ROOT, write_notebook

# pytest-jupyter's fixtures, for this module only: registered as a plugin (pytest_plugins), its
# autouse fixtures (a fresh event loop, a ServerApp cleanup) would wrap every test of the suite.
from pytest_jupyter.jupyter_server import *  # noqa: E402, F403

RUN_ID = "20260101-000000-abcdef"  # well formed, never recorded


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlpipe.server": True}}}


@pytest.fixture
def api(jp_fetch, jp_asyncio_loop):
    """api(METHOD, 'runs', ..., params=, body=) -> (status, JSON body); never raises on 4xx.

    Synchronous: the server runs on the test's event loop while a request is in flight.
    """

    def call(method, *parts, params=None, body=None, headers=None):
        kwargs = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method in ("POST", "PUT"):
            kwargs["body"] = "{}"
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("mlpipe", "api", *parts, params=params, headers=headers, **kwargs))
        text = response.body.decode() if response.body else ""
        assert response.headers.get("Content-Type", "").startswith("application/json"), (response.code, text)
        return response.code, json.loads(text) if text else None

    return call


def _refused(status, body, code, *words):
    assert status == code, body
    assert set(body) >= {"error", "message", "hint"}, body
    for word in words:
        assert word in body["message"] + (body["hint"] or ""), body


CHAIN = [
    {"source": "n = 4", "tags": ["parameters"]},
    "%%step load\nxs = list(range(n))\nprint('loaded', len(xs))",
    "%%step total\nfrom jupyter_mlpipe import log_metric\ntotal = sum(xs)\nlog_metric('total', total)",
]


def test_extension_points_and_the_shipped_config():
    import jupyter_mlpipe.server as server

    assert server._jupyter_server_extension_points() == [{"module": "jupyter_mlpipe.server"}]
    config = json.loads((ROOT / "jupyter-config" / "jupyter_server_config.d" / "jupyter_mlpipe.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyter_mlpipe.server": True}}}
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "jupyter-config/jupyter_server_config.d/jupyter_mlpipe.json" in pyproject


def test_the_plan_of_a_notebook(api, jp_root_dir):
    (jp_root_dir / "sub").mkdir()
    write_notebook(jp_root_dir / "sub" / "pipe.ipynb", CHAIN)
    status, plan = api("GET", "plan", params={"path": "sub/pipe.ipynb"})
    assert status == 200, plan
    assert plan["notebook"] == "sub/pipe.ipynb"
    assert [s["name"] for s in plan["steps"]] == ["load", "total"]
    assert plan["edges"] == [{"from": "load", "to": "total", "variables": ["xs"]}]
    assert plan["params"]["n"]["default"] == 4
    # laid out by the server (the side panel only draws), in both directions, and the statuses' looks
    from jupyter_mlpipe.panel.layout import side_panel_layouts
    from jupyter_mlpipe.vocab import looks_json

    assert set(plan["layouts"]) == {"LR", "TB"}
    for direction, graph in plan["layouts"].items():
        assert graph["direction"] == direction and [n["name"] for n in graph["nodes"]] == ["load", "total"]
        edge = graph["edges"][0]
        assert (edge["from"], edge["to"], edge["variables"]) == ("load", "total", ["xs"])
        assert edge["path"].startswith("M") and len(edge["points"]) == 2
    assert plan["layouts"] == side_panel_layouts(plan)
    assert plan["looks"] == looks_json()


def test_a_plan_error_is_a_400_with_its_data(api, jp_root_dir):
    write_notebook(jp_root_dir / "bad.ipynb", ["%%step a\nx = 1", "%%step a\ny = 2"])
    status, body = api("GET", "plan", params={"path": "bad.ipynb"})
    _refused(status, body, 400, "Duplicate step name 'a'", "unique")
    assert body["error"] == "PlanError" and body["step"] == "a" and body["cell"] == 1
    assert "variable" in body
    status, body = api("POST", "runs", body={"path": "bad.ipynb"})
    _refused(status, body, 400, "Duplicate step name")


def test_no_runs_yet_is_an_empty_list_and_creates_nothing(api, jp_root_dir):
    write_notebook(jp_root_dir / "pipe.ipynb", CHAIN)
    status, body = api("GET", "runs", params={"path": "pipe.ipynb"})
    assert (status, body) == (200, {"runs": []})
    assert not (jp_root_dir / ".mlpipe").exists()


def test_requests_without_credentials_are_refused(api, jp_root_dir):
    write_notebook(jp_root_dir / "pipe.ipynb", CHAIN)
    no_token = {"Authorization": ""}
    for method, parts, kwargs in [
        ("GET", ("plan",), {"params": {"path": "pipe.ipynb"}}),
        ("GET", ("runs",), {"params": {"path": "pipe.ipynb"}}),
        ("POST", ("runs",), {"body": {"path": "pipe.ipynb"}}),
        ("GET", ("runs", RUN_ID), {}),
        ("DELETE", ("runs", RUN_ID), {}),
        ("GET", ("runs", RUN_ID, "steps", "load", "notebook"), {}),
    ]:
        status, body = api(method, *parts, headers=no_token, **kwargs)
        _refused(status, body, 403, "token")
    assert not (jp_root_dir / ".mlpipe").exists()  # nothing ran


@pytest.fixture
def outside(jp_root_dir, tmp_path):
    """A notebook next to (not inside) the root, and a symlink to it inside the root."""
    target = write_notebook(tmp_path / "outside.ipynb", CHAIN)
    (jp_root_dir / "link.ipynb").symlink_to(target)
    (jp_root_dir / "linked").symlink_to(tmp_path, target_is_directory=True)
    (jp_root_dir / ".hidden").mkdir()
    write_notebook(jp_root_dir / ".hidden" / "pipe.ipynb", CHAIN)
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    return target


REFUSED_PATHS = {
    "dot-dot": ("../outside.ipynb", 403, "leaves the Jupyter root"),
    "dot-dot inside": ("sub/../../outside.ipynb", 403, "leaves the Jupyter root"),
    "symlink out of the root": ("link.ipynb", 403, "outside the Jupyter root"),
    "through a linked folder": ("linked/outside.ipynb", 403, "outside the Jupyter root"),
    "hidden folder": (".hidden/pipe.ipynb", 403, "hidden"),
    "not a notebook": ("notes.txt", 400, ".ipynb"),
    "missing": ("nope.ipynb", 404, "No notebook at 'nope.ipynb'"),
    "empty": ("", 400, "Missing notebook path"),
}


@pytest.mark.parametrize("path,code,words", REFUSED_PATHS.values(), ids=REFUSED_PATHS.keys())
def test_paths_are_confined_to_the_root(api, outside, path, code, words):
    for method, parts, kwargs in [("GET", ("plan",), {"params": {"path": path}}),
                                  ("GET", ("runs",), {"params": {"path": path}}),
                                  ("POST", ("runs",), {"body": {"path": path}})]:
        status, body = api(method, *parts, **kwargs)
        _refused(status, body, code, words)
    assert not (outside.parent / ".mlpipe").exists()


def test_absolute_paths_are_refused(api, outside, jp_root_dir):
    write_notebook(jp_root_dir / "pipe.ipynb", CHAIN)
    for path in (str(outside), str(jp_root_dir / "pipe.ipynb")):
        status, body = api("GET", "plan", params={"path": path})
        _refused(status, body, 403, "Absolute paths are refused", "relative to the Jupyter root")
        status, body = api("POST", "runs", body={"path": path})
        _refused(status, body, 403, "Absolute paths")


def test_run_ids_step_names_and_unknown_runs(api, jp_root_dir):
    write_notebook(jp_root_dir / "pipe.ipynb", CHAIN)
    for method in ("GET", "DELETE"):
        status, body = api(method, "runs", "not-a-run")
        _refused(status, body, 400, "is not a run id", "20261125-023501-3f9a1c")
    status, body = api("GET", "runs", "not-a-run", "steps", "load", "notebook")
    _refused(status, body, 400, "is not a run id")
    status, body = api("GET", "runs", RUN_ID, "steps", "no.such step", "notebook")
    _refused(status, body, 400, "is not a step name")
    status, body = api("GET", "runs", RUN_ID)
    _refused(status, body, 404, RUN_ID, "?path=NOTEBOOK")
    status, body = api("GET", "runs", RUN_ID, params={"path": "pipe.ipynb"})
    _refused(status, body, 404, "'pipe.ipynb'")
    status, body = api("GET", "runs", RUN_ID, "steps", "load", "notebook")
    _refused(status, body, 404, RUN_ID)
    status, body = api("DELETE", "runs", RUN_ID)
    _refused(status, body, 404, "not started by this server")
    status, body = api("GET", "nothing", "here")
    _refused(status, body, 404, "No such endpoint", "runs/{id}")


def test_bad_run_requests(api, jp_root_dir):
    write_notebook(jp_root_dir / "pipe.ipynb", CHAIN)
    cases = [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"path": "pipe.ipynb", "parms": {}}, "Unknown field 'parms'"),
        ({"path": "pipe.ipynb", "params": [1]}, "'params' must be an object"),
        ({"path": "pipe.ipynb", "steps": "load"}, "'steps' must be a list"),
        ({"path": "pipe.ipynb", "steps": ["../x"]}, "is not a step name"),
        ({"path": "pipe.ipynb", "force": "yes"}, "'force' must be true or false"),
        ({"path": "pipe.ipynb", "params": {"m": 1}}, "Unknown parameter 'm'"),
        ({"path": "pipe.ipynb", "steps": ["train"]}, "No step named 'train'"),
    ]
    for body, words in cases:
        status, answer = api("POST", "runs", body=body)
        _refused(status, answer, 400, words)
    assert not (jp_root_dir / ".mlpipe" / "runs").exists()


def _wait(api, run_id, until, timeout=120.0, **params):
    deadline = time.monotonic() + timeout
    while True:
        status, run = api("GET", "runs", run_id, params=params or None)
        assert status == 200, run
        if until(run):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.2)


@pytest.mark.slow
def test_a_run_started_over_http(api, jp_root_dir, ray_address):
    (jp_root_dir / "sub").mkdir()
    write_notebook(jp_root_dir / "sub" / "pipe.ipynb", CHAIN)
    status, started = api("POST", "runs", body={"path": "sub/pipe.ipynb", "params": {"n": 5}})
    assert status == 202, started
    assert started["status"] == "running" and started["steps"] == ["load", "total"]
    run_id = started["id"]

    run = _wait(api, run_id, lambda r: r["status"] != "running")
    assert run["status"] == "succeeded", run
    assert run["notebook"] == "sub/pipe.ipynb" and run["params"] == {"n": 5} and run["live"] is True
    assert list(run["steps"]) == ["load", "total"]
    for name, step in run["steps"].items():
        assert step["status"] == "succeeded" and step["decision"] == "ran"
        assert step["reason"] == "this step never ran before"
        assert step["duration"] >= 0 and step["error"] is None
        assert step["notebook_path"] == f"sub/.mlpipe/runs/{run_id}/{name}.ipynb" and step["has_notebook"]
    assert run["metrics"]["total"]["total"][0]["value"] == 10
    assert str(jp_root_dir) not in json.dumps(run)

    # the same run from the history, with ?path=, and in the notebook's run list
    status, same = api("GET", "runs", run_id, params={"path": "sub/pipe.ipynb", "plan": "true"})
    assert status == 200 and same["status"] == "succeeded" and same["plan"]["notebook"] == "sub/pipe.ipynb"
    assert [n["name"] for n in same["plan"]["layouts"]["TB"]["nodes"]] == ["load", "total"]
    assert run["looks"]["succeeded"]["icon"] == "✓" and same["looks"] == run["looks"]
    status, listing = api("GET", "runs", params={"path": "sub/pipe.ipynb"})
    assert status == 200 and [r["id"] for r in listing["runs"]] == [run_id]
    assert listing["runs"][0]["step_counts"] == {"succeeded": 2}
    assert str(jp_root_dir) not in json.dumps(listing)

    # the executed step notebook, as stored
    assert run["steps"]["load"]["notebook_endpoint"] == f"runs/{run_id}/steps/load/notebook"
    status, nb = api("GET", *run["steps"]["load"]["notebook_endpoint"].split("/"))
    assert status == 200 and nb["nbformat"] == 4
    assert "loaded 5" in json.dumps(nb["cells"])
    status, body = api("GET", "runs", run_id, "steps", "train", "notebook")
    _refused(status, body, 404, "no step 'train'", "load, total")

    # a finished run cannot be cancelled; a second run reuses both steps
    status, body = api("DELETE", "runs", run_id)
    _refused(status, body, 409, "already finished")
    assert body["run_status"] == "succeeded"
    status, again = api("POST", "runs", body={"path": "sub/pipe.ipynb", "params": {"n": 5}, "steps": ["load"]})
    assert status == 202 and again["steps"] == ["load"]
    run = _wait(api, again["id"], lambda r: r["status"] != "running")
    load = run["steps"]["load"]
    assert (load["status"], load["from_run"]) == ("reused", run_id), load
    assert load["reason"] == f"nothing changed since run {run_id}"
    assert load["notebook_path"] == f"sub/.mlpipe/runs/{run_id}/load.ipynb"  # the run that computed it
    status, nb = api("GET", *load["notebook_endpoint"].split("/"))
    assert status == 200 and "loaded 5" in json.dumps(nb["cells"])
    # a run that reuses `total` shows the metric `total` logged when it ran
    status, third = api("POST", "runs", body={"path": "sub/pipe.ipynb", "params": {"n": 5}})
    run = _wait(api, third["id"], lambda r: r["status"] != "running")
    assert run["steps"]["total"]["status"] == "reused"
    assert run["metrics"]["total"]["total"][0]["value"] == 10


@pytest.mark.slow
def test_a_long_run_is_cancelled_by_delete(api, jp_root_dir, ray_address):
    write_notebook(jp_root_dir / "slow.ipynb", ["import time", "%%step wait\ntime.sleep(120)\nx = 1",
                                                "%%step after\ny = x"])
    status, started = api("POST", "runs", body={"path": "slow.ipynb"})
    assert status == 202, started
    run_id = started["id"]
    _wait(api, run_id, lambda r: r["steps"]["wait"]["status"] == "running")
    status, body = api("DELETE", "runs", run_id)
    assert (status, body) == (202, {"id": run_id, "status": "cancelling"})
    run = _wait(api, run_id, lambda r: r["status"] != "running", timeout=60)
    assert run["status"] == "cancelled"
    assert {n: s["status"] for n, s in run["steps"].items()} == {"wait": "cancelled", "after": "cancelled"}
    status, listing = api("GET", "runs", params={"path": "slow.ipynb"})
    assert listing["runs"][0]["status"] == "cancelled"


def test_an_unreadable_notebook_is_a_400_without_the_servers_paths(api, jp_root_dir):
    (jp_root_dir / "broken.ipynb").write_text("{not json")
    status, body = api("GET", "plan", params={"path": "broken.ipynb"})
    _refused(status, body, 400, "'broken.ipynb' is not a readable .ipynb notebook")
    assert str(jp_root_dir) not in json.dumps(body)


@pytest.mark.slow
def test_runs_started_elsewhere_are_found_in_their_history(api, jp_root_dir, ray_address):
    import jupyter_mlpipe

    write_notebook(jp_root_dir / "fails.ipynb", ["%%step boom\nraise ValueError('no data')"])
    (jp_root_dir / "sub").mkdir()
    write_notebook(jp_root_dir / "sub" / "other.ipynb", ["%%step one\nx = 1"])
    failed = jupyter_mlpipe.run(jp_root_dir / "fails.ipynb")  # not through the server
    other = jupyter_mlpipe.run(jp_root_dir / "sub" / "other.ipynb")
    assert (failed.status, other.status) == ("failed", "succeeded")

    status, run = api("GET", "runs", failed.id)  # found in <root>/.mlpipe without ?path=
    assert status == 200 and run["status"] == "failed" and run["live"] is False
    boom = run["steps"]["boom"]
    assert boom["status"] == "failed" and boom["error"]["ename"] == "ValueError"
    assert "ValueError: no data" in boom["error"]["message"]
    assert boom["notebook_path"] == f".mlpipe/runs/{failed.id}/boom.ipynb" and boom["has_notebook"]
    assert str(jp_root_dir) not in json.dumps(run)

    status, body = api("GET", "runs", other.id)  # a folder this server has not looked at yet
    _refused(status, body, 404, "?path=NOTEBOOK")
    status, run = api("GET", "runs", other.id, params={"path": "sub/other.ipynb"})
    assert status == 200 and run["status"] == "succeeded" and run["notebook"] == "sub/other.ipynb"
    status, run = api("GET", "runs", other.id)  # now it has
    assert status == 200
    status, nb = api("GET", "runs", other.id, "steps", "one", "notebook")
    assert status == 200 and nb["nbformat"] == 4
    status, body = api("DELETE", "runs", other.id)
    _refused(status, body, 404, "not started by this server")


def test_runs_of_notebooks_open_in_a_session_are_found_without_path(api, jp_root_dir, jp_serverapp,
                                                                    monkeypatch, ray_address):
    """The kernel's run panel links to mlpipe:RUN/STEP.ipynb, with no notebook: the server looks
    in the histories of the notebooks its sessions have open."""
    import jupyter_mlpipe

    (jp_root_dir / "deep" / "er").mkdir(parents=True)
    write_notebook(jp_root_dir / "deep" / "er" / "open.ipynb", ["%%step one\nx = 1"])
    done = jupyter_mlpipe.run(jp_root_dir / "deep" / "er" / "open.ipynb")  # as a kernel would
    assert done.status == "succeeded"
    status, body = api("GET", "runs", done.id, "steps", "one", "notebook")
    _refused(status, body, 404, "open notebooks", "?path=NOTEBOOK")

    sessions = [{"path": "deep/er/open.ipynb", "type": "notebook"},
                {"path": "mlpipe:20260101-000000-abcdef/one.ipynb", "type": "notebook"},  # a drive path
                {"path": "../outside.ipynb", "type": "notebook"}]  # never followed out of the root

    async def list_sessions():
        return sessions

    monkeypatch.setattr(jp_serverapp.session_manager, "list_sessions", list_sessions)
    status, nb = api("GET", "runs", done.id, "steps", "one", "notebook")
    assert status == 200 and nb["nbformat"] == 4
    assert "x = 1" in json.dumps(nb)
    status, run = api("GET", "runs", done.id)
    assert status == 200 and run["notebook"] == "deep/er/open.ipynb"


def test_plans_and_runs_are_served_with_their_layouts_and_looks():
    """No server needed: what `GET plan` and `GET runs/{id}` put around a plan and a run record."""
    import math

    from jupyter_mlpipe.panel.layout import edge_path
    from jupyter_mlpipe.server.records import plan_view, run_detail
    from jupyter_mlpipe.vocab import looks_json

    plan = {"steps": [{"name": "a", "cells": [0], "resources": {"compute": "gpu", "num_gpus": 1}}, {"name": "b"}],
            "edges": [{"from": "a", "to": "b", "variables": ("x",)}], "params": {"lr": {"default": math.nan}}}
    view = plan_view(plan, "nb.ipynb")
    assert view["notebook"] == "nb.ipynb" and view["looks"] == looks_json()
    assert view["edges"] == [{"from": "a", "to": "b", "variables": ["x"]}]  # tuples become lists
    assert view["params"]["lr"]["default"] is None  # JSON has no NaN
    lr = view["layouts"]["LR"]
    assert lr["nodes"][0]["num_gpus"] == 1 and lr["nodes"][0]["cell"] == 0
    assert lr["edges"][0]["path"] == edge_path(lr["edges"][0]["points"])
    assert view["layouts"]["TB"]["edges"][0]["path"] == edge_path(view["layouts"]["TB"]["edges"][0]["points"], "TB")
    json.dumps(view, allow_nan=False)
    record = {"id": RUN_ID, "notebook": None, "status": "succeeded", "started": 1.0, "ended": 2.0,
              "duration": math.inf, "params": {}, "options": {}, "steps": {}, "metrics": {}}
    detail = run_detail(record, "/nonexistent-root")
    assert detail["looks"] == looks_json() and detail["duration"] is None


def test_loading_the_extension_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, jupyter_mlpipe.server, jupyter_mlpipe.server.handlers; "
            "print(sorted(m for m in ('ray', 'pyarrow', 'pandas', 'papermill') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


class ReadOnlyAuthorizer(Authorizer):  # noqa: F405 - from pytest_jupyter.jupyter_server
    """A user who may look but not execute (as with JupyterHub's read-only sharing)."""

    def is_authorized(self, handler, user, action, resource):
        return action == "read"


class TestAReadOnlyUser:
    @pytest.fixture
    def jp_server_config(self):
        return {"ServerApp": {"jpserver_extensions": {"jupyter_mlpipe.server": True},
                              "authorizer_class": ReadOnlyAuthorizer}}

    def test_may_read_plans_and_runs_but_not_start_or_cancel_runs(self, api, jp_root_dir):
        write_notebook(jp_root_dir / "pipe.ipynb", CHAIN)
        assert api("GET", "plan", params={"path": "pipe.ipynb"})[0] == 200
        assert api("GET", "runs", params={"path": "pipe.ipynb"}) == (200, {"runs": []})
        status, body = api("POST", "runs", body={"path": "pipe.ipynb"})
        _refused(status, body, 403, "not authorized to execute on resource: kernels", "permission")
        status, body = api("DELETE", "runs", RUN_ID)
        _refused(status, body, 403, "not authorized to write on resource: kernels")
        assert not (jp_root_dir / ".mlpipe").exists()


def test_steps_carry_the_digest_of_their_code_in_the_plan_and_in_a_run():
    """The side panel's "edited since the last run": the plan's code digest of a step against the run's."""
    from jupyter_mlpipe.execute.reuse import step_code
    from jupyter_mlpipe.plan import Pipeline
    from jupyter_mlpipe.server.records import plan_view, step_detail

    def digests(sources: list[str]) -> dict[str, str]:
        pipeline = Pipeline.from_sources(sources)
        return {s["name"]: s["code_digest"] for s in plan_view(pipeline.to_dict(), "nb.ipynb", pipeline)["steps"]}

    before = Pipeline.from_sources(["%%step a\nx = 1", "%%step b\ny = x + 1"])
    now = digests(["%%step a --cpus 2\nx  =  1  # a comment and spaces: not an edit", "%%step b\ny = x + 2"])
    ran = {name: step_detail(name, {"status": "succeeded", "reason": {"components": {"code": step_code(step)}}},
                             "/nonexistent-root")["code_digest"] for name, step in before.steps.items()}
    assert now["a"] == ran["a"] and now["b"] != ran["b"]
    assert step_detail("a", {"status": "skipped"}, "/nonexistent-root")["code_digest"] is None


def test_plans_and_a_runs_plan_draw_module_steps_closed_unless_expand_opens_them(api, jp_root_dir):
    """Issue #16: `expand=NAME,...` opens module steps in `layouts`; unknown names are ignored."""
    from jupyter_mlpipe.api import plan as plan_of
    from jupyter_mlpipe.store.history import History
    from jupyter_mlpipe.store.paths import Store

    (jp_root_dir / "lib").mkdir()
    write_notebook(jp_root_dir / "lib" / "f.ipynb", [
        {"source": "raw = None", "tags": ["parameters"]}, "%%step clean\ndf = [x for x in raw if x]",
        "%%step scale\nX = [x * 2 for x in df]"])
    path = write_notebook(jp_root_dir / "user.ipynb", [
        "%%step load\nrows = [1, 0, 2]", "%%step feats --module lib/f.ipynb\nraw = rows", "%%step train\nm = sum(X)"])
    status, plan = api("GET", "plan", params={"path": "user.ipynb"})
    assert status == 200, plan
    for layout in plan["layouts"].values():
        assert [n["name"] for n in layout["nodes"]] == ["load", "feats", "train"]
        assert layout["nodes"][1]["module"]["members"] == ["feats", "feats.clean", "feats.scale"]
        assert layout["status_order"][0] == "failed"
    status, opened = api("GET", "plan", params={"path": "user.ipynb", "expand": "feats,nope"})
    assert status == 200 and len(opened["layouts"]["LR"]["nodes"]) == 5
    assert {n.get("group") for n in opened["layouts"]["TB"]["nodes"]} == {None, "feats"}

    history = History(Store.for_notebook(path).history_path)  # a recorded run: no Ray needed to read its plan
    run_id = history.new_run_id()
    history.start_run(run_id, notebook=str(path), params={}, plan=plan_of(path).to_dict())
    status, run = api("GET", "runs", run_id, params={"path": "user.ipynb", "plan": "true"})
    assert status == 200 and len(run["plan"]["layouts"]["LR"]["nodes"]) == 3
    status, run = api("GET", "runs", run_id, params={"path": "user.ipynb", "plan": "true", "expand": "feats"})
    assert status == 200 and len(run["plan"]["layouts"]["LR"]["nodes"]) == 5
