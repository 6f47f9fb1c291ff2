"""This process's connection to Ray: held while runs need it, for one of three kinds of Ray.

- the **local head** (no address given): shared by every process on the machine
  (`ray_head`), started first if need be;
- a **cluster** at an address (`MLPIPE_RAY_ADDRESS`, `--address`, `[ray] address`);
- a **private** Ray embedded in this process (`--private-ray`), as before the
  shared head existed: started once, kept for the life of the process.

The shared kinds are connected while at least one run of this process needs Ray,
and disconnected after: a Ray driver whose head goes away terminates its own
process a minute later, which must never happen to a Jupyter kernel that merely
ran a pipeline an hour ago. Ray started by someone else in this process (a test,
the user's own `ray.init`) is used as it is and left alone.

Ray 2.60 turns token authentication on for clusters made with `ray start
--head`; when a token is available (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH,
`[ray] token_file`, Ray's ~/.ray/auth_token) it is used without the user
asking, and a failed connection says when a missing or wrong token is the
likely cause.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Literal

from ..errors import RayUnavailable
from . import ray_head
from .ray_import import import_ray

__all__ = ["RayKind", "connect", "release", "warm_up", "head_alive", "initialized", "using"]

logger = logging.getLogger(__name__)

RayKind = Literal["local", "cluster", "private", "foreign"]
"""Which Ray this process uses: the shared local head, a cluster by address, a private embedded one,
or one somebody else initialized in this process."""

_LOCK = threading.RLock()
_USERS = 0
_KIND: RayKind | None = None
_ADDRESS: str | None = None
_A_WEEK_S = 7 * 24 * 3600

# the private Ray: started by a thread that lives as long as the process (see `_own`)
_OWNER: threading.Thread | None = None
_READY = threading.Event()
_ERROR: BaseException | None = None


def initialized() -> bool:
    """Whether this process has a Ray already (ours or somebody else's); imports nothing."""
    with _LOCK:
        if _KIND is not None:
            return True
        ray = sys.modules.get("ray")
        return bool(ray is not None and ray.is_initialized())


def using() -> tuple[RayKind | None, str | None]:
    """The kind of Ray and its address this process is connected to now (None when not connected)."""
    return _KIND, _ADDRESS


def connect(address: str | None = None, *, private: bool = False, token_file: str | None = None,
            idle_minutes: float | None = None) -> str:
    """Connect (or join the connection this process already holds); the GCS address.

    Each `connect` is paired with a `release`.
    """
    global _USERS, _KIND, _ADDRESS
    with _LOCK:
        ray = import_ray()  # under the lock: two runs starting at once must not both be importing Ray

        if ray.is_initialized():
            if _KIND is None:  # somebody else's Ray: use it, never shut it down
                _KIND, _ADDRESS = "foreign", ray.get_runtime_context().gcs_address
        elif private:
            _start_private()
            _KIND, _ADDRESS = "private", ray.get_runtime_context().gcs_address
        elif address:
            _init(address, token_file=token_file, local=False)
            _KIND, _ADDRESS = "cluster", address
        else:
            head = ray_head.ensure_head(idle_minutes)
            ray_head.register_client()
            try:
                _init(head["address"], token_file=token_file, local=True)
            except BaseException:
                ray_head.unregister_client()
                raise
            _KIND, _ADDRESS = "local", head["address"]
        _USERS += 1
        return _ADDRESS or ""


def release() -> None:
    """One user of the connection is done; the last one disconnects from a shared Ray."""
    import ray

    global _USERS, _KIND, _ADDRESS
    with _LOCK:
        _USERS = max(0, _USERS - 1)
        if _USERS:
            return
        kind, _KIND = _KIND, None
        if kind in ("local", "cluster"):
            try:
                ray.shutdown()
            except Exception:  # noqa: BLE001 - the head may be gone; nothing more to release
                logger.warning("ray.shutdown() failed", exc_info=True)
            if kind == "local":
                ray_head.unregister_client()
            _ADDRESS = None
        elif kind == "private":
            _KIND = "private"  # kept for the life of the process


def head_alive() -> bool:
    """Whether the Ray this process is connected to still answers (a TCP probe of its GCS port)."""
    address = _ADDRESS
    if not address or ":" not in address:
        return True
    return _reachable(address, timeout=1.0)


def warm_up(address: str | None = None, *, private: bool = False, idle_minutes: float | None = None) -> None:
    """Get Ray ready in the background while the user edits, so the first run does not wait.

    The local head is started in its own process (nothing of Ray is imported here);
    a cluster needs nothing (connecting takes milliseconds); a private Ray is started
    in this process, as it always was.
    """
    if address:
        return
    if private:
        import ray

        if not ray.is_initialized():
            _launch_private()
        return

    def start() -> None:
        try:
            ray_head.ensure_head(idle_minutes)
        except Exception:  # noqa: BLE001 - the run that needs Ray will try again and say why
            logger.warning("could not start the local Ray head in the background", exc_info=True)

    threading.Thread(target=start, name="mlpipe-ray-head", daemon=True).start()


# -- connecting by address -------------------------------------------------------
def _token_source(token_file: str | None) -> str | None:
    """Where the token comes from, making Ray use it; None when there is none."""
    if token_file:
        path = Path(token_file).expanduser()
        if not path.is_file():
            raise RayUnavailable(f"The Ray token file {path} (from [ray] token_file) does not exist.",
                                 hint="Copy the cluster's token there (`ray get-auth-token` on the head node).")
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(path)
    if os.environ.get("RAY_AUTH_TOKEN"):
        source = "the RAY_AUTH_TOKEN environment variable"
    elif os.environ.get("RAY_AUTH_TOKEN_PATH"):
        source = os.environ["RAY_AUTH_TOKEN_PATH"]
    elif (Path.home() / ".ray" / "auth_token").is_file():
        source = str(Path.home() / ".ray" / "auth_token")
    else:
        return None
    if os.environ.get("RAY_AUTH_MODE", "").lower() not in ("disabled", "token"):
        os.environ["RAY_AUTH_MODE"] = "token"
        if "ray" in sys.modules:  # Ray reads its config once: refresh it, as ray.init does for a local cluster
            try:
                from ray._raylet import Config

                Config.initialize("")
            except Exception:  # noqa: BLE001 - a Ray without it reads the variable on connect
                logger.warning("could not refresh Ray's configuration for token authentication", exc_info=True)
    return source


def _init(address: str, *, token_file: str | None, local: bool) -> None:
    import ray

    where = "the local Ray head" if local else f"the Ray cluster at {address!r}"
    if ":" in address and "://" not in address and not _reachable(address):
        raise RayUnavailable(
            f"Could not connect to {where}: nothing answers at {address}.",
            address=address,
            hint=("Run `mlpipe ray status`, or `mlpipe ray stop` and run again." if local else
                  "Check that the cluster runs (`ray status` on its head node) and that MLPIPE_RAY_ADDRESS "
                  "/ --address / [ray] address name its GCS host:port; unset them to use the local Ray."))
    token = _token_source(token_file)
    # a lost head must end the run (the driver sees its tasks fail), not terminate this process
    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", str(_A_WEEK_S))
    try:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=True)
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; the user needs one message
        raise RayUnavailable(f"Could not connect to {where}: {type(exc).__name__}: {exc}", address=address,
                             hint=_auth_hint(exc, token)) from exc


