"""Module steps (`%%step NAME --module SOURCE`): another notebook, or a published version of one, as a step.

A module step is expanded at plan time (docs/modules.md):

- a **binding node** named NAME: the cell's assignments (`raw = df`, `window = 7`) and the module's
  defaults for the parameters it does not assign. It runs in the driver, not as a task: a parameter bound
  to a value of this notebook is that value's stored reference, a literal is stored once;
- the module's own steps as `NAME.STEP`, in the module's order, reading its parameters from the binding
  node. Their cache keys are their code, shared code and input digests, as any step's: no name, no
  notebook path, so two notebooks that use one module on the same inputs share its cached steps;
- the module's outputs (its final steps' results, or `--outputs`) are what later steps of this notebook
  see of it.

Names are scoped: a module step reads only its module's names (`Step.scope`); what it hands to the
notebook that uses it is in `Step.exports`; a binding node's outputs are seen only inside its module.
`sees` is the one rule, used by the planner's facts (`learned`) and a run's corrections, so that a
module's `df` is never taken for the notebook's `df`. Nested modules nest the prefixes (`a.b.step`).

Pure: the module's notebook is found by a `ModuleResolver` (paths here; published versions by
`publish.modules`), read and planned by the planner (`ModulePlanner`).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import glob
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from ..errors import ModuleError
from ..vocab import cell_number
from .loop_names import loop_only_names
from .model import Edge, Param, Step
from .notebook import Cell
from .options import StepOptions
from .source import CellSyntaxError, parse_cell

__all__ = ["BindingKind", "ModuleGroup", "ModulePlanner", "ModuleResolver", "ModuleSource", "SEPARATOR",
           "binding_error", "check_cycle", "group_of", "is_module_line", "plan_module_step", "recorded_top_level",
           "resolve_path", "sees", "top_level"]

SEPARATOR = "."  # NAME.STEP: not a character a step name may have, and safe in file names and URLs
BindingKind = Literal["input", "param", "literal", "ref"]
"""A parameter bound to a step's output, a parameter of the notebook, a literal, or (a module cell run in the
kernel, `kernel.modules`) a value stored already: its reference."""


@dataclass(frozen=True)
class ModuleSource:
    """A module's notebook, found: what to read, and how it is named in plans and messages."""

    label: str  # "lib/features.ipynb" (as written) or "features@2"
    path: str  # the .ipynb to read (a published version's verified copy)
    base: str  # the folder its own relative --module paths resolve from
    identity: str  # the same notebook or version gives the same identity (cycles)
    version: int | None = None  # a published version's number


class ModuleResolver(Protocol):
    """SOURCE (as written after --module) and the folder of the notebook using it -> the module."""

    def __call__(self, source: str, *, base: Path, step: str) -> ModuleSource: ...


@dataclass(frozen=True)
class ModuleGroup:
    """One module step of the plan, as one node: its expanded steps and its interface."""

    name: str  # the step name in the notebook that uses it (its binding node)
    source: str  # as written after --module
    label: str
    version: int | None
    notebook: str  # the module notebook that was planned
    steps: tuple[str, ...]  # its expanded steps, the binding node first (nested modules' steps too)
    outputs: tuple[str, ...]
    binding: dict[str, tuple[BindingKind, Any]]
    scope: str = ""  # the module it is inside ("" in the notebook itself)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "label": self.label, "version": self.version,
                "notebook": self.notebook, "steps": list(self.steps), "outputs": list(self.outputs),
                "binding": {p: [kind, what if kind != "literal" else repr(what)]
                            for p, (kind, what) in self.binding.items()},
                "scope": self.scope}


class PlannedModule(Protocol):
    """What planning a module notebook gives (the planner's `PlannedSteps`)."""

    steps: dict[str, Step]
    edges: list[Edge]
    params: dict[str, Param]
    warnings: list[str]
    modules: dict[str, ModuleGroup] | None


