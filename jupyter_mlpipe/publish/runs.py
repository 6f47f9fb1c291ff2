"""Running a published version: its snapshot, with the store and the reuse of its notebook's workspace.

A published run plans the snapshot's copy of the notebook (never the notebook
as it is now) with the snapshot's compute targets, and records itself in the
run history of the source notebook, marked with the pipeline, the version and
its trigger: it appears in `mlpipe runs NOTEBOOK`, the panel and the side
panel, and every step whose code and inputs did not change is reused from the
notebook's earlier runs. Its steps run in the source notebook's folder, as the
notebook's own runs do, so the files they read are the same.

`prepare` does everything that can refuse a trigger (unknown or disabled
pipeline, bad parameters, a plan error) and reserves the run id; `start` runs it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PublishError
from ..store.history import History
from ..store.records import RunOrigin, RunSummary, Trigger
from .modules import resolve_module
from .params import check_params
from .registry import Registry

if TYPE_CHECKING:
    from ..execute.run import Listener, Run
    from ..plan import Pipeline
    from ..store.paths import Store
    from .workspace import Workspace

__all__ = ["OriginHistory", "PipelineDisabled", "PreparedRun", "pipeline_runs", "prepare", "run_published"]


class PipelineDisabled(PublishError):
    """The pipeline was disabled (`mlpipe published NAME --disable`): it refuses triggers (HTTP 409)."""


class OriginHistory(History):
    """The run history as a published run records itself in it: with its origin (pipeline, version,
    trigger), under the run id reserved when the trigger was accepted."""

    def __init__(self, path: str | Path, origin: RunOrigin, run_id: str | None = None) -> None:
        super().__init__(path)
        self.origin = origin
        self.reserved = run_id

    def new_run_id(self) -> str:
        if self.reserved is not None:
            run_id, self.reserved = self.reserved, None
            return run_id
        return super().new_run_id()

    def start_run(self, run_id: str, **fields: Any) -> None:  # type: ignore[override]
        fields.setdefault("origin", self.origin)
        super().start_run(run_id, **fields)


@dataclass
class PreparedRun:
    """A trigger that was accepted: what will run, with which values, recorded where and under which id."""

    name: str
    version: int
    plan: Pipeline
    params: dict[str, Any]
    store: Store
    origin: RunOrigin
    run_id: str
    address: str | None = None
    notebook: str = field(default="")
    ray: dict[str, Any] = field(default_factory=dict)  # the workspace's [ray] settings (`Config.run_options`)

    def start(self, *, background: bool = True, listeners: list[Listener] | None = None) -> Run:
        from ..execute.runner import RunOptions, start_run

        history = OriginHistory(self.store.history_path, self.origin, self.run_id)
        return start_run(self.plan, params=self.params, store=self.store, history=history,
                         options=RunOptions(**{**self.ray, "address": self.address}), background=background,
                         listeners=listeners)


def prepare(workspace: Workspace, name: str, *, version: int | None = None, params: dict[str, Any] | None = None,
            trigger: Trigger, address: str | None = None, check_enabled: bool = True) -> PreparedRun:
    """Check a trigger and plan its run; PublishError, ParamError or PlanError when it is refused."""
    from ..api import resolve_params
    from ..plan import build_plan
    from ..plan.learned import apply_facts
    from ..plan.notebook import read_notebook_cells
    from ..store.paths import store_for

    registry = Registry(workspace)
    info = registry.pipeline(name)
    if check_enabled and not info["enabled"]:
        raise PipelineDisabled(f"The pipeline {name!r} is disabled: it refuses triggers and its schedules skip.",
                           pipeline=name, hint=f"Enable it: mlpipe published {name} --enable.")
    snapshot, copy = registry.snapshot(name, version)
    values = check_params(snapshot["params"], params)
    notebook = workspace.resolve(snapshot["notebook"])
    if not notebook.parent.is_dir():
        raise PublishError(f"The folder of {snapshot['notebook']!r}, where {name!r} runs its steps, is gone.",
                           pipeline=name, version=snapshot["version"],
                           hint="Restore the folder (its data files and .mlpipe store), or publish from the "
                           "notebook's new place.")
    where, config = store_for(notebook)
    plan = build_plan(read_notebook_cells(copy), notebook=str(notebook), compute=snapshot["compute"],
                      envs=snapshot.get("envs") or {}, modules=resolve_module)
    with History(where.history_path) as history:  # what the notebook's runs learned, and a fresh run id
        plan = apply_facts(plan, history.facts.of(str(notebook)))  # type: ignore[assignment]
        run_id = history.new_run_id()
    origin: RunOrigin = {"pipeline": name, "version": snapshot["version"], "trigger": trigger}
    return PreparedRun(name=name, version=snapshot["version"], plan=plan, params=resolve_params(plan, values),
                       store=where, origin=origin, run_id=run_id, address=address or config.ray_address,
                       notebook=str(notebook), ray=config.run_options(address))


def run_published(workspace: Workspace, name: str, *, version: int | None = None,
                  params: dict[str, Any] | None = None, trigger: Trigger | None = None, address: str | None = None,
                  background: bool = False, listeners: list[Listener] | None = None) -> Run:
    """Run a published pipeline (its default version unless `version`); returns the Run."""
    prepared = prepare(workspace, name, version=version, params=params, trigger=trigger or {"kind": "api"},
                       address=address)
    return prepared.start(background=background, listeners=listeners)


def pipeline_runs(workspace: Workspace, name: str, *, limit: int = 20,
                  trigger: str | None = None) -> list[RunSummary]:
    """The runs of a published pipeline, newest first, from the histories of its versions' notebooks."""
    from ..store.paths import Store

    info = Registry(workspace).pipeline(name)
    histories = {Store.for_notebook(workspace.resolve(v["notebook"])).history_path for v in info["versions"]}
    found: list[list[RunSummary]] = []
    for path in sorted(histories):
        if path.exists():
            with History(path) as history:
                found.append(history.list_runs(limit=limit, pipeline=name, trigger=trigger))
    merged = heapq.merge(*found, key=lambda r: (-r["started"], r["id"]))
    return list(merged)[:limit]
