"""The differential harness: a notebook run as a pipeline against the same cells run top to bottom.

Used by tests/test_fidelity.py and bench/fidelity_bench.py. Each case becomes
notebooks (one step per cell, and cells grouped two to a step); each notebook
runs three times in one folder: as written, then with one cell edited, then with
another edited, so reuse is checked against the edited notebook's own values.

Outcomes: "identical" (same values), "corrected" (same values after the run
corrected itself), "refused" (the run failed and said why), "silent" (the run
said succeeded with other values: the bug this product must never have).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Outcome = Literal["identical", "corrected", "refused", "silent", "oracle-failed"]
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    id: str
    cells: tuple[str, ...]
    check: str
    preamble: str = ""
    expect: Literal["same", "refuse"] = "same"
    files: tuple[tuple[str, str], ...] = ()  # files in the notebook's folder before the run
    category: str = ""
    requires: str | None = None  # a package the case needs (skipped without it)


@dataclass
class Result:
    notebook: str
    outcome: Outcome
    expected: str | None = None
    actual: str | None = None
    error: str | None = None
    corrections: list[str] = field(default_factory=list)
    reruns: int = 0


def cases_from(rows: list[tuple], preamble: str, category: str) -> list[Case]:
    out = []
    for row in rows:
        ident, cells, check, *rest = row
        extra = rest[0] if rest else {}
        out.append(Case(ident, tuple(cells), check, preamble, extra.get("expect", "same"),
                        tuple(extra.get("files", {}).items()), category, extra.get("requires")))
    return out


# -- notebooks ---------------------------------------------------------------------------------

def step_cells(case: Case, cells: tuple[str, ...], grouped: bool) -> list[str]:
    """The notebook's code cells: preamble, steps, and a last step that turns the checks into `verdict`."""
    out = ["%load_ext jupyter_mlpipe"]
    if case.preamble:
        out.append(case.preamble)
    for index, source in enumerate(cells):
        if grouped and index % 2 == 1:
            out.append(source)  # a plain cell belongs to the step above it
        else:
            out.append(f"%%step s{index}\n{source}")
    out.append(f"%%step verdict\nverdict = repr(({case.check},))")
    return out


def plain_cells(case: Case, cells: tuple[str, ...]) -> list[str]:
    out = [case.preamble] if case.preamble else []
    return [*out, *cells, f"verdict = repr(({case.check},))"]


_INT = re.compile(r"(?<![\w.'\"])(\d+)(?![\w.'\"])")


def edits(case: Case) -> list[list[tuple[str, ...]]]:
    """Two edits, each with its fallbacks: a number changed in the first cell that has one (or, where that
    breaks the notebook itself, a line added to the first cell); a line added to the last cell."""
    cells = list(case.cells)
    bumped = list(cells)
    for index, source in enumerate(cells):
        match = _INT.search(source)
        if match:
            bumped[index] = source[:match.start()] + str(int(match.group(1)) + 1) + source[match.end():]
            break
    touched_first = [cells[0] + "\n_edited = 1", *cells[1:]]
    touched_last = [*cells[:-1], cells[-1] + "\n_edited = 1"]
    return [[tuple(bumped), tuple(touched_first)], [tuple(touched_last)]]


def write_notebook(path: Path, sources: list[str]) -> Path:
    cells = [{"id": f"c{i}", "cell_type": "code", "metadata": {}, "source": s, "outputs": [],
              "execution_count": None} for i, s in enumerate(sources)]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
    return path


# -- the oracle --------------------------------------------------------------------------------

class Oracle:
    """One long-lived process that runs notebooks top to bottom, each in a fork of itself."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, str(HERE / "oracle.py")], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        self._lock = threading.Lock()

    def run(self, cells: list[str], cwd: Path) -> dict:
        with self._lock:
            assert self._proc.stdin and self._proc.stdout
            self._proc.stdin.write(json.dumps({"cells": cells, "cwd": str(cwd)}) + "\n")
            self._proc.stdin.flush()
            return json.loads(self._proc.stdout.readline())

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)


# -- one notebook, three runs -------------------------------------------------------------------

def prepare_folder(case: Case, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in case.files:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def copy_user_files(folder: Path, target: Path) -> None:
    """The notebook's folder as its own cells see it: without the store, the notebook and the oracles' folders.
    A notebook that appends to a file it does not create gives another value each time it runs in place."""
    import shutil

    shutil.copytree(folder, target, ignore=lambda where, names: [
        n for n in names if Path(where) == folder and (n in (".mlpipe", "nb.ipynb") or n.startswith("oracle"))])


def check_notebook(case: Case, folder: Path, oracle: Oracle, *, grouped: bool) -> list[Result]:
    """Run the case as written and twice edited, each against its own top-to-bottom oracle: the first in the
    folder as the case prepares it, each edit in a copy of the folder as the run before left it."""
    import shutil

    import jupyter_mlpipe

    results = []
    label = f"{case.id}[{'grouped' if grouped else 'per-cell'}]"
    for attempt, choices in enumerate([[case.cells], *edits(case)]):
        name = f"{label} edit {attempt}" if attempt else label
        oracle_dir = folder / f"oracle{attempt}"
        for cells in choices:  # the first edit that the notebook itself survives
            if oracle_dir.exists():
                shutil.rmtree(oracle_dir)
            if attempt == 0:
                prepare_folder(case, oracle_dir)
            else:  # re-run where the last run left the folder, as a person re-running the notebook does
                copy_user_files(folder, oracle_dir)
            expected = oracle.run(plain_cells(case, cells), oracle_dir)
            if "error" not in expected:
                break
        if "error" in expected:
            results.append(Result(name, "oracle-failed", error=expected["error"]))
            break
        if attempt == 0:
            prepare_folder(case, folder)
        path = write_notebook(folder / "nb.ipynb", step_cells(case, cells, grouped))
        try:
            run = jupyter_mlpipe.run(path)
        except jupyter_mlpipe.MlpipeError as exc:  # refused before it ran (a plan error)
            results.append(Result(name, "refused", expected["verdict"], error=str(exc)))
            continue
        corrections = list(getattr(run, "corrections", []) or [])
        reruns = sum(1 for c in corrections if " re-ran" in c)
        if run.status != "succeeded":
            errors = "; ".join(f"{n}: {s.error}" for n, s in run.steps.items() if s.error)
            results.append(Result(name, "refused", expected["verdict"], error=errors or str(run.error),
                                  corrections=corrections, reruns=reruns))
            continue
        actual = run["verdict"]
        outcome: Outcome = ("corrected" if corrections else "identical") if actual == expected["verdict"] \
            else "silent"
        results.append(Result(name, outcome, expected["verdict"], actual, corrections=corrections, reruns=reruns))
    return results
