"""The runs table's result column and sorting, the comparison's metrics, and what a run says while Ray
starts and of a reused step (queries, text, the runner's "connecting" event). No Ray here."""

from __future__ import annotations

import io

import pytest

from jupyter_mlpipe.errors import MlpipeError
from jupyter_mlpipe.queries import (compare_records, listed_with_rows, result_metric, result_table, short_run_id,
                                    sort_order)
from jupyter_mlpipe.text import NO_METRICS, TextProgress, comparison_text, runs_table, step_line

STEPS = {"data": {"status": "succeeded"}, "fit": {"status": "succeeded"}, "evaluate": {"status": "succeeded"}}


def record(n: int, metrics: dict, params: dict | None = None, steps: dict | None = None) -> dict:
    """A `History.get_run`-shaped record; metrics {step: {name: [value, ...]}}, logged in that order."""
    ts = iter(range(1, 1000))
    return {
        "id": f"20261203-1200{n:02d}-abc0{n:02d}", "started": 100.0 * n, "status": "succeeded", "duration": 1.0,
        "params": params or {}, "steps": steps or STEPS,
        "metrics": {step: {name: [(i, v, next(ts)) for i, v in enumerate(values)] for name, values in names.items()}
                    for step, names in metrics.items()},
    }


OLD = record(1, {"fit": {"loss": [0.9, 0.5]}, "evaluate": {"accuracy": [0.8], "f1": [0.7]}}, {"lr": 0.1})
MID = record(2, {"fit": {"loss": [0.8, 0.2]}, "evaluate": {"accuracy": [0.9], "f1": [0.6]}}, {"lr": 0.5})
NONE = record(3, {}, {"lr": 1.0})
NEWEST_FIRST = [NONE, MID, OLD]


# --------------------------------------------------------------------------- which metric, which order


def test_the_default_result_is_what_the_last_step_logged_last():
    # the newest run that logged metrics decides; of its last step (pipeline order), the last metric logged
    assert result_metric(NEWEST_FIRST) == "evaluate.f1"
    # a step later in the pipeline wins over one that logged later in time
    late_fit = record(4, {"evaluate": {"accuracy": [0.9]}, "fit": {"loss": [0.1]}})
    assert result_metric([late_fit]) == "evaluate.accuracy"
    assert result_metric([NONE]) is None and result_metric([]) is None


def test_a_chosen_metric_by_its_whole_key_or_its_unique_name():
    assert result_metric(NEWEST_FIRST, "fit.loss") == "fit.loss"
    assert result_metric(NEWEST_FIRST, "accuracy") == "evaluate.accuracy"
    both = record(5, {"fit": {"loss": [1.0]}, "evaluate": {"loss": [2.0]}})
    with pytest.raises(MlpipeError, match=r"'loss' was logged by 2 steps: fit.loss, evaluate.loss") as err:
        result_metric([both], "loss")
    assert "STEP.NAME" in err.value.hint
    with pytest.raises(MlpipeError, match=r"No metric 'auc' in these runs. Their metrics: fit.loss, "):
        result_metric(NEWEST_FIRST, "auc")
    with pytest.raises(MlpipeError, match=r"Their metrics: none \(log_metric"):
        result_metric([NONE], "auc")


@pytest.mark.parametrize("metric, order", [
    ("fit.loss", "asc"), ("train.val_loss", "asc"), ("eval.error_rate", "asc"), ("eval.rmse", "asc"),
    ("fit.train_time", "asc"), ("evaluate.accuracy", "desc"), ("evaluate.f1", "desc"), ("m.auc", "desc"),
    ("m.r2", "desc"),
])
def test_best_first_is_lowest_for_losses_and_errors(metric, order):
    assert sort_order(metric) == order


# --------------------------------------------------------------------------- rows and sorting


def test_rows_carry_the_result_and_keep_the_newest_first_unless_sorted():
    table = result_table(NEWEST_FIRST)
    assert (table.metric, table.sort, table.order) == ("evaluate.f1", None, None)
    assert [r["id"] for r in table.rows] == [r["id"] for r in NEWEST_FIRST]
    assert table.rows[1]["result"] == {"metric": "evaluate.f1", "value": 0.6, "best": "desc"}
    assert table.rows[0]["result"] == {"metric": "evaluate.f1", "value": None, "best": "desc"}
    assert result_table([NONE]).rows[0]["result"] is None  # no run logged a metric: no result column


