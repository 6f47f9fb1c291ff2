"""The kernel side: which notebook this kernel belongs to, and the steps run here.

JupyterLab and Notebook 7 (jupyter_server >= 2) start kernels with
`JPY_SESSION_NAME` set to the notebook's path; VS Code puts the path in the
user namespace as `__vsc_ipynb_file__`. Without either (a terminal IPython)
the plan is made from the cells executed in this kernel, in execution order.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KernelSession", "PlanSource", "find_notebook_path", "session_of"]


@dataclass
class RegisteredStep:
    """A `%%step` cell as it last ran in this kernel, and when (seconds since the epoch)."""

    name: str
    line: str
    body: str
    execution_count: int | None
    ran_at: float = field(default_factory=time.time)


@dataclass
class PlanSource:
    """A plan and where it came from, with notes for the user."""

    plan: Any
    notebook: str | None
    notes: list[str] = field(default_factory=list)


class KernelSession:
    """Per-kernel state of the extension: registered steps and the start directory."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.start_dir = os.getcwd()
        self.steps: dict[str, RegisteredStep] = {}
        self.last_run: Any = None

    def register(self, name: str, line: str, body: str) -> None:
        count = getattr(self.shell, "execution_count", None)
        self.steps[name] = RegisteredStep(name, line, body, count)

    def on_step_cell(self) -> None:
        """A %%step cell ran: the user is building a pipeline, so Ray starts in the background.

        Not on `%load_ext` itself: a kernel that only plans never starts Ray.
        MLPIPE_RAY_PRESTART=0 turns this off.
        """
        if os.environ.get("MLPIPE_RAY_PRESTART", "1") == "0":
            return
        from ..config import load_config
        from ..execute.ray_connect import warm_up

        path = self.notebook_path()
        config = load_config(path.parent if path else self.start_dir)
        warm_up(config.ray_address, private=config.ray_private, idle_minutes=config.ray_idle_minutes)

    def display_listener(self) -> Any:
        """The live run panel where widgets render; text updated in place elsewhere."""
        from ..panel import make_display_listener
        from ..text import TextProgress

        return make_display_listener(fallback=lambda: TextProgress(in_place=True))

    def notebook_for_run(self) -> tuple[str, list[str]]:
        """The saved notebook, or (plain IPython) the executed cells written to a notebook file; notes."""
        source = self.plan()
        if source.notebook is not None:
            return source.notebook, source.notes
        import nbformat
        from nbformat.v4 import new_code_cell, new_notebook

        folder = Path(self.start_dir) / ".mlpipe"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "kernel-session.ipynb"
        nbformat.write(new_notebook(cells=[new_code_cell(c) for c in self.executed_cells()]), path)
        return str(path), source.notes

    def notebook_path(self) -> Path | None:
        return find_notebook_path(self.shell.user_ns, os.environ, self.start_dir)

    def plan(self) -> PlanSource:
        """Plan this kernel's notebook from the saved file, or from the cells run here."""
        from ..api import plan as plan_of
        from ..plan import Pipeline

        path = self.notebook_path()
        if path is not None:
            saved_at = path.stat().st_mtime  # before reading: a save in between is then not missed
            plan = plan_of(path)
            notes = self.unsaved_notes(plan, saved_at)
            return PlanSource(plan, str(path), notes)
        from ..config import load_config

        cells = self.executed_cells()
        config = load_config(self.start_dir)  # the mlpipe.toml here: compute targets, [env.NAME] tables
        plan = Pipeline.from_sources(cells, compute=config.compute, envs=config.envs)
        return PlanSource(
            plan,
            None,
            [("No notebook file is known for this kernel (a terminal IPython?): planned from the "
             f"{len(cells)} cells executed here, in execution order.")],
        )

    def executed_cells(self) -> list[str]:
        history = list(getattr(self.shell.history_manager, "input_hist_raw", []))[1:]
        return [src for src in history if src.strip()]

    def unsaved_notes(self, plan: Any, saved_at: float) -> list[str]:
        """Steps whose last run in this kernel has edits the saved notebook (saved at `saved_at`) lacks.

        Only a step cell run *after* the last save can hold such edits. One saved after it ran is at
        least as new as the kernel's copy: when they differ, the editor's text was saved and the cell
        not re-run, and the plan rightly uses the saved text, so that is no reason to warn.
        """
        notes = []
        for name, registered in self.steps.items():
            if registered.ran_at <= saved_at:
                continue
            step = plan.steps.get(name)
            if step is None:
                notes.append(
                    f"Step {name!r} was run in this kernel but is not in the saved notebook "
                    "(unsaved edits or a renamed step?): save the notebook to include it."
                )
                continue
            if step.code and (step.code[0][1].strip() != registered.body.strip() or
                              step.line.strip() != registered.line.strip()):
                notes.append(
                    f"Step {name!r} differs from the saved notebook (unsaved edits?): the plan uses the "
                    "saved version; save the notebook to plan your edits."
                )
        return notes


def find_notebook_path(user_ns: dict, environ: os._Environ | dict, start_dir: str) -> Path | None:
    """The notebook this kernel belongs to, if the front end told us."""
    vsc = user_ns.get("__vsc_ipynb_file__")
    if isinstance(vsc, str) and vsc.endswith(".ipynb") and os.path.isfile(vsc):
        return Path(vsc)
    session = environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb"):
        candidate = Path(session)
        if candidate.is_absolute():
            return candidate if candidate.is_file() else None
        # a path relative to the server root: the kernel starts in the notebook's folder
        base = Path(start_dir)
        for folder in [base, *base.parents]:
            if (folder / candidate).is_file():
                return folder / candidate
    return None


_SESSIONS: dict[int, KernelSession] = {}


def session_of(shell: Any) -> KernelSession:
    """The extension's state for this shell (one per kernel)."""
    key = id(shell)
    if key not in _SESSIONS:
        _SESSIONS[key] = KernelSession(shell)
    return _SESSIONS[key]
