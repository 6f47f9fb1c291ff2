"""End to end: notebooks run as pipelines on the suite's real local Ray.

Real Ray tasks, the in-process papermill engine in the workers, the real
artifact store and the real SQLite history. No timing thresholds: parallelism
is checked through the steps' [started, ended] intervals.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

import jupyter_mlpipe
from jupyter_mlpipe.errors import MlpipeError, PlanError
from jupyter_mlpipe.store.history import History

pytestmark = pytest.mark.slow


def _overlap(a, b) -> bool:
    return a.started < b.ended and b.started < a.ended


def _statuses(run) -> dict:
    return {name: s.status for name, s in run.steps.items()}


def _outputs_text(path) -> str:
    nb = nbformat.read(path, as_version=4)
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text.append(out["text"])
            elif "data" in out:
                text.append(str(out["data"].get("text/plain", "")))
            elif out.get("output_type") == "error":
                text.append("\n".join(out.get("traceback", [])))
    return "".join(text)


def test_a_chain_runs_and_its_values_come_back(ray_address, notebook):
    path = notebook([
        "import math",
        {"source": "n = 4", "tags": ["parameters"]},
        "%%step load\nxs = list(range(n))\nprint('loaded', len(xs))",
        "%%step square\nsquares = [x * x for x in xs]\nsquares[-1]",
        "%%step total\ntotal = math.fsum(squares)\nprint(f'total={total}')",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}
    assert _statuses(run) == {"load": "succeeded", "square": "succeeded", "total": "succeeded"}
    assert run["xs"] == [0, 1, 2, 3]
    assert run["squares"] == [0, 1, 4, 9]
    assert run["total"] == 14.0
    assert run.final_values() == ["total"]
    for name, step in run.steps.items():
        assert step.duration is not None and step.duration >= 0
        assert step.attempts == 1
        assert step.error is None
        nb = nbformat.read(step.notebook_path, as_version=4)
        roles = [(c.metadata.get("mlpipe") or {}).get("role") for c in nb.cells]
        assert "load" in roles and "save" in roles and "step" in roles
    assert "loaded 4" in _outputs_text(run.steps["load"].notebook_path)
    assert "9" in _outputs_text(run.steps["square"].notebook_path)  # the cell's Out[]
    assert "total=14.0" in _outputs_text(run.steps["total"].notebook_path)
    # the run is recorded, and an old run loads its values too
    record = History(path.parent / ".mlpipe" / "history.sqlite").get_run(run.id)
    assert record["status"] == "succeeded"
    assert {n: s["status"] for n, s in record["steps"].items()} == _statuses(run)
    old = jupyter_mlpipe.load_run(run.id, path)
    assert old["total"] == 14.0
    assert [r["id"] for r in jupyter_mlpipe.runs(path)] == [run.id]


def test_steps_run_with_the_notebooks_folder_as_working_directory(ray_address, notebook, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n")
    path = notebook([
        "import pandas as pd",
        "%%step load\ndf = pd.read_csv('data/train.csv')",
        "%%step use\nrows = len(df)",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.steps["load"].error
    assert run["rows"] == 2
    assert list(run["df"].columns) == ["a", "b"]


def test_independent_steps_run_in_parallel(ray_address, notebook, tmp_path):
    # each step waits until the other one has started: they finish only if they run together
    meet = "def meet(me, other):\n    pathlib.Path(me).touch()\n    deadline = time.time() + 60\n" \
           "    while not pathlib.Path(other).exists():\n        assert time.time() < deadline, 'alone'\n" \
           "        time.sleep(0.01)\n    time.sleep(0.5)"
    meeting = Path(tempfile.mkdtemp())  # outside the notebook's folder: not files the run carries
    a, b = str(meeting / "left"), str(meeting / "right")
    path = notebook([
        "import pathlib, time",
        meet,
        f"%%step left\nmeet({a!r}, {b!r})\nl = 1",
        f"%%step right\nmeet({b!r}, {a!r})\nr = 2",
        "%%step join\nboth = l + r",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}
    left, right, join = run.steps["left"], run.steps["right"], run.steps["join"]
    assert _overlap(left, right), (left.started, left.ended, right.started, right.ended)
    assert join.started >= max(left.ended, right.ended)
    assert run["both"] == 3


def test_parameters_override_the_parameters_cell(ray_address, notebook):
    path = notebook([
        {"source": "lr = 0.1\nepochs = 3", "tags": ["parameters"]},
        "%%step train\nresult = lr * epochs",
    ])
    assert jupyter_mlpipe.run(path)["result"] == pytest.approx(0.3)
    run = jupyter_mlpipe.run(path, params={"lr": 0.5})
    assert run.status == "succeeded"
    assert run["result"] == pytest.approx(1.5)
    assert run.params == {"lr": 0.5, "epochs": 3}
    # the executed notebook shows the injected value
    nb = nbformat.read(run.steps["train"].notebook_path, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "lr = 0.5" in injected[0].source


def test_an_unknown_parameter_is_refused_before_anything_runs(ray_address, notebook):
    path = notebook([
        {"source": "lr = 0.1", "tags": ["parameters"]},
        "%%step train\nresult = lr",
    ])
    with pytest.raises(MlpipeError, match="'learning_rate'") as info:
        jupyter_mlpipe.run(path, params={"learning_rate": 0.5})
    assert "lr" in str(info.value)
    assert jupyter_mlpipe.runs(path) == []


def test_a_partial_run_runs_only_the_step_and_what_it_needs(ray_address, notebook):
    path = notebook([
        "%%step a\nx = 1",
        "%%step b\ny = x + 1",
        "%%step c\nz = y + 1",
        "%%step other\nw = 10",
    ])
    run = jupyter_mlpipe.run(path, steps=["b"])
    assert run.status == "succeeded"
    assert _statuses(run) == {"a": "succeeded", "b": "succeeded"}
    assert run["y"] == 2
    with pytest.raises(KeyError):
        run["z"]
    with pytest.raises(PlanError, match="'nope'"):
        jupyter_mlpipe.run(path, steps=["nope"])
    # the full run afterwards reuses a and b
    full = jupyter_mlpipe.run(path)
    assert _statuses(full) == {"a": "reused", "b": "reused", "c": "succeeded", "other": "succeeded"}


def test_cancel_a_background_run(ray_address, notebook):
    path = notebook([
        "import time",
        "%%step quick\nq = 1",
        "%%step slow\ntime.sleep(60)\ns = q",
        "%%step after\na = s",
    ])
    run = jupyter_mlpipe.run(path, background=True)
    deadline = time.time() + 60
    while run.steps["slow"].status != "running" and not run.done and time.time() < deadline:
        time.sleep(0.05)
    assert run.steps["slow"].status == "running"
    time.sleep(0.5)  # let the task start in its worker
    run.cancel()
    run.wait(60)
    assert run.done
    assert run.status == "cancelled"
    assert _statuses(run) == {"quick": "succeeded", "slow": "cancelled", "after": "cancelled"}
    record = History(path.parent / ".mlpipe" / "history.sqlite").get_run(run.id)
    assert record["status"] == "cancelled"
    assert {n: s["status"] for n, s in record["steps"].items()} == _statuses(run)
    # the next run resumes: the succeeded step is reused (the slow one is made quick)
    nb = json.loads(path.read_text())
    nb["cells"][2]["source"] = "%%step slow\ns = q"
    path.write_text(json.dumps(nb))
    again = jupyter_mlpipe.run(path)
    assert _statuses(again) == {"quick": "reused", "slow": "succeeded", "after": "succeeded"}


def test_listeners_see_every_state_change(ray_address, notebook):
    path = notebook(["%%step a\nx = 1", "%%step b\ny = x"])
    events: list[tuple[str, str | None, str | None]] = []
    lock = threading.Lock()

    def listener(run, event, step):
        with lock:
            events.append((event, step.name if step else None, step.status if step else None))

    run = jupyter_mlpipe.run(path, listeners=[listener])
    assert run.status == "succeeded"
    assert events[0] == ("start", None, None)
    assert events[-1] == ("end", None, None)
    assert ("step", "a", "running") in events and ("step", "b", "succeeded") in events


def test_an_unstorable_value_needed_downstream_fails_its_step(ray_address, notebook):
    path = notebook([
        "import threading",
        "%%step make\nnumbers = (i for i in range(3))",
        "%%step use\ntotal = sum(numbers)",
        "%%step lock\nguard = threading.Lock()",
        "%%step locked\nwith guard:\n    ok = 1",
        "%%step fine\nvalue = 5",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "failed"
    assert _statuses(run) == {"make": "failed", "use": "skipped", "lock": "failed", "locked": "skipped",
                              "fine": "succeeded"}
    for step, variable, type_name in [("make", "numbers", "generator"), ("lock", "guard", "lock")]:
        error = run.steps[step].error
        assert f"'{variable}'" in error and f"'{step}'" in error and type_name in error, error
        assert "jupyter_mlpipe" not in error.split("Executed notebook:")[0]


def test_an_open_file_needed_downstream_fails_its_step(ray_address, notebook, tmp_path):
    (tmp_path / "data.txt").write_text("hello\n")
    path = notebook([
        "%%step open_it\nhandle = open('data.txt')",
        "%%step read_it\ntext = handle.read()",
    ])
    run = jupyter_mlpipe.run(path)
    assert _statuses(run) == {"open_it": "failed", "read_it": "skipped"}
    error = run.steps["open_it"].error
    assert "'handle'" in error and "'open_it'" in error and "TextIOWrapper" in error, error


def test_an_unstorable_value_nobody_reads_is_a_warning(ray_address, notebook):
    path = notebook([
        "import threading",
        "%%step make\nnumbers = (i for i in range(3))\nguard = threading.Lock()\nkept = 7",
        "%%step use\ndouble = kept * 2",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.steps["make"].error
    warnings = " ".join(run.steps["make"].warnings)
    assert "'numbers'" in warnings and "'guard'" in warnings
    assert run["double"] == 14
    with pytest.raises(KeyError):
        run["numbers"]


def test_a_mutation_through_a_helper_reaches_later_steps(ray_address, notebook):
    path = notebook([
        "import pandas as pd",
        "def add_col(d):\n    d['x'] = 1",
        "%%step load\ndf = pd.DataFrame({'a': [1, 2, 3]})",
        "%%step touch\nadd_col(df)\nn = len(df)",
        "%%step use\ncols = list(df.columns)",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded"
    assert run["cols"] == ["a", "x"]  # seen by the planner, or learned by the run: never a stale frame
    assert not any("STALE" in w for s in run.steps.values() for w in s.warnings)


def test_ctrl_c_in_mlpipe_run_cancels_and_records_the_run(ray_address, notebook, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    started = tmp_path / "started"
    path = notebook([
        "import pathlib, time",
        "%%step quick\nq = 1",
        f"%%step slow\npathlib.Path({str(started)!r}).touch()\ntime.sleep(60)\ns = q",
    ])
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_mlpipe.cli", "run", str(path)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "MLPIPE_RAY_ADDRESS": ray_address})
    try:
        deadline = time.time() + 120
        while not started.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert started.exists()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    runs = jupyter_mlpipe.runs(path)
    assert runs[0]["status"] == "cancelled", out
    record = History(path.parent / ".mlpipe" / "history.sqlite").get_run(runs[0]["id"])
    assert {n: s["status"] for n, s in record["steps"].items()} == {"quick": "succeeded", "slow": "cancelled"}


def test_a_value_left_unstored_by_a_partial_run_is_not_silently_missing_later(ray_address, notebook):
    path = notebook([
        "%%step make\nnumbers = (i for i in range(3))\nkept = 1",
        "%%step other\nw = kept",
        "%%step use\ntotal = sum(numbers)",
    ])
    partial = jupyter_mlpipe.run(path, steps=["other"])
    assert _statuses(partial) == {"make": "succeeded", "other": "succeeded"}
    assert "'numbers'" in " ".join(partial.steps["make"].warnings)
    run = jupyter_mlpipe.run(path)
    # the stored result of `make` lacks what `use` needs: it runs again, and says why it cannot store it
    assert _statuses(run) == {"make": "failed", "other": "skipped", "use": "skipped"}
    assert "lacks 'numbers'" in run.steps["make"].reason["summary"]
    assert "'numbers'" in run.steps["make"].error and "generator" in run.steps["make"].error


def test_values_that_reencode_differently_are_not_reported_as_mutated(ray_address, notebook):
    # a set's order after unpickling differs from the producer's: that is not a change
    path = notebook([
        "%%step a\nwords = {f'word{i}' for i in range(50)}\nnested = {'k': words, 'n': [1, 2]}",
        "%%step b\nn = len(words) + len(nested)",
        "%%step c\nnested['n'].append(3)\nm = len(nested['n'])",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded"
    assert run.steps["b"].warnings == []
    assert not any("'b'" in c or "b re-ran" in c for c in run.corrections), run.corrections
    assert run["m"] == 3 and run["nested"]["n"] == [1, 2, 3]


def test_a_final_steps_loop_variables_are_not_brought_back():
    """`%pipeline run` brings back a final step's results, not what its loops left behind (`name`, `score`)."""
    from jupyter_mlpipe.execute.run import Run
    from jupyter_mlpipe.plan import Pipeline
    from jupyter_mlpipe.plan.loop_names import loop_only_names

    plan = Pipeline.from_sources([
        "%%step fit\nresults = {'a': 0.5, 'b': 0.9}",
        "%%step report\nbest = None\nfor name, score in results.items():\n    print(name, score)\n"
        "    if best is None or score > results[best]:\n        best = name\nfor i in range(2):\n    pass\ni = 7",
    ])
    assert set(plan.steps["report"].outputs) >= {"best", "name", "score", "i"}  # stored all the same
    run = Run("r1", plan, {}, list(plan.steps), store=None, history=None)
    for name, step in plan.steps.items():
        run.steps[name].outputs = {n: {} for n in step.outputs}
    assert run.final_values() == ["best", "i"]  # `i` is also assigned after its loop: a result
    assert loop_only_names(["for x in xs:\n    for y in x:\n        pass\n%time k = 1",
                            "def f():\n    for q in r:\n        pass"]) == {"x", "y"}
