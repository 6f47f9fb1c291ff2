"""The shared local Ray head, the private Ray, and what happens when Ray goes away: real processes.

Each test runs `mlpipe` or the Python API in a subprocess without a cluster
address, as a user's shell or kernel would, with its own MLPIPE_RAY_HOME, so the
head it starts is its own and is stopped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_notebook

MLPIPE = str(Path(sys.executable).parent / "mlpipe")
PID_STEPS = ["%%step first\nimport os\na = os.getpid()", "%%step second\nb = a + 1\nseed = os.environ.get('PYTHONHASHSEED')"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLPIPE_RAY_ADDRESS", "RAY_ADDRESS")}
    return {**env, "MLPIPE_RAY_HOME": str(home), **extra}


def _python(code: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)


def _values(path: Path, env: dict[str, str], names: str = "a,b,seed", force: bool = True) -> dict:
    code = (f"import json, jupyter_mlpipe as m\nr = m.run({str(path)!r}, force={force})\n"
            f"print(json.dumps({{'status': r.status, 'statuses': {{n: s.status for n, s in r.steps.items()}}, "
            f"**{{n: r[n] for n in {names.split(',')!r}}}}}))")
    out = _python(code, env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _status(env: dict[str, str]) -> dict:
    out = subprocess.run([MLPIPE, "ray", "status", "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _stop(env: dict[str, str]) -> None:
    subprocess.run([MLPIPE, "ray", "stop"], capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture
def home(tmp_path_factory):
    """A Ray home of the test's own (a short path: Ray's socket paths are limited), stopped afterwards."""
    path = tmp_path_factory.mktemp("h")
    yield path
    _stop(_env(path))


def test_processes_share_one_local_head_and_its_warm_executors(home, tmp_path):
    """Two `run`s from two processes: one head, started once; the second run's steps go to the executor
    the first one warmed (same process), with the fixed hash seed; the head is listed and stoppable."""
    path = write_notebook(tmp_path / "pids.ipynb", PID_STEPS)
    env = _env(home)
    assert _status(env)["running"] is False
    first = _values(path, env)
    head = _status(env)
    assert head["running"] and head["head"]["address"].startswith("127.0.0.1:")
    assert head["clients"] == []  # the processes that ran have disconnected
    second = _values(path, env)
    assert _status(env)["head"]["pid"] == head["head"]["pid"]  # the same head served both
    assert first["status"] == second["status"] == "succeeded"
    assert first["b"] == first["a"] + 1 and second["a"] == first["a"], (first, second)  # a warm executor
    assert first["seed"] == "0"

    out = subprocess.run([MLPIPE, "ray", "status"], capture_output=True, text=True, timeout=60, env=env)
    assert "local Ray head at 127.0.0.1:" in out.stdout and "connected processes: none" in out.stdout
    out = subprocess.run([MLPIPE, "ray", "stop"], capture_output=True, text=True, timeout=120, env=env)
    assert "stopped the local Ray head at" in out.stdout, out.stdout + out.stderr
    assert _status(env)["running"] is False
    assert not _raylets_under(home)


def _raylets_under(home: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "raylet" in line and str(home) in line]


def test_an_idle_head_stops_itself(home, tmp_path):
    path = write_notebook(tmp_path / "pids.ipynb", PID_STEPS)
    env = _env(home, MLPIPE_RAY_IDLE_MINUTES="0.05")  # three seconds
    assert _values(path, env)["status"] == "succeeded"
    deadline = time.time() + 60
    while _status(env)["running"] and time.time() < deadline:
        time.sleep(1)
    assert _status(env)["running"] is False
    assert "idle for 0.05 minutes" in (home / "head.log").read_text()
    assert _values(path, env)["status"] == "succeeded"  # the next run starts a new one


def test_a_request_the_machine_cannot_hold_is_refused_before_ray_starts(home, tmp_path):
    path = write_notebook(tmp_path / "big.ipynb", ["%%step big --cpus 512\nx = 1"])
    out = subprocess.run([MLPIPE, "run", str(path)], capture_output=True, text=True, timeout=60, env=_env(home))
    assert out.returncode != 0
    assert "'big' asks for 512 CPU, but this machine does not have that" in out.stderr, out.stderr
    assert "Nothing was submitted and no Ray was started" in out.stderr, out.stderr
    assert not (home / "head.json").exists()


def test_the_head_killed_mid_run_fails_the_run_clearly_and_the_next_run_resumes(home, tmp_path):
    marker = tmp_path / "slow-started"
    path = write_notebook(tmp_path / "killed.ipynb", [
        "%%step quick\nx = 1",
        f"%%step slow\nimport pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(60)\ny = x + 1",
    ])
    env = _env(home)
    proc = subprocess.Popen([MLPIPE, "run", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate(timeout=60)
    info = json.loads((home / "head.json").read_text())
    os.killpg(info["ray_pid"], signal.SIGKILL)  # Ray itself dies (OOM killer, a user's `kill`)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err
    assert "stopped answering while step 'slow' ran" in out + err, out + err
    recorded = json.loads(subprocess.run([MLPIPE, "runs", str(path), "--json"], capture_output=True, text=True,
                                         timeout=60, env=env).stdout)
    assert recorded[0]["status"] == "failed"

    marker.unlink()
    path.write_text(path.read_text().replace("time.sleep(60)", "time.sleep(0)"))
    again = subprocess.run([MLPIPE, "run", str(path), "--json"], capture_output=True, text=True, timeout=240,
                           env=env)
    assert again.returncode == 0, again.stderr
    steps = json.loads(again.stdout)["steps"]
    assert steps["quick"]["status"] == "reused" and steps["slow"]["status"] == "succeeded"


@pytest.mark.parametrize("private", [False, True], ids=["local-head", "private-ray"])
def test_a_deleted_notebook_folder_does_not_break_the_next_run(home, tmp_path, private):
    """The issue's case: one process runs a notebook in a folder that is then deleted, then another."""
    gone = tmp_path / "gone"
    gone.mkdir()
    write_notebook(gone / "a.ipynb", ["%%step one\nx = 1", "%%step two\ny = x + 1"])
    kept = write_notebook(tmp_path / "b.ipynb", ["%%step one\nx = 10", "%%step two\ny = x + 1"])
    code = (
        "import os, shutil, jupyter_mlpipe as m\n"
        f"os.chdir({str(gone)!r})\n"
        f"r = m.run('a.ipynb', private_ray={private})\nassert r.status == 'succeeded', r.summary()\n"
        f"os.chdir({str(tmp_path)!r})\nshutil.rmtree({str(gone)!r})\n"
        f"r = m.run({str(kept)!r}, private_ray={private})\nprint(r.status, r['y'])\nprint(r.summary())\n"
    )
    out = _python(code, _env(home))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines()[0] == "succeeded 11", out.stdout


