"""Shared fixtures: one real local Ray for the whole suite, notebooks written on the fly."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ["MLPIPE_RAY_PRESTART"] = "0"


@pytest.fixture(scope="session", autouse=True)
def local_ray_home(tmp_path_factory):
    """The shared local Ray head of the suite's processes that run without a cluster address lives here,
    not in the user's cache folder, and is stopped at the end."""
    home = tmp_path_factory.mktemp("rayhome")
    os.environ["MLPIPE_RAY_HOME"] = str(home)
    yield home
    from jupyter_mlpipe.execute.ray_head import stop_head

    stop_head()


@pytest.fixture(scope="session")
def ray_address():
    """A real local Ray (2 CPUs, one fake GPU) shared by every test that runs steps.

    Subprocesses (CLI, kernels) connect to it through MLPIPE_RAY_ADDRESS.
    """
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
    address = ray.get_runtime_context().gcs_address
    os.environ["MLPIPE_RAY_ADDRESS"] = address
    yield address


def write_notebook(path: Path, cells: list, metadata: dict | None = None) -> Path:
    """Cells are sources, or dicts with source/tags/cell_type."""
    nb_cells = []
    for index, cell in enumerate(cells):
        if isinstance(cell, str):
            cell = {"source": cell}
        nb_cells.append({
            "id": f"cell-{index}",  # nbformat 4.5 wants cell ids
            "cell_type": cell.get("cell_type", "code"),
            "metadata": {"tags": list(cell.get("tags", []))},
            "source": cell["source"],
            **({"outputs": [], "execution_count": None} if cell.get("cell_type", "code") == "code" else {}),
        })
    nb = {"cells": nb_cells, "metadata": metadata or {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
    return path


@pytest.fixture
def notebook(tmp_path):
    """write a notebook into a fresh folder: notebook(cells) -> path."""

    def make(cells: list, name: str = "pipe.ipynb") -> Path:
        return write_notebook(tmp_path / name, cells)

    return make


def mlpipe_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 240):
    import subprocess

    return subprocess.run([sys.executable, "-m", "jupyter_mlpipe.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
