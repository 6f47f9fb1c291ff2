"""REST handlers under `{base_url}mlpipe/api/`: plan, runs, cancel, executed step notebooks.

Every handler is behind jupyter_server's authentication, takes and returns
JSON, and answers errors as `{"error", "message", "hint", ...}` with a status
a client can act on (400 bad input, 403 outside the root, 404 unknown, 409
conflict). Work that touches the disk or SQLite runs in a worker thread so the
server's event loop never waits on it; ray and pyarrow are only imported by
the runs themselves.

    GET    plan?path=NB[&expand=M1,M2]           the plan (Pipeline.to_dict, notebook relative) + "layouts" + "looks";
                                                 in "layouts" each module step is one node, except those
                                                 named in `expand` (drawn open; unknown names ignored)
    GET    runs?path=NB[&limit=50]               {"runs": [summary, ...]} newest first
    POST   runs  {"path", "params", "steps", "force"}   202 {"id", "status", "notebook", "steps"}
    GET    runs/{id}[?path=NB][&plan=true][&expand=M1,M2]   the run: summary + "steps" {name: step} + "metrics"
                                                 + "looks" (+ "plan", laid out as GET plan's)
    DELETE runs/{id}                             202 {"id", "status": "cancelling"}; 404; 409 finished
    GET    runs/{id}/steps/{step}/notebook[?path=NB]   the executed step notebook, as stored
    GET    stepline?line=TEXT                    {"options"} when `%%step TEXT` is valid; else 400 with the
                                                 parser's message (the side panel's designer form)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Callable, Sequence

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ..queries import with_reused_metrics
from ..errors import MlpipeError, RunNotFound
from ..vocab import to_json
from ..store.history import validate_run_id
from ..plan.options import STEP_NAME_RE
from .errors import ApiError, error_body, status_of
from .paths import NotebookPath, inside, relative_to_root, resolve_notebook, scrub
from .records import plan_view, run_detail, run_summary
from .registry import RunRegistry

__all__ = ["setup_handlers", "API_PREFIX"]

log = logging.getLogger(__name__)

API_PREFIX = "mlpipe/api"
_POST_FIELDS = ("path", "params", "steps", "force")
_MAX_LIMIT = 1000


# What jupyter_server's Authorizer is asked: reading plans and runs is reading the notebooks;
# starting a run executes their code, as a kernel does; cancelling one is like interrupting a kernel.
_READ = authorized(action="read", resource="contents")
_EXECUTE = authorized(action="execute", resource="kernels")
_STOP = authorized(action="write", resource="kernels")


class MlpipeHandler(APIHandler):
    """Base: JSON errors, the registry, path and id checks."""

    auth_resource = "contents"

    @property
    def registry(self) -> RunRegistry:
        return self.settings["mlpipe_registry"]

    @property
    def root(self) -> str:
        return str(self.registry.root)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, (ApiError, MlpipeError)):
            body = error_body(exc)
            body["message"], body["hint"] = scrub(body["message"], self.root), scrub(body["hint"], self.root)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(to_json(body)))
            return
        if isinstance(exc, tornado.web.HTTPError):
            self.set_header("Content-Type", "application/json")
            message = exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
            hint = None
            if status_code == 403 and message and "not authorized" in message:  # the server's Authorizer
                hint = "Your Jupyter user lacks this permission; ask whoever runs the server for it."
            elif status_code in (401, 403):  # refused by jupyter_server's authentication or XSRF check
                message = message or "This request carries no valid Jupyter credentials."
                hint = ("Sign in to Jupyter, or send the server's token: an 'Authorization: token <token>' "
                        "header (or ?token=<token>).")
            self.finish(json.dumps({"error": (exc.reason or self._reason).replace(" ", ""),
                                    "message": message or self._reason, "hint": hint}))
            return
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": type(exc).__name__ if exc else "InternalError",
                                "message": scrub(f"Internal error: {exc}", self.root) if exc else self._reason,
                                "hint": "See the Jupyter server's log for the traceback."}))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            status_code = exc.status
        elif isinstance(exc, MlpipeError):
            status_code = status_of(exc)
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, (ApiError, MlpipeError)):
            self.log.info("mlpipe API %s %s refused: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    # -- checks ------------------------------------------------------------
    def notebook_arg(self, required: bool = True) -> NotebookPath | None:
        path = self.get_query_argument("path", None)
        if path is None and not required:
            return None
        return self.check_notebook(path)

    def expand_arg(self) -> list[str]:
        """`expand=feats,feats.inner`: the module steps a plan's layouts draw open (absent or empty: none)."""
        return [name.strip() for value in self.get_query_arguments("expand") for name in value.split(",")
                if name.strip()]

    def check_notebook(self, path: Any) -> NotebookPath:
        allow_hidden = bool(getattr(self.settings.get("contents_manager"), "allow_hidden", False))
        return resolve_notebook(self.root, path, allow_hidden=allow_hidden)

    @staticmethod
    def check_run_id(run_id: str) -> str:
        try:
            return validate_run_id(run_id)
        except MlpipeError as exc:
            raise ApiError(400, exc.message, hint=exc.hint, error="BadRunId") from None

    @staticmethod
    def check_step(name: Any) -> str:
        # a module's steps are NAME.STEP (docs/modules.md): each part a step name
        if not isinstance(name, str) or not all(STEP_NAME_RE.match(part) for part in name.split(".")):
            raise ApiError(400, f"{name!r} is not a step name (letters, digits, '_' and '-', starting with "
                           "a letter or '_', at most 64 characters; NAME.STEP inside a module step).",
                           error="BadStepName")
        return name

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"The request body is not valid JSON: {exc}.",
                           hint='Send a JSON object, e.g. {"path": "nb.ipynb"}.', error="BadJson") from None
        if not isinstance(body, dict):
            raise ApiError(400, f"The request body must be a JSON object (got {type(body).__name__}).",
                           error="BadJson")
        return body

    async def open_notebooks(self) -> list[str]:
        """The notebooks open in this server's kernel sessions (real paths inside the root).

        A run started in a kernel (`%pipeline run`) is in its notebook's history, which
        the server may never have been asked about: a link such as the run panel's
        `lab/tree/mlpipe:RUN/STEP.ipynb` names only the run, so these histories are searched too.
        """
        sessions = self.settings.get("session_manager")
        if sessions is None:
            return []
        try:
            listed = await sessions.list_sessions()
        except Exception:  # noqa: BLE001 - a session store that cannot be read: nothing to add
            log.warning("mlpipe API: could not list the server's sessions; open notebooks are not searched",
                        exc_info=True)
            return []
        found = []
        for session in listed:
            path = session.get("path") or ""
            if session.get("type") not in (None, "notebook") or ":" in path or not path.endswith(".ipynb"):
                continue
            real = os.path.realpath(os.path.join(self.root, path.lstrip("/")))
            if inside(real, self.root) and os.path.isfile(real):
                found.append(real)
        return found

    def find_run(self, run_id: str, notebook: NotebookPath | None,
                 open_notebooks: Sequence[str] = ()) -> tuple[dict | None, Any]:
        """(history record or None, live Run or None); ApiError 404 when neither exists.

        Without a notebook, every history the server knows is searched, then those of `open_notebooks`.
        """
        live = self.registry.get(run_id)
        if notebook is not None:
            histories = [h for h in [self.registry.history_for_notebook(notebook.real)] if h is not None]
        else:
            histories = self.registry.known_histories()
            for path in open_notebooks:
                history = self.registry.history_for_notebook(path)
                if history is not None and history not in histories:
                    histories.append(history)
        own = self.registry.history_of_run(run_id)
        if own is not None and own not in histories:
            histories.insert(0, own)
        for history in histories:
            try:
                return with_reused_metrics(history, history.get_run(run_id)), live
            except RunNotFound:
                continue
        if live is not None:
            return None, live
        where = (f"the run history of {notebook.relative!r}" if notebook
                 else "the run histories this server knows or its open notebooks use")
        raise ApiError(404, f"No run {run_id!r} in {where}.",
                       hint="List the runs with GET mlpipe/api/runs?path=NOTEBOOK, and pass ?path=NOTEBOOK "
                       "when the run belongs to a notebook this server has not opened yet.", error="RunNotFound")


