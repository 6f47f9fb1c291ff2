"""REST handlers for published pipelines under `{base_url}mlpipe/api/`, with pipeline API keys.

    GET   pipelines[?path=NB]              {"pipelines": [pipeline, ...]} (a key sees its own pipeline only)
    POST  pipelines  {"path", "name", "description"}   201 {"name", "version", "default"} (not with a key)
    GET   pipelines/NAME                   the pipeline: versions (with parameters), default, state, schedules
    GET   pipelines/NAME/runs[?limit=&trigger=]   {"runs": [summary, ...]} newest first
    POST  pipelines/NAME/runs  {"params", "version", "tags"}  202 {"run_id", "name", "version", "url", "status"}
    GET   runs/RUN_ID                      a run's detail (status, steps, metrics); a key: its pipeline's runs only

Who may call: the Jupyter server's own credentials (token or login), as for the
rest of the API, or a pipeline API key sent as `Authorization: Bearer mlp_...`,
which may trigger its pipeline and read that pipeline and its runs, nothing else
(every other route of the server refuses it: it is not a Jupyter credential).
A wrong, expired or revoked key is a 401; a key for another pipeline a 403.
A trigger is checked (pipeline enabled, parameters against the snapshot) and
planned in a worker thread, then handed to the server's `RunQueue`: it never
blocks, and a full queue is a 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import weakref
from typing import Any, Literal, TypedDict

import tornado.web
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.utils import url_path_join

from ..errors import ParamError, PublishError
from ..publish.keys import KeyInfo, KeyRefused, Keys
from ..publish.queue import QueueFull, RunQueue
from ..publish.registry import PipelineNotFound, Registry, check_name
from ..publish.runs import PipelineDisabled, pipeline_runs, prepare
from ..publish.schedules import Schedules
from ..publish.workspace import Workspace, workspace_at, workspace_of
from .errors import ApiError
from .handlers import MlpipeHandler, RunHandler
from .paths import relative_to_root
from .records import run_detail, run_summary

__all__ = ["PublishService", "pipeline_routes"]

log = logging.getLogger(__name__)

_TRIGGER_FIELDS = ("params", "version", "tags")


class Principal(TypedDict):
    kind: Literal["jupyter", "key"]
    user: str | None
    key: KeyInfo | None


class PublishService:
    """What the published-pipeline handlers share in one server: the workspace, the run queue, the scheduler."""

    def __init__(self, root: str, *, max_running: int = 2, max_queued: int = 10, schedules: bool = True,
                 on_start: Any = None) -> None:
        self.workspace: Workspace = workspace_at(root)
        self.queue = RunQueue(max_running, max_queued, on_start=on_start)
        self.scheduler = None
        if schedules:
            from ..publish.scheduler import Scheduler

            self.scheduler = Scheduler(self.workspace, self.queue)
            self.scheduler.start()
            atexit.register(self.scheduler.stop)  # at exit: hand the schedules' lease over at once
            # a server app that goes away (tests start many) takes its scheduler's thread with it
            weakref.finalize(self, self.scheduler.request_stop)

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()


class PublishedHandler(MlpipeHandler):
    """Base: who is calling (Jupyter credentials or a pipeline key), and what a key may do."""

    @property
    def service(self) -> PublishService:
        return self.settings["mlpipe_publish"]

    def bearer_key(self) -> str | None:
        header = self.request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        return value if scheme.lower() == "bearer" and value.startswith("mlp_") else None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # headers go here: send_error cleared those set before
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="mlpipe"')
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError) and "retry_after" in exc.extra:
            self.set_header("Retry-After", str(exc.extra["retry_after"]))
        super().write_error(status_code, **kwargs)

    def check_xsrf_cookie(self) -> None:
        # XSRF protects cookie logins. A request that is not logged in and carries a key (a header a
        # cross-site form cannot set) or no cookie at all has nothing to protect: it gets its 401 from
        # `principal`. (Tornado asks once before `prepare` has authenticated: the base defers that call too.)
        user = getattr(self, "_jupyter_current_user", False)
        if user is False or (user is None and (self.bearer_key() is not None or not self.request.cookies)):
            return None
        return super().check_xsrf_cookie()

    def principal(self, action: str, resource: str) -> Principal:
        """The caller; ApiError 401 without valid credentials, 403 when Jupyter's authorizer says no."""
        user = self.current_user
        if user is not None:
            if not self.authorizer.is_authorized(self, user, action, resource):
                raise ApiError(403, f"Your Jupyter user may not {action} {resource}.", error="Forbidden",
                               hint="Ask whoever runs the server for the permission.")
            return {"kind": "jupyter", "user": getattr(user, "username", None), "key": None}
        key = self.bearer_key()
        if key is None:
            raise ApiError(401, "This request carries no credentials.", error="Unauthorized",
                           hint="Send a pipeline API key as 'Authorization: Bearer mlp_...' (mlpipe keys create "
                           "NAME), or the Jupyter server's token.")
        try:
            info = Keys(self.service.workspace).check(key)
        except KeyRefused as exc:
            raise ApiError(401, exc.message, hint=exc.hint, error="Unauthorized") from None
        return {"kind": "key", "user": None, "key": info}

    def allow(self, principal: Principal, pipeline: str) -> None:
        key = principal["key"]
        if key is not None and key["pipeline"] != pipeline:
            raise ApiError(403, f"This API key is for the pipeline {key['pipeline']!r}, not {pipeline!r}.",
                           error="Forbidden", hint=f"Use a key made for it: mlpipe keys create {pipeline}.")

    def pipeline_name(self, name: str) -> str:
        try:
            return check_name(name)
        except PublishError as exc:
            raise ApiError(400, exc.message, hint=exc.hint, error="BadPipelineName") from None

    def run_url(self, run_id: str) -> str:
        return url_path_join(self.base_url, "mlpipe/api", "runs", run_id)

    def pipeline_view(self, name: str, *, with_runs: int = 0) -> dict[str, Any]:
        """A pipeline as the API returns it: versions with their parameters, schedules, last run."""
        workspace = self.service.workspace
        registry = Registry(workspace)
        info = registry.pipeline(name)
        versions = []
        for item in info["versions"]:
            try:
                snapshot, _ = registry.snapshot(name, item["version"])
                params, env = snapshot["params"], snapshot["environment"]
            except PublishError as exc:  # a damaged version is listed, and says so
                params, env = {}, {"error": exc.message}
            versions.append({"version": item["version"], "created": item["created"],
                             "description": item["description"], "notebook": item["notebook"],
                             "path": relative_to_root(workspace.resolve(item["notebook"]), self.root),
                             "params": params, "environment": env})
        runs = pipeline_runs(workspace, name, limit=max(1, with_runs))
        out = {"name": name, "default": info["default"], "enabled": info["enabled"], "created": info["created"],
               "versions": versions, "last_run": self.summary(runs[0]) if runs else None,
               "schedules": [{k: s[k] for k in ("id", "kind", "spec", "params", "overlap", "catch_up", "paused",
                                                "next_fire", "describe", "last_outcome")}
                             for s in Schedules(workspace).list(name)]}
        if with_runs:
            out["runs"] = [self.summary(r) for r in runs]
        return out

    def summary(self, record: dict[str, Any]) -> dict[str, Any]:
        out = run_summary(record, self.root, self.registry.get(record["id"]))
        out.update(pipeline=record.get("pipeline"), pipeline_version=record.get("pipeline_version"),
                   trigger=record.get("trigger"), url=self.run_url(record["id"]))
        return out


