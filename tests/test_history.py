"""The run history against real SQLite files in temporary directories."""

from __future__ import annotations

import math
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from jupyter_mlpipe.store import history as history_module
from jupyter_mlpipe.errors import MlpipeError, RunNotFound
from jupyter_mlpipe.store.history import RUN_STATUSES, SCHEMA_VERSION, History, validate_run_id

NB = "train.ipynb"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "nested" / "history.sqlite"


@pytest.fixture
def hist(db_path: Path):
    h = History(db_path)
    yield h
    h.close()


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def set_run_columns(path: Path, run_id: str, **cols) -> None:
    conn = raw(path)
    sets = ", ".join(f"{c} = ?" for c in cols)
    conn.execute(f"UPDATE runs SET {sets} WHERE id = ?", (*cols.values(), run_id))
    conn.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def start(h: History, notebook: str = NB, **params) -> str:
    run_id = h.new_run_id()
    h.start_run(run_id, notebook=notebook, params=params, plan={"steps": ["a", "b"]})
    return run_id


# ------------------------------------------------------------------ module surface


def test_public_names():
    assert history_module.__all__ == [
        "RUN_STATUSES",
        "SCHEMA_VERSION",
        "History",
        "validate_run_id",
    ]
    assert RUN_STATUSES == ("running", "succeeded", "failed", "cancelled")


def test_run_ids_are_sortable_unique_and_valid(hist, monkeypatch):
    ids = [hist.new_run_id() for _ in range(200)]
    assert len(set(ids)) == 200
    for run_id in ids:
        assert validate_run_id(run_id) == run_id
    date, clock, rand = ids[0].split("-")
    assert len(date) == 8 and len(clock) == 6 and len(rand) == 6

    later = time.time() + 3600
    monkeypatch.setattr(time, "gmtime", lambda *a: _real_gmtime(later))
    assert hist.new_run_id() > max(ids)


_real_gmtime = time.gmtime


def test_new_run_id_avoids_existing(hist, monkeypatch):
    taken = start(hist)
    values = iter([bytes.fromhex(taken[-6:]), bytes.fromhex("0a0b0c")])
    monkeypatch.setattr(history_module.os, "urandom", lambda n: next(values))
    monkeypatch.setattr(time, "strftime", lambda fmt, t: taken[:15])
    assert hist.new_run_id() == taken[:16] + "0a0b0c"


@pytest.mark.parametrize(
    "bad", ["", "../etc/passwd", "20261125-023501-3F9A1C", "20261125-023501-3f9a1", "r1", None, 42]
)
def test_validate_run_id_rejects(bad):
    with pytest.raises(RunNotFound, match="not a run id") as info:
        validate_run_id(bad)
    assert "mlpipe runs" in str(info.value)


# ------------------------------------------------------------------ schema


def test_file_created_with_wal_and_version(db_path, hist):
    assert db_path.exists()
    conn = raw(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "step_runs", "artifacts", "cache", "metrics", "facts"} <= tables
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "metrics_run_step" in indexes
    conn.close()


def test_busy_timeout_set(hist):
    assert hist._connection().execute("PRAGMA busy_timeout").fetchone()[0] >= 30_000


def test_reopen_keeps_data(db_path):
    h = History(db_path)
    run_id = start(h, lr=0.1)
    h.close()
    h2 = History(db_path)
    assert h2.get_run(run_id)["params"] == {"lr": 0.1}
    h2.close()


