"""The Python API: run a notebook, list its runs, load an old run."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import MlpipeError, PlanError
from .queries import find_run, list_runs
from .store.paths import store_for

if TYPE_CHECKING:
    from .execute.run import Listener, Run
    from .plan import Pipeline
    from .recorded import RecordedRun

__all__ = ["load_run", "parse_param", "plan", "resolve_params", "run", "runs"]


def parse_param(text: str) -> tuple[str, Any]:
    """`name=value` -> (name, value): a Python literal when it parses as one, else the string."""
    if "=" not in text:
        raise MlpipeError(f"Bad parameter {text!r}: write NAME=VALUE, for example -p lr=0.1.")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise MlpipeError(f"Bad parameter name {name!r} in {text!r}: it must be a Python identifier.")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw
    return name, value


def resolve_params(plan: Pipeline, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The parameters' defaults from the notebook, with the overrides; unknown names refused."""
    values = {name: p.default for name, p in plan.params.items()}
    for name, value in (overrides or {}).items():
        if name not in plan.params:
            known = ", ".join(plan.params) or "(none: tag a cell 'parameters' to declare some)"
            raise MlpipeError(f"Unknown parameter {name!r}. Parameters of this notebook: {known}.",
                              hint="Check the spelling, or add it to the cell tagged 'parameters'.")
        values[name] = value
    for name, p in plan.params.items():
        if name not in (overrides or {}) and p.default is None and "None" not in p.source:
            raise MlpipeError(
                f"Parameter {name!r} has no literal default ({p.source.strip()!r}); pass it with -p {name}=VALUE.")
    return values


def plan(path: str | os.PathLike, *, store: str | None = None, compute: dict[str, dict] | None = None) -> Pipeline:
    """A notebook's plan, with what its earlier runs learned that the code does not show (`plan.learned`)."""
    from .plan import Pipeline
    from .plan.learned import apply_facts
    from .publish.modules import module_resolver
    from .store.history import History

    where, config = store_for(path, store)
    pipeline = Pipeline.from_notebook(path, compute=config.compute if compute is None else compute,
                                      envs=config.envs, modules=module_resolver())
    if not where.history_path.exists():
        return pipeline
    with History(where.history_path) as history:
        facts = history.facts.of(str(Path(path).resolve()))
    return apply_facts(pipeline, facts)  # type: ignore[return-value]


def run(path: str | os.PathLike, params: dict[str, Any] | None = None, *, steps: list[str] | None = None,
        force: bool = False, address: str | None = None, store: str | None = None, background: bool = False,
        private_ray: bool | None = None,
        listeners: list[Listener] | None = None) -> Run:
    """Run a notebook's pipeline (or `steps` and what they need); returns the Run.

    Raises PlanError for a notebook that cannot be planned and InfeasibleRequest
    when a step asks for resources the cluster does not have; step failures are
    not exceptions: look at `run.status` and `run.steps[name].error`.
    """
    from .execute.runner import RunOptions, start_run
    from .store.history import History

    where, config = store_for(path, store)
    pipeline = plan(path, store=store, compute=config.compute)
    if not pipeline.steps:  # nothing would run: say so rather than record an empty "succeeded" run
        raise PlanError(f"{Path(path).name} has no steps, so there is nothing to run.",
                        hint="Put `%%step NAME` on the first line of a code cell (after %load_ext jupyter_mlpipe), "
                        "save the notebook and run again.")
    values = resolve_params(pipeline, params)
    if steps:
        pipeline.upstream(steps)  # validates the names before anything is recorded
    history = History(where.history_path)
    options = RunOptions(steps=list(steps) if steps else None, force=force,
                         **config.run_options(address, private_ray))
    return start_run(pipeline, params=values, store=where, history=history, options=options,
                     background=background, listeners=listeners)


def runs(path: str | os.PathLike, limit: int = 50) -> list[dict[str, Any]]:
    """The recorded runs of a notebook, newest first."""
    return list_runs(path, limit=limit)


def load_run(run_id: str, path: str | os.PathLike = ".") -> RecordedRun:
    """An old run (by id, or a unique part of it) as a Run-like object: statuses, and `run["name"]` loads its values."""
    from .recorded import RecordedRun

    record, where = find_run(
        path, run_id, hint="Pass the notebook (or its folder) the run belongs to: load_run(id, 'nb.ipynb').")
    return RecordedRun(record, where)
