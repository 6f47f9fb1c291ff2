"""A `%%step NAME --module SOURCE` cell run in the kernel: the module runs through the pipeline machinery
and its outputs are bound here, so the notebook still runs top to bottom and gives the pipeline's values.

The cell is planned as a notebook of its own (a parameters cell naming the kernel's values it assigns,
then the module cell), so the module is expanded, checked and run exactly as in the notebook's pipeline:
the same binding node, the same module steps on Ray, the same cache (the notebook's store). The kernel's
values the cell assigns are stored first and handed to the binding node as references.
"""

from __future__ import annotations

import ast
import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import MlpipeError
from ..plan.modules import is_published
from ..plan.options import StepOptions
from .session import session_of

__all__ = ["run_module_cell"]


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
    sources.append(f"%%step {_absolute(line, options, folder)}\n{cell}")
    # recorded as a notebook of its own, so this notebook's run list is not mixed with module cells' runs
    plan = Pipeline.from_sources(sources, notebook=str(folder / f".{stem}.{options.name}.module.ipynb"),
                                 compute=config.compute, envs=config.envs, modules=module_resolver())
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


def _absolute(line: str, options: StepOptions, folder: Path) -> str:
    """The %%step line with a module path made absolute (the cell is planned as a notebook elsewhere)."""
    assert options.module is not None
    if is_published(options.module):
        return line
    argv = shlex.split(line, comments=True)
    absolute = str((folder / options.module).resolve())
    for i, arg in enumerate(argv):
        if arg == "--module" and i + 1 < len(argv):
            argv[i + 1] = absolute
        elif arg.startswith("--module="):
            argv[i] = f"--module={absolute}"
    return shlex.join(argv)
