"""A `%%step NAME --module SOURCE` cell run in the kernel: the module runs through the pipeline machinery
and its outputs are bound here, so the notebook still runs top to bottom and gives the pipeline's values.

The cell is planned as a notebook of its own (a parameters cell naming the kernel's values it assigns,
then the module cell, at the index it has in the saved notebook so that an error names the cell a person
sees), in the notebook's folder, so the module is expanded, checked and run exactly as in the notebook's pipeline:
the same binding node, the same module steps on Ray, the same cache (the notebook's store). The kernel's
values the cell assigns are stored first and handed to the binding node as references.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import MlpipeError, PlanError
from ..plan.modules import is_published
from ..plan.options import StepOptions
from .session import session_of

__all__ = ["run_module_cell"]

logger = logging.getLogger(__name__)

_CELL_NUMBER = re.compile(r" \(cell \d+\)|(?<=\()cell \d+, ")


def run_module_cell(shell: Any, options: StepOptions, line: str, cell: str) -> bool:
    """Run the module; bind its outputs in the kernel. False when the run failed (its summary printed)."""
    from ..execute.runner import RunOptions, start_run
    from ..plan import Pipeline
    from ..publish.modules import module_resolver
    from ..store.artifacts import ArtifactStore
    from ..store.history import History
    from ..store.paths import store_for

    session = session_of(shell)
    path = session.notebook_path()
    folder = path.parent if path is not None else Path(session.start_dir)
    stem = path.stem if path is not None else "kernel"
    names = _value_names(cell)
    missing = [n for n in names if n not in shell.user_ns]
    if missing:
        raise MlpipeError(f"Step {options.name!r} assigns {missing[0]!r} to a module parameter, and {missing[0]!r} "
                          "is not defined in this kernel.", hint="Run the cells above this one first.")
    where, config = store_for(path if path is not None else folder / "_.ipynb")
    sources: list[str | dict] = []
    if names:
        sources.append({"source": "\n".join(f"{n} = None" for n in names), "tags": ["parameters"]})
    index = _saved_index(path, line, cell)
    found = index is not None
    sources += [""] * max(0, (index or 0) - len(sources))
    sources.append(f"%%step {line}\n{cell}")
    # recorded as a notebook of its own, so this notebook's run list is not mixed with module cells' runs
    try:
        plan = Pipeline.from_sources(sources, notebook=str(folder / f".{stem}.{options.name}.module.ipynb"),
                                     compute=config.compute, envs=config.envs, modules=module_resolver())
    except PlanError as exc:
        if found:
            raise
        # a cell number here would count the made-up notebook's cells: this cell is the one running
        raise dataclasses.replace(exc, message=_CELL_NUMBER.sub("", exc.message), cell=None) from None
    group = plan.modules[options.name]
    node = plan.steps[options.name]
    artifacts = ArtifactStore(where.artifacts_root)
    binding = dict(node.binding or {})
    for param, (kind, what) in binding.items():
        if kind == "param":  # a kernel value: stored now, handed on by reference
            binding[param] = ("ref", artifacts.put(shell.user_ns[what], variable=param, step=options.name).to_dict())
    plan.steps[options.name] = dataclasses.replace(node, binding=binding, params=[])
    run_options = RunOptions(**config.run_options(None, None))
    run = start_run(plan, params={n: None for n in names}, store=where, history=History(where.history_path),
                    options=run_options, listeners=[session.display_listener()])
    if run.status != "succeeded":
        print(run.summary(), file=sys.stderr)
        return False
    values = run.values(list(group.outputs))
    shell.push(values)
    label = group.label if is_published(options.module or "") else options.module  # as written, not absolute
    print(f"{options.name}: module {label} ran; bound {', '.join(values) or '(nothing)'}")
    return True


def _value_names(cell: str) -> list[str]:
    """The names of this kernel the cell assigns to parameters (`raw = df`); the planner checks the rest."""
    from ..plan.source import CellSyntaxError, parse_cell

    try:
        tree, _ = parse_cell(cell)
    except CellSyntaxError:
        return []
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id not in found:
            found.append(node.value.id)
    return found


def _saved_index(path: Path | None, line: str, cell: str) -> int | None:
    """Where this cell is in the saved notebook (errors name it as a person counts it), if it is there."""
    if path is None or not path.is_file():
        return None
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        logger.info("could not read %s to find the module cell: %s", path, exc)
        return None
    want = f"%%step {line}\n{cell}".strip()
    for i, saved in enumerate(nb.cells):
        if saved.cell_type == "code" and saved.source.strip() == want:
            return i
    return None