class PlanHandler(MlpipeHandler):
    @tornado.web.authenticated
    @_READ
    async def get(self) -> None:
        notebook = self.notebook_arg()
        expanded = self.expand_arg()

        def plan() -> dict[str, Any]:
            from ..api import plan as plan_of

            pipeline = plan_of(notebook.real)
            return plan_view(pipeline.to_dict(), notebook.relative, pipeline, expanded)

        self.finish(json.dumps(await asyncio.to_thread(plan)))


class RunsHandler(MlpipeHandler):
    @tornado.web.authenticated
    @_READ
    async def get(self) -> None:
        notebook = self.notebook_arg()
        try:
            limit = int(self.get_query_argument("limit", "50"))
        except ValueError:
            raise ApiError(400, "limit must be a whole number.", error="BadLimit") from None
        limit = max(1, min(limit, _MAX_LIMIT))

        def listing() -> list[dict]:
            history = self.registry.history_for_notebook(notebook.real)
            if history is None:
                return []
            records = history.list_runs(str(notebook.real), limit=limit)
            return [run_summary(r, self.root, self.registry.get(r["id"])) for r in records]

        self.finish(json.dumps({"runs": await asyncio.to_thread(listing)}))

    @tornado.web.authenticated
    @_EXECUTE
    async def post(self) -> None:
        body = self.json_body()
        unknown = sorted(set(body) - set(_POST_FIELDS))
        if unknown:
            raise ApiError(400, f"Unknown field {unknown[0]!r} in the request body.",
                           hint=f"Known fields: {', '.join(_POST_FIELDS)}.", error="BadRequest")
        notebook = self.check_notebook(body.get("path"))
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise ApiError(400, f"'params' must be an object of parameter values (got {params!r}).")
        steps = body.get("steps") or None
        if steps is not None:
            if not isinstance(steps, list):
                raise ApiError(400, f"'steps' must be a list of step names (got {steps!r}).")
            steps = [self.check_step(s) for s in steps]
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise ApiError(400, f"'force' must be true or false (got {force!r}).")

        def start() -> Any:
            from ..api import run

            return run(notebook.real, params, steps=steps, force=force, background=True)

        run = await asyncio.to_thread(start)
        self.registry.add(run)
        self.set_status(202)
        self.set_header("Location", url_path_join(self.base_url, API_PREFIX, "runs", run.id))
        self.finish(json.dumps({"id": run.id, "status": run.status, "notebook": notebook.relative,
                                "steps": list(run.steps)}))


