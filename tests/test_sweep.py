"""Sweeps (#17): the space and bad input (before anything runs), then real sweeps on the suite's Ray.

The notebook is the oracle: the best trial is the one whose parameters give the best
score when the notebook's cells run top to bottom with them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import nbformat
import pytest

from conftest import mlpipe_cli, write_notebook
from jupyter_mlpipe.errors import SweepError
from jupyter_mlpipe.store.history import History
from jupyter_mlpipe.sweep.driver import dependent_steps, prepare, sweep
from jupyter_mlpipe.sweep.space import parse_dimension, parse_space

# --------------------------------------------------------------------------- notebooks

FOUR_STEPS = [
    {"source": "a = 0.5\nb = 1", "tags": ["parameters"]},
    "%%step load\ndata = list(range(10))",
    "%%step prep\nscaled = [x / 10 for x in data]",
    "%%step train\nmodel = [a * x for x in scaled]",
    "%%step evaluate\nfrom jupyter_mlpipe import log_metric\n"
    "score = -abs(sum(model) / len(model) - 0.3) - b * 0.01\nlog_metric('score', score)",
]


def four_steps(folder: Path) -> Path:
    return write_notebook(folder / "four.ipynb", FOUR_STEPS)


def oracle(path: Path, params: dict) -> dict:
    """The notebook's cells run top to bottom (the parameters cell, then `params`): its namespace."""
    ns: dict = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        if source.startswith("%") and not source.startswith("%%step"):  # %load_ext, %pipeline: not the code
            continue
        if source.startswith("%%step"):
            source = source.split("\n", 1)[1]
        exec(compile(source, str(path), "exec"), ns)  # noqa: S102 - the test's own notebook
        if "parameters" in cell.metadata.get("tags", []):
            ns.update(params)

    return ns


def step_runs(path: Path) -> dict[str, dict[str, int]]:
    """{step: {status: how many step runs}} over every run of the notebook's history."""
    conn = sqlite3.connect(path.parent / ".mlpipe" / "history.sqlite")
    counts: dict[str, dict[str, int]] = {}
    for step, status, n in conn.execute("SELECT step, status, COUNT(*) FROM step_runs GROUP BY step, status"):
        counts.setdefault(step, {})[status] = n
    conn.close()
    return counts


# --------------------------------------------------------------------------- the space (no Ray)


def test_values_and_ranges_parse():
    assert parse_dimension("C=0.01,0.1,1").values == (0.01, 0.1, 1)
    assert parse_dimension("solver=lbfgs,saga").values == ("lbfgs", "saga")
    assert parse_dimension("pair='a,b','c'").values == ("a,b", "c")
    log = parse_dimension("C=log(0.001, 10)")
    assert (log.kind, log.low, log.high) == ("log", 0.001, 10.0)
    assert parse_dimension("depth=int(2,4)").grid_values() == [2, 3, 4]
    assert parse_dimension("p=uniform(0,0.5)").kind == "uniform"
    space = parse_space(["a=1,2", "b=x,y,z"], known={"a": 0, "b": 0})
    assert space.grid()[:4] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}, {"a": 2, "b": "x"}]
    assert len(space.grid()) == 6