class PipelinesHandler(PublishedHandler):
    @allow_unauthenticated
    async def get(self) -> None:
        who = self.principal("read", "contents")

        notebook = self.notebook_arg(required=False) if who["key"] is None else None

        def listing() -> list[dict[str, Any]]:
            names = Registry(self.service.workspace).names()
            if who["key"] is not None:
                names = [n for n in names if n == who["key"]["pipeline"]]
            views = [self.pipeline_view(n) for n in names]
            if notebook is not None:  # ?path=NB: the pipelines published from that notebook
                views = [v for v in views if any(x["path"] == notebook.relative for x in v["versions"])]
            return views

        self.finish(json.dumps({"pipelines": await asyncio.to_thread(listing)}))

    @allow_unauthenticated
    async def post(self) -> None:
        """Publish a notebook (Jupyter credentials only): {"path", "name", "description"} -> 201
        {"name", "version", "default"}. The notebook's workspace must be the one this server serves."""
        who = self.principal("write", "contents")
        if who["key"] is not None:
            raise ApiError(403, "An API key cannot publish; it can only trigger its pipeline and read its runs.",
                           error="Forbidden", hint="Publish from JupyterLab, %pipeline publish or mlpipe publish.")
        body = self.json_body()
        unknown = sorted(set(body) - {"path", "name", "description"})
        if unknown:
            raise ApiError(400, f"Unknown field {unknown[0]!r} in the request body.",
                           hint="Known fields: path, name, description.")
        notebook = self.check_notebook(body.get("path"))
        name = self.pipeline_name(body.get("name"))
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise ApiError(400, f"'description' must be a string (got {description!r}).")
        served = self.service.workspace
        if workspace_of(notebook.real) != served:
            raise ApiError(409, f"{notebook.relative!r} belongs to the workspace {workspace_of(notebook.real)}, "
                           f"not to {served.root.name!r}, which this server serves, so its triggers could not "
                           "reach it.", error="OtherWorkspace",
                           hint="Put an mlpipe.toml (it may be empty) in the server's root folder: notebooks "
                           "below it then publish where the server looks.")

        def publish() -> dict[str, Any]:
            registry = Registry(served)
            snapshot = registry.publish(notebook.real, name, description or None)
            return {"name": name, "version": snapshot["version"], "default": registry.pipeline(name)["default"]}

        made = await asyncio.to_thread(publish)
        self.set_status(201)
        self.set_header("Location", url_path_join(self.base_url, "mlpipe/api", "pipelines", name))
        self.finish(json.dumps(made))


