"""log_metric / log_metrics: checked arguments, a session's own metrics, and metrics of a real run."""

from __future__ import annotations

import math

import pytest

import jupyter_mlpipe
from jupyter_mlpipe.execute import runtime as _runtime
from jupyter_mlpipe.store.history import History


@pytest.fixture
def session(monkeypatch):
    """A clean interactive session: no run context, no metrics yet, not warned yet."""
    monkeypatch.setattr(_runtime, "_CONTEXT", None)
    monkeypatch.setattr(_runtime, "_INTERACTIVE_METRICS", [])
    monkeypatch.setattr(_runtime, "_WARNED_INTERACTIVE", False)


def test_outside_a_run_metrics_stay_in_the_session_and_it_says_so_once(session, capsys):
    import numpy as np

    jupyter_mlpipe.log_metric("loss", 0.5, step=0)
    jupyter_mlpipe.log_metric("loss", np.float32(0.25), step=np.int64(1))
    jupyter_mlpipe.log_metrics({"acc": 0.9, "f1": float("nan")}, step=1)
    err = capsys.readouterr().err
    assert err.count("not in a pipeline run") == 1 and "interactive_metrics()" in err
    got = [(m["name"], m["value"], m["step_index"]) for m in jupyter_mlpipe.interactive_metrics()]
    assert got[:3] == [("loss", 0.5, 0), ("loss", 0.25, 1), ("acc", 0.9, 1)]
    assert got[3][0] == "f1" and math.isnan(got[3][1])  # NaN is a value a metric can take
    assert type(got[1][2]) is int


@pytest.mark.parametrize("call, message", [
    (lambda: jupyter_mlpipe.log_metric("loss", "0.5"), "needs a number (got the string '0.5')"),
    (lambda: jupyter_mlpipe.log_metric("loss", None), "needs a number (got None of type NoneType)"),
    (lambda: jupyter_mlpipe.log_metric("loss", [0.1, 0.2]), "needs a number (got [0.1, 0.2] of type list)"),
    (lambda: jupyter_mlpipe.log_metric("", 1.0), "needs a metric name, a non-empty string"),
    (lambda: jupyter_mlpipe.log_metric(0.5, 1.0), "needs a metric name"),
    (lambda: jupyter_mlpipe.log_metric("loss", 1.0, step=0.5), "step=0.5): step is the epoch or iteration"),
    (lambda: jupyter_mlpipe.log_metric("loss", 1.0, step="3"), "a whole number (got str)"),
    (lambda: jupyter_mlpipe.log_metrics("loss"), "log_metrics needs a dict of name -> number"),
    (lambda: jupyter_mlpipe.log_metrics({"a": 1.0, "b": "x"}), "log_metric('b', ...) needs a number"),
])
def test_bad_arguments_say_what_was_wrong_and_record_nothing(session, call, message):
    with pytest.raises(TypeError) as info:
        call()
    assert message in str(info.value)
    assert jupyter_mlpipe.interactive_metrics() == []  # log_metrics checks every value first


def test_an_array_gets_a_hint(session):
    import numpy as np

    with pytest.raises(TypeError, match=r"an array or tensor: log one element, or its mean"):
        jupyter_mlpipe.log_metric("loss", np.array([0.1, 0.2]))


@pytest.mark.slow
def test_metrics_of_a_real_run_are_in_its_history_and_a_bad_call_fails_the_step(ray_address, notebook):
    path = notebook([
        "%%step fit\nimport numpy as np\nfrom jupyter_mlpipe import log_metric, log_metrics\n"
        "for epoch in range(3):\n    log_metrics({'loss': 1 / (epoch + 1), 'acc': epoch / 3}, step=epoch)\n"
        "log_metric('lr', np.float64(0.01))\nweights = [1, 2]",
        "%%step report\nfrom jupyter_mlpipe import log_metric\nlog_metric('score', sum(weights), step='last')",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.steps["fit"].status == "succeeded"
    assert run.steps["report"].status == "failed"
    assert "step='last'): step is the epoch or iteration" in run.steps["report"].error
    record = History(path.parent / ".mlpipe" / "history.sqlite").get_run(run.id)
    fit = record["metrics"]["fit"]
    assert [(i, v) for i, v, _ in fit["loss"]] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert [i for i, _, _ in fit["acc"]] == [0, 1, 2]
    assert fit["lr"][0][:2] == (None, 0.01)
    assert "report" not in record["metrics"]  # the bad call recorded nothing


@pytest.mark.slow
def test_a_reused_step_shows_the_metrics_of_the_run_that_made_it(ray_address, notebook):
    from jupyter_mlpipe.queries import recorded_run
    from jupyter_mlpipe.panel import show_plan

    path = notebook([
        "%%step fit\nfrom jupyter_mlpipe import log_metric\nfor i in range(3):\n    log_metric('loss', 1 / (i + 1), step=i)\n"
        "w = 1",
        "%%step report\nr = w + 1",
    ])
    first = jupyter_mlpipe.run(path)
    second = jupyter_mlpipe.run(path)
    assert second.steps["fit"].status == "reused"
    history = History(path.parent / ".mlpipe" / "history.sqlite")
    assert history.metrics(second.id) == []  # nothing was logged in the second run
    # the panel (live or recorded) and the runs table both show what the step logged when it ran
    for run in (second, jupyter_mlpipe.load_run(second.id, path)):
        panel = show_plan(None, run, history=history)
        assert panel.metrics["fit"]["loss"] == [[0, 1.0], [1, 0.5], [2, pytest.approx(1 / 3)]]
    assert recorded_run(history, second.id)["metrics"]["fit"]["loss"][-1][:2] == (2, pytest.approx(1 / 3))
    assert first.id != second.id
