"""A step's environment at run time: its pip requirements resolved, its part of the cache key, its failures.

A step with an environment (`[env.NAME]` in mlpipe.toml, `--env NAME`) runs as
a Ray task with that `runtime_env`. Its requirements are resolved once per run
with `pip install --dry-run --report` in the driver's Python, which is what
Ray's virtualenv starts from (it clones the driver's virtualenv, or inherits
its site-packages): the packages pip would add, pinned to the versions it
chose, are what Ray installs and what the step's cache key holds. So the key
changes exactly when the installed software would, an unpinned requirement
included (a new release re-runs the step; `why` names the package), and an
environment that cannot be built fails its step in a second with pip's own
words rather than after Ray's retries.

Environment variables enter the key as digests of their values (they may be
secrets); `conda`, `container` and `py_modules` by their content as far as
the driver can see it (a YAML file's digest, the image name, the modules'
file digests).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EnvBuildFailed
from .failures import error_info

if TYPE_CHECKING:  # pragma: no cover
    from ..plan import Step
    from .task import StepResult

__all__ = ["EnvResolver", "Resolved", "env_failure_result", "installer_message",
           "resolve_pip"]

logger = logging.getLogger(__name__)

_RESOLVE_TIMEOUT_S = 600.0
# requirement-file lines that are options for pip, kept in the list Ray installs (the pins need the same index)
_INDEX_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--trusted-host", "--pre",
                  "--no-index", "--prefer-binary")


@dataclass
class Resolved:
    """One runtime_env made concrete: its part of the cache key, and what Ray is given."""

    component: dict[str, Any]
    runtime_env: dict[str, Any] | None  # None: nothing left to install (the driver's environment has it all)
    error: str | None = None  # the installer's message when it could not be resolved


class EnvResolver:
    """Resolves the environments of one run's steps, each distinct one once."""

    def __init__(self) -> None:
        self.memo: dict[str, Resolved] = {}

    def resolve(self, runtime_env: dict[str, Any]) -> Resolved:
        token = json.dumps(runtime_env, sort_keys=True, default=str)
        if token not in self.memo:
            self.memo[token] = _resolve(runtime_env)
        return self.memo[token]

    def component(self, step: Step) -> dict[str, Any] | None:
        """The step's environment as a part of its cache key (None: it has none)."""
        runtime_env = step.resources.get("runtime_env")
        return self.resolve(runtime_env).component if runtime_env else None

    def resources(self, step: Step) -> dict[str, Any]:
        """The step's resource request with its runtime_env pinned; EnvBuildFailed when it cannot be built."""
        runtime_env = step.resources.get("runtime_env")
        if not runtime_env:
            return step.resources
        resolved = self.resolve(runtime_env)
        if resolved.error is not None:
            env = step.resources.get("env")
            raise EnvBuildFailed(_failed_words(env, resolved.error), step=step.name, env=env,
                                 installer=resolved.error)
        resources = {k: v for k, v in step.resources.items() if k != "runtime_env"}
        if resolved.runtime_env:
            resources["runtime_env"] = resolved.runtime_env
        return resources


def _failed_words(env: str | None, installer: str) -> str:
    what = f"its environment {env!r}" if env else "its runtime_env"
    last = [line for line in installer.splitlines() if line.strip()]
    return f"{what} could not be built: {last[-1].strip() if last else 'the installer failed'}"


def _resolve(runtime_env: dict[str, Any]) -> Resolved:
    component: dict[str, Any] = {}
    ray_env = dict(runtime_env)
    error = None
    pip = runtime_env.get("pip")
    if pip:
        requirements = pip.get("packages", []) if isinstance(pip, dict) else pip
        try:
            pins, lines = resolve_pip(requirements)
        except EnvBuildFailed as exc:
            error = exc.installer
            component["pip_error"] = error.splitlines()[-1] if error else "unresolved"
        else:
            component["pip"] = pins
            if pins:
                ray_env["pip"] = lines if not isinstance(pip, dict) else {**pip, "packages": lines}
            else:
                ray_env.pop("pip")  # all satisfied by the driver's environment, which the step inherits
    if runtime_env.get("env_vars"):
        component["env_vars"] = {k: _sha(str(v))[:16] for k, v in sorted(runtime_env["env_vars"].items())}
    if runtime_env.get("conda") is not None:
        conda = runtime_env["conda"]
        component["conda"] = _path_digest(conda) if isinstance(conda, str) and Path(conda).is_file() else conda
    if runtime_env.get("image_uri"):
        component["image"] = runtime_env["image_uri"]
    if runtime_env.get("py_modules"):
        component["py_modules"] = {str(m): _path_digest(str(m)) if "://" not in str(m) else str(m)
                                   for m in runtime_env["py_modules"]}
    other = {k: v for k, v in runtime_env.items() if k not in ("pip", "env_vars", "conda", "image_uri", "py_modules")}
    if other:  # a compute target's own runtime_env keys (working_dir, uv, ...): as given
        component["other"] = json.loads(json.dumps(other, sort_keys=True, default=str))
    return Resolved(component, ray_env or None, error)


