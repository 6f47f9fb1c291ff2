"""End to end: failing steps, dying workers, timeouts (real Ray, real engine, real store)."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

import jupyter_mlpipe
from jupyter_mlpipe.store.history import History

pytestmark = pytest.mark.slow

_OURS = ("jupyter_mlpipe", "papermill", "site-packages/IPython", "_mlpipe_")


def _edit(path, index: int, source: str) -> None:
    nb = json.loads(path.read_text())
    nb["cells"][index]["source"] = source
    path.write_text(json.dumps(nb, indent=1))


def _statuses(run) -> dict:
    return {name: s.status for name, s in run.steps.items()}


def test_a_failing_step_reports_the_users_cell_and_line(ray_address, notebook):
    path = notebook([
        "import json",                                              # cell 1
        "def parse(text):\n    return json.loads(text)",            # cell 2
        "%%step load\nraw = '{\"a\": 1'",                           # cell 3
        "%%step parse_it\nok = 1\ndata = parse(raw)",               # cell 4
        "%%step use\nkeys = list(data)",                            # cell 5
        "%%step branch\nother = 42",                                # cell 6
        "%%step branch_more\nmore = other + 1",                     # cell 7
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "failed"
    assert _statuses(run) == {"load": "succeeded", "parse_it": "failed", "use": "skipped",
                              "branch": "succeeded", "branch_more": "succeeded"}
    assert run["more"] == 43
    step = run.steps["parse_it"]
    error = step.error
    assert "JSONDecodeError" in error
    assert "cell 4, line 3" in error, error          # the step's own line
    assert "data = parse(raw)" in error
    assert "cell 2, line 2, in parse" in error, error  # the shared function, where the user wrote it
    traceback = error.split("Executed notebook:")[0]
    for ours in _OURS:
        assert ours not in traceback, error
    assert "json/decoder.py" in traceback  # library frames stay
    assert step.error_info["cell"] == 3
    assert step.notebook_path and step.notebook_path in error
    # the executed notebook of the failed step holds the traceback
    nb = nbformat.read(step.notebook_path, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "JSONDecodeError"
    assert run.steps["use"].reason["summary"] == "step 'parse_it' did not succeed"
    record = History(path.parent / ".mlpipe" / "history.sqlite").get_run(run.id)
    assert record["status"] == "failed"
    assert record["steps"]["parse_it"]["error"]["cell"] == 3
    assert record["steps"]["use"]["status"] == "skipped"
    # loaded back from the history, the error reads the same
    assert jupyter_mlpipe.load_run(run.id, path).steps["parse_it"].error == error


def test_a_syntax_error_in_a_step(ray_address, notebook):
    path = notebook(["%%step a\nx = 1\ny = (", "%%step b\nz = 2"])
    # a syntax error is caught when planning or when running; either way it names the cell
    try:
        run = jupyter_mlpipe.run(path)
    except jupyter_mlpipe.PlanError as exc:
        assert exc.cell == 0
        return
    assert run.steps["a"].status == "failed"
    assert "cell 1" in run.steps["a"].error


def test_retries_recover_from_a_dying_worker(ray_address, notebook, tmp_path):
    marker = tmp_path / "died-once"
    path = notebook([
        "import os, signal, pathlib",
        f"%%step fragile --retries 1\nmarker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n    marker.write_text('x')\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        "value = 'survived'",
        "%%step after\nresult = value.upper()",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.steps["fragile"].error
    assert run.steps["fragile"].attempts == 2
    assert run.steps["after"].attempts == 1
    assert run["result"] == "SURVIVED"
    record = History(path.parent / ".mlpipe" / "history.sqlite").get_run(run.id)
    assert record["steps"]["fragile"]["attempts"] == 2


def test_a_dying_worker_without_retries_fails_the_step(ray_address, notebook):
    path = notebook([
        "import os, signal",
        "%%step fragile\nos.kill(os.getpid(), signal.SIGKILL)\nvalue = 1",
        "%%step after\nresult = value",
        "%%step independent\nfine = True",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "failed"
    assert _statuses(run) == {"fragile": "failed", "after": "skipped", "independent": "succeeded"}
    error = run.steps["fragile"].error
    assert "worker" in error and "died" in error, error
    assert "--retries" in error
    assert run.steps["fragile"].attempts == 1
    assert jupyter_mlpipe.load_run(run.id, path).steps["fragile"].error == error


def test_a_step_over_its_timeout_is_stopped(ray_address, notebook):
    path = notebook([
        "import os, time",
        "%%step slow --timeout 2\ntime.sleep(30)\nx = 1",
        "%%step after\ny = x",
        "%%step quick\nz = 3",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "failed"
    assert _statuses(run) == {"slow": "failed", "after": "skipped", "quick": "succeeded"}
    step = run.steps["slow"]
    assert "timed out" in step.error and "--timeout 2" in step.error, step.error
    assert "cell 2, line 2" in step.error and "time.sleep(30)" in step.error  # where it was
    assert step.duration < 25  # stopped, not waited for
    nb = nbformat.read(step.notebook_path, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "StepTimeout"
    record = History(path.parent / ".mlpipe" / "history.sqlite").get_run(run.id)
    assert record["steps"]["slow"]["status"] == "failed"
    assert jupyter_mlpipe.load_run(run.id, path).steps["slow"].error == step.error
    # the worker that was stopped lives on
    marker = path.parent / ".mlpipe" / "runs" / run.id / "slow.started"
    pid = int(marker.read_text().split()[1])
    os.kill(pid, 0)  # raises if that worker process is gone
    # and a later run works
    _edit(path, 1, "%%step slow --timeout 5\nx = os.getpid()")
    again = jupyter_mlpipe.run(path)
    assert _statuses(again) == {"slow": "succeeded", "after": "succeeded", "quick": "reused"}


def test_a_step_stuck_where_python_cannot_stop_it_is_killed(ray_address, notebook, monkeypatch):
    from jupyter_mlpipe.execute import runner

    monkeypatch.setattr(runner, "_TIMEOUT_GRACE_S", 1.0)
    # SIGALRM is blocked: the worker cannot stop the step itself, so the driver kills it
    path = notebook([
        "import signal, time",
        "%%step stuck --timeout 2\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n"
        "time.sleep(30)\nx = 1",
    ])
    run = jupyter_mlpipe.run(path)
    step = run.steps["stuck"]
    assert step.status == "failed"
    assert "timed out" in step.error and "killed" in step.error, step.error
    assert step.duration < 25


def test_a_step_that_does_not_define_what_a_later_step_needs(ray_address, notebook):
    path = notebook([
        {"source": "flag = False", "tags": ["parameters"]},
        "%%step maybe\nif flag:\n    value = 1",
        "%%step use\nout = value",
    ])
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"maybe": "failed", "use": "skipped"}
    error = run.steps["maybe"].error
    assert "'value'" in error and "'maybe'" in error
    assert "_mlpipe_end" not in error


def test_an_error_in_a_later_cell_of_a_step_names_that_cell(ray_address, notebook):
    path = notebook([
        "%%step a\nx = 1",                         # cell 1
        {"source": "## notes", "cell_type": "markdown"},  # cell 2
        "y = 2\n\nz = x / 0",                      # cell 3: still step a
        "%%step b\nw = 1",                         # cell 4
    ])
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"a": "failed", "b": "succeeded"}
    error = run.steps["a"].error
    assert "failed in cell 3" in error and "cell 3, line 3" in error and "z = x / 0" in error, error
    assert "ZeroDivisionError" in error
