"""A step as a papermill notebook: parameters, load, shared code, the step's cells, save.

The bundle is what runs and what the user opens afterwards, so it reads like
a notebook: every cell says what it is, and the step's own cells keep their
original text (with the `%%step` line as a comment, so line numbers match).
"""

from __future__ import annotations

from typing import Any

from .analysis import strip_control_lines
from .plan import Pipeline, Step

__all__ = ["build_bundle", "bundle_parameters"]

_PARAMETERS_HEADER = "# Parameters: papermill injects the real values in the next cell.\n"


def bundle_parameters(step: Step, *, run_id: str, store: str, inputs: dict[str, dict],
                      required: list[str], params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The values papermill injects: input artifact references, run id, parameter values."""
    values: dict[str, Any] = {
        "mlpipe_run_id": run_id,
        "mlpipe_step": step.name,
        "mlpipe_store": store,
        "mlpipe_inputs": {name: ref["digest"] for name, ref in inputs.items()},
        "mlpipe_outputs": list(step.outputs),
        "mlpipe_required": list(required),
        "mlpipe_context": context,
    }
    for name in step.params:
        values[name] = params[name]
    return values


def build_bundle(plan: Pipeline, step: Step) -> Any:
    """The step's notebook, before papermill injects parameters."""
    from nbformat.v4 import new_code_cell, new_notebook

    defaults = [
        'mlpipe_run_id = ""',
        f"mlpipe_step = {step.name!r}",
        'mlpipe_store = ""',
        "mlpipe_inputs = {}",
        f"mlpipe_outputs = {list(step.outputs)!r}",
        "mlpipe_required = []",
        "mlpipe_context = {}",
    ]
    for name in step.params:
        param = plan.params[name]
        defaults.append(param.source.strip() or f"{name} = None")
    cells = [
        new_code_cell(_PARAMETERS_HEADER + "\n".join(defaults),
                      metadata={"tags": ["parameters"], "mlpipe": {"role": "parameters"}}),
        new_code_cell(
            "# Load this step's inputs from the artifact store.\n"
            "from jupyter_mlpipe._runtime import begin_step as _mlpipe_begin\n"
            "_mlpipe_begin(globals(), mlpipe_store, mlpipe_inputs, step=mlpipe_step, run_id=mlpipe_run_id, "
            "context=mlpipe_context)",
            metadata={"mlpipe": {"role": "load"}},
        ),
    ]
    if step.shared:
        cells.append(new_code_cell(
            "# Shared code this step uses (imports, functions, classes, constants).\n"
            + "\n".join(s.source for s in step.shared),
            metadata={"mlpipe": {"role": "shared"}},
        ))
    for position, (index, body) in enumerate(step.code):
        text = strip_control_lines(body)
        if position == 0:
            text = f"# %%step {step.line}".rstrip() + "\n" + text
        cells.append(new_code_cell(text, metadata={"mlpipe": {"role": "step", "cell": index}}))
    cells.append(new_code_cell(
        "# Save this step's outputs to the artifact store.\n"
        "from jupyter_mlpipe._runtime import end_step as _mlpipe_end\n"
        "_mlpipe_end(globals(), mlpipe_outputs, mlpipe_required)",
        metadata={"mlpipe": {"role": "save"}},
    ))
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "mlpipe": {"step": step.name, "notebook": plan.notebook},
    })
    return nb
