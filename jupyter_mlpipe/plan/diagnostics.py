"""The planner's error messages about a notebook's code: what went wrong, in which cell, and how to fix it.

Kept apart from the planning rules because a good message often needs more
of the notebook than the rule that failed: a name no earlier cell defines is
explained by looking for a later step, a later parameters cell or a scratch
cell that defines it. These searches run only on the way to an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import PlanError
from ..vocab import cell_number
from .cells import analyze_cell
from .notebook import Cell
from .source import CellSyntaxError
from .step_facts import CellFailure, step_facts

__all__ = ["Reader", "star_error", "syntax_error", "undefined_error"]


@dataclass(frozen=True)
class Reader:
    """Where a step reads a name: the step, the notebook cell and, for a read inside a function, that function."""

    step: str
    cell: int
    via: str | None = None

    def __str__(self) -> str:
        return f"step {self.step!r} (cell {cell_number(self.cell)})" + (f", through {self.via}()," if self.via else "")

    def error(self, name: str, problem: str, hint: str) -> PlanError:
        """`problem` continues the sentence "step 'x' (cell 3) ..."."""
        return PlanError(f"{self} {problem}", step=self.step, cell=self.cell, variable=name, hint=hint)


def syntax_error(cell: Cell, exc: SyntaxError) -> PlanError:
    offset = 1 if cell.kind == "step" else 0  # the %%step line is not part of the body that was parsed
    line = (exc.lineno or 1) + offset
    where = f"step {cell.step!r}, " if cell.step else ""
    return PlanError(
        f"Syntax error in {where}cell {cell_number(cell.index)} line {line}: {exc.msg}.",
        step=cell.step,
        cell=cell.index,
        hint="Fix the code in that cell; the plan is made from the saved notebook.",
    )


def star_error(module: str, cell: Cell, exc: BaseException) -> PlanError:
    where = f" (step {cell.step!r})" if cell.step else ""
    return PlanError(
        f"Cannot resolve `from {module} import *` in cell {cell_number(cell.index)}{where}: importing {module!r} "
        f"failed ({type(exc).__name__}: {exc}).",
        step=cell.step,
        cell=cell.index,
        variable="*",
        hint=f"Install the module, or import the names you use explicitly: from {module} import a, b.",
    )


def undefined_error(name: str, reader: Reader, first_cell: int, cells: Sequence[Cell],
                    groups: Sequence[Sequence[Cell]]) -> PlanError:
    """No cell before the reader defines `name`: say where it is defined instead, if anywhere.

    `first_cell` is the reading step's first cell, `groups` the cells of every step.
    """
    params_cell = _later_parameter(name, first_cell, cells)
    if params_cell is not None:
        return reader.error(
            name, f"uses the parameter {name!r} before the parameters cell (cell {cell_number(params_cell)}) defines it.",
            hint="Move the cell tagged `parameters` above the first step that uses it.",
        )
    later = _later_definition(name, first_cell, groups)
    if later is not None:
        return reader.error(
            name, f"uses {name!r} before any step defines it; step {later[0]!r} (cell {cell_number(later[1])}) defines it later.",
            hint=f"Move step {reader.step!r} after step {later[0]!r}, or define {name!r} earlier.",
        )
    scratch = _scratch_definition(name, cells)
    if scratch is not None:
        return reader.error(
            name, f"uses {name!r}, which only the scratch cell {cell_number(scratch)} defines; scratch cells are not part of "
            "the pipeline.",
            hint=f"Compute {name!r} in a step (put %%step NAME on that cell), or define it in this step.",
        )
    close = _close_name(name, first_cell, cells)
    return reader.error(
        name, f"uses {name!r}, which no cell of the notebook defines.",
        hint=(f"Did you mean {close!r}? " if close else "") + f"Define {name!r} in an earlier step, in the parameters "
        "cell, or as a literal constant before the first step.",
    )


def _close_name(name: str, first_cell: int, cells: Sequence[Cell]) -> str | None:
    """A name defined above the reader that is spelled almost like `name` (a typo's likely meaning)."""
    import difflib

    defined: set[str] = set()
    for cell in cells:
        if cell.index < first_cell:
            try:
                defined |= set(analyze_cell(cell.body).defs)
            except CellSyntaxError:
                continue
    close = difflib.get_close_matches(name, sorted(defined), n=1)
    return close[0] if close else None


def _defines(name: str, body: str) -> bool:
    try:
        return name in analyze_cell(body).defs
    except CellSyntaxError:
        return False


def _later_definition(name: str, first_cell: int, groups: Sequence[Sequence[Cell]]) -> tuple[str, int] | None:
    """The first later step that defines `name`, and the cell where it does."""
    for cells in groups:
        if cells[0].index <= first_cell:
            continue
        try:
            facts = step_facts(tuple(c.body for c in cells))
        except CellFailure:
            continue
        if name in facts.defs or name in facts.local_shared:
            at = next((cell.index for cell in cells if _defines(name, cell.body)), cells[0].index)
            return cells[0].step or "?", at
    return None


def _later_parameter(name: str, first_cell: int, cells: Sequence[Cell]) -> int | None:
    for cell in cells:
        if cell.kind == "parameters" and cell.index > first_cell and _defines(name, cell.body):
            return cell.index
    return None


def _scratch_definition(name: str, cells: Sequence[Cell]) -> int | None:
    for cell in cells:
        if cell.kind != "scratch":
            continue
        body = cell.source
        if body.lstrip().startswith("%%scratch"):
            body = body.lstrip().partition("\n")[2]
        if _defines(name, body):
            return cell.index
    return None
