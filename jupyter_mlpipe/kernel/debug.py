"""`%pipeline debug STEP`: the values a step received in a run, put into the kernel.

A step that failed in the pipeline failed on the values the run gave it, which
need not be what the kernel holds now (a parameter overridden with `-p`, an
earlier step's output the kernel never had, or changed since). This reads the
step run's recorded input references from the run history, loads exactly those
artifacts from the store (with `execute.step_values.StepValues.load`, as the
step's own worker did: members of one stored group are loaded together, so values
that shared objects in the run share them here), adds the parameter values the
run used, and hands them to the kernel. The user then fixes the step's cell, runs
it, and runs the pipeline again.

Which run: the last run of this notebook in which STEP finished (ran, failed, was
reused, skipped or cancelled), or the one given with `--run`. A step that
succeeded may be debugged too (its inputs are loaded all the same). A step that
was reused or skipped received nothing in that run: `StepNotDebuggable` says
which run to debug instead; inputs no longer in the store: `InputsMissing`.
Process state (random generators, settings) and files a step read are not
applied to the kernel: they are listed as such.

A fan-out step (`--foreach`, `--files`) ran its cell once per element. With
`element=N` (`%pipeline debug STEP --element N`) the element is bound too, under
the step's `--as` name, split from the ITERABLE the run gave the step by the
workers' own code (`execute.foreach.elements_of`), and the element's own error
is shown; with `--files`, the element is the Nth file of the glob as the folder
is now. Without it, the step's inputs are loaded and the failed elements named.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import MlpipeError
from ..vocab import FINISHED, cell_number

__all__ = ["DebugInputs", "InputsMissing", "StepNotDebuggable", "debug_text", "load_step_inputs"]

_NO_HISTORY = "Run the pipeline first: %pipeline run."


@dataclass(eq=False, repr=False, kw_only=True)
class StepNotDebuggable(MlpipeError):
    """`%pipeline debug STEP` cannot load what STEP received: it never ran, or not in that run."""

    step: str
    run: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "run": self.run}


@dataclass(eq=False, repr=False, kw_only=True)
class InputsMissing(StepNotDebuggable):
    """Values the step received are no longer in the artifact store (removed by `mlpipe gc`, or by hand)."""

    variables: list[str] = field(default_factory=list)


@dataclass
class DebugInputs:
    """What `load_step_inputs` found: the values to put in the kernel, and what to tell the user."""

    step: str
    run: str
    status: str  # the step's status in that run
    values: dict[str, Any]  # every name to bind: inputs, values sharing objects with them, parameters
    sources: dict[str, str]  # name -> where it came from: "step 'a'", "parameter", "shares objects with 'x'"
    not_applied: list[str] = field(default_factory=list)  # process state and files: `@numpy.random`, ...
    cell: int | None = None  # the step's first cell, 1-based as JupyterLab counts (markdown included)
    error: str | None = None  # the step's recorded error (failed, cancelled), or the element's
    notes: list[str] = field(default_factory=list)
    element: int | None = None  # a fan-out step's element that was bound (`--element`)
    as_name: str | None = None  # the name it was bound to


def load_step_inputs(path: str | os.PathLike, step: str, run_id: str | None = None, *,
                     current_plan: Any = None, element: int | None = None) -> DebugInputs:
    """The values `step` received in run `run_id` (default: the last run of this notebook that has it).

    `path` is the notebook; `current_plan` (a `Pipeline`) locates the step's first cell as the
    notebook is now (else the run's recorded plan does); `element`: a fan-out step's element, bound
    under its `--as` name (`_bind_element`). Raises `StepNotDebuggable`,
    `InputsMissing`, `RunNotFound` (no history, unknown `run_id`) or what the store raises for a
    corrupt artifact; nothing is loaded then.
    """
    from ..execute.step_values import StepValues
    from ..queries import find_run, notebook_key
    from ..recorded import RecordedRun
    from ..store.paths import open_history

    if run_id:
        record, where = find_run(path, run_id, hint=_NO_HISTORY)
    else:
        history, where = open_history(path, hint=_NO_HISTORY)
        last = history.last_step_run(notebook_key(path), step, statuses=FINISHED)
        if last is None:
            known = _steps_of(current_plan)
            if known is not None and step not in known:
                raise StepNotDebuggable(f"This notebook has no step {step!r}. Its steps: {', '.join(known) or '(none)'}.",
                                        step=step, hint="Give the name on the step's %%step line.")
            raise StepNotDebuggable(f"Step {step!r} has not been part of any run of this notebook yet.",
                                    step=step, hint=f"Run it first: %pipeline run {step}.")
        record = history.get_run(last["run_id"])
    run = RecordedRun(record, where)
    _check_debuggable(run, step)
    sr = run.steps[step]
    plan = record.get("plan") or {}
    planned = next((s for s in plan.get("steps") or [] if s.get("name") == step), {})
    fanout = planned.get("options") or {}
    fanout = fanout if fanout.get("foreach") or fanout.get("files") else None
    if element is not None and fanout is None:
        raise StepNotDebuggable(f"Step {step!r} does not fan out (no --foreach or --files): it has no elements.",
                                step=step, run=run.id, hint=f"Drop --element: %pipeline debug {step}.")

    refs = dict(sr.inputs)  # recorded: the inputs and the values loaded beside them for their sharing
    visible = {n: r for n, r in refs.items() if n in (planned.get("inputs") or refs)}
    hidden = {n: r for n, r in refs.items() if n not in visible}
    _check_stored(run, step, refs)
    loader = StepValues(run.artifacts, step)
    loader.load({}, visible, hidden)

    producers = {v: e.get("from") for e in plan.get("edges") or [] if e.get("to") == step
                 for v in e.get("variables") or []}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, loaded in loader.loaded.items():
        values[name] = loaded.value
        if loaded.visible:
            sources[name] = f"from step {producers[name]!r}" if producers.get(name) else "input"
        else:
            shared = [n for n in visible if n in loader.loaded and _same_group(loaded.ref, visible[n])]
            sources[name] = "shares objects with " + ", ".join(repr(n) for n in shared) if shared else \
                "loaded beside the inputs"
    for name in planned.get("params") or []:
        if name in (run.params or {}) and name not in values:
            values[name] = run.params[name]
            sources[name] = "parameter"
    result = DebugInputs(step, run.id, sr.status, values, sources,
                         not_applied=sorted(n for n in refs if n not in loader.loaded),
                         cell=_first_cell(current_plan, planned, step),
                         error=sr.error or None)
    if fanout is not None:
        _fanout_notes(result, fanout, sr.reason or {}, element, str(where.base))
    if sr.status == "succeeded" and element is None:
        result.notes.append(f"Step {step!r} succeeded in run {run.id}: these are the inputs it ran with.")
    if current_plan is not None and step not in current_plan.steps:
        result.notes.append(f"Step {step!r} is no longer in the saved notebook: the cell number is the run's.")
    return result


def _fanout_notes(found: DebugInputs, options: dict[str, Any], reason: dict[str, Any], element: int | None,
                  folder: str) -> None:
    """A fan-out step: bind element `element` (if given) under its --as name, and say which elements failed."""
    progress = reason.get("foreach") or {}
    failures = {f["index"]: f for f in progress.get("failures") or [] if "index" in f}
    failed = f"failed: elements {', '.join(str(i) for i in sorted(failures))}" if failures else "no element failed"
    if element is None:
        example = min(failures) if failures else 0
        found.notes.append(
            f"Step {found.step!r} fans out ({progress.get('total', '?')} elements, {failed}): "
            f"%pipeline debug {found.step} --element {example} loads element {example} under "
            f"{options.get('as_name')!r} too, to run the cell's code for that one element.")
        return
    _bind_element(found, options, element, folder)
    if element in failures:
        info = failures[element]
        found.error = (info.get("traceback") or f"{info.get('ename')}: {info.get('evalue')}").rstrip()
    else:
        found.error = None  # the step's error is about other elements (or too many of them)
        found.notes.append(f"Element {element} did not fail in run {found.run} ({failed}).")


def _bind_element(found: DebugInputs, options: dict[str, Any], element: int, folder: str) -> None:
    """Element `element` bound under the step's --as name, made as the step's split task made it."""
    from ..execute.foreach import elements_of, file_elements

    step, as_name = found.step, options.get("as_name") or ""
    if options.get("files"):
        elements: list[Any] = file_elements(folder, options["files"], step=step)
        what = f"file {element} of --files {options['files']!r}, as the notebook's folder is now"
    else:
        source = options["foreach"]
        if source not in found.values:
            raise StepNotDebuggable(f"Step {step!r} of run {found.run}: --foreach {source}: {source!r} was not "
                                    "among the values it received, so its elements cannot be made here.",
                                    step=step, run=found.run, hint=f"Run the step again: %pipeline run {step}.")
        elements = elements_of(found.values[source], step=step, source=source,
                               batch_size=options.get("batch_size"))
        what = f"element {element} of {source!r}"
    if not 0 <= element < len(elements):
        raise StepNotDebuggable(
            f"Step {step!r} has {len(elements)} element(s) in run {found.run}: there is no element {element}.",
            step=step, run=found.run,
            hint=f"Give --element from 0 to {len(elements) - 1}." if elements else "It has no element to debug.")
    found.values[as_name] = elements[element]
    found.sources[as_name] = what
    found.element, found.as_name = element, as_name


def _steps_of(plan: Any) -> list[str] | None:
    return None if plan is None else list(plan.steps)


def _check_debuggable(run: Any, step: str) -> None:
    """StepNotDebuggable unless `step` received its inputs in `run` (it started: failed, succeeded, ...)."""
    if step not in run.steps:
        raise StepNotDebuggable(
            f"Step {step!r} was not part of run {run.id}. Its steps: {', '.join(run.steps) or '(none)'}.",
            step=step, run=run.id, hint=f"Without --run, %pipeline debug {step} takes the last run that has it.")
    sr = run.steps[step]
    reason = sr.reason or {}
    if sr.status == "reused":
        source = reason.get("from_run")
        raise StepNotDebuggable(
            f"Step {step!r} was reused in run {run.id}: it did not run there, so it received no inputs.",
            step=step, run=run.id,
            hint=f"It ran in run {source}: %pipeline debug {step} --run {source}." if source
            else f"Run it again: %pipeline run {step} --force.")
    if sr.status in ("skipped", "pending") or sr.started is None:
        failed = [name for name, s in run.steps.items() if s.status == "failed"]
        why = f" ({reason['summary']})" if reason.get("summary") else ""
        raise StepNotDebuggable(
            f"Step {step!r} did not run in run {run.id}: it was {sr.status}{why}, so it received no inputs.",
            step=step, run=run.id,
            hint=f"Debug the step that failed: %pipeline debug {failed[0]}." if failed
            else f"Run it: %pipeline run {step}.")


def _check_stored(run: Any, step: str, refs: dict[str, str]) -> None:
    """InputsMissing, before anything is loaded, when an artifact the step received is gone."""
    from ..execute.carried import is_carried
    from ..store.sharing import split_ref

    missing = sorted(n for n, ref in refs.items()
                     if not is_carried(n) and not run.artifacts.exists(split_ref(ref)[0]))
    if missing:
        raise InputsMissing(
            f"Step {step!r} of run {run.id} received {', '.join(repr(n) for n in missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} no longer in the store ({run.artifacts.root}).",
            step=step, run=run.id, variables=missing,
            hint=f"Removed by mlpipe gc? Run the step again (%pipeline run {step}), then %pipeline debug {step}.")


def _same_group(a: str, b: str) -> bool:
    from ..store.sharing import split_ref

    return split_ref(a)[0] == split_ref(b)[0]


def _first_cell(current_plan: Any, planned: dict[str, Any], step: str) -> int | None:
    """The step's first cell, 1-based (as JupyterLab counts), in the notebook now, else as the run planned it."""
    step_now = current_plan.steps.get(step) if current_plan is not None else None
    cells = list(step_now.cells) if step_now is not None else list(planned.get("cells") or [])
    return cell_number(cells[0]) if cells else None


def debug_text(found: DebugInputs) -> str:
    """What `%pipeline debug` prints: the names it loaded, where the step is, and how it failed."""
    from ..store.codec import summarize

    what = {"failed": "it failed there", "succeeded": "it succeeded there",
            "cancelled": "it was cancelled there"}.get(found.status, f"it {found.status} there")
    lines = [f"Step {found.step!r}, run {found.run} ({what}):"]
    if found.values:
        lines.append("loaded into this kernel the values it received:")
        width = max(len(n) for n in found.values)
        for name, value in found.values.items():
            lines.append(f"  {name.ljust(width)}  {summarize(value)}  ({found.sources.get(name, 'input')})")
    else:
        lines.append("it received no values from other steps and no parameters: nothing to load.")
    if found.not_applied:
        lines.append(f"not applied here (process state and files it started from): {', '.join(found.not_applied)}")
    lines += found.notes
    where = f"cell {found.cell}" if found.cell is not None else "its %%step cell"
    if found.element is not None:
        lines.append(f"Its cell is {where}. To run it for element {found.element} alone ({found.as_name!r} holds "
                     "it), run the cell's code without its %%step line in a %%scratch cell; the %%step cell "
                     "itself runs every element. Fix the cell, then run the pipeline again (%pipeline run).")
    else:
        lines.append(f"Its first cell is {where}: fix it and run it here, then run the pipeline again "
                     "(%pipeline run).")
    if found.error:
        lines.append("")
        lines.append(f"The error element {found.element} had:" if found.element is not None else "The error it had:")
        lines += [f"  {line}" for line in found.error.splitlines()]
    return "\n".join(lines)
