"""Fan-out steps (`%%step --foreach ITERABLE --as NAME`, `--files GLOB`): options, plan, real Ray runs,
per-element reuse, the error threshold, the kernel's loop against the pipeline, `mlpipe run`."""

from __future__ import annotations

import pickle

import nbformat
import pytest

import jupyter_mlpipe
from jupyter_mlpipe import StepOptionError
from jupyter_mlpipe.errors import PlanError
from jupyter_mlpipe.plan import Pipeline
from jupyter_mlpipe.plan.fanout import allowed_failures
from jupyter_mlpipe.plan.options import parse_step_line

from conftest import mlpipe_cli, write_notebook


# -- the %%step line ------------------------------------------------------------------------------

def test_fanout_options_parse():
    o = parse_step_line("score --foreach batches --as batch --gather concat --error-threshold 5 --batch-size 100")
    assert (o.foreach, o.as_name, o.gather, o.error_threshold, o.batch_size) == ("batches", "batch", "concat", "5",
                                                                                  100)
    assert parse_step_line("load --files 'data/*.parquet' --as path").files == "data/*.parquet"
    assert parse_step_line("s --foreach b --as x --error-threshold 12.5%").error_threshold == "12.5%"
    assert "foreach" not in parse_step_line("plain").to_dict()  # a plain step's JSON is as before
    assert parse_step_line("s --foreach b --as x").to_dict()["as_name"] == "x"


@pytest.mark.parametrize("line, words", [
    ("s --foreach b", ["'s'", "--as NAME"]),
    ("s --files 'd/*.csv'", ["--as NAME"]),
    ("s --foreach b --as 1x", ["identifier", "'1x'"]),
    ("s --foreach b --as x --gather sum", ["--gather", "'sum'", "list", "concat"]),
    ("s --foreach b --as x --error-threshold abc", ["--error-threshold", "'abc'", "10%"]),
    ("s --foreach b --as x --error-threshold 150%", ["0% to 100%", "'150%'"]),
    ("s --foreach b --as x --error-threshold 2.5", ["whole number"]),
    ("s --as x", ["--as", "--foreach ITERABLE --as NAME"]),
    ("s --batch-size 3", ["--batch-size", "--foreach"]),
    ("s --foreach b --files x --as y", ["either --foreach", "not both"]),
    ("s --foreach b.c --as y", ["name of a variable", "'b.c'"]),
    ("s --foreach b --as b", ["another name"]),
    ("s --files 'd/*' --as p --batch-size 2", ["one file", "drop it"]),
    ("s --foreach b --as x --batch-size 0", ["--batch-size", "1 or more"]),
])
def test_bad_fanout_options_say_what_and_how_to_fix(line, words):
    with pytest.raises(StepOptionError) as err:
        parse_step_line(line)
    for word in words:
        assert word in str(err.value)


def test_allowed_failures():
    assert allowed_failures(None, 40) == 0
    assert allowed_failures("5", 40) == 5
    assert allowed_failures("10%", 40) == 4 and allowed_failures("10%", 39) == 3
    assert allowed_failures("100%", 7) == 7


# -- the plan -------------------------------------------------------------------------------------

def test_the_as_name_is_bound_by_the_loop_and_the_iterable_is_an_input():
    plan = Pipeline.from_sources([
        "%%step load\nbatches = [1, 2, 3]\nk = 2",
        "%%step score --foreach batches --as batch\npreds = batch * k\n_tmp = 1\nbatch = batch + 1",
        "%%step report\ntotal = sum(preds)",
    ])
    score = plan.steps["score"]
    assert score.inputs == ["batches", "k"] and score.outputs == ["preds"]
    assert plan.steps["report"].input_sources == {"preds": "score"}


