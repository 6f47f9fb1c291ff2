"""A step as a papermill notebook: parameters, load, shared code, the step's cells, save.

The bundle is what runs and what the user opens afterwards, so it reads like
a notebook: every cell says what it is, and the step's own cells keep their
original text (with the `%%step` line as a comment, so line numbers match).
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..plan.source import strip_control_lines
from ..plan import Pipeline, Step
from ..vocab import cell_number

if TYPE_CHECKING:  # pragma: no cover
    from nbformat import NotebookNode

__all__ = ["build_bundle", "bundle_parameters"]

logger = logging.getLogger(__name__)

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


def _shared_cells(plan: Pipeline, step: Step) -> list[tuple[str, int | None]]:
    """The shared code as cells that keep the notebook's cell numbers and line numbers.

    Each definition goes into a cell labelled with the notebook cell it comes
    from, at the same line, so that a traceback through a shared function reads
    `cell N, line L` as in the notebook. Definitions whose origin cannot be
    found (star imports, plans built from bare sources) share one plain cell.
    """
    if not step.shared:
        return []
    sources = _notebook_sources(step.origin or plan.notebook)  # a module's step: its module's cells
    first = min(index for index, _ in step.code) if step.origin and step.code else min(step.cells) if step.cells else 0
    groups: list[list[Any]] = []  # [cell index or None, lines]
    for sdef in step.shared:
        origin = _origin(sdef.source, sources, first)
        lines = sdef.source.split("\n")
        if origin is None:
            if not groups or groups[-1][0] is not None:
                groups.append([None, []])
            groups[-1][1].extend(lines)
            continue
        cell, offset = origin
        if not groups or groups[-1][0] != cell or len(groups[-1][1]) > offset:
            groups.append([cell, []])
        body = groups[-1][1]
        body.extend([""] * (offset - len(body)))
        body.extend(lines)
    out: list[tuple[str, int | None]] = []
    for cell, lines in groups:
        if cell is None:
            header = "# Shared code this step uses (imports, functions, classes, constants)."
            out.append((header + "\n" + "\n".join(lines), None))
            continue
        note = f"# Shared code from cell {cell_number(cell)} of the notebook (same line numbers)."
        if lines and lines[0] == "":
            lines[0] = note
        else:
            lines.append(note)
        out.append(("\n".join(lines).rstrip("\n"), cell))
    return out


def _origin(source: str, sources: list[tuple[int, str]], before: int) -> tuple[int, int] | None:
    """(notebook cell index, line offset) of the latest cell above the step holding `source`."""
    found = None
    for index, text in sources:
        if index >= before and found is not None:
            break
        at = text.find(source)
        while at > 0 and text[at - 1] != "\n":  # inside a line, not a definition of its own
            at = text.find(source, at + 1)
        if at >= 0:
            found = (index, text.count("\n", 0, at))
    return found


def _notebook_sources(path: str | None) -> list[tuple[int, str]]:
    if not path:
        return []
    try:
        stat = os.stat(path)
    except OSError:
        return []
    return _read_sources(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _read_sources(path: str, mtime_ns: int, size: int) -> list[tuple[int, str]]:
    from ..plan.notebook import read_notebook_cells

    try:
        cells = read_notebook_cells(path)
    except Exception:  # noqa: BLE001 - then the shared code simply has no cell label
        logger.debug("could not read the cells of %s", path, exc_info=True)
        return []
    return [(c.index, c.source) for c in cells if c.cell_type == "code"]


def build_bundle(plan: Pipeline, step: Step) -> NotebookNode:
    """The step's notebook, before papermill injects parameters."""
    from itertools import count

    from nbformat import from_dict

    ids = count()

    def new_code_cell(source: str, metadata: dict) -> NotebookNode:
        # built as plain data: nbformat's per-cell schema validation costs milliseconds per step
        return from_dict({"cell_type": "code", "execution_count": None, "id": f"mlpipe-{next(ids)}",
                          "metadata": metadata, "outputs": [], "source": source})

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
            "from jupyter_mlpipe.execute.runtime import begin_step as _mlpipe_begin\n"
            "_mlpipe_begin(globals(), mlpipe_store, mlpipe_inputs, step=mlpipe_step, run_id=mlpipe_run_id, "
            "context=mlpipe_context)",
            metadata={"mlpipe": {"role": "load"}},
        ),
    ]
    for text, cell in _shared_cells(plan, step):
        meta: dict[str, Any] = {"role": "shared"}
        if cell is not None:
            meta["cell"] = cell
        cells.append(new_code_cell(text, metadata={"mlpipe": meta}))
    # the process state the step starts from (random generators, settings) is set after the shared code
    # ran: appended to the last cell before the step's own (no extra cell, no line number moves)
    cells[-1].source += "\nfrom jupyter_mlpipe.execute.runtime import carry_state as _mlpipe_carry; " \
                        "_mlpipe_carry(globals())  # process state, after the shared code"
    for position, (index, body) in enumerate(step.code):
        text = strip_control_lines(body)
        if position == 0:
            text = f"# %%step {step.line}".rstrip() + "\n" + text
        cells.append(new_code_cell(text, metadata={"mlpipe": {"role": "step", "cell": index}}))
    cells.append(new_code_cell(
        "# Save this step's outputs to the artifact store.\n"
        "from jupyter_mlpipe.execute.runtime import end_step as _mlpipe_end\n"
        "_mlpipe_end(globals(), mlpipe_outputs, mlpipe_required)",
        metadata={"mlpipe": {"role": "save"}},
    ))
    return from_dict({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "mlpipe": {"step": step.name, "notebook": plan.notebook},
    }})
