"""Helpers shared by the published-pipeline tests: notebooks, `mlpipe serve` in a subprocess, HTTP calls."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import write_notebook

TOKEN = "test-token-not-secret"

PARAMS = {"source": "n = 4\nC = 0.5\ndelay = 0\nfiles = []", "tags": ["parameters"]}
CHAIN = [
    PARAMS,
    "%%step load\nxs = list(range(n))",
    "%%step total\nimport time\ntime.sleep(delay)\ntotal = sum(xs) * C\nseen = list(files)",
]


def chain_notebook(folder: Path, name: str = "pipe.ipynb", factor: str = "") -> Path:
    """The pipeline: total = sum(range(n)) * C (times `factor`, to tell versions apart)."""
    cells = list(CHAIN)
    if factor:
        cells[2] = cells[2].replace("* C", f"* C * {factor}")
    return write_notebook(folder / name, cells)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`mlpipe serve` in a subprocess; `call(METHOD, path, body=, key=, token=)` -> (status, JSON, headers)."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.port = free_port()
        self.log = root / f"serve-{self.port}.log"
        env = {**os.environ, "JUPYTER_TOKEN": TOKEN}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_mlpipe.cli", "serve", "--root", str(root), "--port", str(self.port),
                 "--allow-root", *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlpipe serve exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                status, _, _ = self.call("GET", "pipelines", token=TOKEN)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlpipe serve did not answer:\n{self.log.read_text()}")

    def call(self, method: str, path: str, *, body: object = None, key: str | None = None,
             token: str | None = None, raw_auth: str | None = None) -> tuple[int, dict, dict]:
        url = f"http://127.0.0.1:{self.port}/{path if path.startswith(('api/', 'mlpipe/', 'lab')) else 'mlpipe/api/' + path}"
        data = json.dumps(body).encode() if body is not None else (b"{}" if method == "POST" else None)
        request = urllib.request.Request(url, data=data, method=method)
        if key is not None:
            request.add_header("Authorization", f"Bearer {key}")
        elif token is not None:
            request.add_header("Authorization", f"token {token}")
        elif raw_auth is not None:
            request.add_header("Authorization", raw_auth)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else {}, {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            text = exc.read().decode()
            try:
                payload = json.loads(text) if text else {}
            except ValueError:
                payload = {"text": text}
            return exc.code, payload, {k.lower(): v for k, v in exc.headers.items()}

    def wait_run(self, run_id: str, *, key: str | None = None, timeout: float = 120) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body, _ = self.call("GET", f"runs/{run_id}", key=key, token=None if key else TOKEN)
            if status == 200 and body.get("status") not in ("running", "queued"):
                return body
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} did not finish: {body}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
