"""The run panel widget (anywidget): a live graph of a run, step details, metrics.

Imported only when a panel is shown (it pulls in anywidget and ipywidgets).

Threading: `RunPanel.listener` is called by the run's driver thread after each
state change. It only marks what changed; a timer thread (one per followed
run) turns the marks into trait updates at most `1 / min_interval` times a
second, each one comm message (`hold_sync`), and polls the run history for new
metric points. "start" and "end" are flushed at once. The kernel's own thread
never waits on the panel. An error while updating never reaches the run: it
is logged, with its traceback (logger `jupyter_mlpipe.panel.widget`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable

import anywidget
import traitlets as t

from ..vocab import FINISHED, looks_json
from .layout import graph_from_plan
from .state import (MetricBuffer, comparison_curves, look_state, output_tail, pending_states, run_state,
                    step_state)

__all__ = ["RunPanel", "RunsTable", "show_plan", "runs_table_widget", "make_display_listener", "PanelListener"]

_HERE = Path(__file__).resolve().parent


def _read(*names: str) -> str:
    return "\n".join((_HERE / name).read_text(encoding="utf-8") for name in names)


# One ES module each (anywidget's `_esm` has no imports of its own here: no network at run time):
# uPlot's minified build (a `var uPlot`, module-scoped), the charts (chart.js), then the front end.
_CHARTS = _read("vendor/uPlot.iife.min.js") + ";\n" + _read("chart.js")
_PANEL_ESM = _CHARTS + "\n" + _read("panel.js")
_RUNS_ESM = _CHARTS + "\n" + _read("runs.js")
# uPlot's sheet scoped to .mlpw-root (vendor/README.md), and our theme for it
_CSS = _read("panel.css", "vendor/uPlot.css", "chart.css")

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 0.2  # seconds between two updates: at most 5 a second


class _MlpipeWidget(anywidget.AnyWidget):
    """What the run panel and the runs table share: the style, the status looks, a text summary."""

    _css = _CSS

    looks = t.Dict(
        help="Icon, label and colour of each status: {status: {icon, label, color}} (`vocab.looks_json`)."
    ).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("looks", looks_json())
        super().__init__(**kwargs)

    def text(self) -> str:
        """What a terminal shows (and a saved notebook keeps) as text/plain."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return _with_text(super()._repr_mimebundle_(**kwargs), self.text())


