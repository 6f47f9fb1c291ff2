"""The artifact store's disk fills up while a step writes: a real, small tmpfs.

The step fails with an error that says what happened and where; no partial
artifact is left; the store stays consistent, so after the space is freed (here:
a smaller value) the next run works and reuses what was stored before.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import write_notebook


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_store_fails_the_step_clearly_and_leaves_no_partial_artifact(small_disk, tmp_path, ray_address):
    import jupyter_mlpipe

    store = small_disk / "store"
    (tmp_path / "mlpipe.toml").write_text(f'store = "{store}"\n')
    cells = ["%%step small\nimport numpy as np\nbase = np.arange(1000)",
             "%%step big\nimport numpy as np\nhuge = np.ones((SIZE, 1000)) + base[:1000]"]
    path = write_notebook(tmp_path / "full.ipynb", [cells[0], cells[1].replace("SIZE", "6000")])  # 48 MB
    run = jupyter_mlpipe.run(path)
    assert run.status == "failed"
    assert run.steps["small"].status == "succeeded"
    error = run.steps["big"].error or ""
    assert "Could not store 'huge' in the artifact store at" in error and "it is full" in error, error
    assert "mlpipe gc" in error, error
    leftovers = [p for p in store.rglob("*") if p.is_file() and (p.suffix == ".part" or p.stat().st_size == 0)]
    assert leftovers == [], leftovers  # nothing half-written
    recorded = jupyter_mlpipe.runs(path)[0]
    assert recorded["status"] == "failed"

    path.write_text(path.read_text().replace("6000", "50"))  # 400 kB: it fits
    again = jupyter_mlpipe.run(path)
    assert again.status == "succeeded", again.summary()
    assert again.steps["small"].status == "reused"
    assert float(again["huge"].sum()) == float((1 + __import__("numpy").arange(1000)).sum() * 50)