class ModulePlanner(Protocol):
    """The planner, as a module step needs it."""

    steps: dict[str, Step]
    warnings: list[str]
    module_groups: dict[str, ModuleGroup]

    def resolve_module(self, source: str, step: str) -> ModuleSource: ...

    def plan_module(self, source: ModuleSource, step: str) -> PlannedModule: ...

    def bind(self, node: Step, name: str, cell: int) -> str | None:
        """The step of this notebook that defines `name` for `node`, None for a parameter (else PlanError)."""

    def define_outputs(self, producers: Mapping[str, str], cell: int) -> None: ...

    def resources_of(self, step: Step) -> dict[str, Any]: ...


# -- finding a module -----------------------------------------------------------------------
def is_module_line(line: str | None) -> bool:
    """A cheap test for a `%%step` line with --module (the planner then plans without checkpoints)."""
    return bool(line) and "--module" in line  # type: ignore[operator]


def is_published(source: str) -> bool:
    """`features@2`, `features@latest`, `features`: a published pipeline; a path ends with .ipynb."""
    return not source.strip().endswith(".ipynb")


def resolve_path(source: str, *, base: Path, step: str) -> ModuleSource:
    """A module given by path (relative to the using notebook's folder): it follows its file."""
    if is_published(source):
        raise ModuleError(
            f"Step {step!r} uses the published pipeline {source!r} as a module, which needs the workspace's "
            "registry: plan through jupyter_mlpipe.api.plan (mlpipe plan, %pipeline plan).", step=step,
            module=source, hint="Or give the module's notebook path (ending in .ipynb).")
    path = (base / source).resolve()
    if not path.is_file():
        close = _meant(source, path, base)
        raise ModuleError(f"Step {step!r}: no module notebook {source!r} (looked for {path}).", step=step,
                          module=source, hint=(f"Did you mean {close}? " if close else "")
                          + "A module's path is relative to the notebook that uses it.")
    return ModuleSource(label=source, path=str(path), base=str(path.parent), identity=str(path))


def _meant(source: str, path: Path, base: Path) -> str | None:
    """The notebook a missing module path probably meant: a close name in the folder it names (compared
    without `.ipynb`, which every candidate shares), else the same file name one or two folders down."""
    if path.parent.is_dir():
        near = {os.path.relpath(p, base).removesuffix(".ipynb"): os.path.relpath(p, base)
                for p in path.parent.glob("*.ipynb")}
        close = difflib.get_close_matches(source.removesuffix(".ipynb"), sorted(near), n=1)
        if close:
            return near[close[0]]
    if not base.is_dir():
        return None
    name = glob.escape(path.name)
    found = sorted(os.path.relpath(p, base) for pattern in (f"*/{name}", f"*/*/{name}") for p in base.glob(pattern)
                   if not any(part.startswith(".") for part in p.relative_to(base).parts))
    return found[0] if found else None


def check_cycle(chain: tuple[str, ...], source: ModuleSource, step: str) -> None:
    """Refuse a module that uses itself, directly or through other modules (`chain`: the notebooks above)."""
    if source.identity in chain:
        names = [*(Path(c).name if c.endswith(".ipynb") else c for c in chain), source.label]
        raise ModuleError(f"Step {step!r}: module {_named(source)} uses itself: {' -> '.join(names)}.", step=step,
                          module=source.label, version=source.version,
                          hint="A module cannot use, directly or through another module, a notebook that uses it.")


def binding_error(step: str, name: str, cell: int) -> ModuleError:
    return ModuleError(f"Step {step!r} (cell {cell_number(cell)}) binds a module parameter to {name!r}, which is "
                       "code (an import, a function, a class or a constant), not a value a step defines.",
                       step=step, cell=cell, variable=name,
                       hint="Assign a step's output, a parameter of this notebook, or a literal.")


