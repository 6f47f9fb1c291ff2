"""A module's binding node in a run (`plan.modules`): its parameters bound in the driver, no task.

The node hands the module's steps their parameters: a value of the notebook that uses the module is
passed on as the same stored value (its reference, under the parameter's name), and a literal or a
parameter of that notebook is stored once. So the module's steps get content digests as their inputs,
and their cache keys do not depend on which notebook uses them, nor under which names.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .failures import error_info

if TYPE_CHECKING:  # pragma: no cover
    from ..plan import Step
    from ..store.history import History
    from .run import Run, StepRun
    from .task import OutputRef

__all__ = ["bind_module"]


def bind_module(run: Run, history: History, sr: StepRun, step: Step, inputs: dict[str, OutputRef]) -> None:
    """Give the binding node `step` its outputs (the module's parameters), or fail it with why."""
    assert step.binding is not None
    sr.started = time.time()
    outputs: dict[str, OutputRef] = {}
    try:
        for param in step.outputs:
            kind, what = step.binding[param]
            if kind == "input":
                outputs[param] = {**inputs[what], "variable": param}
            elif kind == "ref":  # a kernel's value, stored already (`kernel.modules`)
                outputs[param] = {**what, "variable": param}
            else:
                value: Any = run.params[what] if kind == "param" else what
                outputs[param] = run.artifacts.put(value, variable=param, step=step.name).to_dict()
    except Exception as exc:  # noqa: BLE001 - an unstorable parameter value fails this node, with its words
        sr.ended = time.time()
        message = f"Module step {step.name!r} could not bind its parameters: {exc}"
        sr.fail(message, error_info(type(exc).__name__, str(exc)))
        return
    sr.status = "succeeded"
    sr.outputs = outputs
    sr.ended = time.time()
    sr.reason = {"decision": "ran", "changes": [],
                 "summary": "binds the module's parameters (in the driver: no task)"}
    for variable, ref in outputs.items():
        history.record_artifact(ref, run_id=run.id, step=step.name, variable=variable)