def test_the_text_plan_says_what_a_fanout_step_runs_over():
    plan = Pipeline.from_sources([
        "%%step load\nimport pandas as pd\ndf = pd.DataFrame({'a': range(9)})\npaths = 1",
        "%%step score --foreach df --as part --batch-size 3 --gather concat --error-threshold 10%\nout = part",
        "%%step read --files 'data/*.csv' --as path\nsize = len(path)",
        "%%step report\nn = len(out)",
    ])
    text = plan.describe()
    assert ("fan-out: each element of df as part, in batches of 3 rows, gathered as concat, up to 10% failed "
            "elements tolerated") in text
    assert "fan-out: each file of 'data/*.csv' as path, gathered as list" in text
    assert text.count("fan-out:") == 2  # not on the plain steps


def test_a_fanout_step_is_one_cell():
    with pytest.raises(PlanError) as err:
        Pipeline.from_sources(["%%step load\nb = [1]", "%%step s --foreach b --as x\ny = x", "z = y"])
    assert "'s'" in str(err.value) and "%%step NAME (or %%scratch)" in str(err.value)


def test_an_element_task_loads_the_iterable_only_when_the_cell_reads_it():
    from jupyter_mlpipe.plan.fanout import element_reads

    assert not element_reads("preds = model.predict(batch)", "batches")  # each task: its batches, not all
    assert element_reads("share = len(batch) / len(batches)", "batches")
    assert element_reads("v = globals()['batches']", "batches")  # dynamic: counted as reading it


@pytest.mark.slow
def test_an_element_that_reads_the_whole_iterable_still_gets_it(tmp_path, ray_address):
    path = _nb(tmp_path, ["%%step load\nitems = [1, 2, 3, 4]",
                          "%%step share --foreach items --as x\nfrac = x / sum(items)"])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    assert run["frac"] == [x / 10 for x in (1, 2, 3, 4)]


# -- real runs on the suite's Ray (2 CPUs) ---------------------------------------------------------

def _nb(folder, cells, name="fan.ipynb"):
    return write_notebook(folder / name, ["%load_ext jupyter_mlpipe", "import math\nimport pandas as pd", *cells])


def _fanout(run, step):
    return run.steps[step].reason["foreach"]


@pytest.mark.slow
def test_forty_elements_gathered_as_a_list_and_reused_per_element(tmp_path, ray_address):
    def cells(changed):
        return [f"%%step load\nbatches = list(range(40))\nbatches[3] = {changed}\nk = 2",
                "%%step score --foreach batches --as b\ny = math.sqrt(b) * k\nlabel = f'e{b}'",
                "%%step report\ntotal = sum(y)"]

    path = _nb(tmp_path, cells(3))
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    expected = [math_sqrt(b) * 2 for b in range(40)]
    assert run["y"] == expected and run["label"] == [f"e{b}" for b in range(40)]
    assert run["total"] == sum(expected)
    info = _fanout(run, "score")
    assert (info["total"], info["done"], info["failed"], info["reused"], info["ran"]) == (40, 40, 0, 0, 40)
    assert 1 < info["tasks"] < 40  # chunks: many elements per task, more than one task in parallel

    again = jupyter_mlpipe.run(path)
    assert again.steps["score"].status == "reused"  # nothing changed: the step as a whole

    _nb(tmp_path, cells(1000))  # one element changed
    third = jupyter_mlpipe.run(path)
    assert third.status == "succeeded", third.summary()
    info = _fanout(third, "score")
    assert (info["reused"], info["ran"], info["tasks"]) == (39, 1, 1)  # only that element's task ran
    recorded = jupyter_mlpipe.load_run(third.id, path)
    assert recorded.steps["score"].reason["foreach"]["tasks"] == 1  # and the run record says so
    assert third["y"][3] == math_sqrt(1000) * 2 and third["y"][:3] == expected[:3]


def math_sqrt(x):
    import math

    return math.sqrt(x)