# -- the cell: bindings -----------------------------------------------------------------------
def parse_bindings(body: str, step: str, cell: int, module: ModuleSource, params: Mapping[str, Param]
                   ) -> dict[str, tuple[Literal["value", "literal"], Any]]:
    """The cell's assignments: parameter -> ("value", a name of this notebook) or ("literal", its value)."""
    where = f"Step {step!r} (cell {cell_number(cell)}, module {_named(module)})"
    try:
        tree, _ = parse_cell(body)
    except CellSyntaxError as exc:
        raise ModuleError(f"{where}: its cell is not valid Python: {exc}.", step=step, cell=cell,
                          module=module.label, version=module.version) from None
    found: dict[str, tuple[Literal["value", "literal"], Any]] = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if not isinstance(target, ast.Name):
            raise ModuleError(
                f"{where}: its cell may only assign the module's parameters (`raw = df`, `window = 7`), not "
                f"`{ast.unparse(node)[:60]}`.", step=step, cell=cell, module=module.label, version=module.version,
                hint="Compute the value in an earlier step and assign its name here.")
        name = target.id
        if name not in params:
            close = difflib.get_close_matches(name, list(params), n=1)
            raise ModuleError(
                f"{where} has no parameter {name!r}.", step=step, cell=cell, variable=name, module=module.label,
                version=module.version, hint=(f"Did you mean {close[0]!r}? " if close else "")
                + f"Its parameters (the cell tagged 'parameters'): {', '.join(params) or '(none)'}.")
        if isinstance(node.value, ast.Name):
            found[name] = ("value", node.value.id)
            continue
        try:
            found[name] = ("literal", ast.literal_eval(node.value))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ModuleError(
                f"{where}: parameter {name!r} must be assigned a name of this notebook or a literal, not "
                f"`{ast.unparse(node.value)[:60]}`.", step=step, cell=cell, variable=name, module=module.label,
                version=module.version, hint="Compute the value in an earlier step and assign its name here."
            ) from None
    return found


def _named(module: ModuleSource) -> str:
    return module.label if module.version is None or "@" in module.label else f"{module.label}@{module.version}"


# -- scopes -------------------------------------------------------------------------------------
def sees(reader: Step, writer: Step, variable: str) -> bool:
    """Whether `reader`'s code can read the `variable` that `writer` defines (files are everyone's)."""
    if variable.startswith("@file:"):
        return True
    if writer.binding is not None:  # a binding node's outputs are its module's parameters
        return reader.scope == writer.name
    return reader.scope == writer.scope or reader.scope in writer.exports.get(variable, ())


def top_level(step: Step, variable: str) -> bool:
    """Whether the notebook itself (not a module inside it) sees `variable` of `step`."""
    if step.binding is not None:
        return False
    return step.scope == "" or "" in step.exports.get(variable, ())


def recorded_top_level(step: Mapping[str, Any], variable: str) -> bool:
    """`top_level` of a step as a run record keeps it (`Step.to_dict`)."""
    if step.get("binding") is not None:
        return False
    return not step.get("scope") or "" in (step.get("exports") or {}).get(variable, ())


def group_of(name: str, groups: Mapping[str, ModuleGroup]) -> str | None:
    """The outermost module step that `name` belongs to (itself for a binding node), or None."""
    head = name.split(SEPARATOR, 1)[0]
    return head if head in groups else None


# -- the expansion ------------------------------------------------------------------------------
def plan_module_step(planner: ModulePlanner, options: StepOptions, cells: list[Cell]) -> None:
    """Plan a `%%step NAME --module SOURCE` step: its binding node and the module's steps, in `planner`."""
    head, name = cells[0], options.name
    assert options.module is not None
    source = planner.resolve_module(options.module, name)
    inner = planner.plan_module(source, name)
    given = parse_bindings("\n".join(c.body for c in cells), name, head.index, source, inner.params)
    read = sorted({p for s in inner.steps.values() for p in s.params})
    node = Step(name=name, options=options, position=len(planner.steps), line=head.step_line or "",
                cells=[c.index for c in cells], code=[(c.index, c.body) for c in cells])
    binding: dict[str, tuple[BindingKind, Any]] = {}
    sources: dict[str, str] = {}
    for param in sorted(set(read) | set(given)):
        kind, what = given.get(param, ("literal", None))
        if param in given and kind == "value":
            producer = planner.bind(node, what, head.index)  # None: a parameter of this notebook
            binding[param] = ("param", what) if producer is None else ("input", what)
            if producer is not None:
                sources[what] = producer
            continue
        if param not in given:
            default = inner.params[param]
            if default.default is None and "None" not in default.source:
                raise ModuleError(
                    f"Step {name!r} (cell {cell_number(head.index)}): parameter {param!r} of module "
                    f"{_named(source)} has no literal default ({default.source.strip()!r}): assign it in the cell.",
                    step=name, cell=head.index, variable=param, module=source.label, version=source.version,
                    hint=f"Add `{param} = VALUE` (a name of this notebook or a literal) to the cell.")
            what = default.default
        binding[param] = ("literal", what)
    node.binding = binding
    node.outputs = read
    node.input_sources = sources
    node.inputs = sorted(sources)
    node.params = sorted({what for kind, what in binding.values() if kind == "param"})
    node.resources = planner.resources_of(node)
    producers, outputs = _outputs(inner, options, source, head.index)
    producers = {v: producers[v] for v in outputs}  # what this notebook sees of the module
    prefix = name + SEPARATOR
    planner.steps[name] = node
    expanded = []
    for step in inner.steps.values():
        new = _prefixed(step, prefix, name, source, producers, len(planner.steps), node.cells)
        planner.steps[new.name] = new
        expanded.append(new.name)
    planner.warnings.extend(f"module {name} ({_named(source)}): {w}" for w in inner.warnings)
    for group in (inner.modules or {}).values():
        planner.module_groups[prefix + group.name] = dataclasses.replace(
            group, name=prefix + group.name, steps=tuple(prefix + s for s in group.steps),
            scope=name if not group.scope else prefix + group.scope)
    planner.module_groups[name] = ModuleGroup(
        name=name, source=options.module, label=source.label, version=source.version, notebook=source.path,
        steps=(name, *expanded), outputs=tuple(outputs), binding=binding)
    planner.define_outputs({v: prefix + producers[v] for v in outputs}, head.index)