class RunPanel(_MlpipeWidget):
    """A pipeline's graph, its run's states, step details and metrics, updated live.

    Use `RunPanel.listener` as a run listener, or `follow(run)`; `show_plan(plan)`
    for a plan that has not run.
    """

    _esm = _PANEL_ESM

    graph = t.Dict(
        help="The laid-out graph: {nodes: [{name, compute, layer, order, x, y, width, height}], "
        "edges: [{from, to, variables, points, label}], width, height, layers}, left to right, with the same "
        "graph top to bottom under TB; the front end draws the one that suits its width (see panel.layout)."
    ).tag(sync=True)
    states = t.Dict(
        help="Per step: {status, icon, label, started, ended, duration, elapsed_since, error, reason, "
        "outputs, inputs, notebook_path, attempts, warnings, resources, output_tail}."
    ).tag(sync=True)
    run = t.Dict(
        help="The run line: {id, status, counts, total, finished, started, ended, elapsed, now, params}; "
        "empty for a plan that has not run."
    ).tag(sync=True)
    metrics = t.Dict(
        help="Logged metrics: {step: {name: [[step_index, value], ...]}} (thinned to 500 points a series)."
    ).tag(sync=True)
    selected = t.Unicode(
        None, allow_none=True, help="The step whose details are shown; set by the front end when a node is clicked."
    ).tag(sync=True)
    expanded = t.List(
        t.Unicode(), help="The module steps drawn open (their own steps as nodes); every other module step is "
        "one node. Set by the front end's toggle on a module's node; `graph` follows (`plan.collapse`)."
    ).tag(sync=True)
    metrics_open = t.Bool(
        False, help="Whether the run's metric charts below the graph (a chart per metric name, a line per step) "
        "start open; `%pipeline show` opens them, a live run panel keeps them folded under their title."
    ).tag(sync=True)

    def __init__(self, plan: Any = None, *, history: Any = None, min_interval: float = DEFAULT_INTERVAL,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_interval = float(min_interval)
        self.updates = 0  # trait updates sent (each one comm message)
        self._history = history
        self._plan_text: str | None = None
        self._plan: Any = None  # what `graph` is drawn from (a Pipeline or a plan dict), again when `expanded` changes
        self._step_names: list[str] = []  # every step of the plan, drawn or inside a collapsed module
        self._run: Any = None
        self._lock = threading.Lock()  # guards the marks below
        self._flush_lock = threading.Lock()  # one flush at a time
        self._dirty: set[str] = set()
        self._all_dirty = False
        self._metrics = MetricBuffer()
        self._reused_loaded: set[str] = set()  # reused steps whose original metrics were loaded
        self._tails: dict[str, list[str] | None] = {}
        self._poll_failed = False  # a failed metrics poll was logged (with its traceback) once
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()
        self.on_msg(self._on_front_end_message)
        if plan is not None:
            self.set_plan(plan)

    # ------------------------------------------------------------------ content

    def set_plan(self, plan: Any) -> None:
        """Show a plan (a Pipeline or its `to_dict()`): the graph, every step pending."""
        with self.hold_sync():
            self._draw(plan)
            self._plan_text = _plan_text(plan)
            if self._run is None:
                self.states = pending_states(self._step_names)

    def _draw(self, plan: Any) -> None:
        """`graph` of `plan` with the modules in `expanded` open; states stay by step name, so a module
        opened or closed mid-run keeps every step's state."""
        self._plan = plan
        self._step_names = _step_names(plan)
        self.graph = graph_from_plan(plan, self.expanded)

    @t.observe("expanded")
    def _on_expanded(self, change: dict[str, Any]) -> None:
        if getattr(self, "_plan", None) is None or change["new"] == change["old"]:
            return
        with self._flush_lock:  # not between a flush's states and its run line
            self.graph = graph_from_plan(self._plan, change["new"])

    def follow(self, run: Any, history: Any = None) -> "RunPanel":
        """Show a run (live or recorded); while it runs, keep following it."""
        if history is not None:
            self._history = history
        self._on_event(run, "start", None)
        if getattr(run, "done", True):
            self._on_event(run, "end", None)
        elif self.listener not in run.listeners:
            run.listeners.append(self.listener)
        return self

    def _on_front_end_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """The front end's Cancel button: `{"type": "cancel", "run": ID}` cancels the run shown, if it still goes."""
        run = self._run
        if not isinstance(content, dict) or content.get("type") != "cancel" or run is None:
            return
        if content.get("run") != run.id or getattr(run, "done", True) or not hasattr(run, "cancel"):
            log.info("run panel: cancel of run %s ignored (not the live run shown)", content.get("run"))
            return
        run.cancel()
        with self.hold_sync():
            self.run = {**run_state(run), "cancelling": True}

    # ------------------------------------------------------------------ listening

    def listener(self, run: Any, event: str, step: Any = None) -> None:
        """A run listener (`run.listeners`): cheap; the timer thread sends the updates.

        It never raises into the run: an error is logged with its traceback.
        """
        try:
            self._on_event(run, event, step)
        except Exception:  # noqa: BLE001 - the panel must never take the run down
            log.exception("run panel: updating for event %r of run %s failed", event, getattr(run, "id", "?"))

    def _on_event(self, run: Any, event: str, step: Any) -> None:
        with self._lock:
            new_run = run is not self._run
            self._run = run
            if event in ("start", "connecting") or new_run:  # "connecting": the run line says so
                self._all_dirty = True
            elif step is not None:
                self._dirty.add(step.name)
        if event == "start" or new_run:
            with self.hold_sync():  # the graph and the first states in one message
                if new_run:
                    self._metrics = MetricBuffer()
                    self._reused_loaded = set()
                    self._tails = {}
                    self._load_graph(run)
                    recorded = getattr(run, "metrics", None)
                    if isinstance(recorded, dict):  # a RecordedRun carries its metrics
                        self._metrics.load(recorded)
                self.flush()
            if event != "end" and not getattr(run, "done", False):
                self._start_timer()
        if event == "end":
            self._stop_timer()
            self.flush()

    def _load_graph(self, run: Any) -> None:
        plan = getattr(run, "plan", None)
        if plan is None or not getattr(plan, "steps", None):
            record = getattr(run, "record", None) or {}
            plan = record.get("plan") or {"steps": [{"name": n, "resources": s.resources}
                                                    for n, s in run.steps.items()], "edges": []}
        self._draw(plan)
        self._plan_text = _plan_text(plan)

    def _start_timer(self) -> None:
        if self._timer is not None and self._timer.is_alive():
            return
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._loop, args=(self._stop,), name="mlpipe-panel", daemon=True)
        self._timer.start()

    def _stop_timer(self) -> None:
        self._stop.set()
        timer = self._timer
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=max(2.0, 4 * self.min_interval))
        self._timer = None

    def _loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.min_interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the panel must never take the run down
                log.exception("run panel: sending an update failed")
            run = self._run
            if run is not None and getattr(run, "done", False):
                stop.set()
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - as above
                    log.exception("run panel: sending the last update failed")

    def close(self) -> None:
        self._stop.set()
        super().close()

    # ------------------------------------------------------------------ flushing

    def flush(self) -> bool:
        """Send what changed since the last flush (one message); returns whether it sent anything."""
        with self._flush_lock:
            with self._lock:
                run = self._run
                dirty, self._dirty = self._dirty, set()
                all_dirty, self._all_dirty = self._all_dirty, False
            if run is None:
                return False
            new_points = self._poll_metrics(run)
            names = list(run.steps) if all_dirty else [n for n in dirty if n in run.steps]
            if not names and not new_points and run.status == self.run.get("status"):
                return False
            if all_dirty:
                states = {n: look_state("excluded") for n in self._step_names if n not in run.steps}
            else:
                states = dict(self.states)
            for name in names:
                step = run.steps[name]
                states[name] = step_state(run, step, tail=self._tail(step))
            with self.hold_sync():
                if names or all_dirty:
                    self.states = states
                self.run = run_state(run)
                if new_points or all_dirty:
                    self.metrics = self._metrics.snapshot()
            self.updates += 1
            return True

    def _poll_metrics(self, run: Any) -> int:
        history = self._history if self._history is not None else getattr(run, "history", None)
        if history is None or not hasattr(history, "metrics"):
            return 0
        try:
            return self._metrics.poll(history, run.id) + self._reused_metrics(history, run)
        except Exception:  # noqa: BLE001 - a locked or missing history: try again next time
            # logged with its traceback the first time, then quietly (it is retried 5 times a second)
            log.log(logging.DEBUG if self._poll_failed else logging.WARNING,
                    "run panel: reading the metrics of run %s failed; retrying", run.id, exc_info=True)
            self._poll_failed = True
            return 0

    def _reused_metrics(self, history: Any, run: Any) -> int:
        """A reused step logs nothing: show the metrics of the run that made its outputs (once)."""
        from ..queries import original_metrics

        added = 0
        for name, step in run.steps.items():
            if step.status != "reused" or name in self._reused_loaded or name in self._metrics.series:
                continue
            self._reused_loaded.add(name)
            for point in original_metrics(history, name, step.status, step.reason):
                self._metrics.add(name, point["name"], point.get("step_index"), point.get("value"))
                added += 1
        return added

    def _tail(self, step: Any) -> list[str] | None:
        if step.status not in FINISHED or not step.notebook_path:
            return None
        if self._tails.get(step.name) is None:  # read once it exists, then kept
            self._tails[step.name] = output_tail(step.notebook_path)
        return self._tails[step.name]

    # ------------------------------------------------------------------ text

    def text(self) -> str:
        """What a terminal shows: the run's summary, or the plan."""
        if self._run is not None:
            from ..text import run_summary

            return run_summary(self._run)
        if self._plan_text:
            return self._plan_text
        return f"pipeline: {len(self.graph.get('nodes', []))} steps"


