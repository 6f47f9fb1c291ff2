"""Published pipelines without a server: the workspace rule, snapshots, versions, parameters, keys, and
running a published version with the workspace's store and reuse (real runs on the suite's Ray)."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from conftest import mlpipe_cli
from publish_fixtures import chain_notebook

from jupyter_mlpipe.errors import ParamError, PlanError, PublishError, ScheduleError
from jupyter_mlpipe.publish import Keys, Registry, Schedules, pipeline_runs, run_published, workspace_at, workspace_of
from jupyter_mlpipe.publish.keys import KeyRefused


def test_the_workspace_is_the_nearest_folder_with_mlpipe_toml(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert workspace_of(tmp_path / "a" / "b" / "nb.ipynb").root == (tmp_path / "a" / "b").resolve()
    (tmp_path / "mlpipe.toml").write_text("")
    assert workspace_of(tmp_path / "a" / "b" / "nb.ipynb").root == tmp_path.resolve()
    assert workspace_at(tmp_path / "a").root == tmp_path.resolve()


def test_publish_makes_immutable_numbered_versions(tmp_path):
    nb = chain_notebook(tmp_path)
    registry = Registry(workspace_of(nb))
    first = registry.publish(nb, "daily", "first cut")
    second = registry.publish(nb, "daily")
    assert (first["version"], second["version"]) == (1, 2)
    info = registry.pipeline("daily")
    assert info["default"] == 1 and info["enabled"] and [v["version"] for v in info["versions"]] == [1, 2]
    snapshot, copy = registry.snapshot("daily")
    assert snapshot["params"]["C"] == {"default": 0.5, "type": "float", "source": "C = 0.5"}
    assert snapshot["params"]["n"]["type"] == "int" and snapshot["params"]["files"]["type"] == "list"
    assert [s["name"] for s in snapshot["plan"]["steps"]] == ["load", "total"]
    assert snapshot["environment"]["python"] and "compute" in snapshot
    assert copy.read_bytes() == nb.read_bytes()
    assert not os.stat(copy).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # read-only
    registry.set_default("daily", 2)
    assert registry.pipeline("daily")["default"] == 2
    with pytest.raises(PublishError, match="has no version 7") as info:
        registry.set_default("daily", 7)
    assert "1, 2" in str(info.value)
    # a version whose bytes changed after publishing is refused, never run
    copy.chmod(0o644)
    copy.write_text(copy.read_text().replace("sum(xs)", "max(xs)"))
    with pytest.raises(PublishError, match="modified after it was published"):
        registry.snapshot("daily", 1)


def test_bad_publishes_say_what_to_do(tmp_path):
    nb = chain_notebook(tmp_path)
    registry = Registry(workspace_of(nb))
    with pytest.raises(PublishError, match="not a pipeline name"):
        registry.publish(nb, "has space")
    with pytest.raises(PublishError, match="No notebook"):
        registry.publish(tmp_path / "missing.ipynb", "x")
    from conftest import write_notebook

    empty = write_notebook(tmp_path / "empty.ipynb", ["x = 1"])
    with pytest.raises(PlanError, match="nothing to publish"):
        registry.publish(empty, "x")
    with pytest.raises(PublishError, match="No published pipeline named 'nope'"):
        registry.pipeline("nope")
    assert registry.names() == []  # nothing half-published


def test_parameters_are_checked_against_the_snapshot(tmp_path):
    from jupyter_mlpipe.publish.params import check_params

    nb = chain_notebook(tmp_path)
    registry = Registry(workspace_of(nb))
    specs = registry.publish(nb, "p")["params"]
    assert check_params(specs, {"C": 1, "n": 3, "files": ["a"]}) == {"C": 1, "n": 3, "files": ["a"]}
    with pytest.raises(ParamError) as info:
        check_params(specs, {"C": "high"})
    assert (info.value.param, info.value.expected, info.value.got) == ("C", "float", "str")
    assert "'C' must be a float" in info.value.message and "'high'" in info.value.message
    with pytest.raises(ParamError, match="Unknown parameter 'lr'") as info:
        check_params(specs, {"lr": 0.1})
    assert "C, delay, files, n" in info.value.message
    with pytest.raises(ParamError, match="must be an int"):
        check_params(specs, {"n": True})


def test_a_published_run_runs_the_snapshot_reuses_and_is_marked(ray_address, tmp_path):
    nb = chain_notebook(tmp_path)
    workspace = workspace_of(nb)
    Registry(workspace).publish(nb, "daily")
    chain_notebook(tmp_path, factor="1000")  # edit the notebook after publishing: the snapshot is what runs
    run = run_published(workspace, "daily", params={"n": 5}, trigger={"kind": "api"})
    assert run.status == "succeeded", run.summary()
    assert run["total"] == 5.0  # sum(range(5)) * 0.5, not * 1000
    again = run_published(workspace, "daily", params={"n": 5})
    assert again.status == "succeeded" and {s.status for s in again.steps.values()} == {"reused"}
    listed = pipeline_runs(workspace, "daily")
    assert [r["id"] for r in listed] == [again.id, run.id]
    assert (listed[0]["pipeline"], listed[0]["pipeline_version"], listed[0]["trigger"]) == (
        "daily", 1, {"kind": "api"})
    # the notebook's own runs list them (`mlpipe runs NOTEBOOK`), and its next run reuses 'load'
    from jupyter_mlpipe import run as run_notebook, runs

    assert {r["id"] for r in runs(nb)} >= {run.id, again.id}
    live = run_notebook(nb, {"n": 5})
    assert live.steps["load"].status == "reused" and live.steps["total"].status == "succeeded"
    assert live["total"] == 5000.0
    table = mlpipe_cli("runs", str(nb)).stdout
    assert "published" in table and "daily v1 (api)" in table, table
    filtered = json.loads(mlpipe_cli("runs", str(nb), "--pipeline", "daily", "--trigger", "api", "--json").stdout)
    assert [r["id"] for r in filtered] == [again.id, run.id]
    assert mlpipe_cli("runs", str(nb), "--trigger", "schedule", "--json").stdout.strip() == "[]"
    Registry(workspace).set_enabled("daily", False)
    with pytest.raises(PublishError, match="disabled"):
        run_published(workspace, "daily")


def test_keys_are_stored_hashed_scoped_revocable_and_expire(tmp_path):
    nb = chain_notebook(tmp_path)
    workspace = workspace_of(nb)
    Registry(workspace).publish(nb, "a")
    keys = Keys(workspace)
    made = keys.create("a")
    assert made["key"].startswith(f"mlp_{made['id']}_") and made["pipeline"] == "a" and made["expires"] is None
    secret = made["key"].rsplit("_", 1)[1]
    assert secret.encode() not in workspace.registry_path.read_bytes()  # only its hash is kept
    assert keys.check(made["key"])["pipeline"] == "a"
    for bad in ("", "mlp_000000000000_" + "x" * 43, made["key"][:-2] + "zz", "token"):
        with pytest.raises(KeyRefused, match="not valid"):
            keys.check(bad)
    short = keys.create("a", expires_in=0.2)
    time.sleep(0.3)
    with pytest.raises(KeyRefused, match="expired"):
        keys.check(short["key"])
    assert keys.revoke(made["id"])["state"] == "revoked"
    with pytest.raises(KeyRefused, match="revoked"):
        keys.check(made["key"])
    assert [k["state"] for k in keys.list()] == ["revoked", "expired"]
    with pytest.raises(PublishError, match="No API key with id"):
        keys.revoke("nope")
    with pytest.raises(PublishError, match="No published pipeline"):
        keys.create("b")


def test_schedules_refuse_bad_definitions(tmp_path):
    nb = chain_notebook(tmp_path)
    workspace = workspace_of(nb)
    Registry(workspace).publish(nb, "a")
    schedules = Schedules(workspace)
    with pytest.raises(ScheduleError, match="not a cron expression"):
        schedules.add("a", cron="61 * * * *")
    with pytest.raises(ScheduleError, match="not a time zone"):
        schedules.add("a", cron="0 3 * * *", tz="Mars/Olympus")
    with pytest.raises(ScheduleError, match="--path-param 'n' must be a parameter .* whose default is a list"):
        schedules.add("a", on_change="*.csv", path_param="n")
    with pytest.raises(ParamError, match="Unknown parameter 'lr'"):
        schedules.add("a", every=60, params={"lr": 1})
    cron = schedules.add("a", cron="0 3 * * *", tz="Europe/Paris", params={"n": 2})
    assert cron["describe"] == "cron '0 3 * * *' Europe/Paris" and cron["overlap"] == "skip"
    fire = time.localtime(cron["next_fire"])
    assert cron["next_fire"] > time.time() and fire.tm_min == 0
    every = schedules.add("a", every=900, overlap="queue")
    assert every["describe"] == "every 15m" and abs(every["next_fire"] - every["created"] - 900) < 1
    assert [s["id"] for s in schedules.list()] == [cron["id"], every["id"]]
    assert schedules.set_paused(every["id"], True)["paused"]
    schedules.remove(cron["id"])
    with pytest.raises(ScheduleError, match="No schedule"):
        schedules.get(cron["id"])


def test_the_cli_publishes_lists_and_changes(tmp_path):
    nb = chain_notebook(tmp_path)
    done = mlpipe_cli("publish", str(nb), "--name", "cli-pipe", "--description", "v one", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "cli-pipe v1"
    done = mlpipe_cli("publish", str(nb), "--name", "cli-pipe", "--json", cwd=tmp_path)
    assert json.loads(done.stdout) == {"name": "cli-pipe", "version": 2, "default": 1}
    assert mlpipe_cli("published", "cli-pipe", "--set-default", "2", cwd=tmp_path).returncode == 0
    assert mlpipe_cli("published", "cli-pipe", "--disable", cwd=tmp_path).returncode == 0
    listing = json.loads(mlpipe_cli("published", "--json", cwd=tmp_path).stdout)
    assert [(p["name"], p["default"], p["enabled"]) for p in listing] == [("cli-pipe", 2, False)]
    table = mlpipe_cli("published", cwd=tmp_path).stdout
    assert "cli-pipe" in table and "disabled" in table and "1,2" in table
    made = json.loads(mlpipe_cli("keys", "create", "cli-pipe", "--expires", "90d", "--json", cwd=tmp_path).stdout)
    assert set(made) == {"id", "key", "pipeline", "expires"} and made["expires"] > time.time() + 89 * 86400
    assert made["key"] not in mlpipe_cli("keys", "list", cwd=tmp_path).stdout
    assert "revoked" in mlpipe_cli("keys", "revoke", made["id"], cwd=tmp_path).stdout
    added = mlpipe_cli("schedule", "add", "cli-pipe", "--every", "15m", "-p", "n=3", "--json", cwd=tmp_path)
    assert json.loads(added.stdout)["params"] == {"n": 3}, added.stderr
    bad = mlpipe_cli("schedule", "add", "cli-pipe", "--every", "soon", cwd=tmp_path)
    assert bad.returncode == 2 and "--every: 'soon' is not a duration" in bad.stderr
    bad = mlpipe_cli("publish", str(nb), "--name", "no way", cwd=tmp_path)
    assert bad.returncode == 2 and "is not a pipeline name" in bad.stderr


def test_pipeline_publish_and_schedule_in_a_kernel(tmp_path):
    """`%pipeline publish` snapshots the saved notebook the kernel belongs to; `%pipeline schedule` acts on
    its workspace (an IPython shell told its notebook as Jupyter Server tells kernels: JPY_SESSION_NAME)."""
    import subprocess
    import sys

    nb = chain_notebook(tmp_path)
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'jupyter_mlpipe')\n"
        "ip.run_cell('%pipeline publish kern --description \"from the kernel\"')\n"
        "ip.run_cell('%pipeline schedule add kern --every 1h -p n=2')\n"
        "ip.run_cell('%pipeline schedule list')\n"
        "ip.run_cell('%pipeline publish \"no way\"')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "JPY_SESSION_NAME": str(nb), "MLPIPE_RAY_PRESTART": "0"})
    text = out.stdout + out.stderr
    assert "kern v1" in text, text
    assert "every 1h" in text and "UsageError" in text and "is not a pipeline name" in text
    info = Registry(workspace_of(nb)).pipeline("kern")
    assert info["versions"][0]["description"] == "from the kernel"
    assert Schedules(workspace_of(nb)).list("kern")[0]["params"] == {"n": 2}
