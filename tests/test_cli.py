"""The mlpipe command through a subprocess: output, exit statuses, errors without tracebacks."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, mlpipe_cli, write_notebook

QUICKSTART = ROOT / "notebooks" / "quickstart.ipynb"


def test_plan_text_and_json():
    text = mlpipe_cli("plan", str(QUICKSTART))
    assert text.returncode == 0, text.stderr
    assert "step train" in text.stdout and "<- features: X_train, y_train" in text.stdout
    data = json.loads(mlpipe_cli("plan", str(QUICKSTART), "--json").stdout)
    assert [s["name"] for s in data["steps"]] == ["load", "features", "train", "evaluate"]
    assert {"from": "train", "to": "evaluate", "variables": ["model"]} in data["edges"]
    for step in data["steps"]:
        assert set(step) >= {"name", "cells", "inputs", "outputs", "params", "resources", "options"}


@pytest.mark.parametrize("cells, message", [
    (["%%step a\nx = y + 1"], "'y'"),
    (["%%step a\nx = 1", "%%step a\ny = 2"], "Duplicate step name 'a'"),
    (["%%step a b c\nx = 1"], "cannot contain spaces"),
    (["%%step a\nx = (1"], "Syntax error"),
])
def test_plan_errors_are_one_line_and_exit_2(tmp_path, cells, message):
    path = write_notebook(tmp_path / "bad.ipynb", cells)
    result = mlpipe_cli("plan", str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_notebook_and_bad_usage(tmp_path):
    result = mlpipe_cli("plan", str(tmp_path / "nope.ipynb"))
    assert result.returncode == 2 and "No notebook" in result.stderr
    assert mlpipe_cli("fly").returncode == 2
    not_nb = tmp_path / "x.ipynb"
    not_nb.write_text("hello")
    result = mlpipe_cli("plan", str(not_nb))
    assert result.returncode == 2 and "not a readable .ipynb" in result.stderr


@pytest.mark.slow
def test_run_runs_why_show_and_exit_statuses(tmp_path, ray_address):
    path = write_notebook(tmp_path / "nb.ipynb", [
        {"source": "n = 3", "tags": ["parameters"]},
        "%%step a\nx = n * 2",
        "%%step b\ny = x + 1",
    ])
    first = mlpipe_cli("run", str(path), "-p", "n=4")
    assert first.returncode == 0, first.stderr + first.stdout
    assert "succeeded" in first.stdout and "y = 9" in first.stdout
    # each step's line once, as it finished; then the run's line
    step_lines = [line.split() for line in first.stdout.splitlines() if line.startswith("  ✓ ")]
    assert [words[1] for words in step_lines] == ["a", "b"], first.stdout
    assert re.search(r"^run \S+ \[2/2\] succeeded", first.stdout, re.M), first.stdout
    second = mlpipe_cli("run", str(path), "-p", "n=4", "--json")
    data = json.loads(second.stdout)
    assert {s["status"] for s in data["steps"].values()} == {"reused"}
    why = mlpipe_cli("why", str(path), "a")
    assert "reused" in why.stdout
    runs = mlpipe_cli("runs", str(path), "--json")
    listed = json.loads(runs.stdout)
    assert len(listed) == 2
    shown = mlpipe_cli("show", listed[0]["id"], "--store", str(path))
    assert shown.returncode == 0 and "reused" in shown.stdout
    assert mlpipe_cli("run", str(path), "-p", "nope=1").returncode == 2
    failing = write_notebook(tmp_path / "fail.ipynb", ["%%step a\nraise ValueError('boom')"])
    result = mlpipe_cli("run", str(failing))
    assert result.returncode == 1
    assert "ValueError: boom" in result.stdout
    assert mlpipe_cli("show", "not-a-run-id", "--store", str(path)).returncode == 2


@pytest.mark.slow
def test_runs_table_and_comparison_of_two_runs(tmp_path, ray_address):
    path = write_notebook(tmp_path / "nb.ipynb", [
        {"source": "n = 3\nlr = 0.1", "tags": ["parameters"]},
        "%%step data\nx = list(range(n))",
        "%%step fit\nfrom jupyter_mlpipe import log_metric\nloss = 1.0\nfor i in range(3):\n"
        "    loss = loss * lr\n    log_metric('loss', loss, step=i)",
    ])
    first = mlpipe_cli("run", str(path))
    assert first.returncode == 0
    # while Ray starts, before the first step is submitted, the progress says so
    assert first.stdout.splitlines()[1] in ("starting Ray (first run in this session)…", "connecting to Ray…")
    second = mlpipe_cli("run", str(path), "-p", "lr=0.5")
    assert second.returncode == 0
    again = mlpipe_cli("run", str(path), "-p", "lr=0.5")
    listed = json.loads(mlpipe_cli("runs", str(path), "--json").stdout)
    assert listed[0]["reused"] == 2
    listed = listed[1:]  # the all-reused run aside
    new, old = listed[0]["id"], listed[1]["id"]
    # a reused step names the run it is reused from (its last six characters), not "0 ms"
    assert re.search(rf"^  ↺ data\s+reused from {old[-6:]}$", second.stdout, re.M), second.stdout
    assert "Ray" not in again.stdout  # every step reused: Ray is not needed, nothing said about it
    # the notebooks of the steps this run ran, not those of the reused step (from the first run)
    assert f"step notebooks: {tmp_path / '.mlpipe' / 'runs' / new}/" in second.stdout, second.stdout
    assert "every step was reused; each one's notebook is in the run that made it" in again.stdout
    assert listed[0]["metrics"] == {"fit.loss": 0.125} and listed[0]["reused"] == 1  # for CI gates on metrics
    assert listed[0]["result"] == {"metric": "fit.loss", "value": 0.125, "best": "asc"}
    assert listed[1]["params"] == {"n": 3, "lr": 0.1} and listed[1]["reused"] == 0

    table = mlpipe_cli("runs", str(path)).stdout.splitlines()
    # the result column (the metric the last step logged) comes right after the run's own columns
    assert table[0].split() == ["run", "started", "status", "duration", "reused", "fit.loss", "n", "lr"]
    # the all-reused run shows the metric its reused step logged when it ran
    assert table[1].split()[-4:] == ["2/2", "0.125", "3", "0.5"]
    assert table[2].startswith(new) and table[2].split()[-4:] == ["1/2", "0.125", "3", "0.5"]
    assert table[3].startswith(old) and table[3].split()[-4:] == ["0/2", "0.001", "3", "0.1"]

    # a unique part of an id is enough; either order reads from the older run to the newer
    compared = mlpipe_cli("runs", str(path), "--compare", new, old[-6:])
    assert compared.returncode == 0, compared.stderr
    text = compared.stdout
    assert text.splitlines()[0] == f"{old} -> {new}"
    assert "  lr: 0.1 -> 0.5" in text and "n:" not in text  # only what differs
    assert "  fit.loss: 0.001 -> 0.125  (+0.124)" in text
    assert re.search(r"^\s+\* data\s+succeeded\s+->\s+reused$", text, re.M), text
    assert re.search(r"^\s+fit\s+succeeded\s+->\s+succeeded$", text, re.M), text
    data = json.loads(mlpipe_cli("runs", str(path), "--compare", old, new, "--json").stdout)
    assert data["params"] == {"lr": [0.1, 0.5]} and data["steps_differ"] == ["data"]

    # mistakes: an unknown run, an ambiguous part, the same run twice, one run only, a bad limit
    unknown = mlpipe_cli("runs", str(path), "--compare", "nope42", new)
    assert unknown.returncode == 2 and "No run 'nope42' of this notebook" in unknown.stderr
    assert new in unknown.stderr  # it names the runs there are
    ambiguous = mlpipe_cli("runs", str(path), "--compare", "2", new)
    assert ambiguous.returncode == 2 and "matches 3 runs" in ambiguous.stderr
    same = mlpipe_cli("runs", str(path), "--compare", new, new[-6:])
    assert same.returncode == 2 and "are the same run" in same.stderr
    one = mlpipe_cli("runs", str(path), "--compare", new)
    assert one.returncode == 2 and "expected 2 arguments" in one.stderr
    typo = mlpipe_cli("runs", str(tmp_path / "nb2.ipynb"))
    assert typo.returncode == 2 and "No notebook at" in typo.stderr
    limit = mlpipe_cli("runs", str(path), "--limit", "0")
    assert limit.returncode == 2 and "--limit must be 1 or more (got '0')" in limit.stderr


def test_a_notebook_without_steps_is_refused_with_how_to_fix_it(tmp_path):
    path = write_notebook(tmp_path / "plain.ipynb", ["x = 1", "print(x)"])
    result = mlpipe_cli("run", str(path))
    assert result.returncode == 2
    assert "plain.ipynb has no steps, so there is nothing to run" in result.stderr
    assert "%%step NAME" in result.stderr
    assert not (tmp_path / ".mlpipe" / "history.sqlite").exists()  # no empty run recorded


@pytest.mark.slow
def test_runs_sorted_by_a_metric_and_a_comparison_without_metrics(tmp_path, ray_address):
    import jupyter_mlpipe

    path = write_notebook(tmp_path / "nb.ipynb", [
        {"source": "lr = 0.1", "tags": ["parameters"]},
        "%%step fit\nfrom jupyter_mlpipe import log_metric\nlog_metric('loss', abs(lr - 0.3))",
        "%%step evaluate\nfrom jupyter_mlpipe import log_metric\nlog_metric('acc', 1 - abs(lr - 0.3))\n"
        "log_metric('f1', 0.5)",
    ])
    ids = {lr: jupyter_mlpipe.run(path, {"lr": lr}).id for lr in (0.1, 0.9, 0.3)}
    table = mlpipe_cli("runs", str(path)).stdout.splitlines()  # default result: what the last step logged last
    assert table[0].split()[5:] == ["evaluate.f1", "lr", "evaluate.acc", "fit.loss"]
    by_acc = mlpipe_cli("runs", str(path), "--sort", "acc")
    assert by_acc.returncode == 0, by_acc.stderr
    lines = by_acc.stdout.splitlines()
    assert lines[0].split()[5:7] == ["evaluate.acc", "lr"]  # the sort metric is the result column
    assert [line.split()[0] for line in lines[1:4]] == [ids[0.3], ids[0.1], ids[0.9]]  # highest acc first
    assert lines[-1] == "(sorted by evaluate.acc, highest first; runs without it last)"
    listed = json.loads(mlpipe_cli("runs", str(path), "--json", "--sort", "fit.loss", "--order", "desc").stdout)
    assert [item["id"] for item in listed] == [ids[0.9], ids[0.1], ids[0.3]]
    assert [round(item["result"]["value"], 6) for item in listed] == [0.6, 0.2, 0.0]
    assert listed[0]["result"]["metric"] == "fit.loss" and listed[0]["result"]["best"] == "asc"
    unknown = mlpipe_cli("runs", str(path), "--metric", "auc")
    assert unknown.returncode == 2 and "No metric 'auc' in these runs" in unknown.stderr

    quiet = write_notebook(tmp_path / "quiet.ipynb", [
        {"source": "n = 1", "tags": ["parameters"]}, "%%step a\nx = n + 1"])
    first, second = (jupyter_mlpipe.run(quiet, {"n": n}).id for n in (1, 2))
    compared = mlpipe_cli("runs", str(quiet), "--compare", first, second)
    assert compared.returncode == 0, compared.stderr
    assert ("metrics (last values):\n  neither run logged a metric (log_metric(NAME, VALUE) in a step records one)"
            in compared.stdout), compared.stdout
    assert "the same" not in compared.stdout.split("metrics (last values):")[1].split("steps:")[0]
    runs_table = mlpipe_cli("runs", str(quiet)).stdout.splitlines()
    assert runs_table[0].split() == ["run", "started", "status", "duration", "reused", "n"]  # no result column
