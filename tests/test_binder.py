"""Install from binder/ into a fresh virtual environment the way mybinder.org does (the pip part).

mybinder.org (repo2docker) installs `binder/requirements.txt`, then runs
`binder/postBuild` from the repository root. Here the repository's tracked and
untracked (not ignored) files are copied into tmp_path first, like a fresh
clone, so the build leaves nothing in the working tree. pip finds packages the
way it is configured on this machine (a local wheel cache or index makes this
a minute or two instead of a download of Ray and JupyterLab).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def _clone(dest: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    # Building the JupyterLab extension runs `jlpm install` (network) and `jlpm build:prod`; Binder
    # has the network, this test may not. Reuse this checkout's build (the build hook then skips
    # it), or at least its node_modules.
    built = ROOT / "jupyter_mlpipe" / "labextension"
    if (built / "static" / "style.js").exists():
        shutil.copytree(built, dest / "jupyter_mlpipe" / "labextension")
    elif (ROOT / "labextension" / "node_modules").is_dir() and (dest / "labextension").is_dir():
        (dest / "labextension" / "node_modules").symlink_to(ROOT / "labextension" / "node_modules")
    return dest


def _sh(args: list[str], cwd: Path, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.mark.timeout(1500)
def test_binder_install_runs_the_quickstart(tmp_path):
    repo = _clone(tmp_path / "repo")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "MLPIPE_RAY_ADDRESS", "RAY_ADDRESS", "PYTHONHOME")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(env_dir),
               HOME=env.get("HOME", str(tmp_path)), RAY_USAGE_STATS_ENABLED="0",
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"), JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"))
    python = str(bindir / "python")

    # what repo2docker does: requirements.txt, then postBuild from the repository root
    _sh([python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"], cwd=repo, env=env)
    _sh(["bash", "binder/postBuild"], cwd=repo, env=env)

    # the package imports from the venv, not from this checkout
    where = _sh([python, "-c", "import jupyter_mlpipe, os; print(os.path.realpath(jupyter_mlpipe.__file__))"],
                cwd=tmp_path, env=env).stdout.strip()
    assert where.startswith(str(env_dir.resolve())) or where.startswith(str(env_dir)), where

    # the server extension is enabled when the package has one
    has_server = _sh([python, "-c", "import importlib.util as u; print(bool(u.find_spec('jupyter_mlpipe.server')))"],
                     cwd=tmp_path, env=env).stdout.strip() == "True"
    servers = _sh([str(bindir / "jupyter"), "server", "extension", "list"], cwd=tmp_path, env=env)
    listing = servers.stdout + servers.stderr
    if has_server:
        line = next((ln for ln in listing.splitlines() if "jupyter_mlpipe.server" in ln), "")
        assert "enabled" in line and "disabled" not in line, listing

    # the JupyterLab extension is installed and enabled when the package ships one
    labext = _sh([str(bindir / "jupyter"), "labextension", "list"], cwd=tmp_path, env=env)
    lab_listing = labext.stdout + labext.stderr
    shipped = list((env_dir / "share" / "jupyter" / "labextensions").glob("jupyter-mlpipe*"))
    if shipped or (repo / "labextension" / "package.json").exists():
        line = next((ln for ln in lab_listing.splitlines() if "jupyter-mlpipe" in ln), "")
        assert "enabled" in line and "OK" in line, lab_listing

    # the quickstart runs headless on an embedded Ray, and a second run reuses every step
    work = tmp_path / "work"
    work.mkdir()
    notebook = Path(shutil.copy(repo / "notebooks" / "quickstart.ipynb", work / "quickstart.ipynb"))
    mlpipe = str(bindir / "mlpipe")
    first = _sh([mlpipe, "run", str(notebook)], cwd=work, env=env, timeout=600)
    assert "accuracy" in first.stdout, first.stdout
    second = _sh([mlpipe, "run", str(notebook)], cwd=work, env=env, timeout=600)
    assert second.stdout.count("reused") >= 4, second.stdout