def test_a_private_ray_is_the_process_own_and_has_the_fixed_hash_seed(home, tmp_path):
    path = write_notebook(tmp_path / "pids.ipynb", PID_STEPS)
    code = (
        "import json, os, jupyter_mlpipe as m\nos.environ.pop('PYTHONHASHSEED', None)\n"
        f"r = m.run({str(path)!r}, private_ray=True)\nprint(json.dumps([r.status, r['seed']]))\n"
    )
    out = _python(code, _env(home))
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["succeeded", "0"]
    assert not (home / "head.json").exists()  # no shared head was started


def test_bad_ray_settings_are_named():
    from jupyter_mlpipe.config import load_config
    from jupyter_mlpipe.errors import ConfigError

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "mlpipe.toml").write_text("[ray]\nidle_minute = 5\n")
        with pytest.raises(ConfigError, match="unknown key 'idle_minute'"):
            load_config(folder)
        Path(folder, "mlpipe.toml").write_text("[ray]\nidle_minutes = -1\n")
        with pytest.raises(ConfigError, match="positive number of minutes"):
            load_config(folder)
        Path(folder, "mlpipe.toml").write_text("[ray]\nprivate = 'yes'\n")
        with pytest.raises(ConfigError, match="wrong type"):
            load_config(folder)


def test_a_head_of_another_ray_version_is_replaced(home, tmp_path):
    """After an upgrade of Ray the next run stops the old head and starts one of the installed version."""
    path = write_notebook(tmp_path / "pids.ipynb", PID_STEPS)
    env = _env(home)
    assert _values(path, env)["status"] == "succeeded"
    info = json.loads((home / "head.json").read_text())
    (home / "head.json").write_text(json.dumps({**info, "ray_version": "0.0.1"}))  # as an older Ray left it
    assert _values(path, env)["status"] == "succeeded"
    after = json.loads((home / "head.json").read_text())
    assert after["pid"] != info["pid"] and after["ray_version"] != "0.0.1"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the old head's supervisor {info['pid']} still runs")
