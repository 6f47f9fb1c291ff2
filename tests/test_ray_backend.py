"""Starting Ray: the embedded local Ray gets a fixed hash seed for its workers."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_embedded_ray_workers_have_a_fixed_hash_seed(tmp_path):
    code = (
        "import os\n"
        "os.environ.pop('PYTHONHASHSEED', None)\n"
        "from jupyter_mlpipe.execute.ray_backend import ensure_ray\n"
        "ensure_ray(None)\n"
        "import ray\n"
        "print(ray.get(ray.remote(lambda: os.environ.get('PYTHONHASHSEED')).remote()))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("MLPIPE_RAY_ADDRESS", "RAY_ADDRESS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    assert out.stdout.strip().splitlines()[-1] == "0", out.stderr[-2000:]
