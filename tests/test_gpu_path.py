"""The GPU path without a GPU: the suite's Ray has one fake GPU (ray.init(num_gpus=1)).

Ray hands a step its GPU through CUDA_VISIBLE_DEVICES and schedules GPU
requests against the one it has: whole-GPU steps run one after the other,
half-GPU steps together, and a request for more than exists is refused before
anything is submitted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

import jupyter_mlpipe
from jupyter_mlpipe.errors import InfeasibleRequest

pytestmark = pytest.mark.slow


def _overlap(a, b) -> bool:
    return a.started < b.ended and b.started < a.ended


def test_a_gpu_step_sees_its_gpu(ray_address, notebook):
    path = notebook([
        "import os",
        "%%step on_gpu --compute gpu\ndevices = os.environ.get('CUDA_VISIBLE_DEVICES')\nprint(devices)",
        "%%step on_cpu\ncpu_devices = os.environ.get('CUDA_VISIBLE_DEVICES')\nseen = devices",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.steps["on_gpu"].error
    assert run["devices"] == "0"
    assert run["cpu_devices"] in (None, "")  # a CPU step is not given the GPU
    assert run.steps["on_gpu"].resources["num_gpus"] == 1
    assert run.steps["on_gpu"].resources["compute"] == "gpu"


def test_whole_gpu_steps_take_turns(ray_address, notebook):
    path = notebook([
        "import os, time",
        "%%step first --gpus 1\ntime.sleep(0.7)\na = os.environ['CUDA_VISIBLE_DEVICES']",
        "%%step second --gpus 1\ntime.sleep(0.7)\nb = os.environ['CUDA_VISIBLE_DEVICES']",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded"
    first, second = run.steps["first"], run.steps["second"]
    assert not _overlap(first, second), (first.started, first.ended, second.started, second.ended)
    assert run["a"] == run["b"] == "0"


def test_half_gpu_steps_share_it(ray_address, notebook, tmp_path):
    # each step waits until the other one has started: they finish only if they run together
    meet = "def meet(me, other):\n    pathlib.Path(me).touch()\n    deadline = time.time() + 60\n" \
           "    while not pathlib.Path(other).exists():\n        assert time.time() < deadline, 'alone'\n" \
           "        time.sleep(0.01)"
    meeting = Path(tempfile.mkdtemp())  # outside the notebook's folder: not files the run carries
    a, b = str(meeting / "a"), str(meeting / "b")
    path = notebook([
        "import os, pathlib, time",
        meet,
        f"%%step first --gpus 0.5\nmeet({a!r}, {b!r})\na = os.environ['CUDA_VISIBLE_DEVICES']",
        f"%%step second --gpus 0.5\nmeet({b!r}, {a!r})\nb = os.environ['CUDA_VISIBLE_DEVICES']",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}
    first, second = run.steps["first"], run.steps["second"]
    assert _overlap(first, second), (first.started, first.ended, second.started, second.ended)
    assert run["a"] == run["b"] == "0"


def test_more_gpus_than_the_cluster_has_is_refused_before_submitting(ray_address, notebook, tmp_path):
    marker = tmp_path / "ran"
    path = notebook([
        "import pathlib",
        f"%%step before\npathlib.Path({str(marker)!r}).write_text('ran')\nx = 1",
        "%%step big --gpus 2\ny = x",
    ])
    with pytest.raises(InfeasibleRequest) as info:
        jupyter_mlpipe.run(path)
    error = info.value
    assert error.step == "big"
    assert error.requested["GPU"] == 2
    assert error.available["GPU"] == 1
    message = str(error)
    assert "'big'" in message and "2 GPU" in message and "1 GPU" in message
    assert not marker.exists()  # nothing was submitted, not even the feasible step
    runs = jupyter_mlpipe.runs(path)
    assert runs[0]["status"] == "failed"
