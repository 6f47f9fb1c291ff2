"""Runs that correct themselves (issue #12): the run learns what the plan missed, re-runs what read a
stale value, says so in its record, and the next plan starts from what it learned."""

from __future__ import annotations

import json

import pytest

import jupyter_mlpipe
from conftest import mlpipe_cli
from jupyter_mlpipe.store.history import History

pytestmark = pytest.mark.slow


def _history(path):
    return History(path.parent / ".mlpipe" / "history.sqlite")


def test_an_alias_made_in_one_step_and_changed_in_another_gives_the_notebook_value(ray_address, notebook):
    path = notebook([
        "%load_ext jupyter_mlpipe",
        "%%step make\na = [1, 2, 3]",
        "%%step alias\nb = a",
        "%%step change\nb.append(0)",
        "%%step show\nlast = a[-1]",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded"
    assert run["last"] == 0 and run["a"] == [1, 2, 3, 0]
    pulled = run.values(["a", "b"])  # what `%pipeline run` brings into the kernel: still one list
    assert pulled["a"] is pulled["b"]
    assert any("alias made 'b' share objects with 'a'" in c for c in run.corrections), run.corrections
    record = _history(path).get_run(run.id)
    assert record["corrections"] == run.corrections
    facts = _history(path).facts.of(str(path.resolve()))
    assert ("alias", "a") in {(f["step"], f["variable"]) for f in facts}

    # the next plan starts from what the run learned, and shows it
    plan = jupyter_mlpipe.api.plan(path)
    assert "a" in plan.steps["alias"].outputs and plan.steps["show"].input_sources["a"] == "change"
    text = mlpipe_cli("plan", str(path)).stdout
    assert "learned: defines a: alias made 'b' share objects with 'a'" in text
    assert "a (learned)" in text
    planned = json.loads(mlpipe_cli("plan", str(path), "--json").stdout)
    assert planned["learned"]["alias"] == {"a": "alias made 'b' share objects with 'a'"}

    again = jupyter_mlpipe.run(path)
    assert again["last"] == 0
    assert again.corrections == []  # nothing left to learn
    assert {s.status for s in again.steps.values()} <= {"reused", "succeeded"}
    why = mlpipe_cli("why", str(path), "change").stdout
    assert "it reads 'a' from 'alias': alias made 'b' share objects with 'a'" in why, why


def test_a_step_that_already_read_the_old_value_runs_again(ray_address, notebook):
    # the alias is made inside a function: the planner cannot see it, so `total` starts early
    path = notebook([
        "def prep(x):\n    return x",
        "%%step make\nvals = [1, 2]",
        "%%step prepare\nout = prep(vals)",
        "%%step change\nout.append(9)",
        "%%step total\ntotal = sum(vals)",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded"
    assert run["total"] == 12
    assert any(c.startswith("total ") and "(learned at run time)" in c for c in run.corrections), run.corrections
    assert "change changed 'vals' through its alias 'out'" in " ".join(run.corrections)


def test_sharing_survives_two_steps_and_a_view(ray_address, notebook):
    path = notebook([
        "import numpy as np",
        "%%step make\nX = np.arange(8, dtype=float).reshape(4, 2)",
        "%%step split\nX_train, X_test = X[:2], X[2:]",
        "%%step center\nX_train -= X_train.mean(axis=0)",
        "%%step show\nfirst = X[0].tolist()\nbase = X_train.base is not None",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded"
    assert run["first"] == [-1.0, -1.0] and run["base"] is True


def test_a_shared_value_that_can_no_longer_be_stored_fails_the_step_loudly(ray_address, notebook):
    path = notebook([
        "%%step make\nd = {'k': 1}",
        "%%step alias\ne = d",
        "%%step spoil\ne['gen'] = (i for i in range(3))",
        "%%step show\nkeys = sorted(d)",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "failed"
    error = run.steps["spoil"].error
    assert "'spoil'" in error and "generator" in error and ("'d'" in error or "'e'" in error), error
    assert run.steps["show"].status == "skipped"
