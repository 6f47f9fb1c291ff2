"""The local Ray head: one per machine and Python environment, shared by every process that runs steps.

Starting Ray takes about ten seconds and a gigabyte; a kernel, an `mlpipe`
command and the Jupyter server each starting their own made every first run
slow and four open notebooks cost 5.8 GB. So the first process that needs Ray
starts a head in the background, and later ones find it through `head.json` and
connect in milliseconds:

- a small supervisor process (`python -m jupyter_mlpipe.execute.ray_head
  supervise ...`, in its own session, so a kernel's interrupt or exit does not
  reach it) runs `ray start --head --block` bound to 127.0.0.1, with its files
  under the user's cache folder;
- processes connected to it are listed as pid files under `clients/`; when none
  has been connected for `idle_minutes`, the supervisor stops the head;
- a head started by another Ray version is replaced.

Nothing here imports Ray, and the head is started in another process: starting
Ray from a thread of a kernel while the user's code runs numerical libraries
once hung a cell beyond the reach of Interrupt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypedDict

from ..errors import RayUnavailable

__all__ = ["HeadInfo", "DEFAULT_IDLE_MINUTES", "head_home", "read_head", "ensure_head", "stop_head",
           "register_client", "unregister_client", "clients", "ray_version", "local_resources"]

logger = logging.getLogger(__name__)

DEFAULT_IDLE_MINUTES = 30.0
HEAD_FILE = "head.json"
_READY_LINE = "Ray runtime started"
_START_TIMEOUT_S = 120.0
_STOP_GRACE_S = 15.0
_DRAIN_S = 3.0


class HeadInfo(TypedDict):
    """What `head.json` says of a running local head."""

    address: str  # host:port of its GCS, what ray.init(address=...) takes
    port: int
    pid: int  # the supervisor's
    ray_pid: int  # `ray start --block`: its process group holds every Ray process of the head
    ray_version: str
    python: str
    temp_dir: str
    started: float
    idle_minutes: float


def head_home() -> Path:
    """Where the local head keeps its files: MLPIPE_RAY_HOME, else the user's cache folder.

    One head per Python environment (its workers run this environment's Python and
    packages), so the folder is keyed by `sys.prefix`.
    """
    explicit = os.environ.get("MLPIPE_RAY_HOME")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    env_id = hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]
    return cache / "jupyter-mlpipe" / f"ray-{env_id}"


def ray_version() -> str:
    from importlib.metadata import version

    return version("ray")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def read_head(home: Path | None = None) -> HeadInfo | None:
    """The running head, or None when there is none (a stale head.json is ignored)."""
    path = (home or head_home()) / HEAD_FILE
    try:
        info: HeadInfo = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not _pid_alive(info["pid"]) or not _port_open(info["port"]):
        return None
    return info


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One process at a time starts or stops the head."""
    import fcntl

    home.mkdir(parents=True, exist_ok=True)
    with open(home / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_head(idle_minutes: float | None = None) -> HeadInfo:
    """The running local head, started first if there is none (or it runs another Ray version)."""
    home = head_home()
    with _locked(home):
        info = read_head(home)
        if info is not None and info["ray_version"] == ray_version():
            return info
        if info is not None:
            logger.info("the local Ray head runs Ray %s, this is %s: restarting it",
                        info["ray_version"], ray_version())
            _stop(info)
        return _start(home, DEFAULT_IDLE_MINUTES if idle_minutes is None else idle_minutes)


def stop_head() -> HeadInfo | None:
    """Stop the local head if one runs; the one stopped, or None."""
    home = head_home()
    with _locked(home):
        info = read_head(home)
        if info is not None:
            _stop(info)
        return info


def _stop(info: HeadInfo) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(info["pid"], signal.SIGTERM)
    deadline = time.time() + _STOP_GRACE_S
    while time.time() < deadline and _pid_alive(info["pid"]):
        time.sleep(0.1)
    if _pid_alive(info["pid"]):  # the supervisor is stuck: take the head down ourselves
        for target in (info["ray_pid"], info["pid"]):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(target, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _temp_dir(home: Path) -> Path:
    """Ray's own files. Its socket paths must stay under ~107 bytes, so a long home is not used."""
    candidate = home / "r"
    if len(str(candidate)) <= 48:
        return candidate
    return Path("/tmp") / f"mlpipe-ray-{os.getuid()}-{home.name[-8:]}"


def _head_env() -> dict[str, str]:
    """The head's workers inherit this: our environment, without what points at other clusters."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "MLPIPE_RAY_ADDRESS") and not k.startswith("RAY_gcs_rpc")}
    # a fixed hash seed makes sets of strings pickle in the same order in every worker, so
    # their digests (and the cache keys of the steps that read them) are stable across sessions
    env.setdefault("PYTHONHASHSEED", "0")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _start(home: Path, idle_minutes: float) -> HeadInfo:
    port = _free_port()
    (home / HEAD_FILE).unlink(missing_ok=True)
    log_path = home / "head.log"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlpipe.execute.ray_head", "supervise", str(home), str(port),
             str(idle_minutes)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=home, env=_head_env(),
            start_new_session=True)
    deadline = time.time() + _START_TIMEOUT_S
    while time.time() < deadline:
        info = read_head(home)
        if info is not None and info["pid"] == proc.pid:
            return info
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    else:
        _kill_group(proc.pid)
    tail = "".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines(True)[-15:])
    raise RayUnavailable(
        f"Could not start the local Ray head (its log, {log_path}, ends with):\n{tail}",
        hint="Run `mlpipe ray status`; to run without a shared head, use --private-ray "
             "(or MLPIPE_PRIVATE_RAY=1).")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# -- clients -----------------------------------------------------------------
def register_client() -> None:
    """This process is connected to the local head: it must not stop for idleness."""
    folder = head_home() / "clients"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(os.getpid())).touch()


def unregister_client() -> None:
    (head_home() / "clients" / str(os.getpid())).unlink(missing_ok=True)


def clients(home: Path | None = None) -> list[int]:
    """The pids of the live processes connected to the head (files of dead ones are removed)."""
    folder = (home or head_home()) / "clients"
    alive = []
    for entry in folder.glob("*") if folder.is_dir() else []:
        if entry.name.isdigit() and _pid_alive(int(entry.name)):
            alive.append(int(entry.name))
        else:
            entry.unlink(missing_ok=True)
    return sorted(alive)


# -- what the machine has, without starting Ray ------------------------------------
def local_resources() -> dict[str, float]:
    """What a local head on this machine will offer steps, as Ray counts it (CPUs, NVIDIA GPUs).

    Used to refuse a request no local node can hold before Ray is started at all. Where
    the GPUs cannot be counted without Ray (a driver is installed but its /proc entries
    are not visible), GPUs are not refused here: Ray's own count decides after it starts.
    """
    gpus: float = 0.0
    try:
        gpus = float(len(os.listdir("/proc/driver/nvidia/gpus")))
    except OSError:
        import glob
        import shutil

        devices = [d for d in glob.glob("/dev/nvidia*") if d[len("/dev/nvidia"):].isdigit()]
        gpus = float(len(devices)) if devices else (float("inf") if shutil.which("nvidia-smi") else 0.0)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        gpus = min(gpus, float(len([d for d in visible.split(",") if d.strip()])))
    return {"CPU": float(os.cpu_count() or 1), "GPU": gpus}


# -- the supervisor ------------------------------------------------------------
_RAY_START = ("from jupyter_mlpipe.execute.ray_import import defer_iri_grammar; defer_iri_grammar(); "
              "from ray.scripts.scripts import main; main()")
"""`ray start`, without the 1.1 s IRI grammar its import would compile (see ray_import)."""


def supervise(home: Path, port: int, idle_minutes: float) -> int:
    """Run the head until it has been idle for `idle_minutes` or we are told to stop."""
    stop = threading.Event()
    reason = ["told to stop"]
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    temp_dir = _temp_dir(home)
    ray = subprocess.Popen(
        [sys.executable, "-c", _RAY_START, "start", "--head", "--block", "--port", str(port),
         "--node-ip-address", "127.0.0.1", "--include-dashboard", "false", "--disable-usage-stats",
         "--temp-dir", str(temp_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        process_group=0)
    ready = threading.Event()

    def follow() -> None:
        assert ray.stdout is not None
        for line in ray.stdout:
            print(line, end="", flush=True)
            if _READY_LINE in line:
                ready.set()

    threading.Thread(target=follow, daemon=True).start()
    info: HeadInfo = {"address": f"127.0.0.1:{port}", "port": port, "pid": os.getpid(), "ray_pid": ray.pid,
                      "ray_version": ray_version(), "python": sys.executable, "temp_dir": str(temp_dir),
                      "started": time.time(), "idle_minutes": idle_minutes}
    while not ready.wait(0.1):
        if ray.poll() is not None or stop.is_set():
            print(f"mlpipe: `ray start` ended before the head was ready (exit {ray.poll()})", flush=True)
            _kill_group(ray.pid)
            return 1
    tmp = home / f"{HEAD_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(info), encoding="utf-8")
    tmp.replace(home / HEAD_FILE)
    print(f"mlpipe: local Ray head ready at {info['address']}", flush=True)
    last_active = time.time()
    while not stop.wait(1.0):
        if ray.poll() is not None:
            reason[0] = f"Ray exited ({ray.returncode})"
            break
        if clients(home):
            last_active = time.time()
        elif time.time() - last_active > idle_minutes * 60:
            reason[0] = f"idle for {idle_minutes:g} minutes"
            break
    print(f"mlpipe: stopping the local Ray head: {reason[0]}", flush=True)
    with contextlib.suppress(OSError, ValueError):
        if json.loads((home / HEAD_FILE).read_text(encoding="utf-8")).get("pid") == os.getpid():
            (home / HEAD_FILE).unlink()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(ray.pid, signal.SIGTERM)
    try:  # Ray drains for up to 30 s; nothing of ours needs that (the runs using it are over or lost)
        ray.wait(_DRAIN_S)
    except subprocess.TimeoutExpired:
        _kill_group(ray.pid)
    return 0


if __name__ == "__main__":  # pragma: no cover - the supervisor process
    if len(sys.argv) == 5 and sys.argv[1] == "supervise":
        sys.exit(supervise(Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
    print("usage: python -m jupyter_mlpipe.execute.ray_head supervise HOME PORT IDLE_MINUTES", file=sys.stderr)
    sys.exit(2)
