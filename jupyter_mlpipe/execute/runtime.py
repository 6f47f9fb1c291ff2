"""Code the step bundles call inside the worker: load inputs, save outputs, log metrics.

Executed bundles on disk import `jupyter_mlpipe.execute.runtime` by name, so
this module and its public names (`begin_step`, `end_step`, `take_result`,
`log_metric`, `log_metrics`, `interactive_metrics`) stay where they are. It is
kept tiny and import-light: it runs in every step. The worker reads the result
of the save cell from here (`take_result`) after papermill returns.
"""

from __future__ import annotations

import logging
import operator
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .carried import CarriedStates
    from .step_values import StepValues
    from ..store.artifacts import ArtifactStore
    from ..store.history import History

__all__ = ["begin_step", "carry_state", "end_step", "take_result", "take_touched", "take_found", "log_metric", "log_metrics", "interactive_metrics",
           "current_context", "take_metrics"]

logger = logging.getLogger(__name__)

_CONTEXT: dict[str, Any] | None = None
_RESULT: dict[str, Any] | None = None
_VALUES: StepValues | None = None
_STATES: CarriedStates | None = None
_TOUCHED: list[str] = []
_FOUND: dict[str, list[Any]] = {}
_STORES: dict[str, ArtifactStore] = {}
_INTERACTIVE_METRICS: list[dict[str, Any]] = []
_WARNED_INTERACTIVE = False


def _store(root: str) -> ArtifactStore:
    from ..store.artifacts import ArtifactStore

    if root not in _STORES:
        _STORES[root] = ArtifactStore(root)
    return _STORES[root]


def current_context() -> dict[str, Any] | None:
    """The running step's context (run id, step, store), or None outside a pipeline run."""
    return _CONTEXT


def begin_step(ns: dict, store: str, inputs: dict[str, str], *, step: str, run_id: str,
               context: dict[str, Any] | None = None) -> None:
    """Load the step's inputs into its namespace (verified against their digests), with their sharing;
    set the process state it starts from (random generators, settings: `carried`).

    `context["hidden"]` names values that share objects with the inputs but that
    the step does not read by name: they are loaded beside them, not bound.
    """
    global _CONTEXT, _RESULT, _VALUES, _STATES
    import os

    from .carried import CarriedStates, is_carried
    from .step_values import StepValues

    _RESULT = None
    _CONTEXT = {"step": step, "run_id": run_id, "store": store, "inputs": dict(inputs), **(context or {})}
    artifacts = _store(store)
    _VALUES = StepValues(artifacts, step)
    _VALUES.load(ns, inputs, dict(_CONTEXT.get("hidden") or {}))
    _STATES = CarriedStates(os.getcwd())
    _STATES.incoming = {name: artifacts.get(ref) for name, ref in inputs.items() if is_carried(name)}
    _STATES.literal_paths = list(_CONTEXT.get("paths") or [])
    _STATES.pristine = {name: artifacts.get(ref) for name, ref in (_CONTEXT.get("pristine") or {}).items()}


def carry_state(ns: dict | None = None) -> None:
    """Set the process state the step starts from; note it, to see what the step's own code changes.

    Called after the shared code (imports, the preamble's setup calls) has run, so that what importing
    a library does to the environment is not taken for a change the step made, and a seed the
    preamble replays does not override the state the notebook has at this step.
    """
    if _STATES is not None:
        _STATES.begin(_STATES.incoming)
        if ns is not None:
            _STATES.begin_code(ns)
        _STATES.begin_files()


def end_step(ns: dict, outputs: list[str], required: list[str]) -> None:
    """Save the step's values with their sharing, and the process state it changed; report what it
    changed that the plan did not expect."""
    global _RESULT, _VALUES
    from .step_values import Learned, StepValues

    context = _CONTEXT or {}
    step = context.get("step") or "?"
    values = _VALUES or StepValues(_store(context.get("store", "")), step)
    _VALUES = None
    saved, learned, warnings = values.finish(ns, outputs, required, refuse=_refuse_open_files)
    if _STATES is not None:
        changed = {**_STATES.end_files(), **_STATES.end(), **_STATES.end_code(ns)}
        for name in [n for n in outputs if n.startswith("@") and n not in changed]:
            changed[name] = (_STATES.unchanged(name), "")  # the plan says it changes it; not this time
        for name, (value, note) in changed.items():
            ref = values.artifacts.put(value, variable=name, step=step).to_dict()
            if name in outputs:
                saved[name] = ref
            else:
                learned[name] = Learned(ref=ref, reason=f"{step} {note}")
    for warning in warnings:
        print(f"mlpipe warning: {warning}", file=sys.stderr)
    for name, fact in learned.items():
        print(f"mlpipe: {fact['reason']}: later steps get the changed {name!r}", file=sys.stderr)
    _RESULT = {"outputs": saved, "learned": learned, "warnings": warnings, "notes": values.notes}


def _refuse_open_files(value: Any, name: str, step: str | None) -> None:
    """An open file is not a value: cloudpickle would silently copy what is left to read."""
    import io

    if isinstance(value, io.IOBase) and not isinstance(value, (io.StringIO, io.BytesIO)):
        from ..store.codec import unstorable_error

        raise unstorable_error(value, name, step, TypeError(
            "an open file (or stream) is tied to this process; a later step would get a copy of its "
            "remaining content at best"))