def test_newer_schema_refused(db_path):
    History(db_path).close()
    conn = raw(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(MlpipeError) as info:
        History(db_path)
    message = str(info.value)
    assert str(db_path) in message and "99" in message and "upgrade" in message.lower()


def test_existing_empty_file_is_migrated(db_path):
    db_path.parent.mkdir(parents=True)
    raw(db_path).close()  # version 0, no tables
    with History(db_path) as h:
        start(h)
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_1_file_gains_the_facts_table_and_keeps_its_runs(db_path):
    from jupyter_mlpipe.store.schema import MIGRATIONS

    db_path.parent.mkdir(parents=True)
    conn = raw(db_path)
    MIGRATIONS[1](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (id, notebook, started, status) VALUES ('20260101-000000-aaaaaa', 'nb', 1, 'succeeded')")
    conn.commit()
    conn.close()
    with History(db_path) as h:
        assert [r["id"] for r in h.list_runs()] == ["20260101-000000-aaaaaa"]
        assert h.facts.add("nb", "s3", "a", kind="changed", reason="s3 changed 'a' through its alias 'b'",
                           run_id="20260101-000000-aaaaaa")
        assert not h.facts.add("nb", "s3", "a", kind="changed", reason="again", run_id="20260101-000000-aaaaaa")
        facts = h.facts.of("nb")
    assert [(f["step"], f["variable"], f["reason"]) for f in facts] == [
        ("s3", "a", "s3 changed 'a' through its alias 'b'")]
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_2_file_gains_the_run_origin_columns(db_path):
    """Schema 3: runs of published pipelines carry pipeline, version and trigger; older runs read None."""
    from jupyter_mlpipe.store.schema import MIGRATIONS

    db_path.parent.mkdir(parents=True)
    conn = raw(db_path)
    MIGRATIONS[1](conn)
    MIGRATIONS[2](conn)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO runs (id, notebook, started, status) VALUES ('20260101-000000-aaaaaa', 'nb', 1, 'succeeded')")
    conn.commit()
    conn.close()
    with History(db_path) as h:
        (old,) = h.list_runs()
        assert (old["pipeline"], old["pipeline_version"], old["trigger"]) == (None, None, None)
        run_id = h.new_run_id()
        h.start_run(run_id, notebook="nb", params={}, plan={},
                    origin={"pipeline": "daily", "version": 2, "trigger": {"kind": "schedule", "schedule": "s1"}})
        assert [r["id"] for r in h.list_runs(pipeline="daily")] == [run_id]
        assert [r["id"] for r in h.list_runs(trigger="schedule")] == [run_id]
        assert h.list_runs(trigger="rest") == []
        got = h.get_run(run_id)
        assert (got["pipeline"], got["pipeline_version"], got["trigger"]) == (
            "daily", 2, {"kind": "schedule", "schedule": "s1"})
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_closed_history_refuses_use(db_path):
    h = History(db_path)
    h.close()
    with pytest.raises(MlpipeError, match="closed"):
        h.list_runs()


# ------------------------------------------------------------------ runs and steps


def test_run_round_trip(hist):
    run_id = hist.new_run_id()
    hist.start_run(
        run_id, notebook=NB, params={"lr": 0.1}, plan={"steps": ["a"]}, options={"force": True}
    )
    run = hist.get_run(run_id)
    assert run["id"] == run_id and run["notebook"] == NB
    assert run["status"] == "running" and run["ended"] is None
    assert run["params"] == {"lr": 0.1} and run["plan"] == {"steps": ["a"]}
    assert run["options"] == {"force": True}
    assert run["pid"] == os.getpid() and run["host"] == socket.gethostname()
    assert run["steps"] == {} and run["metrics"] == {}
    assert run["duration"] >= 0

    hist.finish_run(run_id, "succeeded")
    run = hist.get_run(run_id)
    assert run["status"] == "succeeded" and run["ended"] >= run["started"]
    assert run["duration"] == pytest.approx(run["ended"] - run["started"])


def test_finish_run_checks(hist):
    run_id = start(hist)
    with pytest.raises(ValueError, match="must be one of"):
        hist.finish_run(run_id, "done")
    with pytest.raises(RunNotFound):
        hist.finish_run("20200101-000000-abcdef", "failed")


def test_duplicate_run_id_refused(hist):
    run_id = start(hist)
    with pytest.raises(sqlite3.IntegrityError):
        hist.start_run(run_id, notebook=NB, params={}, plan={})


def test_record_step_upserts(hist):
    run_id = start(hist)
    hist.record_step(run_id, "a", status="pending")
    hist.record_step(run_id, "b", status="pending")
    hist.record_step(run_id, "a", status="running", started=10.0, attempts=1, resources={"cpu": 2})
    hist.record_step(
        run_id,
        "a",
        status="succeeded",
        ended=12.5,
        key="k1",
        reason={"changed": ["code"]},
        outputs={"df": {"digest": "d1", "format": "arrow"}},
        inputs={"raw": "d0"},
        warnings=["slow"],
        notebook_path="/tmp/a.ipynb",
    )
    steps = hist.get_run(run_id)["steps"]
    assert list(steps) == ["a", "b"]  # recording order
    a = steps["a"]
    assert a["status"] == "succeeded" and a["attempts"] == 1
    assert a["started"] == 10.0 and a["ended"] == 12.5 and a["duration"] == 2.5
    assert a["resources"] == {"cpu": 2} and a["reason"] == {"changed": ["code"]}
    assert a["outputs"] == {"df": {"digest": "d1", "format": "arrow"}}
    assert a["inputs"] == {"raw": "d0"} and a["warnings"] == ["slow"]
    assert a["key"] == "k1" and a["notebook_path"] == "/tmp/a.ipynb" and a["error"] is None
    assert steps["b"]["status"] == "pending" and steps["b"]["attempts"] == 0

    hist.record_step(run_id, "b", status="failed", error={"ename": "ValueError"}, duration=7.0)
    hist.record_step(run_id, "b", started=1.0, ended=2.0)  # explicit duration is kept
    b = hist.get_run(run_id)["steps"]["b"]
    assert b["error"] == {"ename": "ValueError"} and b["duration"] == 7.0
    assert hist.get_run(run_id)["step_counts"] == {"succeeded": 1, "failed": 1}


def test_record_step_rejects_unknown_fields(hist):
    run_id = start(hist)
    with pytest.raises(TypeError, match="unknown field"):
        hist.record_step(run_id, "a", status="running", colour="red")
    with pytest.raises(TypeError, match="scalar"):
        hist.record_step(run_id, "a", status={"x": 1})


def test_json_encoding_tolerates_non_json_values(hist, tmp_path):
    class Scalar:  # numpy-like
        def item(self):
            return 3.5

    run_id = hist.new_run_id()
    hist.start_run(run_id, notebook=NB, params={"x": Scalar(), "p": tmp_path, "s": {1}}, plan={})
    params = hist.get_run(run_id)["params"]
    assert params == {"x": 3.5, "p": str(tmp_path), "s": [1]}


def test_artifacts_first_producer_wins(hist):
    r1, r2 = start(hist), start(hist)
    ref = {"digest": "d1", "format": "arrow", "type_name": "DataFrame", "size": 10}
    ref["summary"] = "3x2"
    hist.record_artifact(ref, run_id=r1, step="a", variable="df")
    hist.record_artifact({**ref, "summary": "other"}, run_id=r2, step="b", variable="df2")
    art = hist.artifact("d1")
    assert art["first_run_id"] == r1 and art["first_step"] == "a" and art["variable"] == "df"
    assert art["summary"] == "3x2" and art["size"] == 10 and art["type_name"] == "DataFrame"
    assert hist.artifact("nope") is None
    hist.delete_artifacts(["d1"])
    assert hist.artifact("d1") is None


def test_metrics_incremental(hist):
    run_id = start(hist)
    hist.record_metric(run_id, "train", "loss", 1.0, 0, ts=100.0)
    hist.record_metric(run_id, "train", "loss", float("nan"), 1)
    hist.record_metric(run_id, "eval", "acc", 0.9)
    hist.record_metric(start(hist), "train", "loss", 5.0)  # another run

    rows = hist.metrics(run_id)
    assert [(r["step"], r["name"], r["step_index"]) for r in rows] == [
        ("train", "loss", 0),
        ("train", "loss", 1),
        ("eval", "acc", None),
    ]
    assert rows[0]["ts"] == 100.0 and rows[0]["value"] == 1.0 and math.isnan(rows[1]["value"])
    assert [r["rowid"] for r in rows] == sorted(r["rowid"] for r in rows)
    assert hist.metrics(run_id, since_rowid=rows[1]["rowid"]) == rows[2:]
    assert [r["name"] for r in hist.metrics(run_id, step="eval")] == ["acc"]
    assert hist.metrics(run_id, since_rowid=rows[-1]["rowid"]) == []

    metrics = hist.get_run(run_id)["metrics"]
    assert metrics["train"]["loss"][0] == (0, 1.0, 100.0)
    assert math.isnan(metrics["train"]["loss"][1][1])
    assert metrics["eval"]["acc"][0][:2] == (None, 0.9)


# ------------------------------------------------------------------ cache and why


def test_cache_round_trip(hist):
    run_id = start(hist)
    assert hist.cache_get("k") is None
    outputs = {"df": {"digest": "d1", "format": "arrow"}}
    hist.cache_put(
        "k", step="a", notebook=NB, components={"code": "h1"}, outputs=outputs, run_id=run_id
    )
    entry = hist.cache_get("k")
    assert entry["key"] == "k" and entry["step"] == "a" and entry["run_id"] == run_id
    assert entry["components"] == {"code": "h1"} and entry["outputs"] == outputs
    assert entry["created"] > 0

    hist.cache_put("k", step="a", notebook=NB, components={"code": "h2"}, outputs={}, run_id=run_id)
    assert hist.cache_get("k")["components"] == {"code": "h2"}
    hist.cache_delete("k")
    assert hist.cache_get("k") is None
    hist.cache_delete("k")  # absent: no error


def test_last_step_run(hist, db_path):
    r1, r2, r3 = start(hist), start(hist), start(hist)
    other = start(hist, notebook="other.ipynb")
    for i, run_id in enumerate((r1, r2, r3, other)):
        set_run_columns(db_path, run_id, started=1000.0 + i)
    hist.record_step(r1, "a", status="succeeded", key="k1")
    hist.record_step(r2, "a", status="skipped", key="k2")
    hist.record_step(r3, "a", status="reused", key="k3")
    hist.record_step(other, "a", status="succeeded", key="kx")

    last = hist.last_step_run(NB, "a")
    assert last["run_id"] == r3 and last["key"] == "k3" and last["run_started"] == 1002.0
    assert hist.last_step_run(NB, "a", before_run=r3)["run_id"] == r1  # skipped r2 not counted
    assert hist.last_step_run(NB, "a", before_run=r3, statuses=("skipped",))["run_id"] == r2
    assert hist.last_step_run(NB, "a", before_run=r1) is None
    assert hist.last_step_run(NB, "zzz") is None
    assert hist.last_step_run("other.ipynb", "a")["key"] == "kx"
    with pytest.raises(RunNotFound):
        hist.last_step_run(NB, "a", before_run="20200101-000000-abcdef")


# ------------------------------------------------------------------ queries


def test_list_runs(hist, db_path):
    r1, r2 = start(hist, lr=0.1), start(hist, lr=0.2)
    r3 = start(hist, notebook="other.ipynb")
    for i, run_id in enumerate((r1, r2, r3)):
        set_run_columns(db_path, run_id, started=1000.0 + i)
    hist.record_step(r1, "a", status="succeeded")
    hist.record_step(r1, "b", status="reused")
    hist.record_step(r1, "c", status="succeeded")
    hist.finish_run(r1, "succeeded")
    set_run_columns(db_path, r1, ended=1010.0)

    runs = hist.list_runs()
    assert [r["id"] for r in runs] == [r3, r2, r1]
    first = runs[2]
    assert first["step_counts"] == {"succeeded": 2, "reused": 1}
    assert first["params"] == {"lr": 0.1} and first["duration"] == 10.0
    assert first["status"] == "succeeded" and "plan" not in first
    assert runs[1]["status"] == "running" and runs[1]["step_counts"] == {}

    assert [r["id"] for r in hist.list_runs(NB)] == [r2, r1]
    assert [r["id"] for r in hist.list_runs(limit=1)] == [r3]
    assert hist.list_runs("nothing.ipynb") == []

    latest = hist.latest_run(NB)
    assert latest["id"] == r2 and "steps" in latest and "metrics" in latest
    assert hist.latest_run("nothing.ipynb") is None


def test_get_run_unknown(hist, db_path):
    missing = "20200101-000000-abcdef"
    with pytest.raises(RunNotFound) as info:
        hist.get_run(missing)
    message = str(info.value)
    assert missing in message and str(db_path) in message and "mlpipe runs" in message
    with pytest.raises(RunNotFound, match="not a run id"):
        hist.get_run("../../etc")


def test_dead_driver_reported_interrupted(hist, db_path):
    crashed, alive, elsewhere = start(hist), start(hist), start(hist)
    pid = dead_pid()
    set_run_columns(db_path, crashed, pid=pid)
    set_run_columns(db_path, elsewhere, pid=pid, host="some-other-host")
    hist.record_step(crashed, "a", status="succeeded", started=5.0, ended=6.0)
    hist.record_step(crashed, "b", status="running", started=6.0)
    hist.record_step(crashed, "c", status="pending")

    statuses = {r["id"]: r["status"] for r in hist.list_runs()}
    assert statuses == {crashed: "interrupted", alive: "running", elsewhere: "running"}
    assert hist.get_run(crashed)["status"] == "interrupted"
    stored = raw(db_path).execute("SELECT status FROM runs WHERE id = ?", (crashed,)).fetchone()
    assert stored[0] == "running"  # reporting does not rewrite history

    assert hist.mark_interrupted() == [crashed]
    run = hist.get_run(crashed)
    assert run["status"] == "interrupted" and run["ended"] >= run["started"]
    assert {s: v["status"] for s, v in run["steps"].items()} == {
        "a": "succeeded",
        "b": "cancelled",
        "c": "cancelled",
    }
    assert hist.mark_interrupted() == []


# ------------------------------------------------------------------ garbage collection


def test_referenced_digests_and_delete_runs(hist, db_path):
    old, new = start(hist), start(hist)
    hist.record_step(
        old, "a", status="succeeded", outputs={"x": {"digest": "d-old"}}, inputs={"raw": "d-in"}
    )
    hist.record_step(
        new,
        "a",
        status="succeeded",
        outputs={"x": {"digest": "d-new", "parts": [{"digest": "d-part"}]}},
    )
    hist.record_step(new, "b", status="pending")
    for key, digest, run_id in (("k-old", "d-c", old), ("k-new", "d-new", new)):
        outputs = {"x": {"digest": digest}}
        hist.cache_put(key, step="a", notebook=NB, components={}, outputs=outputs, run_id=run_id)
    hist.record_metric(old, "a", "loss", 1.0)
    hist.record_metric(new, "a", "loss", 2.0)

    assert hist.referenced_digests() == {"d-old", "d-in", "d-new", "d-part", "d-c"}

    hist.finish_run(old, "succeeded")
    set_run_columns(db_path, old, started=time.time() - 100, ended=time.time() - 90)
    assert hist.runs_older_than(50) == [old]  # `new` is still running
    assert hist.runs_older_than(1000) == []

    hist.delete_runs(hist.runs_older_than(50))
    assert hist.referenced_digests() == {"d-new", "d-part"}
    assert hist.cache_get("k-old") is None and hist.cache_get("k-new") is not None
    assert hist.metrics(old) == [] and len(hist.metrics(new)) == 1
    with pytest.raises(RunNotFound):
        hist.get_run(old)
    assert [r["id"] for r in hist.list_runs()] == [new]
    conn = raw(db_path)
    left = conn.execute("SELECT COUNT(*) FROM step_runs WHERE run_id = ?", (old,)).fetchone()
    assert left[0] == 0
    conn.close()

    hist.delete_runs([])
    with pytest.raises(RunNotFound):
        hist.delete_runs(["nope"])


def test_runs_older_than_includes_dead_running(hist, db_path):
    run_id = start(hist)
    set_run_columns(db_path, run_id, started=time.time() - 100)
    assert hist.runs_older_than(50) == []  # alive driver (this process)
    set_run_columns(db_path, run_id, pid=dead_pid())
    assert hist.runs_older_than(50) == [run_id]


# ------------------------------------------------------------------ concurrency


def test_write_waits_for_another_writer(hist, db_path):
    run_id = start(hist)
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE runs SET params = '{\"held\": 1}'")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    began = time.monotonic()
    hist.record_step(run_id, "a", status="running")  # blocks until the other commits
    assert time.monotonic() - began >= 0.25
    release.join()
    other.close()
    run = hist.get_run(run_id)
    assert run["steps"]["a"]["status"] == "running" and run["params"] == {"held": 1}


def test_retry_on_locked(hist, monkeypatch):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "ok"

    assert hist._retry(flaky) == "ok" and len(calls) == 3
    monkeypatch.setattr(history_module, "_BUSY_TIMEOUT_MS", 50)
    with pytest.raises(MlpipeError, match="stayed locked") as info:
        hist._retry(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("database is locked")))
    assert hist.path in str(info.value)
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        hist._retry(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("no such table: x")))


