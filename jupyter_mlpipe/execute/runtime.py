"""Code the step bundles call inside the worker: load inputs, save outputs, log metrics.

Kept tiny and import-light: it runs in every step. The worker reads the
result of the save cell from here after papermill returns.
"""

from __future__ import annotations

import operator
import sys
import time
from typing import Any

__all__ = ["begin_step", "end_step", "take_result", "log_metric", "log_metrics", "current_context"]

_CONTEXT: dict[str, Any] | None = None
_RESULT: dict[str, Any] | None = None
_STORES: dict[str, Any] = {}
_INTERACTIVE_METRICS: list[dict[str, Any]] = []
_WARNED_INTERACTIVE = False


def _store(root: str) -> Any:
    from ..store.artifacts import ArtifactStore

    if root not in _STORES:
        _STORES[root] = ArtifactStore(root)
    return _STORES[root]


def current_context() -> dict[str, Any] | None:
    """The running step's context (run id, step, store), or None outside a pipeline run."""
    return _CONTEXT


def begin_step(ns: dict, store: str, inputs: dict[str, str], *, step: str, run_id: str,
               context: dict[str, Any] | None = None) -> None:
    """Load the step's inputs into its namespace (verified against their digests)."""
    global _CONTEXT, _RESULT
    _RESULT = None
    _CONTEXT = {"step": step, "run_id": run_id, "store": store, "inputs": dict(inputs), **(context or {})}
    artifacts = _store(store)
    for name, digest in inputs.items():
        ns[name] = artifacts.get(digest)
    _relink(ns, (context or {}).get("links") or {}, inputs)


def _relink(ns: dict, links: dict[str, list], inputs: dict[str, str]) -> None:
    """Give containers back the identity of their elements: `frames = [train, test]`.

    Stored separately, `frames[0]` and `train` would load as two objects, and a
    later `for d in frames: d['x'] = 1` would not change `train` as it does when
    the notebook runs top to bottom. An element is linked only while `train` is
    still the value it was when the container was stored (same digest): after a
    later step rebinds `train`, the container keeps the old one, as it would in the
    notebook. (A step that changes `train` in place stores the container again.)
    """
    for name, pairs in links.items():
        container = ns.get(name)
        pairs = [(key, other) for key, other, *digest in pairs
                 if other in ns and (not digest or inputs.get(other) == digest[0])]
        if isinstance(container, tuple):
            items = list(container)
            for key, other in pairs:
                if isinstance(key, int) and key < len(items):
                    items[key] = ns[other]
            ns[name] = type(container)(items) if type(container) is tuple else container
            continue
        for key, other in pairs:
            if isinstance(container, list) and isinstance(key, int) and key < len(container):
                container[key] = ns[other]
            elif isinstance(container, dict) and key in container:
                container[key] = ns[other]


def _links(ns: dict, saved: dict[str, dict]) -> None:
    """Record which elements of stored lists, tuples and dicts are other stored values, and which version."""
    by_id = {id(ns[n]): n for n in saved if not _immutable(ns[n])}
    for name in saved:
        value = ns[name]
        if type(value) in (list, tuple):
            items = enumerate(value)
        elif type(value) is dict:
            items = ((k, v) for k, v in value.items() if isinstance(k, (str, int)))
        else:
            continue
        pairs = [[key, by_id[id(item)], saved[by_id[id(item)]]["digest"]] for key, item in items
                 if id(item) in by_id and by_id[id(item)] != name]
        if pairs:
            saved[name]["links"] = pairs


def end_step(ns: dict, outputs: list[str], required: list[str]) -> None:
    """Save the step's values; check that no input changed in a way the plan did not expect."""
    global _RESULT
    import types

    from ..store.artifacts import content_hash
    from ..errors import StepFailed, UnstorableValue

    context = _CONTEXT or {}
    step = context.get("step")
    artifacts = _store(context.get("store", ""))
    saved: dict[str, dict] = {}
    warnings: list[str] = []
    for name in outputs:
        if name not in ns:
            if name in required:
                raise StepFailed(
                    f"Step {step!r} did not define {name!r}, which a later step needs "
                    "(was it assigned only on some branch?).",
                    step=step or "?",
                    hint=f"Make sure {name!r} is always assigned in step {step!r}.",
                )
            continue
        value = ns[name]
        if isinstance(value, types.ModuleType):
            continue
        try:
            _refuse_open_files(value, name, step)
            saved[name] = artifacts.put(value, variable=name, step=step).to_dict()
        except UnstorableValue as exc:
            if name in required:
                raise
            warnings.append(f"{name!r} was not stored ({exc.type_name}); no later step reads it.")
    for name, digest in (context.get("inputs") or {}).items():
        if name in saved or name not in ns or _immutable(ns[name]):
            continue
        if _changed(ns[name], digest, artifacts, name, step, content_hash):
            warnings.append(
                f"STALE VALUE RISK: step {step!r} changed its input {name!r} in place, which the plan did "
                f"not expect; later steps still get {name!r} as it was before this step. Assign it "
                f"explicitly in this step (e.g. `{name} = {name}`) or use --outputs {name}."
            )
    _links(ns, saved)
    for warning in warnings:
        print(f"mlpipe warning: {warning}", file=sys.stderr)
    _RESULT = {"outputs": saved, "warnings": warnings}


_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range)


def _immutable(value: Any) -> bool:
    return type(value) in _IMMUTABLE


def _changed(value: Any, digest: str, artifacts: Any, name: str, step: str | None, content_hash: Any) -> bool:
    """Whether an input was changed in place by the step.

    Re-encoding a value need not give the bytes it was loaded from (a set's
    order after unpickling, say), so a different hash is checked against the
    stored value re-encoded in this same process before calling it a change.
    """
    try:
        now = content_hash(value, variable=name, step=step)
    except Exception:  # noqa: BLE001 - it became unstorable: it certainly changed
        return True
    if now == digest:
        return False
    try:
        original = artifacts.get(digest)
        return content_hash(original, variable=name, step=step) != now
    except Exception:  # noqa: BLE001 - cannot tell: say so rather than stay silent
        return True


def _refuse_open_files(value: Any, name: str, step: str | None) -> None:
    """An open file is not a value: cloudpickle would silently copy what is left to read."""
    import io

    if isinstance(value, io.IOBase) and not isinstance(value, (io.StringIO, io.BytesIO)):
        from ..store.artifacts import _unstorable

        raise _unstorable(value, name, step, TypeError(
            "an open file (or stream) is tied to this process; a later step would get a copy of its "
            "remaining content at best"))


def take_result() -> dict[str, Any] | None:
    global _RESULT, _CONTEXT
    result, _RESULT, _CONTEXT = _RESULT, None, None
    return result


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


def interactive_metrics() -> list[dict[str, Any]]:
    """Metrics logged outside a pipeline run in this process."""
    return list(_INTERACTIVE_METRICS)


_HISTORIES: dict[str, Any] = {}


def _history(path: str) -> Any:
    from ..store.history import History

    if path not in _HISTORIES:
        _HISTORIES[path] = History(path)
    return _HISTORIES[path]
