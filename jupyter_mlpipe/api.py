"""The Python API: run a notebook, list its runs, load an old run."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any, Callable

from .errors import MlpipeError, PlanError
from .store.ids import _RUN_ID_RE
from .store.paths import open_history, store_for

__all__ = ["run", "runs", "load_run", "parse_param", "resolve_params"]


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


def resolve_params(plan: Any, overrides: dict[str, Any] | None) -> dict[str, Any]:
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


def run(path: str | os.PathLike, params: dict[str, Any] | None = None, *, steps: list[str] | None = None,
        force: bool = False, address: str | None = None, store: str | None = None, background: bool = False,
        listeners: list[Callable] | None = None) -> Any:
    """Run a notebook's pipeline (or `steps` and what they need); returns the Run.

    Raises PlanError for a notebook that cannot be planned and InfeasibleRequest
    when a step asks for resources the cluster does not have; step failures are
    not exceptions: look at `run.status` and `run.steps[name].error`.
    """
    from .execute.runner import RunOptions, start_run
    from .store.history import History
    from .plan.planner import Pipeline

    where, config = store_for(path, store)
    plan = Pipeline.from_notebook(path, compute=config.compute)
    if not plan.steps:  # nothing would run: say so rather than record an empty "succeeded" run
        raise PlanError(f"{Path(path).name} has no steps, so there is nothing to run.",
                        hint="Put `%%step NAME` on the first line of a code cell (after %load_ext jupyter_mlpipe), "
                        "save the notebook and run again.")
    values = resolve_params(plan, params)
    if steps:
        plan.upstream(steps)  # validates the names before anything is recorded
    history = History(where.history_path)
    options = RunOptions(steps=list(steps) if steps else None, force=force, address=address or config.ray_address)
    return start_run(plan, params=values, store=where, history=history, options=options,
                     background=background, listeners=listeners)


def runs(path: str | os.PathLike, limit: int = 50) -> list[dict[str, Any]]:
    """The recorded runs of a notebook, newest first."""
    from .store.history import History

    where, _ = store_for(path)
    if not where.history_path.exists():
        return []
    return History(where.history_path).list_runs(str(Path(path).resolve()), limit=limit)


def load_run(run_id: str, path: str | os.PathLike = ".") -> Any:
    """An old run (by id, or a unique part of it) as a Run-like object: statuses, and `run["name"]` loads its values."""
    from .execute.recorded import RecordedRun

    history, where = open_history(
        path, hint="Pass the notebook (or its folder) the run belongs to: load_run(id, 'nb.ipynb').")
    if not _RUN_ID_RE.match(str(run_id)):  # a part of an id, such as its last six characters
        from .queries import resolve_run_id

        notebook = str(Path(path).resolve()) if Path(path).suffix == ".ipynb" else None
        run_id = resolve_run_id(history, notebook, run_id)
    return RecordedRun(history.get_run(run_id), where)