def _step_names(plan: Any) -> list[str]:
    """Every step of a plan (a Pipeline or its dict), those inside modules too."""
    if plan is None:
        return []
    if hasattr(plan, "steps") and not isinstance(plan, dict):
        return [str(n) for n in plan.steps]
    return [s if isinstance(s, str) else str(s["name"]) for s in (plan.get("steps") or [])]


def _plan_text(plan: Any) -> str | None:
    if hasattr(plan, "describe"):
        try:
            return plan.describe()
        except Exception:  # noqa: BLE001 - text is a fallback: the plain list below
            log.warning("run panel: describing the plan failed; showing its steps only", exc_info=True)
    data = plan.to_dict() if hasattr(plan, "to_dict") else (plan or {})
    steps = data.get("steps") or []
    lines = [f"pipeline: {len(steps)} steps"]
    incoming: dict[str, list[str]] = {}
    for edge in data.get("edges") or []:
        incoming.setdefault(edge["to"], []).append(f"{edge['from']} ({', '.join(edge.get('variables') or [])})")
    for step in steps:
        name = step["name"] if isinstance(step, dict) else str(step)
        after = incoming.get(name)
        lines.append(f"  {name}" + (f"  <- {'; '.join(after)}" if after else ""))
    return "\n".join(lines)