def take_result() -> dict[str, Any] | None:
    """The last save cell's result ({"outputs", "learned", "warnings"}), once; the step's context is
    cleared and the process state it changed put back. A step that failed before its save cell
    leaves no result, but the files it touched are kept for `take_touched` (it may have failed
    because an earlier step had not written them yet)."""
    global _RESULT, _CONTEXT, _STATES, _TOUCHED, _FOUND
    _TOUCHED, _FOUND = [], {}
    if _STATES is not None:
        if _RESULT is None and _STATES.files is not None:
            _TOUCHED = ["@file:" + rel for rel in _STATES.files.touched]
        _FOUND = _store_found(_STATES.found_files(), _CONTEXT or {})
        _STATES.restore()
    result, _RESULT, _CONTEXT, _STATES = _RESULT, None, None, None
    return result


def take_touched() -> list[str]:
    """The files (as `@file:PATH` states) a step that failed had touched."""
    return list(_TOUCHED)


def take_found() -> dict[str, list[Any]]:
    """`@file:PATH` -> [when, kind, reference, "read" or "write", fresh]: each file as the step found it before
    touching it (stored), for the driver to start a re-run of the first step that touches it from there;
    fresh: its first touch replaced it (`open(p, 'w')`), so what it was does not matter to the step."""
    return dict(_FOUND)


def _store_found(found: dict[str, tuple[float, Any, str, bool]], context: dict[str, Any]) -> dict[str, list[Any]]:
    if not found or not context.get("store"):
        return {}
    artifacts = _store(context["store"])
    step = context.get("step") or "?"
    out: dict[str, list[Any]] = {}
    for name, (when, state, access, fresh) in found.items():
        try:
            out[name] = [when, state.get("kind"), artifacts.put(state, variable=name, step=step).to_dict(), access,
                         fresh]
        except Exception:  # noqa: BLE001 - the run loses a way to start a re-run clean, not the step
            logger.warning("could not keep %s as the step found it", name, exc_info=True)
    return out


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a metric: streamed to the run panel and stored in the run history.

    Outside a pipeline run it is kept in this session (see `interactive_metrics()`).
    Bad arguments raise TypeError before anything is recorded, inside a run or not.
    """
    global _WARNED_INTERACTIVE
    record = _metric_record(name, value, step)
    context = _CONTEXT
    if context and context.get("history"):
        history = _history(context["history"])
        history.record_metric(context["run_id"], context["step"], record["name"], record["value"],
                              record["step_index"], record["ts"])
        return
    if context and context.get("away"):  # the driver's history is not on this node: it comes back with the result
        _AWAY_METRICS.append(record)
        return
    _INTERACTIVE_METRICS.append(record)
    if not _WARNED_INTERACTIVE:
        _WARNED_INTERACTIVE = True
        print("mlpipe: not in a pipeline run; log_metric records into this interactive session only "
              "(jupyter_mlpipe.interactive_metrics()).", file=sys.stderr)


def _metric_record(name: Any, value: Any, step: Any) -> dict[str, Any]:
    """One checked metric point: a non-empty name, a number (NaN allowed), a whole-number step."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"log_metric needs a metric name, a non-empty string such as 'loss' (got {name!r}).")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"log_metric({name!r}, ...) needs a number (got the string {value!r}): "
                        f"pass float(...) of it if it holds one.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        hint = " (an array or tensor: log one element, or its mean)" if hasattr(value, "shape") else ""
        raise TypeError(f"log_metric({name!r}, ...) needs a number (got {value!r} of type "
                        f"{type(value).__name__}){hint}.") from None
    if step is not None:
        try:
            step = operator.index(step)  # int, numpy integers; not 0.5 or "3"
        except TypeError:
            raise TypeError(f"log_metric({name!r}, ..., step={step!r}): step is the epoch or iteration, a whole "
                            f"number (got {type(step).__name__}).") from None
    return {"name": name, "value": number, "step_index": step, "ts": time.time()}


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Record several metrics at once: `log_metrics({"loss": l, "acc": a}, step=epoch)`."""
    if not hasattr(metrics, "items"):
        raise TypeError(f"log_metrics needs a dict of name -> number, e.g. log_metrics({{'loss': 0.3}}) "
                        f"(got {type(metrics).__name__}); for one metric use log_metric(name, value).")
    records = [_metric_record(name, value, step) for name, value in metrics.items()]  # all checked first
    for record in records:
        log_metric(record["name"], record["value"], step=record["step_index"])


def take_metrics() -> list[dict[str, Any]]:
    """The metrics a step logged where the driver's history could not be written, once."""
    taken = list(_AWAY_METRICS)
    _AWAY_METRICS.clear()
    return taken


def interactive_metrics() -> list[dict[str, Any]]:
    """Metrics logged outside a pipeline run in this process."""
    return list(_INTERACTIVE_METRICS)


_HISTORIES: dict[str, History] = {}
_AWAY_METRICS: list[dict[str, Any]] = []


def _history(path: str) -> History:
    from ..store.history import History

    if path not in _HISTORIES:
        _HISTORIES[path] = History(path)
    return _HISTORIES[path]
