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
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import PlanError
from ..vocab import cell_number
from .options import parse_step_line
from .source import strip_control_lines

__all__ = ["Cell", "CellKind", "classify", "read_notebook_cells"]

_PIPELINE_LINE = re.compile(r"^\s*%pipeline\b", re.MULTILINE)
STEP_MAGIC = "%%step"
SCRATCH_MAGIC = "%%scratch"
CellKind = Literal["step", "continuation", "preamble", "parameters", "scratch", "control", "other", ""]


@dataclass(slots=True)
class Cell:
    """One notebook cell: its index in the notebook (markdown counted, from 0) and its role.

    Treat it as read-only. (Not a frozen dataclass only because those are three
    times slower to create, and a re-plan creates one per cell of the notebook.)
    """

    index: int
    source: str
    cell_type: str = "code"
    tags: tuple[str, ...] = ()
    kind: CellKind = ""  # "" until classified
    step: str | None = None
    step_line: str | None = None  # text after %%step
    body: str = ""  # the code the planner and the bundle use (%%step line removed)
    extra: dict = field(default_factory=dict, compare=False)


def _first_line(source: str) -> str:
    text = source.lstrip("\n")
    end = text.find("\n")
    return (text if end < 0 else text[:end]).strip()


def _body_after_first_line(source: str) -> str:
    text = source.lstrip("\n")
    return text.split("\n", 1)[1] if "\n" in text else ""


def read_notebook_cells(path: str | os.PathLike) -> list[Cell]:
    """Read an .ipynb (plain JSON: fast, and no nbformat validation needed to plan)."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise PlanError(f"No notebook at {str(path)!r}.", hint="Check the path (relative to the current folder).") from None
    except IsADirectoryError:
        raise PlanError(f"{str(path)!r} is a folder, not a notebook.") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise PlanError(f"{str(path)!r} is not a readable .ipynb notebook: {exc}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise PlanError(f"{str(path)!r} is not a notebook: it has no list of cells.",
                        hint="Pass a .ipynb file saved by Jupyter.")
    items = []
    append = items.append
    for index, raw in enumerate(data["cells"]):
        if raw.__class__ is not dict:
            raise PlanError(f"{str(path)!r}: cell {cell_number(index)} is not a notebook cell (a JSON object).",
                            cell=index, hint="Open and re-save the notebook in Jupyter.")
        source = raw.get("source", "")
        if source.__class__ is not str:
            source = _join_source(source)
        metadata = raw.get("metadata")
        cell_type = raw.get("cell_type", "code")
        append((index, source, cell_type if cell_type.__class__ is str else "code",
                _tags(metadata) if metadata else ()))
    return _classify(items)


def _join_source(source: object) -> str:
    """nbformat stores a cell's source as a string or a list of lines."""
    if isinstance(source, list):
        try:
            return "".join(source)
        except TypeError:
            return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def _tags(metadata: object) -> tuple[str, ...]:
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    if not tags:
        return ()
    if isinstance(tags, str):
        return (tags,)
    if isinstance(tags, list):
        return tuple(t for t in tags if isinstance(t, str))
    return ()


def classify(cells: list[Cell]) -> list[Cell]:
    """Give each cell its role; see the module docstring for the rules."""
    return _classify([(c.index, c.source, c.cell_type, c.tags, c.extra) for c in cells])


def _classify(items: list[tuple]) -> list[Cell]:
    out: list[Cell] = []
    append = out.append
    current: str | None = None
    for item in items:
        index, source, cell_type, tags = item[:4]
        extra = item[4] if len(item) > 4 else {}
        if cell_type != "code":
            append(Cell(index, source, cell_type, tags, "other", None, None, "", extra))
            continue
        # most cells are plain code: rule out the magics and control cells with cheap tests first
        magic = source.lstrip("\n").startswith("%%")
        first = _first_line(source) if magic else ""
        if magic and first.startswith(STEP_MAGIC) and (len(first) == len(STEP_MAGIC)
                                                       or first[len(STEP_MAGIC)].isspace()):
            line = first[len(STEP_MAGIC):].strip()
            try:
                name = parse_step_line(line).name
            except PlanError:
                name = line.split()[0] if line.split() else ""
            current = name
            append(Cell(index, source, cell_type, tags, "step", name, line, _body_after_first_line(source), extra))
        elif (magic and first.startswith(SCRATCH_MAGIC)) or "scratch" in tags:
            append(Cell(index, source, cell_type, tags, "scratch", None, None, "", extra))
        elif ("%" in source or not source or source.isspace()) and _is_control(source):
            # a cell that runs the pipeline drives it and cannot be part of a step
            kind = "control" if source.strip() else "other"
            append(Cell(index, source, cell_type, tags, kind, None, None, "", extra))
        elif "parameters" in tags:
            append(Cell(index, source, cell_type, tags, "parameters", None, None, source, extra))
        elif current is None:
            append(Cell(index, source, cell_type, tags, "preamble", None, None, source, extra))
        else:
            append(Cell(index, source, cell_type, tags, "continuation", current, None, source, extra))
    return out


def _is_control(source: str) -> bool:
    """Empty, or made of `%pipeline` / `%load_ext jupyter_mlpipe` lines, or running `%pipeline`."""
    if not source or source.isspace():
        return True
    if "%pipeline" in source:
        if _PIPELINE_LINE.search(source):
            return True
    elif "load_ext" not in source:
        return False
    return not strip_control_lines(source).strip()