def resolve_pip(requirements: list[str] | str) -> tuple[dict[str, str], list[str]]:
    """Requirement lines (or a requirements file's path) -> ({package: version or URL}, the lines Ray installs).

    `pip install --dry-run --report -` in the driver's Python: what it would add to this
    environment, pinned. Raises EnvBuildFailed with pip's message when it cannot resolve them.
    """
    args = ["-r", requirements] if isinstance(requirements, str) else list(requirements)
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--report", "-", "--quiet", "--no-input",
               "--disable-pip-version-check", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_RESOLVE_TIMEOUT_S, check=False,
                              env={**os.environ, "PIP_NO_INPUT": "1"})
    except subprocess.TimeoutExpired:
        raise EnvBuildFailed(f"pip could not resolve the requirements in {_RESOLVE_TIMEOUT_S:g} s",
                             installer=f"pip install --dry-run did not finish in {_RESOLVE_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        message = installer_message(done.stderr or done.stdout)
        raise EnvBuildFailed(f"pip could not resolve the requirements: {message.splitlines()[-1]}",
                             installer=message)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise EnvBuildFailed("pip's report could not be read", installer=done.stdout[-2000:]) from None
    pins: dict[str, str] = {}
    lines = [line for line in _option_lines(requirements)]
    for item in report.get("install", []):
        meta = item.get("metadata") or {}
        name = re.sub(r"[-_.]+", "-", str(meta.get("name", ""))).lower()
        if item.get("is_direct"):
            info = item.get("download_info") or {}
            url = info.get("url", "")
            vcs = info.get("vcs_info") or {}
            if vcs:
                url = f"{vcs.get('vcs', 'git')}+{url}@{vcs.get('commit_id', '')}"
            archive = (info.get("archive_info") or {}).get("hash")
            pins[name] = url + (f"#{archive}" if archive else "")
            lines.append(f"{name} @ {url}")
        else:
            pins[name] = str(meta.get("version"))
            lines.append(f"{name}=={meta.get('version')}")
    return dict(sorted(pins.items())), lines


def _option_lines(requirements: list[str] | str) -> list[str]:
    """The index options among the requirements (or in the requirements file): Ray's pip needs them too."""
    if isinstance(requirements, str):
        try:
            candidates = Path(requirements).read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
    else:
        candidates = list(requirements)
    return [line.strip() for line in candidates if line.strip().split("=")[0].split(" ")[0] in _INDEX_OPTIONS]


def installer_message(text: str) -> str:
    """The installer's own words in pip's or Ray's output: its ERROR lines, else the last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        return "\n".join(dict.fromkeys(errors))
    meaningful = [line for line in lines if not line.startswith(("WARNING:", "Looking in", "File ", "^"))]
    return (meaningful or lines or ["(no message)"])[-1]


def env_failure_result(step: str, env: str | None, installer: str, notebook_path: str | None) -> StepResult:
    """A step that failed before its code ran because its environment could not be built, as a failed
    `StepResult`; its executed notebook (written at `notebook_path`) says so."""
    import time

    words = _failed_words(env, installer)
    info = error_info("EnvironmentBuildFailed", words)
    info["role"] = "internal"
    info["traceback"] = "The installer said:\n" + installer
    if notebook_path:
        try:
            _write_notebook(notebook_path, step, words, installer)
        except OSError:
            logger.warning("could not write the notebook of step %r at %s", step, notebook_path, exc_info=True)
    now = time.time()
    return {"status": "failed", "started": now, "ended": now, "error": info}


def _write_notebook(path: str, step: str, words: str, installer: str) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    cell = new_code_cell(f"# step {step!r} did not run: {words}")
    cell.outputs = [new_output("error", ename="EnvironmentBuildFailed", evalue=words,
                               traceback=["The installer said:", *installer.splitlines()])]
    nb = new_notebook(cells=[new_markdown_cell(f"**Step `{step}` did not run:** {words}"), cell])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _path_digest(path: str) -> str:
    """A file's, or a folder's files', content digest (a missing path: 'missing')."""
    root = Path(path)
    if root.is_file():
        return _sha(root.read_bytes().hex())[:32]
    if not root.is_dir():
        return "missing"
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:32]
