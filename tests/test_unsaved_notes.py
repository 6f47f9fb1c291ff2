"""The kernel's "unsaved edits?" notes: they compare what ran in the kernel with the saved notebook, in time order.

A step cell that ran after the last save may hold edits the file lacks (warn); a file saved after the
cell ran is at least as new as the kernel's copy (the user edited, saved and did not re-run the cell:
no warning, the plan uses the saved text).
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest

from conftest import write_notebook
from jupyter_mlpipe.kernel.session import KernelSession

SAVED = ["%load_ext jupyter_mlpipe", "%%step train\nmodel = 2  # edited", "%pipeline run"]


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "pipe.ipynb"))
    shell = SimpleNamespace(user_ns={}, execution_count=3)
    return KernelSession(shell)


def _save(path, cells, at: float) -> None:
    write_notebook(path, cells)
    os.utime(path, (at, at))


def _notes(session: KernelSession) -> list[str]:
    return session.plan().notes


def test_edited_saved_and_not_rerun_is_no_unsaved_edit(session, tmp_path):
    """The issue's case: run `train`, edit it, save, `%pipeline run`: the saved file is the editor's text."""
    session.register("train", "train", "model = 1")
    _save(tmp_path / "pipe.ipynb", SAVED, time.time() + 5)  # saved after the cell ran
    assert _notes(session) == []


def test_edited_run_and_not_saved_still_warns(session, tmp_path):
    _save(tmp_path / "pipe.ipynb", SAVED, 1_000_000)
    session.register("train", "train", "model = 3  # run, never saved")
    notes = _notes(session)
    assert len(notes) == 1
    assert notes[0].startswith("Step 'train' differs from the saved notebook (unsaved edits?)")


def test_an_options_edit_run_and_not_saved_warns(session, tmp_path):
    _save(tmp_path / "pipe.ipynb", SAVED, 1_000_000)
    session.register("train", "train --gpus 1", "model = 2  # edited")
    notes = _notes(session)
    assert len(notes) == 1 and notes[0].startswith("Step 'train' differs from the saved notebook")


def test_same_text_run_after_the_save_is_no_difference(session, tmp_path):
    _save(tmp_path / "pipe.ipynb", SAVED, 1_000_000)
    session.register("train", "train", "model = 2  # edited\n")
    assert _notes(session) == []


def test_a_renamed_step_warns_only_until_saved(session, tmp_path):
    _save(tmp_path / "pipe.ipynb", SAVED, 1_000_000)
    session.register("fit", "fit", "model = 2")  # renamed in the editor and run
    notes = _notes(session)
    assert len(notes) == 1 and notes[0].startswith("Step 'fit' was run in this kernel but is not in the saved")
    # saved afterwards (as `train` again, or deleted): the saved notebook is the newer text
    os.utime(tmp_path / "pipe.ipynb", (time.time() + 5,) * 2)
    assert _notes(session) == []
