"""Run records as the REST API returns them.

The SQLite record of a run (History.get_run / list_runs) is reshaped for a
browser: notebook paths relative to the Jupyter root (never absolute), reuse
reasons without the raw key components, metrics as points, no NaN (JSON has
none: it becomes null). For a run this server started, the in-memory Run is
laid over the record, since it is the fresher of the two.

A plan goes out with its graph already laid out (`layouts`, by
`panel.layout.side_panel_layouts`: the side panel only draws it), and plans and
runs carry the looks of the statuses (`looks`, from `vocab`).
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable

from ..panel.layout import side_panel_layouts
from ..text import connecting_line
from ..vocab import looks_json, to_json
from .paths import relative_to_root, scrub

__all__ = ["run_summary", "run_detail", "step_detail", "plan_view"]


def plan_view(plan: dict[str, Any], notebook: str | None, pipeline: Any = None,
              expanded: Iterable[str] = ()) -> dict[str, Any]:
    """A plan (`Pipeline.to_dict()`) as `GET plan` returns it: its notebook relative to the root,
    the graph laid out left to right and top to bottom (`layouts`: each module step one node, except
    those in `expanded`, drawn open), and the statuses' `looks`.
    Given the `Pipeline` itself, each step carries `code_digest` (its code as reuse compares it), so a
    front end can tell a step edited since a run (whose steps carry the digest of what they ran), and
    `flows` (`plan.flows.variable_flows`): each variable on an edge, its defining cell and its readers."""
    if pipeline is not None:
        from ..execute.reuse import code_digest, step_code

        from ..plan.flows import variable_flows

        digests = {name: code_digest(step_code(step)) for name, step in pipeline.steps.items()}
        plan = dict(plan, steps=[dict(s, code_digest=digests.get(s.get("name"))) for s in plan.get("steps") or []])
        # the designer: where each value on an edge is defined and which cells read it
        plan["flows"] = variable_flows(pipeline)
    return to_json(dict(plan, notebook=notebook, layouts=side_panel_layouts(plan, expanded), looks=looks_json()))


def _options(options: dict | None) -> dict[str, Any]:
    options = options or {}
    return {"steps": options.get("steps"), "force": bool(options.get("force"))}


def run_summary(record: dict[str, Any], root: str, live: Any = None) -> dict[str, Any]:
    """One entry of `GET runs`: the run without its steps."""
    out = {
        "id": record["id"],
        "notebook": relative_to_root(record.get("notebook"), root),
        "status": record.get("status"),
        "started": record.get("started"),
        "ended": record.get("ended"),
        "duration": record.get("duration"),
        "params": record.get("params") or {},
        "options": _options(record.get("options")),
        "step_counts": record.get("step_counts") or {},
        "live": live is not None,
        "pipeline": record.get("pipeline"),  # a published pipeline's run: its name, version and trigger
        "pipeline_version": record.get("pipeline_version"),
        "trigger": record.get("trigger"),
    }
    if live is not None:
        out.update(status=live.status, ended=live.ended, duration=live.duration, step_counts=live.counts())
    return to_json(out)


def step_detail(name: str, record: dict[str, Any], root: str, now: float | None = None) -> dict[str, Any]:
    """One step of a run: state, why it ran or was reused, timing, error, its executed notebook."""
    reason = record.get("reason") or {}
    started, ended = record.get("started"), record.get("ended")
    duration = record.get("duration")
    if duration is None and started is not None:
        if ended is not None:
            duration = ended - started
        elif record.get("status") == "running":
            duration = (now or time.time()) - started
    path = record.get("notebook_path")
    relative = relative_to_root(path, root)
    error = record.get("error")
    code = (reason.get("components") or {}).get("code")
    return to_json({
        "name": name,
        "status": record.get("status"),
        "decision": reason.get("decision"),
        "reason": reason.get("summary"),
        "changes": list(reason.get("changes") or []),
        "from_run": reason.get("from_run"),
        "code_digest": _code_digest(code) if isinstance(code, str) else None,  # the code it ran (reuse's view)
        "started": started,
        "ended": ended,
        "duration": duration,
        "attempts": record.get("attempts") or 0,
        "error": None if not error else {
            "message": scrub(error.get("message"), root), "ename": error.get("ename"),
            "evalue": scrub(error.get("evalue"), root), "traceback": scrub(error.get("traceback"), root),
            "cell": error.get("cell"),
        },
        "notebook_path": relative,
        "has_notebook": bool(relative and path and os.path.isfile(path)),
        "resources": record.get("resources") or {},
        "outputs": record.get("outputs") or {},
        "warnings": list(record.get("warnings") or []),
    })


def _code_digest(code: str) -> str:
    from ..execute.reuse import code_digest

    return code_digest(code)


def _metrics(metrics: dict | None) -> dict[str, dict[str, list[dict]]]:
    out: dict[str, dict[str, list[dict]]] = {}
    for step, names in (metrics or {}).items():
        for name, points in names.items():
            out.setdefault(step, {})[name] = [{"index": i, "value": v, "ts": ts} for i, v, ts in points]
    return out


def run_detail(record: dict[str, Any] | None, root: str, live: Any = None) -> dict[str, Any]:
    """`GET runs/{id}`: the run with its steps (in notebook order) and metrics.

    `record` is History.get_run's dict (None when only the in-memory run is known);
    `live` the Run object when this server started the run.
    """
    now = time.time()
    if record is None:
        record = {"id": live.id, "notebook": live.notebook, "status": live.status, "started": live.started,
                  "ended": live.ended, "params": live.params, "options": {}, "steps": {}, "metrics": {}}
    steps_records: dict[str, dict] = dict(record.get("steps") or {})
    if live is not None:
        for name, sr in live.steps.items():
            fresh = sr.to_record()
            fresh["duration"] = sr.duration
            steps_records[name] = fresh
    out = run_summary(record, root, live)
    out["steps"] = {name: step_detail(name, rec, root, now) for name, rec in steps_records.items()}
    for name, step in out["steps"].items():
        # the .mlpipe folder is hidden, so the Contents API will not serve these notebooks: this
        # endpoint does (the JupyterLab extension opens it through its read-only "mlpipe" drive)
        step["notebook_endpoint"] = f"runs/{out['id']}/steps/{name}/notebook" if step["has_notebook"] else None
    out["metrics"] = to_json(_metrics(record.get("metrics")))
    if live is not None:
        out["step_counts"] = live.counts()
        out["error"] = None if live.error is None else scrub(str(live.error), root)
        # while its backend starts, before the first step is submitted: what the run line says
        out["connecting"] = connecting_line() if getattr(live, "connecting", False) else None
    out["looks"] = looks_json()
    return out