def test_sorting_best_first_with_runs_without_the_metric_last():
    by_loss = result_table(NEWEST_FIRST, sort="loss")
    assert by_loss.metric == by_loss.sort == "fit.loss" and by_loss.order == "asc"  # the sort metric is the result
    assert [r["id"] for r in by_loss.rows] == [MID["id"], OLD["id"], NONE["id"]]
    assert [r["id"] for r in by_loss.records] == [MID["id"], OLD["id"], NONE["id"]]
    by_f1 = result_table(NEWEST_FIRST, sort="")  # alone: by the result column, highest f1 first
    assert (by_f1.sort, by_f1.order) == ("evaluate.f1", "desc")
    assert [r["id"] for r in by_f1.rows] == [OLD["id"], MID["id"], NONE["id"]]
    worst = result_table(NEWEST_FIRST, sort="", order="asc")
    assert [r["id"] for r in worst.rows] == [MID["id"], OLD["id"], NONE["id"]]
    # the result column and the sort order may differ
    mixed = result_table(NEWEST_FIRST, metric="accuracy", sort="fit.loss")
    assert (mixed.metric, mixed.sort) == ("evaluate.accuracy", "fit.loss")
    # nothing logged anywhere: sorting by the result column leaves the runs as listed
    assert result_table([NONE], sort="").sort is None


def test_the_text_table_shows_the_result_first_and_says_how_it_is_sorted():
    lines = runs_table(result_table(NEWEST_FIRST, sort="loss")).splitlines()
    assert lines[0].split() == ["run", "started", "status", "duration", "reused", "fit.loss", "lr",
                                "evaluate.accuracy", "evaluate.f1"]
    assert lines[1].startswith(MID["id"]) and lines[1].split()[-4:] == ["0.2", "0.5", "0.9", "0.6"]
    assert lines[3].startswith(NONE["id"]) and lines[3].split()[-4:] == ["-", "1", "-", "-"]
    assert lines[-1] == "(sorted by fit.loss, lowest first; runs without it last)"
    plain = runs_table(NEWEST_FIRST).splitlines()  # records as they come: the default result, not sorted
    assert plain[0].split()[5] == "evaluate.f1" and not plain[-1].startswith("(sorted")
    assert runs_table([NONE]).splitlines()[0].split() == ["run", "started", "status", "duration", "reused", "lr"]


def test_json_rows_carry_the_result_in_the_table_order():
    items = [{"id": r["id"], "status": "succeeded"} for r in NEWEST_FIRST]
    listed = listed_with_rows(items, result_table(NEWEST_FIRST, sort="loss"))
    assert [item["id"] for item in listed] == [MID["id"], OLD["id"], NONE["id"]]
    assert listed[0]["result"] == {"metric": "fit.loss", "value": 0.2, "best": "asc"}
    assert listed[0]["metrics"] == {"fit.loss": 0.2, "evaluate.accuracy": 0.9, "evaluate.f1": 0.6}
    assert listed[2]["result"]["value"] is None
    unsorted = listed_with_rows(items, NEWEST_FIRST)  # plain records: as listed, the default result
    assert [item["id"] for item in unsorted] == [r["id"] for r in NEWEST_FIRST]
    assert unsorted[1]["result"]["metric"] == "evaluate.f1"


# --------------------------------------------------------------------------- comparing


def test_a_comparison_of_runs_without_metrics_says_so():
    other = {**NONE, "id": "20261203-120009-abc009", "started": 900.0}
    comparison = compare_records(NONE, other)
    assert comparison["metrics"] == {} and comparison["metrics_same"] == []
    text = comparison_text(comparison)
    assert f"metrics (last values):\n  {NO_METRICS}" in text and "the same" not in text.split("metrics")[1]
    assert NO_METRICS == "neither run logged a metric (log_metric(NAME, VALUE) in a step records one)"