class RunHandler(MlpipeHandler):
    @tornado.web.authenticated
    @_READ
    async def get(self, run_id: str) -> None:
        run_id = self.check_run_id(run_id)
        notebook = self.notebook_arg(required=False)
        with_plan = self.get_query_argument("plan", "false").lower() in ("1", "true", "yes")
        expanded = self.expand_arg()
        open_notebooks = await self.open_notebooks() if notebook is None else []

        def detail() -> dict[str, Any]:
            record, live = self.find_run(run_id, notebook, open_notebooks)
            out = run_detail(record, self.root, live)
            if with_plan:
                plan = (record or {}).get("plan") or (live.plan.to_dict() if live is not None else None)
                out["plan"] = plan_view(plan, out["notebook"], expanded=expanded) if plan else None
            return out

        self.finish(json.dumps(await asyncio.to_thread(detail)))

    @tornado.web.authenticated
    @_STOP
    async def delete(self, run_id: str) -> None:
        run_id = self.check_run_id(run_id)
        run = self.registry.get(run_id)
        if run is None:
            raise ApiError(404, f"Run {run_id!r} was not started by this server, so it cannot be cancelled here.",
                           hint="Cancel it where it was started (the kernel's %pipeline panel, or Ctrl-C "
                           "for mlpipe run).", error="RunNotFound")
        if run.done:
            raise ApiError(409, f"Run {run_id!r} has already finished ({run.status}); there is nothing to cancel.",
                           error="RunFinished", run_status=run.status)
        run.cancel()
        self.set_status(202)
        self.finish(json.dumps({"id": run_id, "status": "cancelling"}))