class PipelineHandler(PublishedHandler):
    @allow_unauthenticated
    async def get(self, name: str) -> None:
        name = self.pipeline_name(name)
        self.allow(self.principal("read", "contents"), name)
        self.finish(json.dumps(await asyncio.to_thread(self.pipeline_view, name, with_runs=10)))


class PipelineRunsHandler(PublishedHandler):
    @allow_unauthenticated
    async def get(self, name: str) -> None:
        name = self.pipeline_name(name)
        self.allow(self.principal("read", "contents"), name)
        try:
            limit = max(1, min(int(self.get_query_argument("limit", "50")), 1000))
        except ValueError:
            raise ApiError(400, "limit must be a whole number.", error="BadLimit") from None
        trigger = self.get_query_argument("trigger", None)

        def listing() -> list[dict[str, Any]]:
            return [self.summary(r) for r in pipeline_runs(self.service.workspace, name, limit=limit,
                                                           trigger=trigger)]

        self.finish(json.dumps({"runs": await asyncio.to_thread(listing)}))

    @allow_unauthenticated
    async def post(self, name: str) -> None:
        name = self.pipeline_name(name)
        who = self.principal("execute", "kernels")
        self.allow(who, name)
        body = self.json_body()
        unknown = sorted(set(body) - set(_TRIGGER_FIELDS))
        if unknown:
            raise ApiError(400, f"Unknown field {unknown[0]!r} in the request body.",
                           hint=f"Known fields: {', '.join(_TRIGGER_FIELDS)}.", error="BadRequest")
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise ApiError(400, f"'params' must be an object of parameter values (got {params!r}).")
        version = body.get("version")
        if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
            raise ApiError(400, f"'version' must be a version number such as 2 (got {version!r}).",
                           error="BadVersion", hint="Leave it out to run the default version.")
        tags = body.get("tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float, bool))
                                                 for k, v in tags.items()):
            raise ApiError(400, f"'tags' must be an object of short strings (got {tags!r}).", error="BadTags")
        trigger: dict[str, Any] = {"kind": "rest", "tags": {k: str(v) for k, v in tags.items()}}
        if who["key"] is not None:
            trigger["key"] = who["key"]["id"]
        else:
            trigger["user"] = who["user"]

        def accept() -> tuple[Any, str]:
            prepared = prepare(self.service.workspace, name, version=version, params=params,
                               trigger=trigger)  # type: ignore[arg-type]
            return prepared, self.service.queue.submit(prepared)

        try:
            prepared, state = await asyncio.to_thread(accept)
        except QueueFull as exc:
            raise ApiError(429, exc.message, hint=exc.hint, error="TooManyRuns", retry_after=exc.retry_after) from None
        except ParamError as exc:
            raise ApiError(400, exc.message, hint=exc.hint, error="BadParameter", param=exc.param,
                           expected=exc.expected, got=exc.got) from None
        except PipelineDisabled as exc:
            raise ApiError(409, exc.message, hint=exc.hint, error="PipelineDisabled", pipeline=name) from None
        except PipelineNotFound as exc:
            raise ApiError(404, exc.message, hint=exc.hint, error="PipelineNotFound", pipeline=name) from None
        except PublishError as exc:  # an unknown version, a damaged snapshot, a missing folder
            raise ApiError(400, exc.message, hint=exc.hint, error="PublishError", pipeline=name) from None
        url = self.run_url(prepared.run_id)
        self.set_status(202)
        self.set_header("Location", url)
        self.finish(json.dumps({"run_id": prepared.run_id, "name": name, "version": prepared.version,
                                "url": url, "status": state}))


