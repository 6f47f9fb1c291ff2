"""Published pipelines through a real server: `mlpipe serve` in a subprocess (and the extension inside a
Jupyter server, pytest-jupyter): triggering with keys, what keys may not do, parameters, the queue."""

from __future__ import annotations

import json
import time

import pytest

from publish_fixtures import TOKEN, Server, chain_notebook

from jupyter_mlpipe.publish import Keys, Registry, workspace_at


@pytest.fixture(scope="module")
def served(ray_address, tmp_path_factory):
    """One workspace with pipelines 'daily' and 'other', and `mlpipe serve` on it."""
    root = tmp_path_factory.mktemp("served")
    (root / "mlpipe.toml").write_text("")
    (root / "nbs").mkdir()
    nb = chain_notebook(root / "nbs")
    workspace = workspace_at(root)
    registry = Registry(workspace)
    registry.publish(nb, "daily")
    registry.publish(nb, "other")
    chain_notebook(root / "nbs", factor="1000")  # edited after publishing: triggers must not see it
    server = Server(root)
    yield server, workspace, nb
    server.stop()


def test_a_trigger_with_a_key_runs_the_snapshot(served):
    server, workspace, nb = served
    key = Keys(workspace).create("daily")
    status, body, headers = server.call("POST", "pipelines/daily/runs", key=key["key"],
                                        body={"params": {"n": 5}, "tags": {"source": "ci"}})
    assert status == 202, body
    assert set(body) >= {"run_id", "name", "version", "url"} and (body["name"], body["version"]) == ("daily", 1)
    assert headers["location"] == body["url"] == f"/mlpipe/api/runs/{body['run_id']}"
    run = server.wait_run(body["run_id"], key=key["key"])
    assert run["status"] == "succeeded", run
    assert (run["pipeline"], run["pipeline_version"]) == ("daily", 1)
    assert run["trigger"] == {"kind": "rest", "tags": {"source": "ci"}, "key": key["id"]}
    assert list(run["steps"]) == ["load", "total"]
    from jupyter_mlpipe import load_run

    assert load_run(body["run_id"], nb)["total"] == 5.0  # the snapshot's code, not the edited notebook's
    status, runs, _ = server.call("GET", "pipelines/daily/runs", key=key["key"])
    assert status == 200 and runs["runs"][0]["id"] == body["run_id"]
    assert runs["runs"][0]["trigger"]["kind"] == "rest"
    status, listed, _ = server.call("GET", "pipelines", key=key["key"])  # a key sees its own pipeline only
    assert [p["name"] for p in listed["pipelines"]] == ["daily"]
    status, detail, _ = server.call("GET", "pipelines/daily", key=key["key"])
    assert status == 200 and detail["default"] == 1 and detail["versions"][0]["params"]["C"]["type"] == "float"
    # the same version again: every step reused
    status, body, _ = server.call("POST", "pipelines/daily/runs", token=TOKEN, body={"params": {"n": 5}})
    again = server.wait_run(body["run_id"])
    assert {s["status"] for s in again["steps"].values()} == {"reused"}, again


def test_keys_can_do_only_their_pipeline(served):
    server, workspace, _ = served
    keys = Keys(workspace)
    good, other = keys.create("daily"), keys.create("other")
    revoked, expiring = keys.create("daily"), keys.create("daily", expires_in=0.5)
    keys.revoke(revoked["id"])
    time.sleep(0.6)
    trigger = {"params": {"n": 1}}
    for auth in ({}, {"key": "mlp_000000000000_" + "x" * 43}, {"key": revoked["key"]},
                 {"key": expiring["key"]}, {"raw_auth": "Bearer nonsense"}):
        status, body, headers = server.call("POST", "pipelines/daily/runs", body=trigger, **auth)
        assert status == 401, (auth, body)
        assert body["error"] == "Unauthorized" and body["hint"] and headers.get("www-authenticate", "").startswith("Bearer")
    status, body, _ = server.call("GET", "pipelines/daily/runs", key=expiring["key"])
    assert status == 401 and "expired" in body["message"]
    status, body, _ = server.call("POST", "pipelines/daily/runs", key=other["key"], body=trigger)
    assert status == 403 and "'other', not 'daily'" in body["message"]
    status, body, _ = server.call("GET", "pipelines/daily", key=other["key"])
    assert status == 403
    # nothing but its pipeline: no notebook plan, no file, no kernel
    for path in ("plan?path=nbs/pipe.ipynb", "runs?path=nbs/pipe.ipynb", "api/contents", "api/kernels",
                 "api/contents/nbs/pipe.ipynb"):
        status, body, _ = server.call("GET", path, key=good["key"])
        assert status in (401, 403), (path, status, body)
    status, body, _ = server.call("POST", "api/kernels", key=good["key"], body={})
    assert status in (401, 403)
    # a run of another pipeline is not readable with this key
    status, started, _ = server.call("POST", "pipelines/other/runs", key=other["key"], body=trigger)
    assert status == 202
    status, body, _ = server.call("GET", f"runs/{started['run_id']}", key=good["key"])
    assert status in (403, 404) and body["error"] in ("Forbidden", "RunNotFound")
    server.wait_run(started["run_id"], key=other["key"])