@pytest.mark.slow
def test_gather_concat_of_dataframe_batches(tmp_path, ray_address):
    path = _nb(tmp_path, [
        "%%step load\ndf = pd.DataFrame({'x': range(100), 'g': [i % 3 for i in range(100)]})",
        "%%step score --foreach df --as part --batch-size 16 --gather concat\n"
        "scored = part.assign(y=part.x * 2)\nsums = [int(part.x.sum())]",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    import pandas as pd

    df = pd.DataFrame({'x': range(100), 'g': [i % 3 for i in range(100)]})
    pd.testing.assert_frame_equal(run["scored"], df.assign(y=df.x * 2))
    assert run["sums"] == [int(df.x[i:i + 16].sum()) for i in range(0, 100, 16)]  # lists concatenate too
    assert _fanout(run, "score")["total"] == 7


@pytest.mark.slow
def test_error_threshold_met_and_exceeded(tmp_path, ray_address):
    def cells(threshold):
        return ["%%step load\nitems = list(range(40))",
                f"%%step score --foreach items --as i --error-threshold {threshold}\n"
                "y = 100 // (i % 10)"]  # elements 0, 10, 20, 30 fail

    path = _nb(tmp_path, cells("4"))
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    info = _fanout(run, "score")
    assert info["failed"] == 4 and [f["index"] for f in info["failures"]] == [0, 10, 20, 30]
    assert info["failures"][0]["ename"] == "ZeroDivisionError" and "y = 100 // (i % 10)" in \
        info["failures"][0]["traceback"]
    assert run["y"] == [100 // (i % 10) for i in range(40) if i % 10]  # failed elements are left out
    assert "4 of 40 elements failed, within its --error-threshold" in run.summary()
    assert "element 10: ZeroDivisionError" in run.summary()

    _nb(tmp_path, cells("5%"))  # 5% of 40 is 2
    failed = jupyter_mlpipe.run(path)
    assert failed.status == "failed" and failed.steps["score"].status == "failed"
    error = failed.steps["score"].error
    assert "FanOutFailed" in error and "4 of 40 elements failed" in error or "of 40 elements failed" in error
    assert "--error-threshold 5% allows 2" in error and "ZeroDivisionError" in error


@pytest.mark.slow
def test_files_glob(tmp_path, ray_address):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(5):
        (data / f"part{i}.txt").write_text("\n".join(str(j) for j in range(i + 1)))
    (data / "skip.csv").write_text("no")
    path = _nb(tmp_path, [
        "%%step count --files 'data/*.txt' --as path\nrows = len(open(path).read().split())\nname = path",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    assert run["rows"] == [1, 2, 3, 4, 5]
    assert run["name"] == [f"data/part{i}.txt" for i in range(5)]
    (data / "part2.txt").write_text("a b c d e f g")  # one file changed: only it runs again
    again = jupyter_mlpipe.run(path)
    assert again["rows"] == [1, 2, 7, 4, 5]
    info = _fanout(again, "count")
    assert (info["reused"], info["ran"], info["tasks"]) == (4, 1, 1)


@pytest.mark.slow
def test_bad_iterables_at_run_time_and_an_empty_one(tmp_path, ray_address):
    path = _nb(tmp_path, [
        "%%step load\nn = 5\nitems = [1, 2]\nnothing = []",
        "%%step a --foreach n --as x\ny = x",
        "%%step b --foreach items --as x --batch-size 2\nz = x",
        "%%step c --foreach nothing --as x --gather concat\nw = x",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.steps["a"].status == "failed" and run.steps["b"].status == "failed"
    assert "--foreach n: 'n' is a int, which cannot be iterated" in run.steps["a"].error
    assert "--batch-size splits a DataFrame" in run.steps["b"].error and "Drop --batch-size" in run.steps["b"].error
    assert run.steps["c"].status == "succeeded" and run["w"] == []  # zero elements: empty lists


@pytest.mark.slow
def test_an_element_that_changes_an_input_in_place_fails_the_step(tmp_path, ray_address):
    path = _nb(tmp_path, [
        "%%step load\nitems = [1, 2, 3]\nseen = []",
        "%%step a --foreach items --as x\nseen.append(x)\ny = len(seen)",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.steps["a"].status == "failed"
    assert "changed its input 'seen' in place" in run.steps["a"].error


@pytest.mark.slow
def test_global_random_state_in_an_element_is_refused(tmp_path, ray_address):
    path = _nb(tmp_path, [
        "import random",
        "%%step load\nitems = [1, 2]",
        "%%step a --foreach items --as x\ny = random.random() + x",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.steps["a"].status == "failed" and "GlobalRandomState" in run.steps["a"].error


# -- the kernel's loop is the oracle ----------------------------------------------------------------

@pytest.mark.slow
def test_the_kernel_loop_gives_the_pipeline_values(tmp_path, ray_address, monkeypatch):
    from nbclient import NotebookClient

    cells = [
        "%%step load\ndf = pd.DataFrame({'x': range(50)})\nitems = {'a': 1, 'b': 2, 'c': 3}\nk = 3",
        "%%step score --foreach df --as part --batch-size 8 --gather concat\nout = part.x * k",
        "%%step pairs --foreach items --as kv --error-threshold 1\nkey = kv[0] * kv[1]\n"
        "if kv[1] == 2: raise KeyError(kv)",
        "%%step report\ntotal = float(out.sum()) + len(key)",
        "%%scratch\nimport pickle\npickle.dump({'out': out, 'key': key, 'total': total}, open('kernel.pkl', 'wb'))",
    ]
    path = _nb(tmp_path, cells)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    kernel = pickle.loads((tmp_path / "kernel.pkl").read_bytes())
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    import pandas as pd

    pd.testing.assert_series_equal(run["out"], kernel["out"])
    assert run["key"] == kernel["key"] == ["a", "ccc"] and run["total"] == kernel["total"]
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "pairs: element 1 failed" in text and "2 of 3 elements done, 1 failed" in text


# -- mlpipe run -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_mlpipe_run_prints_progress_and_failures(tmp_path, ray_address):
    path = _nb(tmp_path, [
        "%%step load\nitems = list(range(12))",
        "%%step score --foreach items --as i --error-threshold 2\ny = 10 / (i - 5)",
    ])
    done = mlpipe_cli("run", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 elements: 11 done, 1 failed (allowed 2)" in done.stdout
    assert "element 5: ZeroDivisionError" in done.stdout


def test_the_panel_state_of_a_fanout_step():
    from types import SimpleNamespace

    from jupyter_mlpipe.panel.state import step_state
    from jupyter_mlpipe.text import fanout_text

    info = {"phase": "elements", "total": 40, "done": 30, "running": 8, "failed": 2, "reused": 10, "ran": 20,
            "tasks": 3, "allowed": 5, "failures": [{"index": 7, "ename": "ValueError", "evalue": "bad",
                                                    "traceback": "Traceback ...", "attempts": 1}]}
    step = SimpleNamespace(name="score", status="running", started=1.0, ended=None, attempts=1, warnings=[],
                           resources={}, error=None, error_info=None, reason={"decision": "ran", "foreach": info},
                           outputs={}, inputs={}, notebook_path=None)
    state = step_state(SimpleNamespace(steps={"score": step}), step)
    assert state["fanout"]["done"] == 30 and state["fanout"]["failures"] == [
        {"index": 7, "ename": "ValueError", "evalue": "bad", "attempts": 1}]
    assert fanout_text(step) == "  40 elements: 30 done (10 reused), 8 running, 2 failed (allowed 5)"
    # a split that failed has no elements to count: its error says why, not "0 elements: 0 done"
    failed = SimpleNamespace(status="failed", reason={"foreach": {"phase": "elements", "total": 0, "done": 0}})
    assert fanout_text(failed) == ""
    empty = SimpleNamespace(status="succeeded", reason={"foreach": {"phase": "gather", "total": 0, "done": 0}})
    assert fanout_text(empty) == "  0 elements: 0 done"
