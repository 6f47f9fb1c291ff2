"""The shapes of what the run history hands out: a run, a step's run, a cache entry, a metric point.

Rows come back from SQLite as plain dicts with their JSON columns decoded;
these TypedDicts name their keys and types once, for the executor, the front
ends and the REST server that read them. Statuses are the vocabulary's
(`jupyter_mlpipe.vocab`); which of them a run is stored with is said here too.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from ..vocab import RUN_STATUSES as ALL_RUN_STATUSES
from ..vocab import RunStatus, StepStatus

__all__ = [
    "FINISH_STATUSES",
    "INTERRUPTED",
    "RECORDED_RUN_STATUSES",
    "ArtifactInfo",
    "CacheEntry",
    "LastStepRun",
    "MetricPoint",
    "Metrics",
    "RunOrigin",
    "RunRecord",
    "RunSummary",
    "StepRecord",
    "Trigger",
    "TriggerKind",
]

INTERRUPTED: RunStatus = "interrupted"
"""A run whose driver died: reported when found, stored by `History.mark_interrupted`."""

RECORDED_RUN_STATUSES: tuple[RunStatus, ...] = tuple(
    s for s in ALL_RUN_STATUSES if s != INTERRUPTED
)
"""The statuses a run is recorded with by its own driver (`start_run`, `finish_run`)."""

FINISH_STATUSES: tuple[RunStatus, ...] = tuple(
    s for s in RECORDED_RUN_STATUSES if s != "running"
)
"""The statuses `finish_run` accepts."""


TriggerKind = Literal["cli", "kernel", "rest", "schedule", "api"]
"""What started a run of a published pipeline: `mlpipe published NAME --run`, `%pipeline`, a REST call,
a schedule, or the Python API."""


class Trigger(TypedDict, total=False):
    """What triggered a published pipeline's run (the `runs.trigger` column, schema 3)."""

    kind: TriggerKind
    schedule: str  # the schedule's id (kind "schedule")
    fire_time: float  # when the schedule was due (kind "schedule")
    key: str  # the API key's id (kind "rest" with a pipeline key)
    user: str  # the Jupyter user (kind "rest" with Jupyter credentials)
    tags: dict[str, str]  # the trigger's tags ({"tags": ...} of the REST call)
    changed: list[str]  # the files that fired an on-change schedule


class RunOrigin(TypedDict):
    """A run of a published pipeline: which pipeline, which version, what triggered it."""

    pipeline: str
    version: int
    trigger: Trigger


class StepRecord(TypedDict):
    """One step's part in a run: a `step_runs` row, JSON columns decoded."""

    run_id: str
    step: str
    status: StepStatus
    key: str | None
    reason: dict[str, Any] | None  # why it ran or was reused (`execute.why`)
    started: float | None
    ended: float | None
    duration: float | None
    attempts: int
    error: dict[str, Any] | None  # `vocab.ErrorInfo` keys and the message
    notebook_path: str | None
    resources: dict[str, Any] | None
    outputs: dict[str, Any] | None  # variable -> artifact reference (`ArtifactRef.to_dict`)
    inputs: dict[str, Any] | None  # variable -> digest
    warnings: list[str] | None


class LastStepRun(StepRecord):
    """A step's run as `History.last_step_run` finds it: with its run's start."""

    run_started: float


Metrics = dict[str, dict[str, list[tuple[int | None, float, float]]]]
"""A run's metrics: {step: {name: [(step_index, value, ts), ...]}}, in recording order."""


class RunSummary(TypedDict):
    """A run as `History.list_runs` gives it: its row without the plan, steps counted."""

    id: str
    notebook: str
    started: float
    ended: float | None
    status: RunStatus  # "interrupted" when its driver died on this host
    params: dict[str, Any] | None
    pid: int | None
    host: str | None
    options: dict[str, Any] | None
    step_counts: dict[str, int]  # status -> how many steps
    duration: float | None  # elapsed so far while running; None when interrupted
    pipeline: str | None  # the published pipeline it ran (schema 3); None for a run of the notebook
    pipeline_version: int | None
    trigger: Trigger | None


class RunRecord(RunSummary):
    """A run in full, as `History.get_run` gives it."""

    plan: dict[str, Any] | None
    corrections: list[str] | None  # what the run corrected while it ran (schema 2)
    steps: dict[str, StepRecord]  # in recording order
    metrics: Metrics


class MetricPoint(TypedDict):
    """One recorded metric value, as `History.metrics` polls them."""

    rowid: int  # pass the largest seen as `since_rowid` next time
    run_id: str
    step: str
    name: str
    value: float  # NaN when NaN was recorded
    step_index: int | None
    ts: float


class CacheEntry(TypedDict):
    """What a step key produced (`History.cache_get`), with the key's parts for `why`."""

    key: str
    step: str
    notebook: str | None
    components: dict[str, Any] | None
    outputs: dict[str, Any] | None  # variable -> artifact reference
    run_id: str | None
    created: float


class ArtifactInfo(TypedDict):
    """An artifact's recorded description (`History.artifact`): what it is, who made it first."""

    digest: str
    format: str | None
    type_name: str | None
    size: int | None
    summary: str | None
    first_run_id: str | None
    first_step: str | None
    variable: str | None
    created: float | None
