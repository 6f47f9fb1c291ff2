"""A real Jupyter kernel (nbclient) running a notebook with %%step cells and %pipeline."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import write_notebook

TESTS = Path(__file__).resolve().parent

pytestmark = pytest.mark.slow


def _outputs(nb) -> list[str]:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text") or out.get("data", {}).get("text/plain", "") or out.get("evalue", ""))
    return texts


def _execute(nb, folder, timeout: float = 180, **options) -> None:
    """Run a notebook in a real kernel started in `folder` (nbclient), outputs kept in `nb`."""
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}},
                   **options).execute()


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
    _execute(nb, tmp_path, timeout=180)
    text = "\n".join(_outputs(nb))
    assert "a ran [0, 1, 2]" in text  # the %%step cell ran in the kernel
    assert f"Plan of {path}" in text and "<- a: x" in text
    assert "2 succeeded" in text
    assert "pulled 20" in text  # sum(range(5)) * 2, with the -p override
    assert "step 'b' succeeded" in text


def test_kernel_without_notebook_plans_executed_cells(tmp_path, monkeypatch):
    """With no notebook file, the cells run here are planned, with the folder's mlpipe.toml ([env.NAME])."""
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    (tmp_path / "mlpipe.toml").write_text('[env.flags]\nenv_vars = {MODE = "fast"}\n')
    path = write_notebook(tmp_path / "k.ipynb", [
        "%load_ext jupyter_mlpipe",
        "%%step a\nx = 1",
        "%%step b --env flags\ny = x + 1",
        "%pipeline plan",
    ])
    nb = nbformat.read(path, as_version=4)
    _execute(nb, tmp_path, timeout=120)
    text = "\n".join(_outputs(nb))
    assert "planned from the" in text and "cells executed here" in text
    assert "<- a: x" in text
    assert "unknown environment" not in text.lower() and "Error" not in text, text


def test_unsaved_edit_is_reported(tmp_path, monkeypatch):
    path = write_notebook(tmp_path / "k.ipynb", [
        "%load_ext jupyter_mlpipe",
        "%%step a\nx = 1",
        "%pipeline plan",
    ])
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].source = "%%step a\nx = 2  # edited, not saved"
    _execute(nb, tmp_path, timeout=120)
    text = "\n".join(_outputs(nb))
    assert "differs from the saved notebook" in text


def test_edits_saved_after_the_cell_ran_are_no_unsaved_edits(tmp_path, monkeypatch):
    """Run a step cell, then edit it and save (here a cell writes the file), then plan: no false warning."""
    path = tmp_path / "k.ipynb"
    edited = ["%load_ext jupyter_mlpipe", "%%step a\nx = 2  # edited and saved", "%pipeline plan"]
    save = (f"import sys, time\nfrom pathlib import Path\nsys.path.insert(0, {str(TESTS)!r})\n"
            f"from conftest import write_notebook\ntime.sleep(0.1)\nwrite_notebook(Path({str(path)!r}), {edited!r})")
    write_notebook(path, ["%load_ext jupyter_mlpipe", "%%step a\nx = 1", save, "%pipeline plan"])
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    _execute(nb, tmp_path, timeout=120)
    text = "\n".join(_outputs(nb))
    assert f"Plan of {path}" in text
    assert "differs from the saved notebook" not in text and "unsaved" not in text


