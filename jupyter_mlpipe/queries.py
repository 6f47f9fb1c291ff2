"""The questions every front end asks of the run history, answered once.

Listing a notebook's runs, loading one, resolving an id or a unique part of it,
comparing two runs, and `why STEP`: the widget (`%pipeline runs`), the CLI
(`mlpipe runs`, `mlpipe why`, `mlpipe show`), the kernel's text views, the
Python API (`compare`, `load_run`) and the REST server ask these, so that every
front end shows the same rows, differences and explanations. Answers are plain
records (`History` dicts, `RunRow`, `RunComparison`); `text` renders them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, TypedDict, TypeVar

from .errors import MlpipeError, RunNotFound
from .store.history import History
from .store.ids import LIST_RUNS_HINT, RUN_ID_RE
from .store.paths import Store, open_history
from .vocab import FINISHED, finite_number, to_json

__all__ = [
    "ResultTable",
    "RunComparison",
    "RunRecord",
    "RunRow",
    "RunView",
    "ShownRuns",
    "SortOrder",
    "StepView",
    "compare",
    "compare_records",
    "compare_runs",
    "find_run",
    "last_run_of_step",
    "list_runs",
    "listed_with_rows",
    "notebook_key",
    "oldest_first",
    "original_metrics",
    "recorded_run",
    "recorded_runs",
    "resolve_pair",
    "resolve_run_id",
    "result_metric",
    "result_table",
    "result_table_for",
    "add_result_arguments",
    "run_row",
    "short_run_id",
    "shown_runs",
    "sort_order",
    "why",
    "why_text",
    "with_reused_metrics",
]

log = logging.getLogger(__name__)

SEARCH_LIMIT = 10_000  # runs looked at when a short id is resolved
SHOWN_RUNS = 30  # runs the `%pipeline runs` table shows

RunRecord = dict[str, Any]
"""A run as `History.get_run` returns it: its fields, `steps` {step: step_run}, `metrics`, maybe `plan`."""

SortOrder = Literal["asc", "desc"]
"""How the runs table is sorted by a metric: lowest first (a loss, an error) or highest first."""

LOWER_IS_BETTER = re.compile(r"loss|err|mse|mae|mape|rmse|perplexity|ppl|latency|time|duration|cost|regret",
                             re.IGNORECASE)
"""Metric names sorted lowest first by default (`sort_order`); the rest highest first."""


class RunRow(TypedDict):
    """One row of the runs table (widget, text, `mlpipe runs --json`), made by `run_row`."""

    id: str
    started: float | None
    status: str | None
    duration: float | None
    params: dict[str, Any]
    metrics: dict[str, float | None]  # last value of each metric, "step.name" keys
    result: dict[str, Any] | None  # the table's chosen metric: {metric: "step.name", value, best: "asc"|"desc"}
    counts: dict[str, int]  # steps per status
    reused: int
    ran: int
    steps: dict[str, str | None]  # step -> status


class RunComparison(TypedDict):
    """What differs between two runs, read from `a` (the older) to `b`, made by `compare_runs`."""

    a: str
    b: str
    params: dict[str, list[Any]]  # name -> [a, b]
    metrics: dict[str, list[float | None]]  # "step.name" -> [a, b, b - a]; only those that differ
    metrics_same: list[str]  # the metrics both runs logged with the same last value
    steps: dict[str, list[str | None]]  # step -> [status in a, status in b]; None: not in that run
    steps_differ: list[str]


class ResultTable(NamedTuple):
    """The runs table (`result_table`): rows in the order shown, with the result column's metric."""

    rows: list[RunRow]
    records: list[RunRecord]  # the same runs, in the same order
    metric: str | None  # the result column ("step.name"); None when none of the runs logged a metric
    sort: str | None  # the metric the rows are sorted by; None: newest first, as listed
    order: SortOrder | None


class ShownRuns(NamedTuple):
    """What `%pipeline runs [RUN_A RUN_B]` shows: runs in full, the two chosen, their comparison."""

    records: list[RunRecord]
    chosen: list[str]
    comparison: RunComparison | None