class StepNotebookHandler(MlpipeHandler):
    @tornado.web.authenticated
    @_READ
    async def get(self, run_id: str, step: str) -> None:
        run_id = self.check_run_id(run_id)
        step = self.check_step(step)
        notebook = self.notebook_arg(required=False)
        open_notebooks = await self.open_notebooks() if notebook is None else []

        def read() -> bytes:
            record, live = self.find_run(run_id, notebook, open_notebooks)
            steps = dict((record or {}).get("steps") or {})
            path = None
            if live is not None and step in live.steps:
                path = live.steps[step].notebook_path
            elif step in steps:
                path = steps[step].get("notebook_path")
            else:
                known = ", ".join(list(live.steps) if live is not None else list(steps)) or "(none)"
                raise ApiError(404, f"Run {run_id!r} has no step {step!r}.", hint=f"Its steps: {known}.",
                               error="StepNotFound")
            if not path or not os.path.isfile(path):
                raise ApiError(404, f"Step {step!r} of run {run_id!r} has no executed notebook (yet).",
                               hint="A step has one once it has started running; a reused step shows the one "
                               "of the run that computed it, if that run is still kept.", error="NoNotebook")
            # the history says where the notebook is: only ever read inside a .mlpipe folder in the root
            if not inside(path, self.root) or ".mlpipe" not in os.path.realpath(path).split(os.sep):
                raise ApiError(403, f"The executed notebook of step {step!r} is outside the Jupyter root.",
                               error="PathOutsideRoot")
            with open(path, "rb") as f:
                data = f.read()
            try:
                json.loads(data)
            except ValueError:
                raise ApiError(500, f"The executed notebook of step {step!r} is not valid JSON (cut short?).",
                               hint=f"Open {relative_to_root(path, self.root)} to look at it.",
                               error="BadNotebook") from None
            return data

        data = await asyncio.to_thread(read)
        self.set_header("Content-Type", "application/json")
        self.finish(data)


class StepLineHandler(MlpipeHandler):
    """Check a `%%step` line with the parser the planner uses, so the designer form writes only valid lines."""

    @tornado.web.authenticated
    @_READ
    def get(self) -> None:
        from ..plan.options import parse_step_line

        line = self.get_query_argument("line", None)
        if line is None:
            raise ApiError(400, "Pass the text after %%step as ?line=TEXT.", error="MissingLine")
        self.finish(json.dumps(to_json({"options": parse_step_line(line).to_dict()})))


class NotFoundHandler(MlpipeHandler):
    """Any other path under mlpipe/api/: a JSON 404 that lists the routes."""

    @tornado.web.authenticated
    def get(self) -> None:
        raise ApiError(404, f"No such endpoint: {self.request.method} {self.request.path}.",
                       hint="Endpoints: GET plan?path=NOTEBOOK, GET runs?path=NOTEBOOK, POST runs, "
                       "GET/DELETE runs/{id}, GET runs/{id}/steps/{step}/notebook, GET stepline?line=TEXT, "
                       "GET pipelines, "
                       "GET pipelines/{name}, GET/POST pipelines/{name}/runs.", error="NotFound")

    post = put = patch = delete = get


def setup_handlers(web_app: tornado.web.Application,
                   extra_routes: Callable[[dict[str, Any], str], list[tuple[str, Any]]] | None = None) -> None:
    """Register the routes (and one registry) on the server's tornado application.

    `extra_routes(settings, base)` adds routes that come first (the published pipelines' `pipelines.py`)."""
    settings = web_app.settings
    root = os.path.expanduser(settings.get("server_root_dir") or os.getcwd())
    settings.setdefault("mlpipe_registry", RunRegistry(root))
    base = url_path_join(settings.get("base_url", "/"), API_PREFIX)
    routes = [
        (url_path_join(base, "plan"), PlanHandler),
        (url_path_join(base, "runs"), RunsHandler),
        (url_path_join(base, r"runs/(?P<run_id>[^/]+)"), RunHandler),
        (url_path_join(base, r"runs/(?P<run_id>[^/]+)/steps/(?P<step>[^/]+)/notebook"), StepNotebookHandler),
        (url_path_join(base, "stepline"), StepLineHandler),
        (base.rstrip("/") + r"(?:/.*)?", NotFoundHandler),
    ]
    if extra_routes is not None:
        routes = [*extra_routes(settings, base), *routes]
    web_app.add_handlers(".*$", routes)