def show_plan(plan: Any, run: Any = None, *, history: Any = None, expanded: Any = ()) -> RunPanel:
    """The panel for `%pipeline show`: the plan's graph, and a run's states when one is given.

    A run still going (`--background`) is followed live. The run's metric charts show open. `expanded`:
    the module steps drawn open (`%pipeline show --expand`: all of them); the others are one node each.
    """
    panel = RunPanel(plan, history=history, metrics_open=True, expanded=[str(m) for m in expanded])
    if run is not None:
        panel.follow(run)
        if plan is not None:  # the current plan's graph, even if the run had fewer steps
            panel.set_plan(plan)
            panel._all_dirty = True
            panel.flush()
    return panel


# ---------------------------------------------------------------------- display


class PanelListener:
    """A run listener that displays a `RunPanel` when a run starts and keeps it live.

    At "end" the display is refreshed once, so that a saved notebook keeps the
    final text summary next to the widget.
    """

    def __init__(self, *, history: Any = None, min_interval: float = DEFAULT_INTERVAL,
                 display: Callable[..., Any] | None = None) -> None:
        self.history = history
        self.min_interval = min_interval
        self._display = display
        self.panel: RunPanel | None = None
        self.handle: Any = None

    def __call__(self, run: Any, event: str, step: Any = None) -> None:
        """Never raises into the run: an error is logged with its traceback."""
        try:
            self._on_event(run, event, step)
        except Exception:  # noqa: BLE001 - a broken display must not break the run
            log.exception("run panel: showing event %r of run %s failed", event, getattr(run, "id", "?"))

    def _on_event(self, run: Any, event: str, step: Any) -> None:
        if event == "start" or self.panel is None:
            self.panel = RunPanel(history=self.history, min_interval=self.min_interval)
            self.panel.listener(run, "start", None)
            show = self._display
            if show is None:
                from IPython.display import display as show
            self.handle = show(self.panel, display_id=True)
            if event == "start":
                return
        self.panel.listener(run, event, step)
        if event == "end" and self.handle is not None and hasattr(self.handle, "update"):
            try:
                self.handle.update(self.panel)
            except Exception:  # noqa: BLE001 - the text refresh is a nicety
                log.warning("run panel: refreshing the display at the end of run %s failed", run.id, exc_info=True)