class StepView(Protocol):
    """One step of a run, as the text views and the panel read it (live `StepRun` or recorded)."""

    name: str
    status: str
    started: float | None
    ended: float | None
    error: str | None
    error_info: dict[str, Any] | None
    notebook_path: str | None
    outputs: dict[str, dict]
    inputs: dict[str, str]
    reason: dict[str, Any] | None
    attempts: int
    warnings: list[str]
    resources: dict[str, Any]

    @property
    def duration(self) -> float | None: ...


class RunView(Protocol):
    """What reading a run needs; a live `execute.runner.Run` and a `recorded.RecordedRun` both have it."""

    id: str
    notebook: str
    params: dict[str, Any]
    status: str
    started: float
    ended: float | None
    corrections: list[str]

    @property
    def steps(self) -> Mapping[str, StepView]: ...

    @property
    def done(self) -> bool: ...

    @property
    def duration(self) -> float: ...

    def counts(self) -> dict[str, int]: ...

    def producer_of(self, name: str) -> str | None: ...

    def __getitem__(self, name: str) -> Any: ...

    def values(self, names: list[str]) -> dict[str, Any]: ...

    def summary(self) -> str: ...


# --------------------------------------------------------------------------- listing and loading


def notebook_key(path: str | os.PathLike) -> str:
    """How the history names a notebook: its resolved path."""
    return str(Path(path).resolve())


def _history_if_any(path: str | os.PathLike) -> History | None:
    """The notebook's history, or None when nothing was ever recorded for it."""
    try:
        history, _ = open_history(path, hint="")
    except RunNotFound:
        return None
    return history


def list_runs(path: str | os.PathLike, limit: int = 50, *, pipeline: str | None = None,
              trigger: str | None = None) -> list[dict[str, Any]]:
    """The recorded runs of a notebook (`History.list_runs` rows), newest first; [] before its first run.
    `pipeline`, `trigger`: only the runs of that published pipeline, or with that kind of trigger."""
    history = _history_if_any(path)
    return [] if history is None else history.list_runs(notebook_key(path), limit=limit, pipeline=pipeline,
                                                        trigger=trigger)


def recorded_run(history: History, run_id: str) -> RunRecord:
    """One run in full (a `History.get_run` record) without its plan, which tables do not need.

    A reused step logged nothing in this run: it gets the metrics of the run that made its
    outputs, so that comparing a run with a reused step compares what the step produced.
    """
    record = history.get_run(run_id)
    record.pop("plan", None)
    return with_reused_metrics(history, record)


def with_reused_metrics(history: History, record: RunRecord) -> RunRecord:
    """`record` (a `History.get_run` dict), its reused steps given their original metrics in place."""
    metrics = record.setdefault("metrics", {})
    for name, step in (record.get("steps") or {}).items():
        if name in metrics:
            continue
        for point in original_metrics(history, name, step.get("status"), step.get("reason")):
            metrics.setdefault(name, {}).setdefault(point["name"], []).append(
                (point["step_index"], point["value"], point["ts"]))
    return record


