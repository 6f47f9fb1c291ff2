"""Real GPU check: a torch step on CUDA through `%%step --compute gpu`, with its overhead.

    .venv/bin/pip install torch && .venv/bin/python bench/gpu_check.py

Exits 0 with a message and checks nothing where torch or a CUDA GPU is missing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_notebook  # noqa: E402


def main() -> int:
    try:
        import torch
    except ImportError:
        print("torch is not installed: nothing to check (pip install torch).")
        return 0
    if not torch.cuda.is_available():
        print("no CUDA GPU here: nothing to check.")
        return 0
    import jupyter_mlpipe

    tmp = Path(tempfile.mkdtemp(prefix="mlpipe-gpu-"))
    nb = write_notebook(tmp / "gpu.ipynb", [
        "import os\nimport torch",
        "%%step data\nx = torch.randn(4096, 4096).numpy()",
        "%%step train --compute gpu --no-cache\n"
        "t = torch.from_numpy(x).cuda()\n"
        "for _ in range(10):\n    t = t @ t / t.norm()\n"
        "torch.cuda.synchronize()\n"
        "device = torch.cuda.get_device_name(0)\n"
        "visible = os.environ.get('CUDA_VISIBLE_DEVICES')\n"
        "result = float(t.sum().cpu())",
        "%%step trivial --compute gpu --no-cache\nseen = os.environ.get('CUDA_VISIBLE_DEVICES')",
    ])
    run = jupyter_mlpipe.run(nb)
    print(run.summary())
    assert run.status == "succeeded", run.summary()
    print(f"device: {run['device']}, CUDA_VISIBLE_DEVICES in the step: {run['visible']}")
    times = []
    for _ in range(5):
        t = time.perf_counter()
        jupyter_mlpipe.run(nb, steps=["trivial"])
        times.append(time.perf_counter() - t)
    print(f"trivial GPU step, whole run (warm): best {min(times) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