@pytest.mark.parametrize("spec, message", [
    ("C", "write NAME=VALUES or NAME=RANGE"),
    ("C=", "No values for 'C'"),
    ("1C=1,2", "must be a Python identifier"),
    ("C=log(10,0.1)", "is empty: LOW must be below HIGH"),
    ("C=uniform(1,1)", "is empty"),
    ("depth=int(5,2)", "is empty"),
    ("C=log(0,1)", "needs LOW > 0"),
    ("C=log(1)", "takes two numbers"),
    ("C=log(a,b)", "is not a number"),
    ("depth=int(1.5,3)", "takes whole numbers"),
    ("C=1,,2", "An empty value"),
])
def test_bad_sweep_parameters_say_what_is_wrong(spec, message):
    with pytest.raises(SweepError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_dimension(spec)


@pytest.mark.parametrize("specs, kwargs, message", [
    (["zz=1,2"], {}, "Unknown parameter 'zz'. Parameters of this notebook: a, b"),
    (["a=1,2"], {"goal": "maximize"}, "--goal must be min or max (got 'maximize')"),
    (["a=1,2"], {"metric": None}, "A sweep needs the metric it optimizes"),
    (["a=log(0.1,1)"], {}, "--search random needs --trials N"),
    (["a=1,2"], {"search": "bayes"}, "--search bayes needs --trials N"),
    (["a=1,2"], {"trials": 4}, "--trials is for --search random or bayes"),
    (["a=uniform(0,1)"], {"search": "grid"}, "A grid needs values"),
    (["a=1,2"], {"early_stop": "fast"}, "--early-stop must be one of median, asha"),
    (["a=1,2"], {"search": "annealing"}, "--search must be one of grid, random, bayes"),
    (["a=1"], {}, "nothing to vary"),
    (["a=1,2", "a=3,4"], {}, "given twice"),
    (["a=1,2"], {"metric": "train.score"}, "step 'train' never calls log_metric"),
])
def test_bad_input_is_refused_before_anything_runs(tmp_path, specs, kwargs, message):
    path = four_steps(tmp_path)
    with pytest.raises(SweepError) as info:
        prepare(path, specs, **{"metric": "score", "goal": "max", **kwargs})
    assert message in str(info.value)
    assert not (tmp_path / ".mlpipe").exists()  # nothing ran, nothing was recorded


def test_a_notebook_that_logs_no_metric_is_refused(tmp_path):
    path = write_notebook(tmp_path / "quiet.ipynb", [*FOUR_STEPS[:4], "%%step evaluate\nscore = sum(model)"])
    with pytest.raises(SweepError, match="no step of this notebook calls log_metric"):
        prepare(path, ["a=1,2"], metric="score", goal="max")


def test_only_the_steps_that_read_a_swept_parameter_and_what_follows_them_run_per_trial(tmp_path):
    plan = prepare(four_steps(tmp_path), ["a=0.1,0.9"], metric="score", goal="max")
    assert (plan.shared_steps, plan.swept_steps) == (["load", "prep"], ["train", "evaluate"])
    assert plan.fixed == {"b": 1} and plan.trials == 2
    only_b = prepare(four_steps(tmp_path), ["b=1,2,3", "a=0.7"], metric="evaluate.score", goal="min")
    assert only_b.shared_steps == ["load", "prep", "train"] and only_b.fixed == {"a": 0.7}
    assert (only_b.metric_step, only_b.metric_name) == ("evaluate", "score")
    assert dependent_steps(plan_of(tmp_path), {"a"}) == ["train", "evaluate"]


def plan_of(folder: Path):
    from jupyter_mlpipe.api import plan

    return plan(folder / "four.ipynb")


def test_the_cli_refuses_bad_input_with_exit_status_2(tmp_path):
    path = four_steps(tmp_path)
    out = mlpipe_cli("sweep", str(path), "-p", "a=1,2", "--metric", "score", "--goal", "up", "--json")
    assert out.returncode == 2
    assert json.loads(out.stdout)["error"] == "SweepError"
    assert "--goal must be min or max" in out.stderr


def test_a_version_3_history_gains_the_sweep_tables(tmp_path):
    from jupyter_mlpipe.store.schema import MIGRATIONS

    db = tmp_path / "h.sqlite"
    conn = sqlite3.connect(db)
    for version in (1, 2, 3):
        MIGRATIONS[version](conn)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO runs (id, notebook, started, status) VALUES ('20260101-000000-aaaaaa', 'nb', 1, 'succeeded')")
    conn.commit()
    conn.close()
    with History(db) as history:
        assert [r["id"] for r in history.list_runs()] == ["20260101-000000-aaaaaa"]
        history.sweeps.start("sweep-20260101-000000-bbbbbb", notebook="nb", metric="score", goal="max",
                             search="grid", space={"a": {"kind": "values", "values": [1, 2]}}, fixed={}, options={})
        history.sweeps.record_trial("sweep-20260101-000000-bbbbbb", {"number": 1, "params": {"a": 1},
                                                                     "status": "stopped", "metric": 0.5})
        record = history.sweeps.get(history.sweeps.resolve("nb", "bbbbbb"))
    assert record["trials"][0]["status"] == "stopped" and record["trials"][0]["params"] == {"a": 1}


def test_the_sweep_table_state_marks_the_best_trial_and_carries_curves():
    from jupyter_mlpipe.panel.sweep_widget import SweepTable

    record = {"id": "sweep-x", "status": "running", "metric": "loss", "goal": "min", "search": "grid",
              "options": {"trials": 3, "shared_steps": ["load"]}, "shared_run_id": "r0", "steps_saved": None,
              "trials": [
                  {"number": 1, "params": {"lr": 0.1}, "status": "succeeded", "metric": 0.30, "run_id": "r1"},
                  {"number": 2, "params": {"lr": 0.01}, "status": "succeeded", "metric": 0.20, "run_id": "r2"},
                  {"number": 3, "params": {"lr": 1.0}, "status": "stopped", "metric": 0.05, "run_id": "r3"},
              ]}
    table = SweepTable(record, curves={3: [(1, 0.9), (2, 0.05)]}, planned=3)
    assert table.sweep["best"] == 2  # a stopped trial's partial metric is never the best
    assert [t["best"] for t in table.trials] == [False, True, False]
    assert table.trials[2]["curve"] == [[1, 0.9], [2, 0.05]] and table.trials[2]["status"] == "stopped"
    assert table.sweep["finished"] == 3 and table.sweep["shared_steps"] == ["load"]
    assert "stopped" in table.looks and "★ best" in table.text()


# --------------------------------------------------------------------------- real sweeps


@pytest.mark.slow
def test_a_grid_sweep_runs_the_shared_steps_once_and_finds_the_notebooks_best(tmp_path, ray_address):
    path = four_steps(tmp_path)
    out = mlpipe_cli("sweep", str(path), "-p", "a=0.1,0.5,0.9", "-p", "b=1,2", "--metric", "score",
                     "--goal", "max", "--parallel", "2", "--json", timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert set(result) >= {"sweep_id", "best", "trials"}
    trials = result["trials"]
    assert len(trials) == 6 and all(t["status"] == "succeeded" for t in trials)
    assert sorted((t["params"]["a"], t["params"]["b"]) for t in trials) == [
        (0.1, 1), (0.1, 2), (0.5, 1), (0.5, 2), (0.9, 1), (0.9, 2)]
    # the notebook is the oracle: every trial's metric, and the best one
    expected = {(t["params"]["a"], t["params"]["b"]): oracle(path, t["params"])["score"] for t in trials}
    for t in trials:
        assert t["metric"] == pytest.approx(expected[(t["params"]["a"], t["params"]["b"])])
    best = max(expected, key=expected.get)
    assert (result["best"]["params"]["a"], result["best"]["params"]["b"]) == best
    assert result["best"]["metric"] == pytest.approx(expected[best])
    # load and prep ran once in total (the shared run); every trial reused them
    counts = step_runs(path)
    assert counts["load"] == {"succeeded": 1, "reused": 6} and counts["prep"] == {"succeeded": 1, "reused": 6}
    # train reads only a: a trial reuses it from an earlier trial with the same a when that one has finished
    # (two such trials at the same time both run it), as any run would
    assert counts["evaluate"] == {"succeeded": 6}
    assert counts["train"]["succeeded"] >= 3 and sum(counts["train"].values()) == 6
    saved = 6 * 2 + counts["train"].get("reused", 0) - 2  # reused by the trials, less the shared run's two
    assert result["steps_saved"] == saved and result["shared_steps"] == ["load", "prep"]
    # the record, and the trials side by side
    with History(tmp_path / ".mlpipe" / "history.sqlite") as history:
        record = history.sweeps.get(result["sweep_id"])
        trial_runs = {t["run_id"]: history.get_run(t["run_id"]) for t in trials}
    assert record["status"] == "succeeded" and record["best_run_id"] == result["best"]["run_id"]
    assert record["space"] == {"a": {"kind": "values", "values": [0.1, 0.5, 0.9]},
                               "b": {"kind": "values", "values": [1, 2]}}
    for t in trials:  # each trial is a run with its parameters
        assert trial_runs[t["run_id"]]["params"] == t["params"]
    listed = mlpipe_cli("runs", str(path), "--sweep", result["sweep_id"][-6:], "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows][0] == result["best"]["run_id"]  # best first
    assert len(rows) == 6 and {r["id"] for r in rows} == {t["run_id"] for t in trials}
    shown = mlpipe_cli("sweeps", str(path), result["sweep_id"][-6:])
    assert "★ best" in shown.stdout and f"step runs saved: {saved}" in shown.stdout


CURVES = [
    {"source": "quality = 1.0", "tags": ["parameters"]},
    "%%step data\nbase = 0.5",
    "%%step fit\nimport time\nfrom jupyter_mlpipe import log_metric\n"
    "for epoch in range(6):\n    acc = base * quality * (epoch + 1) / 6\n    log_metric('acc', acc, step=epoch)\n"
    "    time.sleep(0.05 if quality > 0.5 else 1.0)\nfinal = acc",
]


@pytest.mark.slow
def test_median_early_stopping_stops_a_trial_whose_curve_is_behind(tmp_path, ray_address):
    path = write_notebook(tmp_path / "curves.ipynb", CURVES)
    # one at a time, the bad trial last: two good curves are there to compare it with
    result = sweep(path, ["quality=1.0,0.9,0.1"], metric="acc", goal="max", parallel=1, early_stop="median")
    by_quality = {t["params"]["quality"]: t for t in result.trials}
    assert by_quality[1.0]["status"] == "succeeded" and by_quality[0.9]["status"] == "succeeded"
    bad = by_quality[0.1]
    assert bad["status"] == "stopped"  # stopped by the sweep: not failed
    with History(tmp_path / ".mlpipe" / "history.sqlite") as history:
        run = history.get_run(bad["run_id"])
        assert run["status"] == "cancelled" and run["steps"]["fit"]["status"] == "cancelled"
        assert len(run["metrics"]["fit"]["acc"]) < 6  # it did not get to log its whole curve
        assert history.sweeps.get(result.id)["trials"][2]["status"] == "stopped"
    assert result.status == "succeeded" and result.best()["params"] == {"quality": 1.0}


@pytest.mark.slow
def test_random_search_with_a_seed_is_reproducible_and_a_missing_metric_is_named(tmp_path, ray_address):
    path = four_steps(tmp_path)
    first = sweep(path, ["a=uniform(0,1)", "b=int(1,3)"], metric="score", goal="max", trials=3, seed=7,
                  parallel=1)
    again = sweep(path, ["a=uniform(0,1)", "b=int(1,3)"], metric="score", goal="max", trials=3, seed=7,
                  parallel=1)
    drawn = [(t["params"]["a"], t["params"]["b"]) for t in first.trials]
    assert [(t["params"]["a"], t["params"]["b"]) for t in again.trials] == drawn
    assert len(set(drawn)) == 3 and all(0 <= a <= 1 and b in (1, 2, 3) for a, b in drawn)
    for t in first.trials:
        assert t["metric"] == pytest.approx(oracle(path, t["params"])["score"])
    counts = step_runs(path)
    assert counts["train"] == {"succeeded": 3, "reused": 3}  # the same parameters: the second sweep reused them
    # a metric no step logs: said when the first trial ends, and the sweep stops there
    missing = sweep(path, ["a=0.2,0.3"], metric="accuracy", goal="max", parallel=1)
    assert missing.status == "failed"
    assert "accuracy" in missing.record["error"] and "score" in missing.record["error"]
    assert len([t for t in missing.trials if t.get("status") == "succeeded"]) <= 1


@pytest.mark.slow
def test_the_sweep_magic_in_a_real_kernel(tmp_path, ray_address, monkeypatch):
    from nbclient import NotebookClient

    path = write_notebook(tmp_path / "k.ipynb", ["%load_ext jupyter_mlpipe", *FOUR_STEPS,
                                                 "%pipeline sweep -p a=0.1,0.5 --metric score --goal max",
                                                 "%pipeline runs --sweep _mlpipe_sweep_id",
                                                 "%pipeline sweep -p zz=1,2 --metric score --goal max"])
    nb = nbformat.read(path, as_version=4)
    nb.cells[-2].source = "print('sweep id', _mlpipe_sweep.id)\n%pipeline runs --sweep {_mlpipe_sweep.id}"
    nbformat.write(nb, path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text") or out.get("data", {}).get("text/plain", "") or out.get("evalue", ""))
    text = "\n".join(texts)
    assert "best: trial" in text and "{'a': 0.5}" in text  # a = 0.5 scores best (the oracle's choice)
    (tmp_path / "oracle").mkdir()
    same = four_steps(tmp_path / "oracle")  # the notebook's steps, without the magics
    assert oracle(same, {"a": 0.5})["score"] > oracle(same, {"a": 0.1})["score"]
    assert "best first" in text and "2 trials" in text  # %pipeline runs --sweep ID
    assert "Unknown parameter 'zz'" in text
