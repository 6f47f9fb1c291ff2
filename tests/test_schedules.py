"""Schedules for real, with short intervals: they fire, --overlap skip skips while a slow run goes on, a
file-change trigger passes the new file's path, only one scheduler leads a workspace, and a schedule
survives a server restart (missed fires recorded, --catch-up last runs one)."""

from __future__ import annotations

import time

import pytest

from conftest import write_notebook
from publish_fixtures import Server

from jupyter_mlpipe.publish import Registry, Schedules, pipeline_runs, workspace_at
from jupyter_mlpipe.publish.queue import RunQueue
from jupyter_mlpipe.publish.scheduler import Scheduler

SLOW = [
    {"source": "delay = 0\nfiles = []", "tags": ["parameters"]},
    "%%step slow --no-cache\nimport time\ntime.sleep(delay)\nseen = list(files)",
]


@pytest.fixture
def workspace(tmp_path):
    nb = write_notebook(tmp_path / "sched.ipynb", SLOW)
    ws = workspace_at(tmp_path)
    Registry(ws).publish(nb, "job")
    return ws


def wait_for(predicate, timeout=60.0, what="the condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def scheduler(workspace, ray_address):
    running = Scheduler(workspace, RunQueue(max_running=2, max_queued=4), interval=0.2)
    running.start()
    yield running
    running.stop()
    running.queue.drain()


def test_every_fires_and_overlap_skip_skips_while_a_slow_run_goes_on(workspace, scheduler):
    schedules = Schedules(workspace)
    added = schedules.add("job", every=1, params={"delay": 3})
    fires = wait_for(lambda: [f for f in schedules.fires(added["id"]) if f["outcome"] == "skipped"] and
                     schedules.fires(added["id"]), what="a skipped fire")
    started = [f for f in fires if f["outcome"] == "started"]
    skipped = [f for f in fires if f["outcome"] == "skipped"]
    assert started and "still going (--overlap skip)" in skipped[0]["detail"]
    assert started[-1]["run_id"] in skipped[0]["detail"]
    schedules.set_paused(added["id"], True)
    run_id = started[-1]["run_id"]
    runs = wait_for(lambda: [r for r in pipeline_runs(workspace, "job") if r["id"] == run_id
                             and r["status"] == "succeeded"], what="the scheduled run")
    trigger = runs[0]["trigger"]
    assert trigger["kind"] == "schedule" and trigger["schedule"] == added["id"]
    assert abs(trigger["fire_time"] - started[-1]["fire_time"]) < 1e-6
    assert [r["id"] for r in pipeline_runs(workspace, "job", trigger="schedule")][-1] == started[0]["run_id"]


def test_a_new_file_fires_the_on_change_schedule_with_its_path(workspace, scheduler):
    (workspace.root / "data").mkdir()
    (workspace.root / "data" / "old.csv").write_text("a\n")
    schedules = Schedules(workspace)
    added = schedules.add("job", on_change="data/*.csv", path_param="files", poll=0.5)
    wait_for(lambda: (schedules.get(added["id"])["state"] or {}).get("seen"), what="the first poll")
    (workspace.root / "data" / "new.csv").write_text("b\n")
    (workspace.root / "data" / "ignored.txt").write_text("c\n")
    fire = wait_for(lambda: [f for f in schedules.fires(added["id"]) if f["outcome"] == "started"],
                    what="a fire")[0]
    run = wait_for(lambda: [r for r in pipeline_runs(workspace, "job") if r["id"] == fire["run_id"]
                            and r["status"] == "succeeded"], what="the run")[0]
    assert run["params"]["files"] == ["data/new.csv"]
    assert run["trigger"]["changed"] == ["data/new.csv"]
    time.sleep(1.2)
    assert len([f for f in schedules.fires(added["id"]) if f["outcome"] == "started"]) == 1  # nothing new


def test_only_one_scheduler_leads_a_workspace(workspace):
    queue = RunQueue()
    first, second = Scheduler(workspace, queue), Scheduler(workspace, queue)
    assert first.lead() and not second.lead()
    first.release()
    assert second.lead() and not first.lead()
    second.release()


def test_a_schedule_survives_a_restart_and_catches_up(workspace, ray_address):
    schedules = Schedules(workspace)
    added = schedules.add("job", every=2, catch_up="last")
    server = Server(workspace.root)
    try:
        wait_for(lambda: [f for f in schedules.fires(added["id"]) if f["outcome"] == "started"], what="a fire")
    finally:
        server.stop()
    stopped = time.time()
    time.sleep(5)  # two or three fires come and go while nothing serves
    server = Server(workspace.root)
    try:
        fires = wait_for(lambda: [f for f in schedules.fires(added["id"])
                                  if f["outcome"] == "started" and f["recorded"] > stopped + 5]
                         and schedules.fires(added["id"]), what="a fire after the restart")
    finally:
        server.stop()
    # (fires due before the first server took the lease are missed too: only the restart's are looked at)
    missed = [f for f in fires if f["outcome"] == "missed" and f["recorded"] > stopped + 5]
    assert missed and all(stopped - 2 < f["fire_time"] < f["recorded"] for f in missed), missed
    assert "nothing was serving" in missed[0]["detail"]
    caught = [f for f in fires if f["detail"] == "catch-up of a missed fire" and f["recorded"] > stopped + 5]
    assert caught and caught[0]["fire_time"] == max(f["fire_time"] for f in missed)


def test_overlap_queue_runs_the_fire_after_the_previous_run(workspace, scheduler):
    schedules = Schedules(workspace)
    added = schedules.add("job", every=1, params={"delay": 3}, overlap="queue")
    fires = wait_for(lambda: [f for f in schedules.fires(added["id"])
                              if f["detail"] == "waited for the previous run (--overlap queue)"]
                     and schedules.fires(added["id"]), what="a queued fire to start")
    schedules.set_paused(added["id"], True)
    outcomes = [f["outcome"] for f in reversed(fires)]
    assert outcomes[0] == "started" and "queued" in outcomes, outcomes
    waited = next(f for f in fires if f["detail"] == "waited for the previous run (--overlap queue)")
    first = next(f for f in reversed(fires) if f["outcome"] == "started")
    runs = {r["id"]: r for r in pipeline_runs(workspace, "job")}
    assert runs[waited["run_id"]]["started"] >= runs[first["run_id"]]["ended"] - 0.5


def test_a_disabled_pipeline_skips_its_fires(workspace):
    schedules = Schedules(workspace)
    added = schedules.add("job", every=1)
    Registry(workspace).set_enabled("job", False)
    scheduler = Scheduler(workspace, RunQueue())
    scheduler.tick()  # takes the lease; nothing is due yet
    time.sleep(1.2)
    scheduler.tick()
    scheduler.release()
    (fire,) = schedules.fires(added["id"])
    assert fire["outcome"] == "skipped" and "'job' is disabled" in fire["detail"] and fire["run_id"] is None