def original_metrics(history: History, step: str, status: str | None,
                     reason: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The metric points a reused step logged in the run that made its outputs (`History.metrics` rows)."""
    source = (reason or {}).get("from_run") if status == "reused" else None
    if not source:
        return []
    try:
        return history.metrics(source, step=step)
    except RunNotFound:  # a malformed id in an old record
        log.debug("step %r was reused from %r, which is not a run id: no metrics shown", step, source)
        return []


def recorded_runs(history: History, notebook: str | None, *, limit: int = SHOWN_RUNS) -> list[RunRecord]:
    """The newest runs of a notebook in full, newest first."""
    records = []
    for item in history.list_runs(notebook, limit=limit):
        try:
            records.append(recorded_run(history, item["id"]))
        except RunNotFound:  # forgotten (mlpipe gc) meanwhile
            log.debug("run %s was forgotten while the runs were listed", item["id"])
    return records


def resolve_run_id(history: History, notebook: str | None, text: str) -> str:
    """A run id from what a user typed: the whole id, or a unique part of it (`3f9a1c`, `052050-3f9a1c`).

    Runs of other notebooks in the same history are not matched by a part.
    """
    text = str(text).strip()
    ids = [item["id"] for item in history.list_runs(notebook, limit=SEARCH_LIMIT)]
    if text in ids:
        return text
    matches = [run_id for run_id in ids if text and (run_id.endswith(text) or run_id.startswith(text))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        where = " of this notebook" if notebook else f" in {history.path}"
        known = f" The newest are: {', '.join(ids[:3])}." if ids else " There are no runs yet."
        raise RunNotFound(f"No run {text!r}{where}.{known}", hint=LIST_RUNS_HINT)
    shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
    raise RunNotFound(f"{text!r} matches {len(matches)} runs ({shown}).",
                      hint="Give more of the id: its last six characters are unique.")


def resolve_pair(history: History, notebook: str | None, run_a: str, run_b: str) -> tuple[str, str]:
    """The two run ids a comparison is asked for; the same run twice is an error."""
    a, b = (resolve_run_id(history, notebook, r) for r in (run_a, run_b))
    if a == b:
        raise MlpipeError(f"{run_a!r} and {run_b!r} are the same run ({a}).", hint="Give two different runs.")
    return a, b


def find_run(path: str | os.PathLike, run_id: str, *, hint: str) -> tuple[RunRecord, Store]:
    """A run in full, plan included (by id, or a unique part of it), and the store its values are in.

    `path` is the notebook, or its folder: a part of an id is then matched against every run there.
    `hint` says what to do when nothing was recorded at `path`.
    """
    history, where = open_history(path, hint=hint)
    if not RUN_ID_RE.match(str(run_id)):  # a part of an id, such as its last six characters
        notebook = notebook_key(path) if Path(path).suffix == ".ipynb" else None
        run_id = resolve_run_id(history, notebook, run_id)
    return history.get_run(run_id), where


def shown_runs(path: str | os.PathLike, chosen: Sequence[str] = (), *, limit: int = SHOWN_RUNS) -> ShownRuns:
    """The newest runs of a notebook in full and, given two runs (ids or parts), those two compared.

    The two are resolved before anything is read, so a typo is a clear error; one older than the
    newest `limit` is added to the records. Nothing recorded yet: no records.
    """
    history = _history_if_any(path)
    if history is None:
        return ShownRuns([], [], None)
    notebook = notebook_key(path)
    ids = list(resolve_pair(history, notebook, *chosen)) if chosen else []
    records = recorded_runs(history, notebook, limit=limit)
    listed = {r["id"] for r in records}
    records += [recorded_run(history, i) for i in ids if i not in listed]
    by_id = {r["id"]: r for r in records}
    comparison = compare_records(by_id[ids[0]], by_id[ids[1]]) if ids else None
    return ShownRuns(records, ids, comparison)


def listed_with_rows(items: Iterable[dict[str, Any]], table: ResultTable | Iterable[RunRecord]) -> list[dict[str, Any]]:
    """`History.list_runs` rows, each with its metrics' last values, its result (the table's chosen
    metric: `{metric, value, best}`, or None) and how many steps were reused; in the table's order when it
    is sorted, else as listed (newest first)."""
    if not isinstance(table, ResultTable):
        table = result_table(list(table))
    rows = {r["id"]: r for r in table.rows}
    items = list(items)
    if table.sort:
        place = {row_id: index for index, row_id in enumerate(rows)}
        items.sort(key=lambda item: place.get(item["id"], len(place)))
    listed = []
    for item in items:
        row = rows.get(item["id"])
        listed.append({**item, "metrics": row["metrics"] if row else {}, "result": row["result"] if row else None,
                       "reused": row["reused"] if row else 0})
    return listed


# --------------------------------------------------------------------------- the result column


def short_run_id(run_id: str | None) -> str:
    """How a run is named in a line of text: its last six characters (unique, and accepted wherever
    a run id is asked for); '?' when unknown."""
    return str(run_id)[-6:] if run_id else "?"


def _metric_ends(record: RunRecord) -> list[tuple[str, float]]:
    """Each metric of a run ("step.name") with when its last point was logged."""
    ends = []
    for step, names in (record.get("metrics") or {}).items():
        for name, points in names.items():
            if points:
                ts = points[-1][2] if len(points[-1]) > 2 else None
                ends.append((f"{step}.{name}", finite_number(ts) or 0.0))
    return ends


def _default_metric(records: Sequence[RunRecord]) -> str | None:
    """The result column when none is chosen: in the newest run that logged metrics, a metric of the
    last step (in the pipeline's order) that logged any, the one it logged last (a final score)."""
    for record in records:
        ends = _metric_ends(record)
        if not ends:
            continue
        order = {name: index for index, name in enumerate(record.get("steps") or {})}
        step_of = {key: _step_of(record, key) for key, _ in ends}
        ranked = [(order.get(step_of[key], -1), ts, index, key) for index, (key, ts) in enumerate(ends)]
        return max(ranked)[3]  # the same time: the one recorded later
    return None


def _step_of(record: RunRecord, key: str) -> str:
    """The step of a "step.name" metric key (a step's name may hold dots; metric names may too)."""
    for step in record.get("metrics") or {}:
        if key.startswith(f"{step}."):
            return step
    return key.split(".", 1)[0]


def result_metric(records: Sequence[RunRecord], chosen: str | None = None) -> str | None:
    """The metric of the result column ("step.name"): `chosen` (the whole key, or a metric's name when
    one step logged it), else the default (`_default_metric`); None when no run logged a metric.

    MlpipeError when `chosen` names no metric of these runs, or more than one.
    """
    known = list(dict.fromkeys(key for r in records for key, _ in _metric_ends(r)))
    if not chosen:
        return _default_metric(records)
    if chosen in known:
        return chosen
    matches = [key for key in known if key.endswith(f".{chosen}")]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise MlpipeError(f"Metric {chosen!r} was logged by {len(matches)} steps: {', '.join(matches)}.",
                          hint=f"Give it as STEP.NAME, e.g. {matches[0]}.")
    listed = ", ".join(known) if known else "none (log_metric(NAME, VALUE) in a step records one)"
    raise MlpipeError(f"No metric {chosen!r} in these runs. Their metrics: {listed}.")


def sort_order(metric: str) -> SortOrder:
    """Which way is best for a metric: lowest first when its name says loss, error, time or cost
    (`LOWER_IS_BETTER`), highest first otherwise (accuracy, f1, auc, r2, ...)."""
    name = metric.rsplit(".", 1)[-1]
    return "asc" if LOWER_IS_BETTER.search(name) else "desc"


def result_table(records: Sequence[RunRecord], *, metric: str | None = None, sort: str | None = None,
                 order: SortOrder | None = None) -> ResultTable:
    """The runs table: a row per record, each with its result (the chosen metric's last value).

    `metric` chooses the result column (`result_metric`); `sort` sorts by a metric, best first
    (`sort_order`, or `order`), runs without it last; `sort=""` sorts by the result column. A sort
    metric given without `metric` becomes the result column.
    """
    records = list(records)
    sort_key = None if sort is None else result_metric(records, sort or metric)
    chosen = result_metric(records, metric) if metric else sort_key or result_metric(records)
    if sort is not None and sort_key is None:  # sorting asked for, but no run logged any metric
        order = None
    rows = [run_row(r, result=chosen) for r in records]
    pairs = list(zip(rows, records))
    if sort_key is not None:
        order = order or sort_order(sort_key)
        sign = 1.0 if order == "asc" else -1.0
        pairs.sort(key=lambda pair: (pair[0]["metrics"].get(sort_key) is None,
                                     sign * (pair[0]["metrics"].get(sort_key) or 0.0)))
    else:
        order = None
    return ResultTable([p[0] for p in pairs], [p[1] for p in pairs], chosen, sort_key, order)


def result_table_for(records: Sequence[RunRecord], metric: str | None, sort: str | None,
                     order: SortOrder | None) -> ResultTable:
    """`result_table` as `--metric`, `--sort [METRIC]` and `--order` ask for it (`mlpipe runs` and
    `%pipeline runs`): `--order` without `--sort` sorts by the result column."""
    return result_table(records, metric=metric, sort="" if sort is None and order else sort, order=order)


def add_result_arguments(parser: Any) -> None:
    """`--metric`, `--sort [METRIC]` and `--order` on an argparse parser: one wording for the CLI and the magic."""
    parser.add_argument("--metric", default=None, metavar="METRIC",
                        help="the result column: this metric's last value (STEP.NAME, or NAME when one step logs "
                        "it; default: the metric the last step logged last)")
    parser.add_argument("--sort", nargs="?", const="", default=None, metavar="METRIC",
                        help="sort the listed runs by METRIC (alone: by the result column), best first: lowest "
                        "for a loss, error, time or cost, else highest; runs without it last")
    parser.add_argument("--order", choices=["asc", "desc"], default=None,
                        help="sort lowest (asc) or highest (desc) first instead of best first (by --sort's metric, "
                        "else the result column)")


# --------------------------------------------------------------------------- comparing


def _last_metrics(record: RunRecord) -> dict[str, float | None]:
    last: dict[str, float | None] = {}
    for step, names in (record.get("metrics") or {}).items():
        for name, points in names.items():
            if points:
                last[f"{step}.{name}"] = finite_number(points[-1][1])
    return last


def run_row(record: RunRecord, *, result: str | None = None) -> RunRow:
    """One row of the runs table from a `History.get_run` record; `result`: the metric of the result
    column ("step.name", see `result_metric`)."""
    steps = record.get("steps") or {}
    counts = record.get("step_counts") or {}
    if not counts:
        for data in steps.values():
            counts[data.get("status")] = counts.get(data.get("status"), 0) + 1
    metrics = _last_metrics(record)
    return {
        "id": record["id"],
        "started": record.get("started"),
        "status": record.get("status"),
        "duration": finite_number(record.get("duration")),
        "params": to_json(record.get("params") or {}),
        "metrics": metrics,
        "result": {"metric": result, "value": metrics.get(result), "best": sort_order(result)} if result else None,
        "counts": counts,
        "reused": counts.get("reused", 0),
        "ran": counts.get("succeeded", 0) + counts.get("failed", 0),
        "steps": {name: data.get("status") for name, data in steps.items()},
    }


def compare_runs(a: RunRow, b: RunRow) -> RunComparison:
    """What differs between two runs (rows made by `run_row`): parameters, metrics, which steps ran."""
    missing = "(not set)"
    params = {}
    for key in sorted(set(a["params"]) | set(b["params"])):
        va, vb = a["params"].get(key, missing), b["params"].get(key, missing)
        if va != vb:
            params[key] = [va, vb]
    metrics, same = {}, []
    for key in sorted(set(a["metrics"]) | set(b["metrics"])):
        ma, mb = a["metrics"].get(key), b["metrics"].get(key)
        if ma != mb:
            delta = mb - ma if ma is not None and mb is not None else None
            metrics[key] = [ma, mb, delta]
        else:
            same.append(key)
    steps = {}
    for name in list(a["steps"]) + [s for s in b["steps"] if s not in a["steps"]]:
        steps[name] = [a["steps"].get(name), b["steps"].get(name)]
    return {
        "a": a["id"],
        "b": b["id"],
        "params": params,
        "metrics": metrics,
        "metrics_same": same,
        "steps": steps,
        "steps_differ": sorted(n for n, (sa, sb) in steps.items() if sa != sb),
    }


def compare_records(a: RunRecord, b: RunRecord) -> RunComparison:
    """What differs between two `recorded_run` records, read from the older to the newer."""
    return compare_runs(*oldest_first(run_row(a), run_row(b)))


Either = TypeVar("Either", RunRow, RunRecord)


def oldest_first(a: Either, b: Either) -> tuple[Either, Either]:
    """Two runs (rows or records) in the order a comparison reads: before -> after."""
    first, second = sorted((a, b), key=lambda r: (r.get("started") or 0, r["id"]))
    return first, second


def compare(path: str | os.PathLike, run_a: str, run_b: str) -> RunComparison:
    """What differs between two runs of a notebook: parameters, metrics' last values, which steps ran.

    `run_a` and `run_b` are run ids or unique parts of them, in either order; the result reads
    from the older run to the newer one:
    {a, b, params: {name: [a, b]}, metrics: {step.name: [a, b, b - a]}, metrics_same: [step.name, ...],
    steps: {step: [a, b]}, steps_differ: [step, ...]}. Neither run logged a metric: `metrics` and
    `metrics_same` are both empty.
    """
    history, _ = open_history(path, hint="Run the notebook first: %pipeline run, or mlpipe run NOTEBOOK.")
    a, b = resolve_pair(history, notebook_key(path), run_a, run_b)
    return compare_records(recorded_run(history, a), recorded_run(history, b))


# --------------------------------------------------------------------------- why STEP


def last_run_of_step(history: History, notebook: str, step: str, *, hint: str) -> RunRecord:
    """The last run in which `step` finished (ran, was reused, failed, skipped or cancelled), in full.

    MlpipeError with `hint` (how to run it) when the step has not been part of any run yet.
    """
    last = history.last_step_run(notebook, step, statuses=FINISHED)
    if last is None:
        raise MlpipeError(f"Step {step!r} has not been part of any run yet.", hint=hint)
    return history.get_run(last["run_id"])


def why(path: str | os.PathLike, step: str, *, no_history_hint: str, not_run_hint: str) -> str:
    """`why STEP`: the reuse decision of a step in the last run that included it, in words.

    The hints are the front end's own words for "run the notebook first" and "run the step".
    """
    history, _ = open_history(path, hint=no_history_hint)
    return why_text(last_run_of_step(history, notebook_key(path), step, hint=not_run_hint), step)


def why_text(record: RunRecord, step: str) -> str:
    """Explain one step of a recorded run (a History.get_run() record)."""
    steps = record.get("steps") or {}
    if step not in steps:
        known = ", ".join(steps) or "(none)"
        return f"Step {step!r} was not part of run {record['id']}. Its steps: {known}."
    data = steps[step]
    reason = data.get("reason") or {}
    status = data.get("status")
    head = f"Run {record['id']}: step {step!r} {status}."
    decision = reason.get("decision")
    learned = _learned_lines(record, step)
    if decision == "reused":
        return f"{head}\nNothing in its key changed since run {reason.get('from_run')}: code, shared code, " \
               "inputs, parameters, --deps files and package versions are the same, so its stored outputs " \
               "were reused." + learned
    if decision == "skipped":
        return f"{head}\nIt did not run: {_sentence(reason.get('summary') or '')}." + learned
    lines = [head, f"It ran because {_sentence(reason.get('summary') or 'it had no stored result')}."]
    changes = [c for c in reason.get("changes") or [] if c]
    if changes and changes != ["this step never ran before"]:
        lines.append("What changed since its previous run:")
        lines += [f"  - {change}" for change in changes]
    elif not changes:
        lines.append("Nothing in its key changed, but no stored result could be used.")
    return "\n".join(lines) + learned


def _sentence(summary: str) -> str:
    """A reason's summary as the end of a sentence: no colon left dangling before `;` or the end.

    Runs recorded before the code change's headline lost its colon summarised it as
    `the code changed:; ...`.
    """
    return re.sub(r"\s*:\s*(?=;|$)", "", summary.strip()).rstrip(".")


def _learned_lines(record: RunRecord, step: str) -> str:
    """What earlier runs learned about this step and its inputs, and what this run corrected for it."""
    plan = record.get("plan") or {}
    learned = plan.get("learned") or {}
    lines = [f"  - it defines {variable!r}: {why}" for variable, why in (learned.get(step) or {}).items()]
    for edge in plan.get("edges") or []:
        if edge.get("to") != step:
            continue
        for variable in edge.get("variables") or []:
            why = (learned.get(edge.get("from")) or {}).get(variable)
            if why:
                lines.append(f"  - it reads {variable!r} from {edge['from']!r}: {why}")
    corrected = [c for c in record.get("corrections") or [] if c.startswith(f"{step} ")]
    text = ""
    if lines:
        text += "\nLearned at run time (the code does not show it; `mlpipe plan` marks it):\n" + "\n".join(lines)
    if corrected:
        text += "\nCorrected while this run ran:\n" + "\n".join(f"  - {c}" for c in corrected)
    return text