def widgets_can_render() -> bool:
    """Whether this process is a Jupyter kernel (a front end that can show widgets), not a terminal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def make_display_listener(*, history: Any = None, min_interval: float = DEFAULT_INTERVAL,
                          fallback: Callable[[], Any] | None = None) -> Callable[..., None]:
    """The listener that shows a run: the live panel in a kernel, text progress elsewhere.

    MLPIPE_PANEL=0 in the environment asks for text progress in a kernel too.
    """
    import os

    if widgets_can_render() and os.environ.get("MLPIPE_PANEL", "1") != "0":
        return PanelListener(history=history, min_interval=min_interval)
    if fallback is not None:
        return fallback()
    from ..text import TextProgress

    return TextProgress()


# ---------------------------------------------------------------------- runs table


class RunsTable(_MlpipeWidget):
    """The runs of a notebook; choose two to see what differs (parameters, metrics, steps)."""

    _esm = _RUNS_ESM

    rows = t.List(
        help="One per run, newest first: {id, started, status, duration, params, metrics (last values, "
        "'step.name' keys), result ({metric, value, best} or None), counts, reused, ran, steps {step: status}}."
    ).tag(sync=True)
    selected = t.List(
        t.Unicode(), help="The (at most two) run ids chosen in the front end for comparison."
    ).tag(sync=True)
    comparison = t.Dict(
        help="What differs between the two selected runs: {a, b, params, metrics, steps, steps_differ, "
        "curves: {'step.name': {a: [[i, v], ...], b: [...]}}} (curves: `state.comparison_curves`)."
    ).tag(sync=True)

    def __init__(self, records: Any = None, **kwargs: Any) -> None:
        """`records`: `History.get_run` records (newest first), or a `queries.ResultTable` already
        chosen and sorted (`--metric`, `--sort`, `--order`)."""
        from ..queries import ResultTable, result_table

        super().__init__(**kwargs)
        self._table = records if isinstance(records, ResultTable) else result_table(list(records or []))
        self._records = list(self._table.records)
        self.rows = self._table.rows  # with the result column's metric, in the table's order

    @t.observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        from ..queries import compare_runs, oldest_first

        ids = list(change["new"] or [])
        by_id = {r["id"]: r for r in self.rows}
        if len(ids) == 2 and all(i in by_id for i in ids):
            comparison = compare_runs(*oldest_first(by_id[ids[0]], by_id[ids[1]]))
            records = {r["id"]: r for r in self._records}
            if comparison["a"] in records and comparison["b"] in records:  # the curves, for a chart each
                comparison["curves"] = comparison_curves(records[comparison["a"]], records[comparison["b"]])
            self.comparison = comparison
        else:
            self.comparison = {}

    def text(self) -> str:
        from ..text import comparison_text, runs_table

        if not self._records:
            return "No runs yet: %pipeline run starts one."
        text = runs_table(self._table)
        return f"{text}\n\n{comparison_text(self.comparison)}" if self.comparison else text


def runs_table_widget(history: Any, notebook: str | None = None, *, limit: int = 30) -> RunsTable:
    """The `%pipeline runs` widget: a History (or its path) and the notebook whose runs to list."""
    from ..queries import recorded_runs
    from ..store.history import History

    if not hasattr(history, "list_runs"):
        history = History(history)
    notebook = str(Path(notebook).resolve()) if notebook else None
    return RunsTable(recorded_runs(history, notebook, limit=limit))


def _with_text(bundle: Any, text: str) -> Any:
    """The widget's bundle with our text summary as text/plain (terminals, saved notebooks)."""
    if bundle is None:
        return {"text/plain": text}
    if isinstance(bundle, tuple):
        data, metadata = bundle
        return {**data, "text/plain": text}, metadata
    return {**bundle, "text/plain": text}