class PublishedRunHandler(RunHandler, PublishedHandler):
    """`GET runs/{id}`: as before for Jupyter credentials; a key reads the runs of its pipeline only.
    A trigger still waiting in the queue reads as `queued`."""

    @allow_unauthenticated
    async def get(self, run_id: str) -> None:
        run_id = self.check_run_id(run_id)
        if self.current_user is not None:
            queued = self.service.queue.state(run_id)
            if queued in ("queued", "failed") and self.registry.get(run_id) is None:
                self.finish(json.dumps(self.waiting(run_id, queued)))
                return
            await RunHandler.get(self, run_id)
            return
        if self.bearer_key() is None:  # no credentials at all: refused as the rest of Jupyter's API refuses
            raise tornado.web.HTTPError(403)
        who = self.principal("read", "contents")
        key = who["key"]
        assert key is not None
        queued = self.service.queue.state(run_id)

        def detail() -> dict[str, Any]:
            record = self.find_published(run_id)
            if record is None:
                if queued in ("queued", "failed"):
                    return self.waiting(run_id, queued)
                raise ApiError(404, f"No run {run_id!r} of a published pipeline in this workspace.",
                               error="RunNotFound", hint=f"List its runs: GET mlpipe/api/pipelines/"
                               f"{key['pipeline']}/runs.")
            self.allow(who, record.get("pipeline") or "")
            out = run_detail(record, self.root, self.registry.get(run_id))
            out.update(pipeline=record.get("pipeline"), pipeline_version=record.get("pipeline_version"),
                       trigger=record.get("trigger"))
            return out

        self.finish(json.dumps(await asyncio.to_thread(detail)))

    def waiting(self, run_id: str, state: str) -> dict[str, Any]:
        return {"id": run_id, "status": state, "error": self.service.queue.error(run_id), "steps": {}}

    def find_published(self, run_id: str) -> dict[str, Any] | None:
        """The run's record, searched in the histories of every published pipeline's notebooks."""
        from ..queries import with_reused_metrics
        from ..errors import RunNotFound
        from ..store.paths import Store

        workspace = self.service.workspace
        registry = Registry(workspace)
        paths = {str(Store.for_notebook(workspace.resolve(v["notebook"])).history_path)
                 for p in registry.pipelines() for v in p["versions"]}
        for path in sorted(paths):
            history = self.registry.history(path)
            if history is None:
                continue
            try:
                return with_reused_metrics(history, history.get_run(run_id))
            except RunNotFound:
                continue
        return None


def pipeline_routes(settings: dict[str, Any], base: str) -> list[tuple[str, type]]:
    """The routes (before the API's others: `runs/{id}` is served here) and the server's PublishService."""
    if "mlpipe_publish" not in settings:
        registry = settings["mlpipe_registry"]
        settings["mlpipe_publish"] = PublishService(
            str(registry.root), max_running=int(settings.get("mlpipe_max_runs", 2)),
            max_queued=int(settings.get("mlpipe_max_queued", 10)),
            schedules=bool(settings.get("mlpipe_schedules", os.environ.get("MLPIPE_SCHEDULES", "1") != "0")),
            on_start=registry.add)
    return [
        (url_path_join(base, "pipelines"), PipelinesHandler),
        (url_path_join(base, r"pipelines/(?P<name>[^/]+)"), PipelineHandler),
        (url_path_join(base, r"pipelines/(?P<name>[^/]+)/runs"), PipelineRunsHandler),
        (url_path_join(base, r"runs/(?P<run_id>[^/]+)"), PublishedRunHandler),
    ]