def test_background_run_leaves_the_kernel_free_while_the_panel_updates(tmp_path, ray_address, monkeypatch):
    """`%pipeline run --background`: the kernel runs other cells while a step runs, and the panel
    keeps receiving updates, metrics included before the step ends. The step waits for a file the
    test creates, so the order is certain."""
    import json
    import queue
    import time

    from jupyter_client.manager import start_new_kernel

    flag = tmp_path / "release-the-step"
    path = write_notebook(tmp_path / "bg.ipynb", [
        "%load_ext jupyter_mlpipe",
        "%%step slow\nimport os, time\nfrom jupyter_mlpipe import log_metric\n\nlog_metric('progress', 0.5, step=0)\n"
        "deadline = time.time() + 120\n"
        f"while not os.path.exists({str(flag)!r}) and time.time() < deadline:\n    time.sleep(0.05)\nx = 1",
        "%%step after\ny = x + 1",
    ])
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))  # what jupyter_server does for a notebook's kernel
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    iopub: list[dict] = []

    def execute(code: str, timeout: float = 120) -> str:
        """Run a cell; its printed text once the kernel replies (iopub messages are kept)."""
        msg_id = kc.execute(code)
        reply = kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=timeout)
        assert reply["content"]["status"] == "ok", reply["content"]
        text, idle = [], False
        while not idle:
            msg = kc.get_iopub_msg(timeout=timeout)
            iopub.append(msg)
            mine = msg["parent_header"].get("msg_id") == msg_id
            if mine and msg["msg_type"] == "stream":
                text.append(msg["content"]["text"])
            idle = mine and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
        return "".join(text)

    def sent(key: str) -> list:
        """The panel's updates of one of its traits, in order."""
        return [m["content"]["data"]["state"][key] for m in iopub
                if m["msg_type"] == "comm_msg" and key in m["content"]["data"].get("state", {})]

    def run_states() -> list[dict]:
        return sent("run")

    def wait_for(condition, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition():
            try:  # updates keep coming while the kernel is idle
                iopub.append(kc.get_iopub_msg(timeout=1))
            except queue.Empty:
                continue

    try:
        execute("%load_ext jupyter_mlpipe")
        started = execute("%pipeline run --background")
        assert "started in the background" in started and "_mlpipe_run" in started
        # the kernel is free: another cell runs while the step is still waiting
        assert execute("print(_mlpipe_run.status, 'and the kernel is free')").strip() == \
            "running and the kernel is free"
        assert any(m["msg_type"] == "display_data"
                   and "application/vnd.jupyter.widget-view+json" in m["content"]["data"] for m in iopub)
        # the metric the step logged reaches the panel while the step is still running
        wait_for(lambda: any("progress" in m.get("slow", {}) for m in sent("metrics")))
        assert [m["slow"]["progress"] for m in sent("metrics") if "slow" in m][-1] == [[0, 0.5]]
        assert run_states()[-1]["status"] == "running"
        flag.touch()
        wait_for(lambda: any(s["status"] == "succeeded" for s in run_states()))
        states = run_states()
        assert states and states[-1]["status"] == "succeeded", json.dumps(states[-3:])
        assert states[-1]["counts"] == {"succeeded": 2}
        assert any(s["status"] == "running" for s in states)
        assert execute("print(_mlpipe_run['y'])").strip() == "2"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_a_fresh_kernel_shows_the_last_recorded_run_and_compares_two(tmp_path, ray_address, monkeypatch):
    """`%pipeline show` and `%pipeline runs A B` in a kernel that did not run anything itself."""
    import jupyter_mlpipe

    path = write_notebook(tmp_path / "k.ipynb", [
        "%load_ext jupyter_mlpipe",
        {"source": "lr = 0.1", "tags": ["parameters"]},
        "%%step data\nx = [1, 2, 3]",
        "%%step fit\nfrom jupyter_mlpipe import log_metric\nscore = sum(x) * lr\nlog_metric('score', score)",
        "%pipeline run",
        "%pipeline run -p lr=0.5",
    ])
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    _execute(nb, tmp_path, timeout=180)
    new, old = (r["id"] for r in jupyter_mlpipe.runs(path)[:2])

    fresh = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [
        "%load_ext jupyter_mlpipe", "%pipeline show", f"%pipeline runs {old[-6:]} {new[-6:]}", f"%pipeline runs {old}",
    ]])
    _execute(fresh, tmp_path, allow_errors=True)

    def displayed(cell) -> dict:
        (out,) = [o for o in cell.outputs if o.output_type == "display_data"]
        return out.data

    shown = displayed(fresh.cells[1])
    assert "application/vnd.jupyter.widget-view+json" in shown  # the panel
    assert shown["text/plain"].startswith(f"run {new} [2/2] succeeded")  # the newest run, from the history
    compared = displayed(fresh.cells[2])
    assert "application/vnd.jupyter.widget-view+json" in compared  # the runs table, two runs chosen
    text = compared["text/plain"]
    assert f"{old} -> {new}" in text and "lr: 0.1 -> 0.5" in text and "fit.score: 0.6 -> 3  (+2.4)" in text
    said = "".join(o.get("text", "") for o in fresh.cells[3].outputs)
    assert "UsageError: %pipeline runs compares two runs; got 1" in said, fresh.cells[3].outputs
