"""Name resolution for the planner: binding the names a step reads, and the errors when one cannot be bound.

Split out of `plan.py` to keep that module to the walk over the cells;
`_ResolveMixin` is one of the bases of `plan._Planner` and is not used on its
own. Also here: `_Def`, an entry of the planner's symbol table, and
`_KNOWN_NAMES`, the names a notebook may read without defining them.

Attributes of the composed class it relies on: `table` (name -> `_Def`),
`steps`, `cells`, `groups`, `warnings`, `last_opaque`, and the method `define`.
"""

from __future__ import annotations

import builtins
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .steps import _CellFailure, _step_facts
from .cells import CellSyntaxError, SharedDef, analyze_cell
from ..errors import PlanError

if TYPE_CHECKING:  # pragma: no cover
    from .model import Step

_KNOWN_NAMES = frozenset(dir(builtins)) | {
    "get_ipython", "display", "In", "Out", "_", "__", "___", "_ih", "_oh", "_dh", "exit", "quit",
    "__file__", "__name__", "__builtins__", "__vsc_ipynb_file__",
}


@dataclass
class _Def:
    """A definition of a name, in notebook order."""

    kind: str  # "step" | "shared" | "computed" | "param" | "hidden"
    cell: int
    step: str | None = None
    shared: list[SharedDef] = field(default_factory=list)
    reason: str = ""  # for "hidden": why the step does not pass it on


class _ResolveMixin:
    """`_Planner`'s name resolution (rule 3: the nearest preceding definition) and its error messages."""

    def resolve(self, step: Step, name: str, cell_index: int, inputs: dict[str, str], params: set[str],
                *, mode: str, via: str | None = None) -> None:
        """Bind one name the step reads. mode: strict (the step's code), free (through a function), soft ($name)."""
        found = self.table.get(name)
        if found is not None:
            kind = found.kind
            if kind == "step":
                inputs[name] = found.step  # type: ignore[assignment]
                return
            if kind == "param":
                params.add(name)
                return
            if kind == "shared" or mode == "soft":
                return
        elif name in _KNOWN_NAMES or mode == "soft":
            return
        reader = f"step {step.name!r} (cell {cell_index})" + (f", through {via}()," if via else "")
        if found is not None and found.kind == "hidden":
            if found.reason == "private":
                raise PlanError(
                    f"{reader} uses {name!r}, which step {found.step!r} keeps private: names starting "
                    "with an underscore are not passed between steps.",
                    step=step.name, cell=cell_index, variable=name,
                    hint=f"Rename it without the underscore in step {found.step!r}.",
                )
            raise PlanError(
                f"{reader} uses {name!r}, which step {found.step!r} defines but does not output "
                f"(its --outputs leaves {name!r} out).",
                step=step.name, cell=cell_index, variable=name,
                hint=f"Add {name!r} to --outputs of step {found.step!r}.",
            )
        if found is not None and found.kind == "computed":
            raise PlanError(
                f"{reader} uses {name!r}, which is computed in cell {found.cell} before the first step "
                "(the preamble), not in a step.",
                step=step.name, cell=cell_index, variable=name,
                hint=f"Move the code that computes {name!r} into a step (put %%step NAME on its cell), "
                "or make it a literal constant; the preamble may hold only imports, functions, classes, "
                "literal constants and the parameters cell.",
            )
        if self.last_opaque is not None:
            old = self.steps[self.last_opaque]
            opaque = dataclasses.replace(old, outputs=sorted({*old.outputs, name}))  # steps are never changed
            self.steps[opaque.name] = opaque
            self.define(name, _Def("step", opaque.cells[0], step=opaque.name))
            inputs[name] = opaque.name
            self.warnings.append(
                f"{reader} uses {name!r}, which no step visibly defines; assuming the opaque step "
                f"{opaque.name!r} does."
            )
            return
        if mode == "free":
            self.warnings.append(f"{reader} reads {name!r}, which no earlier cell defines.")
            return
        params_cell = self.later_parameter(name, step)
        if params_cell is not None:
            raise PlanError(
                f"{reader} uses the parameter {name!r} before the parameters cell (cell {params_cell}) "
                "defines it.",
                step=step.name, cell=cell_index, variable=name,
                hint="Move the cell tagged `parameters` above the first step that uses it.",
            )
        later = self.later_definition(name, step)
        if later is not None:
            raise PlanError(
                f"{reader} uses {name!r} before any step defines it; step {later[0]!r} (cell {later[1]}) "
                "defines it later.",
                step=step.name, cell=cell_index, variable=name,
                hint=f"Move step {step.name!r} after step {later[0]!r}, or define {name!r} earlier.",
            )
        scratch = self.scratch_definition(name)
        if scratch is not None:
            raise PlanError(
                f"{reader} uses {name!r}, which only the scratch cell {scratch} defines; scratch cells "
                "are not part of the pipeline.",
                step=step.name, cell=cell_index, variable=name,
                hint=f"Compute {name!r} in a step (put %%step NAME on that cell), or define it in this step.",
            )
        raise PlanError(
            f"{reader} uses {name!r}, which no cell of the notebook defines.",
            step=step.name, cell=cell_index, variable=name,
            hint=f"Define {name!r} in an earlier step, in the parameters cell, or as a literal constant "
            "before the first step.",
        )

    def later_definition(self, name: str, step: Step) -> tuple[str, int] | None:
        """The first later step that defines `name` (for the error message only)."""
        for cells in self.groups:
            if cells[0].index <= step.cells[0]:
                continue
            try:
                facts = _step_facts(tuple(c.body for c in cells))
            except _CellFailure:
                continue
            if name in facts.defs or name in facts.local_shared:
                offset = 0
                for i, cell in enumerate(cells):
                    try:
                        if name in analyze_cell(cell.body).defs:
                            offset = i
                            break
                    except CellSyntaxError:
                        continue
                return cells[0].step or "?", cells[offset].index
        return None

    def later_parameter(self, name: str, step: Step) -> int | None:
        for cell in self.cells:
            if cell.kind == "parameters" and cell.index > step.cells[0]:
                try:
                    if name in analyze_cell(cell.body).defs:
                        return cell.index
                except CellSyntaxError:
                    continue
        return None

    def scratch_definition(self, name: str) -> int | None:
        for cell in self.cells:
            if cell.kind != "scratch":
                continue
            body = cell.source
            if body.lstrip().startswith("%%scratch"):
                body = body.lstrip().partition("\n")[2]
            try:
                if name in analyze_cell(body).defs:
                    return cell.index
            except CellSyntaxError:
                continue
        return None