def _outputs(inner: PlannedModule, options: StepOptions, source: ModuleSource, cell: int
             ) -> tuple[dict[str, str], list[str]]:
    """Each value the module defines at its top level -> its last producer; and the module's outputs:
    --outputs, or what its final steps define (what `%pipeline run` of the module brings back)."""
    producers: dict[str, str] = {}
    for step in inner.steps.values():
        for variable in step.outputs:
            if top_level(step, variable) and not variable.startswith(("_", "@")):
                producers[variable] = step.name
    if options.outputs is not None:
        for variable in options.outputs:
            if variable not in producers:
                close = difflib.get_close_matches(variable, list(producers), n=1)
                raise ModuleError(
                    f"Step {options.name!r} (cell {cell_number(cell)}): module {_named(source)} does not define "
                    f"{variable!r} (--outputs).", step=options.name, cell=cell, variable=variable,
                    module=source.label, version=source.version,
                    hint=(f"Did you mean {close[0]!r}? " if close else "")
                    + f"It defines: {', '.join(sorted(producers)) or '(nothing)'}.")
        return producers, list(options.outputs)
    read_from = {e.source for e in inner.edges}
    outputs: list[str] = []
    for variable, producer in producers.items():
        step = inner.steps[producer]
        if producer not in read_from and variable not in loop_only_names(body for _, body in step.code):
            outputs.append(variable)
    return producers, sorted(outputs)


def _prefixed(step: Step, prefix: str, name: str, source: ModuleSource, producers: Mapping[str, str],
              position: int, cells: list[int]) -> Step:
    """A module's step as a step of the notebook that uses it: NAME.STEP, its parameters read from NAME."""

    def outer(scope: str) -> str:
        return name if scope == "" else prefix + scope

    sources = {v: prefix + s for v, s in step.input_sources.items()}
    sources.update({p: name for p in step.params})  # the module's parameters come from its binding node
    exports = {v: tuple(outer(s) for s in scopes) for v, scopes in step.exports.items()}
    for variable, producer in producers.items():
        if producer == step.name:
            exports[variable] = (*exports.get(variable, ()), "")
    binding = None
    if step.binding is not None:  # a nested module's binding node: what was a parameter is now an input
        binding = {p: ("input", what) if kind == "param" else (kind, what) for p, (kind, what) in step.binding.items()}
    new_name = prefix + step.name
    options = dataclasses.replace(step.options, name=new_name, after=tuple(prefix + a for a in step.options.after))
    return dataclasses.replace(
        step, name=new_name, options=options, position=position, cells=list(cells), params=[],
        inputs=sorted(set(step.inputs) | set(step.params)), input_sources=sources, exports=exports,
        scope=outer(step.scope), binding=binding,
        origin=step.origin or source.path)
