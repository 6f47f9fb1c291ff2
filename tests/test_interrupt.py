"""A real kernel: numerical code while Ray starts in the background runs, and Interrupt stops it.

The interface issue's hang: the first `%%step` cell warmed Ray up from a thread
of the kernel, and the next cell (a scikit-learn fit on BLAS) stuck at 100% CPU
where Interrupt could not reach it. Ray now starts in a process of its own.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

pytestmark = pytest.mark.slow

MLPIPE = str(Path(sys.executable).parent / "mlpipe")


def _run(kc, code: str, timeout: float) -> dict:
    """Execute `code`; its execute_reply content (raises queue.Empty if the kernel does not answer)."""
    msg_id = kc.execute(code)
    deadline = time.time() + timeout
    while True:
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]


def test_a_blas_heavy_cell_while_ray_starts_finishes_and_a_long_one_can_be_interrupted(tmp_path_factory):
    from jupyter_client.manager import start_new_kernel

    folder = tmp_path_factory.mktemp("k")
    home = tmp_path_factory.mktemp("h")
    env = {k: v for k, v in os.environ.items() if k not in ("MLPIPE_RAY_ADDRESS", "RAY_ADDRESS")}
    env.update(MLPIPE_RAY_HOME=str(home), MLPIPE_RAY_PRESTART="1")
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(folder), env=env)
    try:
        assert _run(kc, "%load_ext jupyter_mlpipe", 60)["status"] == "ok"
        # the first %%step cell starts the local head in the background...
        step = "%%step prep\nfrom sklearn.datasets import make_classification\n" \
               "X, y = make_classification(n_samples=4000, n_features=60, random_state=0)"
        assert _run(kc, step, 60)["status"] == "ok"
        # ...while the next cell fits on BLAS: it finishes (it hung for over 90 s before)
        fit = "from sklearn.linear_model import LogisticRegression\n" \
              "score = LogisticRegression(max_iter=2000).fit(X, y).score(X, y)\nprint(score)"
        try:
            assert _run(kc, fit, 120)["status"] == "ok"
        except queue.Empty:
            pytest.fail("the BLAS-heavy cell did not finish while Ray started")
        # a long numerical cell is stopped by Interrupt
        long_cell = "import numpy as np\na = np.random.rand(600, 600)\nwhile True:\n    a = a @ a\n    a /= np.abs(a).max()"
        msg_id = kc.execute(long_cell)
        time.sleep(3)
        km.interrupt_kernel()
        deadline = time.time() + 30
        while True:
            try:
                reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                pytest.fail("Interrupt did not stop the numerical cell within 30 s")
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        # the head runs in a process of its own, not in the kernel
        deadline = time.time() + 120
        while not (home / "head.json").exists() and time.time() < deadline:
            time.sleep(0.5)
        head = json.loads((home / "head.json").read_text())
        kernel_pid = int(_run_text(kc, "import os; print(os.getpid())"))
        assert head["pid"] != kernel_pid
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        subprocess.run([MLPIPE, "ray", "stop"], env=env, capture_output=True, timeout=120)


def _run_text(kc, code: str) -> str:
    msg_id = kc.execute(code)
    text = ""
    while True:
        msg = kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return text.strip()
