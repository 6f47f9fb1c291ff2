"""End to end: reuse what did not change, say why, keep the history right (real Ray and store)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import jupyter_mlpipe
from jupyter_mlpipe.store.artifacts import ArtifactStore
from jupyter_mlpipe.store.history import History

pytestmark = pytest.mark.slow


def _statuses(run) -> dict:
    return {name: s.status for name, s in run.steps.items()}


def _edit(path: Path, index: int, source: str) -> None:
    nb = json.loads(path.read_text())
    nb["cells"][index]["source"] = source
    path.write_text(json.dumps(nb, indent=1))


def _history(path: Path) -> History:
    return History(path.parent / ".mlpipe" / "history.sqlite")


def _artifact_file(path: Path, digest: str) -> Path:
    from jupyter_mlpipe.store.artifacts import ArtifactStore

    return Path(ArtifactStore(path.parent / ".mlpipe").path_of(digest))


CHAIN = [
    {"source": "scale = 2\nbias = 1", "tags": ["parameters"]},        # 0
    "import math",                                                   # 1
    "%%step load\nxs = list(range(5))",                              # 2
    "%%step scaled\nys = [x * scale for x in xs]",                   # 3
    "%%step total\ntotal = math.fsum(ys) + bias",                    # 4
]


def test_an_unchanged_rerun_reuses_everything(ray_address, notebook):
    path = notebook(CHAIN)
    first = jupyter_mlpipe.run(path)
    assert _statuses(first) == dict.fromkeys(["load", "scaled", "total"], "succeeded")
    for step in first.steps.values():
        assert step.reason["decision"] == "ran"
        assert step.reason["summary"] == "this step never ran before"
    second = jupyter_mlpipe.run(path)
    assert _statuses(second) == dict.fromkeys(["load", "scaled", "total"], "reused")
    assert second.status == "succeeded"
    assert second["total"] == 21.0
    for name, step in second.steps.items():
        assert step.reason["from_run"] == first.id
        assert first.id in step.reason["summary"]
        assert step.outputs == first.steps[name].outputs
        assert step.notebook_path == first.steps[name].notebook_path  # the executed notebook that made it
    assert not (path.parent / ".mlpipe" / "runs" / second.id).exists()  # nothing ran, nothing written
    # comments, blank lines and formatting are not part of the key
    _edit(path, 3, "%%step scaled\n# scale every value\nys = [ x*scale  for x in xs ]  # the scaled values\n\n")
    third = jupyter_mlpipe.run(path)
    assert _statuses(third) == dict.fromkeys(["load", "scaled", "total"], "reused")


def test_a_code_edit_reruns_the_step_and_identical_outputs_cut_off_downstream(ray_address, notebook):
    path = notebook(CHAIN)
    jupyter_mlpipe.run(path)
    _edit(path, 2, "%%step load\nxs = [0, 1, 2, 3, 4]")  # same value, different code
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"load": "succeeded", "scaled": "reused", "total": "reused"}
    reason = run.steps["load"].reason
    assert reason["summary"].startswith("the code changed")
    change = reason["changes"][0]
    assert "-xs = list(range(5))" in change and "+xs = [0, 1, 2, 3, 4]" in change
    # a real change of value propagates
    _edit(path, 2, "%%step load\nxs = [0, 1, 2, 3, 4, 5]")
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"load": "succeeded", "scaled": "succeeded", "total": "succeeded"}
    assert run.steps["scaled"].reason["summary"] == "input 'xs' changed: its value changed"
    assert run["total"] == 31.0
    # the history explains it too
    record = _history(path).get_run(run.id)
    assert record["steps"]["scaled"]["reason"]["summary"] == "input 'xs' changed: its value changed"


def test_a_parameter_change_reruns_only_the_steps_that_read_it(ray_address, notebook):
    path = notebook(CHAIN)
    jupyter_mlpipe.run(path)
    run = jupyter_mlpipe.run(path, params={"bias": 10})
    assert _statuses(run) == {"load": "reused", "scaled": "reused", "total": "succeeded"}
    assert run.steps["total"].reason["summary"] == "parameter 'bias' changed: '1' -> '10'" or \
        "parameter 'bias' changed" in run.steps["total"].reason["summary"]
    assert run["total"] == 30.0
    run = jupyter_mlpipe.run(path, params={"bias": 10, "scale": 3})
    assert _statuses(run) == {"load": "reused", "scaled": "succeeded", "total": "succeeded"}
    assert "parameter 'scale'" in run.steps["scaled"].reason["summary"]
    assert run["total"] == 40.0
    # going back to old values finds the old results
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == dict.fromkeys(["load", "scaled", "total"], "reused")
    assert run["total"] == 21.0


def test_deps_files_are_part_of_the_key(ray_address, notebook, tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n2\n")
    path = notebook([
        "%%step load --deps data.csv\nwith open('data.csv') as fh:\n    rows = fh.read().split()[1:]",
        "%%step count\nn = len(rows)",
    ])
    assert jupyter_mlpipe.run(path)["n"] == 2
    assert _statuses(jupyter_mlpipe.run(path)) == {"load": "reused", "count": "reused"}
    os.utime(tmp_path / "data.csv")  # a new timestamp is not a change
    assert _statuses(jupyter_mlpipe.run(path)) == {"load": "reused", "count": "reused"}
    (tmp_path / "data.csv").write_text("a\n1\n2\n3\n")
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"load": "succeeded", "count": "succeeded"}
    assert run.steps["load"].reason["summary"] == "file 'data.csv' changed: its content changed"
    assert run["n"] == 3


def test_no_cache_and_force(ray_address, notebook):
    path = notebook([
        "%%step live --no-cache\nvalue = 1",
        "%%step use\ndouble = value * 2",
        "%%step other\nz = 0",
    ])
    jupyter_mlpipe.run(path)
    run = jupyter_mlpipe.run(path)
    # --no-cache runs every time; its consumers only if its bytes changed
    assert _statuses(run) == {"live": "succeeded", "use": "reused", "other": "reused"}
    assert "--no-cache" in run.steps["live"].reason["summary"]
    run = jupyter_mlpipe.run(path, force=True)
    assert _statuses(run) == dict.fromkeys(["live", "use", "other"], "succeeded")
    assert all("--force" in s.reason["summary"] for s in run.steps.values())


def test_resume_after_a_failure_reuses_what_succeeded(ray_address, notebook):
    path = notebook([
        "%%step a\nx = 1",
        "%%step b\ny = x + 1\nraise RuntimeError('not yet')",
        "%%step c\nz = y + 1",
        "%%step d\nw = x * 10",
    ])
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"a": "succeeded", "b": "failed", "c": "skipped", "d": "succeeded"}
    _edit(path, 1, "%%step b\ny = x + 1")
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"a": "reused", "b": "succeeded", "c": "succeeded", "d": "reused"}
    assert run["z"] == 3
    assert run.steps["b"].reason["summary"].startswith("the code changed")


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_damaged_artifact_makes_its_producer_run_again(ray_address, notebook, damage):
    path = notebook([
        "import numpy as np",
        "%%step make\narr = np.arange(1000, dtype='float64')\nlabel = 'data'",
        "%%step use\ntotal = float(arr.sum())",
    ])
    first = jupyter_mlpipe.run(path)
    digest = first.steps["make"].outputs["arr"]["digest"]
    target = _artifact_file(path, digest)
    if damage == "corrupt":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    else:
        target.unlink()
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"make": "succeeded", "use": "reused"}
    assert f"was {damage} on disk" in run.steps["make"].reason["summary"]
    assert ArtifactStore(path.parent / ".mlpipe").verify(digest)  # repaired by the re-run
    assert run["total"] == first["total"]
    assert float(run["arr"].sum()) == first["total"]


def test_a_damaged_input_is_never_loaded_by_a_consumer(ray_address, notebook):
    # a consumer whose input's file turns out damaged: the producer runs again first
    path = notebook([
        "%%step make\nwords = ['a', 'b']",
        "%%step use\nn = len(words)",
    ])
    first = jupyter_mlpipe.run(path)
    digest = first.steps["make"].outputs["words"]["digest"]
    _artifact_file(path, digest).write_bytes(b"garbage")
    _edit(path, 1, "%%step use\nn = len(words) * 1")  # the consumer must run
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"make": "succeeded", "use": "succeeded"}
    assert run["n"] == 2


def test_two_runs_at_once_both_finish_and_the_history_stays_consistent(ray_address, notebook):
    path = notebook([
        "import time",
        "%%step a\ntime.sleep(0.3)\nx = list(range(100))",
        "%%step b\ny = sum(x)",
    ])
    first = jupyter_mlpipe.run(path, background=True)
    second = jupyter_mlpipe.run(path, background=True)
    first.wait(120)
    second.wait(120)
    assert first.status == second.status == "succeeded"
    for run in (first, second):
        assert set(_statuses(run).values()) <= {"succeeded", "reused"}
        assert run["y"] == 4950
    assert first.steps["a"].outputs["x"]["digest"] == second.steps["a"].outputs["x"]["digest"]
    history = _history(path)
    listed = history.list_runs(str(path.resolve()))
    assert {r["id"] for r in listed} == {first.id, second.id}
    assert all(r["status"] == "succeeded" for r in listed)
    for run in (first, second):
        record = history.get_run(run.id)
        assert {n: s["status"] for n, s in record["steps"].items()} == _statuses(run)
    # identical values are stored once
    store = ArtifactStore(path.parent / ".mlpipe")
    digests = list(store.digests())
    assert len(digests) == len(set(digests))
    assert all(store.verify(d) for d in digests)
    tmp = path.parent / ".mlpipe" / "tmp"
    assert not tmp.exists() or not list(tmp.iterdir())
    # and the next run reuses everything
    assert _statuses(jupyter_mlpipe.run(path)) == {"a": "reused", "b": "reused"}


def test_a_killed_driver_is_reported_interrupted_and_the_next_run_resumes(ray_address, notebook, tmp_path):
    started = tmp_path / "slow-started"
    path = notebook([
        "import time, pathlib",
        "%%step fast\nx = 41",
        f"%%step slow\npathlib.Path({str(started)!r}).write_text('1')\ntime.sleep(60)\ny = x + 1",
        "%%step last\nz = y",
    ])
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_mlpipe.cli", "run", str(path)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "MLPIPE_RAY_ADDRESS": ray_address})
    try:
        deadline = time.time() + 120
        while not started.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert started.exists(), proc.stdout.read().decode() if proc.poll() is not None else "timeout"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    history = _history(path)
    listed = history.list_runs(str(path.resolve()))
    assert len(listed) == 1 and listed[0]["status"] == "interrupted"
    killed = listed[0]["id"]
    # nothing half-written is in the store under an address
    store = ArtifactStore(path.parent / ".mlpipe")
    assert all(store.verify(d) for d in store.digests())
    _edit(path, 2, "%%step slow\ny = x + 1")
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"fast": "reused", "slow": "succeeded", "last": "succeeded"}
    assert run.steps["fast"].reason["from_run"] == killed
    assert run["z"] == 42
    record = history.get_run(killed)
    assert record["status"] == "interrupted"
    assert record["steps"]["fast"]["status"] == "succeeded"
    assert record["steps"]["slow"]["status"] in ("running", "cancelled")
    # `mlpipe runs` says so too
    out = subprocess.run([sys.executable, "-m", "jupyter_mlpipe.cli", "runs", str(path), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    statuses = {r["id"]: r["status"] for r in json.loads(out.stdout)}
    assert statuses[killed] == "interrupted" and statuses[run.id] == "succeeded"


def test_gc_keeps_what_runs_need_and_removes_the_rest(ray_address, notebook):
    from jupyter_mlpipe.store.paths import Store
    from jupyter_mlpipe.store.gc import collect

    path = notebook([
        "import time",
        {"source": "wait = 0.0", "tags": ["parameters"]},
        "%%step a\nx = [1, 2, 3]",
        "%%step b\ntime.sleep(wait)\ny = sum(x)",
    ])
    first = jupyter_mlpipe.run(path)
    _edit(path, 2, "%%step a\nx = [4, 5, 6]")
    second = jupyter_mlpipe.run(path)
    where = Store.for_notebook(path)
    history = _history(path)
    store = ArtifactStore(where.artifacts_root)
    orphan = store.put({"nobody": "needs me"}, variable="orphan").digest
    report = collect(history, where)
    assert "removed 1 unreferenced artifact" in report, report
    assert not store.exists(orphan)
    assert jupyter_mlpipe.load_run(first.id, path)["y"] == 6
    assert jupyter_mlpipe.load_run(second.id, path)["y"] == 15
    # while a run is in progress, what it may have written and not recorded yet is kept
    live = jupyter_mlpipe.run(path, params={"wait": 3.0}, background=True)
    while live.steps["b"].status != "running" and not live.done:
        time.sleep(0.05)
    fresh = store.put("written by a run in progress", variable="fresh").digest
    assert "a run in progress may still need" in collect(history, where)
    assert store.exists(fresh)
    live.wait(60)
    assert live.status == "succeeded"
    collect(history, where)
    assert not store.exists(fresh)
    # a leftover temporary file of an interrupted write goes once it is old
    tmp = path.parent / ".mlpipe" / "tmp" / "dead.part"
    tmp.write_bytes(b"half")
    os.utime(tmp, (time.time() - 7200, time.time() - 7200))
    assert "1 leftover temporary file" in collect(history, where)
    assert not tmp.exists()
    # forgetting old runs forgets what only they needed
    report = collect(history, where, older_than=0)
    assert "3 run(s)" in report
    assert list(store.digests()) == []
    assert jupyter_mlpipe.runs(path) == []
    again = jupyter_mlpipe.run(path)
    assert _statuses(again) == {"a": "succeeded", "b": "succeeded"}


def test_a_package_version_change_reruns_the_steps_that_import_it(ray_address, notebook, monkeypatch):
    import jupyter_mlpipe.execute.reuse as cache

    path = notebook([
        "import numpy as np",
        "%%step shared_import\na = int(np.int64(3))",
        "%%step own_import\nimport pandas as pd\nb = len(pd.DataFrame({'x': [1]}))",
        "%%step no_import\nc = 1",
    ])
    jupyter_mlpipe.run(path)
    real = cache.package_version
    monkeypatch.setattr(cache, "package_version",
                        lambda m: "999.0" if m in ("numpy", "pandas") else real(m))
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"shared_import": "succeeded", "own_import": "succeeded", "no_import": "reused"}
    assert "package 'numpy' changed" in run.steps["shared_import"].reason["summary"]
    assert "999.0" in run.steps["shared_import"].reason["summary"]
    assert "package 'pandas' changed" in run.steps["own_import"].reason["summary"]


def test_a_fully_reused_run_never_starts_ray(ray_address, notebook, tmp_path):
    path = notebook(["%%step a\nx = 1", "%%step b\ny = x + 1"])
    assert jupyter_mlpipe.run(path).status == "succeeded"
    # nothing listens there: connecting to Ray would fail
    out = subprocess.run([sys.executable, "-m", "jupyter_mlpipe.cli", "run", str(path), "--json"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "MLPIPE_RAY_ADDRESS": "127.0.0.1:9"})
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout)
    assert {n: s["status"] for n, s in result["steps"].items()} == {"a": "reused", "b": "reused"}


def test_a_partial_run_after_an_edit_runs_only_what_is_stale_upstream(ray_address, notebook):
    path = notebook(["%%step a\nx = 1", "%%step b\ny = x + 1", "%%step c\nz = y + 1"])
    jupyter_mlpipe.run(path)
    _edit(path, 0, "%%step a\nx = 2")
    run = jupyter_mlpipe.run(path, steps=["b"])
    assert _statuses(run) == {"a": "succeeded", "b": "succeeded"}
    assert run["y"] == 3
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"a": "reused", "b": "reused", "c": "succeeded"}
    assert run["z"] == 4


def test_resources_and_fault_handling_are_not_in_the_key(ray_address, notebook):
    path = notebook(["%%step a\nx = 1", "%%step b\ny = x + 1"])
    jupyter_mlpipe.run(path)
    _edit(path, 0, "%%step a --cpus 2 --retries 3 --timeout 100\nx = 1")
    _edit(path, 1, "%%step b --compute gpu\ny = x + 1")
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"a": "reused", "b": "reused"}