def test_threads_share_one_history(hist):
    run_id = start(hist)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(50):
                hist.record_step(run_id, f"s{t}-{i}", status="succeeded")
                hist.record_metric(run_id, f"s{t}", "m", i, i)
                hist.get_run(run_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    run = hist.get_run(run_id)
    assert len(run["steps"]) == 200 and len(hist.metrics(run_id)) == 200


N_WRITES = 200


def _writer(path: str, run_id: str, worker: int, barrier) -> None:
    h = History(path)  # both processes may create the schema at once
    barrier.wait()
    for i in range(N_WRITES):
        outputs = {"x": {"digest": f"d{worker}-{i}"}}
        h.record_step(run_id, f"w{worker}-{i}", status="succeeded", outputs=outputs)
        h.record_metric(run_id, f"w{worker}", "loss", float(i), i)
        h.cache_put(
            f"k{worker}-{i}",
            step=f"w{worker}-{i}",
            notebook=NB,
            components={"i": i},
            outputs={},
            run_id=run_id,
        )
    h.close()


def test_two_processes_write_at_once(db_path):
    ctx = multiprocessing.get_context("spawn")
    run_id = "20261125-000000-abcdef"
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(str(db_path), run_id, w, barrier)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]

    with History(db_path) as h:
        conn = raw(db_path)
        count = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        assert count("SELECT COUNT(*) FROM step_runs") == 2 * N_WRITES
        assert count("SELECT COUNT(*) FROM metrics") == 2 * N_WRITES
        assert count("SELECT COUNT(*) FROM cache") == 2 * N_WRITES
        conn.close()
        assert len(h.metrics(run_id, step="w0")) == N_WRITES
        assert len(h.referenced_digests()) == 2 * N_WRITES
