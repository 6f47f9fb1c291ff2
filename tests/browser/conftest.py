"""Browser tests: a real Jupyter server (JupyterLab 4 or Notebook 7) driven by Playwright.

The browser is Debian's Chromium (`/usr/bin/chromium`, or MLPIPE_CHROMIUM);
Playwright's own browser download is not used. Without that browser, or without
the `playwright` package, every test here is skipped with the reason.

The server runs in a temporary root with its own config and runtime folders and
user settings (no news pop-ups), on a free localhost port with a random token,
and inherits MLPIPE_RAY_ADDRESS so that its kernels join the suite's Ray.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("MLPIPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
SERVER_START_TIMEOUT = 60


def _skip_reason() -> str | None:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return (f"no Chromium at {CHROMIUM} (apt-get install chromium, or set MLPIPE_CHROMIUM); "
                "Playwright's own browsers are not used")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    if reason is None:
        return
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterServer:
    """A `jupyter lab` or `jupyter notebook` subprocess; `url(path)` gives an address with the token."""

    def __init__(self, app: str, root: Path, home: Path, env: dict[str, str]) -> None:
        self.app = app
        self.root = root
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = home / f"{app}-server.log"
        module = "jupyterlab" if app == "lab" else "notebook"
        cmd = [sys.executable, "-m", module, "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               "--port-retries=0", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.open_browser=False", "--ServerApp.terminals_enabled=False",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
            cmd.append("--allow-root")
        if app == "notebook":
            cmd = [c for c in cmd if not c.startswith("--LabApp.")]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.started_in = self._wait_ready()

    def _wait_ready(self) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < SERVER_START_TIMEOUT:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.app} exited ({self.proc.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(self.api("status"), timeout=2) as resp:
                    if resp.status == 200:
                        return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"jupyter {self.app} did not answer in {SERVER_START_TIMEOUT} s:\n{self.log()}")

    def api(self, path: str) -> str:
        return f"{self.base}/api/{path}?token={self.token}"

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def notebook_url(self, name: str) -> str:
        """The notebook alone on the page. JupyterLab keeps its default workspace on the server and
        restores it in every new page, so an earlier test's notebooks would reopen as hidden tabs
        (and `.jp-NotebookPanel ...` find their cells first); `?reset` starts from an empty one."""
        return self.url(f"lab/tree/{name}?reset" if self.app == "lab" else f"notebooks/{name}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:  # shuts the kernels down too
                req = urllib.request.Request(self.api("shutdown"), method="POST")
                urllib.request.urlopen(req, timeout=5).close()
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def _isolated_env(home: Path) -> dict[str, str]:
    """The server's environment: its own Jupyter config and runtime, user settings that keep pop-ups away."""
    config = home / "config"
    settings = config / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "JPY_"))}
    env.update({
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONUNBUFFERED": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
    })
    return env


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, per test module: sync Playwright holds an asyncio loop while it runs,
    which must be gone before other tests (pytest-jupyter's) want theirs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(params=["lab", "notebook"], scope="module")
def jupyter(request, ray_address, tmp_path_factory):
    """A running JupyterLab 4 (`lab`) or Notebook 7 (`notebook`) in a temporary root."""
    home = tmp_path_factory.mktemp(f"jupyter-{request.param}")
    root = home / "root"
    root.mkdir()
    env = _isolated_env(home)
    env["MLPIPE_RAY_ADDRESS"] = ray_address  # kernels join the suite's Ray instead of starting one
    server = JupyterServer(request.param, root, home, env)
    yield server
    server.stop()


@pytest.fixture
def page(browser, jupyter, request):
    """A fresh browser page (1400x1000); on failure a screenshot and the server's log go to the artifacts."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: console.append(f"pageerror: {err}\n{err.stack}"))
    page.console_messages = console
    yield page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        try:
            page.screenshot(path=str(ARTIFACTS / f"{stem}-FAILED.png"), full_page=True)
        except Exception:  # noqa: BLE001 - the page may be gone
            pass
        (ARTIFACTS / f"{stem}-server.log").write_text(jupyter.log())
        (ARTIFACTS / f"{stem}-console.log").write_text("\n".join(console))
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