def test_a_comparison_of_runs_with_equal_metrics_says_how_many():
    twin = {**OLD, "id": "20261203-120009-abc009", "started": 900.0, "params": {"lr": 0.2}}
    comparison = compare_records(OLD, twin)
    assert comparison["metrics"] == {}
    assert comparison["metrics_same"] == ["evaluate.accuracy", "evaluate.f1", "fit.loss"]
    assert "metrics (last values):\n  the same (3 metrics)" in comparison_text(comparison)
    # a run that logged metrics against one that did not: the values differ, nothing is "the same"
    mixed = compare_records(OLD, {**NONE, "started": 900.0})
    assert mixed["metrics"]["fit.loss"] == [0.5, None, None] and mixed["metrics_same"] == []
    # a comparison from before `metrics_same` (JSON saved by an older version) reads as it did
    old_style = {k: v for k, v in comparison.items() if k != "metrics_same"}
    assert "metrics (last values):\n  the same\n" in comparison_text(old_style)


# --------------------------------------------------------------------------- a run's lines


class Step:
    def __init__(self, name, status, reason=None, duration=None):
        self.name, self.status, self.reason, self.duration = name, status, reason, duration


def test_a_reused_step_says_which_run_it_is_reused_from():
    reason = {"decision": "reused", "from_run": "20261203-120001-3f9a1c",
              "summary": "nothing changed since run 20261203-120001-3f9a1c"}
    line = step_line(Step("features", "reused", reason, duration=0.0))
    assert line.split() == ["↺", "features", "reused", "from", "3f9a1c"]
    assert "0 ms" not in line
    assert step_line(Step("features", "reused")).endswith("reused from ?")  # an old record without its reason
    assert step_line(Step("fit", "succeeded", duration=1.25)).split()[-3:] == ["succeeded", "1.2", "s"]
    assert short_run_id("20261203-120001-3f9a1c") == "3f9a1c" and short_run_id(None) == "?"


def test_the_runner_says_when_its_backend_starts_and_the_text_progress_shows_it(notebook, monkeypatch):
    pytest.importorskip("papermill")
    from jupyter_mlpipe.execute import ray_backend
    from jupyter_mlpipe.execute.backend import InProcessBackend
    from jupyter_mlpipe.execute.runner import RunOptions, start_run
    from jupyter_mlpipe.plan import Pipeline
    from jupyter_mlpipe.store.history import History
    from jupyter_mlpipe.store.paths import Store
    from jupyter_mlpipe.text import connecting_line, run_summary

    monkeypatch.setattr(ray_backend.ray_connect, "connect", lambda *a, **k: pytest.fail("no Ray here"))
    path = notebook(["%%step make\nx = 21", "%%step double\ny = x * 2"])
    store = Store.for_notebook(path)
    seen = []

    def listener(run, event, step):
        seen.append((event, step.name if step else None, run.connecting))
        if event == "connecting":
            seen.append(("summary", run_summary(run)))

    out = io.StringIO()

    def drive():
        return start_run(Pipeline.from_notebook(path), params={}, store=store, history=History(store.history_path),
                         options=RunOptions(), listeners=[listener, TextProgress(stream=out)],
                         backend=InProcessBackend())

    first = drive()
    assert first.status == "succeeded" and not first.connecting
    assert seen[:2] == [("start", None, False), ("connecting", None, True)]
    assert seen[3] == ("step", "make", False)  # submitted: the run line no longer says it
    assert seen[2][1].splitlines()[1] == f"  {connecting_line()}"
    assert out.getvalue().splitlines()[1] == connecting_line()
    assert connecting_line() in ("starting Ray (first run in this session)…", "connecting to Ray…")
    seen.clear()
    again = drive()  # every step reused: no backend, nothing said about Ray
    assert {s.status for s in again.steps.values()} == {"reused"}
    assert "connecting" not in [event for event, *_ in seen]
    assert f"reused from {first.id[-6:]}" in run_summary(again)


def test_connecting_line_names_the_first_start(monkeypatch):
    import sys

    from jupyter_mlpipe.text import connecting_line

    monkeypatch.delitem(sys.modules, "ray", raising=False)
    assert connecting_line() == "starting Ray (first run in this session)…"
    monkeypatch.setitem(sys.modules, "ray", object())
    assert connecting_line() == "connecting to Ray…"