def _reachable(address: str, timeout: float = 3.0) -> bool:
    """Whether something accepts a TCP connection at host:port."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _auth_hint(exc: BaseException, token: str | None) -> str:
    text = f"{type(exc).__name__} {exc}"
    auth = "auth" in text.lower() or "token" in text.lower()
    if token is None:
        return ("The cluster most likely requires token authentication (Ray 2.60 turns it on for clusters "
                "started with `ray start --head`) and no token was found here. Copy the cluster's token "
                "(`ray get-auth-token` on the head node) into ~/.ray/auth_token, or set RAY_AUTH_TOKEN, or "
                "name the file with `[ray] token_file` in mlpipe.toml.")
    if auth or os.environ.get("RAY_AUTH_MODE") == "token":
        return (f"The token from {token} was sent: if it is not this cluster's token (`ray get-auth-token` on "
                "the head node), authentication failed. Otherwise check that the address is the cluster's "
                "GCS host:port and that the Ray versions match.")
    return "Check that the address is the cluster's GCS host:port and that the Ray versions match."


# -- the private Ray -------------------------------------------------------------
def _own() -> None:
    """The thread that starts a private Ray lives as long as the process.

    Ray's local processes are started with PR_SET_PDEATHSIG, which fires when the
    *thread* that started them exits: a thread that returned would take the
    private Ray down with it.
    """
    global _ERROR
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("PYTHONHASHSEED", "0")  # see ray_head._head_env
    try:
        ray.init(address="local", include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                 configure_logging=True)
    except Exception as exc:  # noqa: BLE001 - handed to the thread that waits
        _ERROR = RayUnavailable(f"Could not start a private Ray: {type(exc).__name__}: {exc}",
                                hint="Run without --private-ray to use the shared local Ray head.")
        _READY.set()
        return
    _READY.set()
    threading.Event().wait()


def _launch_private() -> None:
    global _OWNER, _ERROR
    with _LOCK:
        if _OWNER is not None and (_OWNER.is_alive() or not _READY.is_set()):
            return
        _ERROR = None
        _READY.clear()
        _OWNER = threading.Thread(target=_own, name="mlpipe-ray", daemon=True)
        _OWNER.start()


def _start_private() -> None:
    global _OWNER
    _launch_private()
    _READY.wait()
    if _ERROR is not None:
        error = _ERROR
        _OWNER = None  # a later call may try again
        raise error
