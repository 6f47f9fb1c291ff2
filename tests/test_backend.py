"""The driver loop over the in-process backend: a real plan, the real papermill engine, no Ray."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("papermill")

from jupyter_mlpipe.execute import ray_backend  # noqa: E402
from jupyter_mlpipe.execute.backend import Backend, InProcessBackend  # noqa: E402
from jupyter_mlpipe.execute.runner import RunOptions, start_run  # noqa: E402
from jupyter_mlpipe.plan import Pipeline  # noqa: E402
from jupyter_mlpipe.store.history import History  # noqa: E402
from jupyter_mlpipe.store.paths import Store  # noqa: E402


@pytest.fixture(autouse=True)
def no_ray(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the in-process backend must not start Ray")

    monkeypatch.setattr(ray_backend.ray_connect, "connect", refuse)


def drive(path, *, listeners=(), backend: Backend | None = None, **options):
    store = Store.for_notebook(path)
    return start_run(Pipeline.from_notebook(path), params={}, store=store, history=History(store.history_path),
                     options=RunOptions(**options), listeners=list(listeners),
                     backend=backend if backend is not None else InProcessBackend())


def statuses(run):
    return {name: step.status for name, step in run.steps.items()}


TWO_STEPS = ["%%step make\nx = 21", "%%step double\ny = x * 2\nprint('y is', y)"]


def test_a_two_step_plan_runs_in_process_and_is_recorded(notebook):
    path = notebook(TWO_STEPS)
    events = []
    run = drive(path, listeners=[lambda r, event, step: events.append(
        (event, step.name if step else None, step.status if step else r.status))])
    assert run.status == "succeeded", run.summary()
    assert statuses(run) == {"make": "succeeded", "double": "succeeded"}
    assert run["y"] == 42 and run.steps["double"].inputs.keys() == {"x"}
    assert events == [
        ("start", None, "running"),
        ("connecting", None, "running"),  # the backend starts before the first step is submitted
        ("step", "make", "running"), ("step", "make", "succeeded"),
        ("step", "double", "running"), ("step", "double", "succeeded"),
        ("end", None, "succeeded"),
    ]
    executed = run.steps["double"].notebook_path
    assert executed and "y is 42" in open(executed).read()
    record = History(run.store.history_path).get_run(run.id)
    assert record["status"] == "succeeded"
    assert {s: d["status"] for s, d in record["steps"].items()} == statuses(run)
    assert run.steps["make"].attempts == 1 and run.steps["make"].reason["decision"] == "ran"


def test_an_unchanged_rerun_reuses_both_steps(notebook):
    path = notebook(TWO_STEPS)
    first = drive(path)
    again = drive(path)
    assert statuses(again) == {"make": "reused", "double": "reused"}
    assert again.steps["double"].reason["from_run"] == first.id
    assert again.steps["double"].notebook_path == first.steps["double"].notebook_path
    assert again["y"] == 42
    forced = drive(path, force=True)
    assert statuses(forced) == {"make": "succeeded", "double": "succeeded"}
    assert forced.steps["make"].reason["summary"] == "--force: every step runs"


def test_a_failing_step_skips_the_steps_after_it(notebook):
    path = notebook(["%%step make\nx = 1 / 0", "%%step double\ny = x * 2"])
    run = drive(path)
    assert run.status == "failed"
    assert statuses(run) == {"make": "failed", "double": "skipped"}
    make = run.steps["make"]
    assert make.error_info["ename"] == "ZeroDivisionError" and make.error_info["cell"] == 0
    assert make.error.startswith("Step 'make' failed in cell 1: ZeroDivisionError: division by zero")
    assert "x = 1 / 0" in make.error and f"Executed notebook: {make.notebook_path}" in make.error
    assert run.steps["double"].reason == {"decision": "skipped", "summary": "step 'make' did not succeed"}


def test_a_listener_that_raises_is_logged_and_the_run_goes_on(notebook, caplog):
    def broken(run, event, step):
        raise RuntimeError("display is broken")

    with caplog.at_level(logging.WARNING, logger="jupyter_mlpipe.execute.run"):
        run = drive(notebook(TWO_STEPS), listeners=[broken])
    assert run.status == "succeeded"
    failures = [r for r in caplog.records if "listener" in r.getMessage()]
    assert failures and failures[0].exc_info and "display is broken" in str(failures[0].exc_info[1])


def test_a_step_task_that_raises_is_reported_as_a_bug_of_ours(notebook, monkeypatch):
    from jupyter_mlpipe.execute import worker

    def crash(task):
        raise OSError("disk gone")

    monkeypatch.setattr(worker, "run_step_task", crash)
    run = drive(notebook(TWO_STEPS))
    assert statuses(run) == {"make": "failed", "double": "skipped"}
    assert run.steps["make"].error == ("Step 'make' could not be run: OSError: disk gone (an error of "
                                       "jupyter-mlpipe's step task, not of the step's code).")
    assert run.steps["make"].error_info == {"ename": "OSError", "evalue": "disk gone", "traceback": None,
                                            "cell": None}
