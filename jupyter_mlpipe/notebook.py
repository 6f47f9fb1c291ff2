"""A notebook as the planner sees it: code cells classified by their role.

Step boundaries (documented in docs/concepts.md):
- a cell whose first line is `%%step NAME ...` starts a step; the plain code
  cells after it belong to the same step, up to the next `%%step` cell;
- `%%scratch` as the first line, or the cell tag `scratch`, leaves a cell out;
- a cell made only of `%pipeline ...` / `%load_ext jupyter_mlpipe` lines drives
  the pipeline and is left out;
- code cells before the first step are the preamble; the cell tagged
  `parameters` holds the pipeline parameters;
- markdown and raw cells are ignored.
"""

from __future__ import annotations

import json
import re
import os
from dataclasses import dataclass, field
from pathlib import Path

from .analysis import strip_control_lines
from .errors import PlanError

__all__ = ["Cell", "read_notebook_cells", "classify"]

_PIPELINE_LINE = re.compile(r"^\s*%pipeline\b", re.MULTILINE)
STEP_MAGIC = "%%step"
SCRATCH_MAGIC = "%%scratch"


@dataclass(frozen=True)
class Cell:
    """One notebook cell: its index in the notebook (markdown counted, from 0) and its role."""

    index: int
    source: str
    cell_type: str = "code"
    tags: tuple[str, ...] = ()
    kind: str = ""  # "step" | "continuation" | "preamble" | "parameters" | "scratch" | "control" | "other"
    step: str | None = None
    step_line: str | None = None  # text after %%step
    body: str = ""  # the code the planner and the bundle use (%%step line removed)
    extra: dict = field(default_factory=dict, compare=False)


def _first_line(source: str) -> str:
    return source.lstrip("\n").split("\n", 1)[0].strip()


def _body_after_first_line(source: str) -> str:
    text = source.lstrip("\n")
    return text.split("\n", 1)[1] if "\n" in text else ""


def read_notebook_cells(path: str | os.PathLike) -> list[Cell]:
    """Read an .ipynb (plain JSON: fast, and no nbformat validation needed to plan)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise PlanError(f"No notebook at {str(path)!r}.", hint="Check the path (relative to the current folder).") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlanError(f"{str(path)!r} is not a readable .ipynb notebook: {exc}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise PlanError(f"{str(path)!r} is not a notebook: it has no list of cells.",
                        hint="Pass a .ipynb file saved by Jupyter.")
    cells = []
    for index, raw in enumerate(data["cells"]):
        source = raw.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        tags = tuple((raw.get("metadata") or {}).get("tags") or ())
        cells.append(Cell(index=index, source=source, cell_type=raw.get("cell_type", "code"), tags=tags))
    return classify(cells)


def classify(cells: list[Cell]) -> list[Cell]:
    """Give each cell its role; see the module docstring for the rules."""
    out: list[Cell] = []
    current: str | None = None
    for cell in cells:
        first = _first_line(cell.source)
        if cell.cell_type != "code":
            out.append(_with(cell, kind="other"))
            continue
        if first.startswith(STEP_MAGIC) and (len(first) == len(STEP_MAGIC) or first[len(STEP_MAGIC)].isspace()):
            line = first[len(STEP_MAGIC):].strip()
            from .options import parse_step_line

            try:
                name = parse_step_line(line).name
            except PlanError:
                name = line.split()[0] if line.split() else ""
            current = name
            out.append(_with(cell, kind="step", step=name, step_line=line, body=_body_after_first_line(cell.source)))
        elif first.startswith(SCRATCH_MAGIC) or "scratch" in cell.tags:
            out.append(_with(cell, kind="scratch"))
        elif not strip_control_lines(cell.source).strip() or _PIPELINE_LINE.search(cell.source):
            # a cell that runs the pipeline drives it and cannot be part of a step
            out.append(_with(cell, kind="control" if cell.source.strip() else "other"))
        elif "parameters" in cell.tags:
            out.append(_with(cell, kind="parameters", body=cell.source))
        elif current is None:
            out.append(_with(cell, kind="preamble", body=cell.source))
        else:
            out.append(_with(cell, kind="continuation", step=current, body=cell.source))
    return out


def _with(cell: Cell, kind: str, step: str | None = None, step_line: str | None = None, body: str = "") -> Cell:
    """A copy of the cell with its role (direct construction: dataclasses.replace is slow for 5,000 cells)."""
    return Cell(cell.index, cell.source, cell.cell_type, cell.tags, kind, step, step_line, body, cell.extra)
