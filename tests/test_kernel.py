"""A real Jupyter kernel (nbclient) running a notebook with %%step cells and %pipeline."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import write_notebook

pytestmark = pytest.mark.slow


def _outputs(nb) -> list[str]:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text") or out.get("data", {}).get("text/plain", "") or out.get("evalue", ""))
    return texts


def test_kernel_runs_steps_plans_and_runs_the_pipeline(tmp_path, ray_address, monkeypatch):
    path = write_notebook(tmp_path / "k.ipynb", [
        "%load_ext jupyter_mlpipe",
        "import math",
        {"source": "n = 3", "tags": ["parameters"]},
        "%%step a\nx = list(range(n))\nprint('a ran', x)",
        "%%step b\ny = sum(x) * 2\nz = math.sqrt(y)",
        "%pipeline plan",
        "%%scratch\ndel x, y, z",
        "%pipeline run -p n=5",
        "%%scratch\nprint('pulled', y)",
        "%pipeline why b",
    ])
    # what jupyter_server does for a notebook's kernel
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(_outputs(nb))
    assert "a ran [0, 1, 2]" in text  # the %%step cell ran in the kernel
    assert f"Plan of {path}" in text and "<- a: x" in text
    assert "2 succeeded" in text
    assert "pulled 20" in text  # sum(range(5)) * 2, with the -p override
    assert "step 'b' succeeded" in text


def test_kernel_without_notebook_plans_executed_cells(tmp_path, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    path = write_notebook(tmp_path / "k.ipynb", [
        "%load_ext jupyter_mlpipe",
        "%%step a\nx = 1",
        "%%step b\ny = x + 1",
        "%pipeline plan",
    ])
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(_outputs(nb))
    assert "planned from the" in text and "cells executed here" in text
    assert "<- a: x" in text


def test_unsaved_edit_is_reported(tmp_path, monkeypatch):
    path = write_notebook(tmp_path / "k.ipynb", [
        "%load_ext jupyter_mlpipe",
        "%%step a\nx = 1",
        "%pipeline plan",
    ])
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = "%%step a\nx = 2  # edited, not saved"
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(_outputs(nb))
    assert "differs from the saved notebook" in text