def test_bad_triggers_are_refused_before_anything_runs(served):
    server, workspace, nb = served
    key = Keys(workspace).create("daily")["key"]
    from jupyter_mlpipe import runs

    before = len(runs(nb, limit=1000))
    cases = [
        ({"params": {"C": "high"}}, 400, "BadParameter", "'C' must be a float"),
        ({"params": {"lr": 0.1}}, 400, "BadParameter", "Unknown parameter 'lr'"),
        ({"params": [1]}, 400, "BadRequest", "'params' must be an object"),
        ({"version": 9}, 400, "PublishError", "no version 9"),
        ({"version": "2"}, 400, "BadVersion", "'version' must be a version number"),
        ({"when": "now"}, 400, "BadRequest", "Unknown field 'when'"),
    ]
    for body, code, error, words in cases:
        status, answer, _ = server.call("POST", "pipelines/daily/runs", key=key, body=body)
        assert (status, answer["error"]) == (code, error), (body, answer)
        assert words in answer["message"], answer
    status, answer, _ = server.call("POST", "pipelines/daily/runs", key=key, body={"params": {"C": "high"}})
    assert (answer["param"], answer["expected"], answer["got"]) == ("C", "float", "str")
    status, answer, _ = server.call("POST", "pipelines/nope/runs", token=TOKEN, body={})
    assert status == 404 and "No published pipeline named 'nope'" in answer["message"]
    Registry(workspace).set_enabled("daily", False)
    try:
        status, answer, _ = server.call("POST", "pipelines/daily/runs", key=key, body={})
        assert status == 409 and answer["error"] == "PipelineDisabled" and "--enable" in answer["hint"]
    finally:
        Registry(workspace).set_enabled("daily", True)
    assert len(runs(nb, limit=1000)) == before  # nothing ran, nothing was recorded


def test_a_full_queue_answers_429_with_retry_after(ray_address, tmp_path):
    nb = chain_notebook(tmp_path)
    Registry(workspace_at(tmp_path)).publish(nb, "slow")
    server = Server(tmp_path, "--max-runs", "1", "--max-queued", "1", "--no-schedules")
    try:
        slow = {"params": {"delay": 4}}
        first = server.call("POST", "pipelines/slow/runs", token=TOKEN, body=slow)
        second = server.call("POST", "pipelines/slow/runs", token=TOKEN, body=slow)
        third = server.call("POST", "pipelines/slow/runs", token=TOKEN, body=slow)
        assert (first[0], first[1]["status"]) == (202, "running"), first
        assert (second[0], second[1]["status"]) == (202, "queued"), second
        status, body, headers = third
        assert status == 429 and body["error"] == "TooManyRuns", body
        assert int(headers["retry-after"]) >= 1 and body["retry_after"] == int(headers["retry-after"])
        queued = server.call("GET", f"runs/{second[1]['run_id']}", token=TOKEN)[1]
        assert queued["status"] == "queued"
        assert server.wait_run(first[1]["run_id"])["status"] == "succeeded"
        assert server.wait_run(second[1]["run_id"])["status"] == "succeeded"
    finally:
        server.stop()


# ---------------------------------------------------------------- inside a Jupyter server (pytest-jupyter)

from pytest_jupyter.jupyter_server import *  # noqa: E402, F403


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlpipe.server": True}}}


def test_the_jupyter_extension_serves_the_same_routes(jp_fetch, jp_asyncio_loop, jp_root_dir):
    nb = chain_notebook(jp_root_dir)
    Registry(workspace_at(jp_root_dir)).publish(nb, "lab")
    key = Keys(workspace_at(jp_root_dir)).create("lab")["key"]

    def get(*parts, headers=None):
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("mlpipe", "api", *parts, headers=headers, raise_error=False))
        return response.code, json.loads(response.body.decode())

    status, body = get("pipelines")
    assert status == 200 and [p["name"] for p in body["pipelines"]] == ["lab"]
    status, body = get("pipelines", "lab", headers={"Authorization": f"Bearer {key}"})
    assert status == 200 and body["name"] == "lab" and body["runs"] == []
    status, body = get("plan", headers={"Authorization": f"Bearer {key}"})
    assert status == 403


def test_publishing_from_the_browser(jp_fetch, jp_asyncio_loop, jp_root_dir):
    """`POST pipelines` (what the side panel's "Publish this pipeline" sends): Jupyter credentials only."""
    nb = chain_notebook(jp_root_dir)
    (jp_root_dir / "sub").mkdir()
    chain_notebook(jp_root_dir / "sub")

    def call(method, *parts, body=None, headers=None, params=None):
        kwargs = {"body": json.dumps(body)} if body is not None else {}
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("mlpipe", "api", *parts, method=method, headers=headers, params=params, raise_error=False,
                     **kwargs))
        return response.code, json.loads(response.body.decode())

    status, made = call("POST", "pipelines", body={"path": "pipe.ipynb", "name": "web", "description": "d"})
    assert (status, made) == (201, {"name": "web", "version": 1, "default": 1})
    status, listed = call("GET", "pipelines", params={"path": "pipe.ipynb"})
    assert [p["name"] for p in listed["pipelines"]] == ["web"]
    assert listed["pipelines"][0]["versions"][0]["path"] == "pipe.ipynb"
    status, listed = call("GET", "pipelines", params={"path": "sub/pipe.ipynb"})
    assert listed["pipelines"] == []
    status, body = call("POST", "pipelines", body={"path": "sub/pipe.ipynb", "name": "web"})
    assert status == 409 and body["error"] == "OtherWorkspace" and "mlpipe.toml" in body["hint"]
    status, body = call("POST", "pipelines", body={"path": "pipe.ipynb", "name": "bad name"})
    assert status == 400 and "not a pipeline name" in body["message"]
    key = Keys(workspace_at(jp_root_dir)).create("web")["key"]
    status, body = call("POST", "pipelines", body={"path": "pipe.ipynb", "name": "web"},
                        headers={"Authorization": f"Bearer {key}"})
    assert status == 403 and "cannot publish" in body["message"]
    assert [v["version"] for v in Registry(workspace_at(nb.parent)).pipeline("web")["versions"]] == [1]
