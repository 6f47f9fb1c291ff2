"""Per-step environments (`[env.NAME]` in mlpipe.toml, `%%step NAME --env ENV`), on the suite's real local Ray.

The environment is the step's Ray runtime_env; its resolved content (pip's pins, the variables) is in the
step's cache key. Config and plan errors are checked without Ray; the runs use real Ray, and the pip test
installs a real package from the package index (pyjokes, absent from the driver's virtualenv).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest
from conftest import write_notebook

import jupyter_mlpipe
from jupyter_mlpipe.config import load_config
from jupyter_mlpipe.errors import ConfigError, PlanError
from jupyter_mlpipe.execute.environments import installer_message
from jupyter_mlpipe.plan import Pipeline
from jupyter_mlpipe.queries import why


def _config_error(tmp_path: Path, text: str) -> str:
    (tmp_path / "mlpipe.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    return str(caught.value)


# --------------------------------------------------------------------------- config and plan (no Ray)


def test_an_env_table_is_read_with_paths_relative_to_the_file(tmp_path):
    (tmp_path / "requirements.txt").write_text("pyjokes==0.8.3\n")
    (tmp_path / "mlpipe.toml").write_text(
        '[env.fun]\npip_file = "requirements.txt"\nenv_vars = {MODE = "fast"}\n'
        '[env.img]\ncontainer = {image = "rayproject/ray:2.9.0"}\n'
        '[compute.big]\nnum_cpus = 2\nenv = "fun"\n')
    config = load_config(tmp_path)
    assert config.envs["fun"] == {"pip_file": str(tmp_path / "requirements.txt"), "env_vars": {"MODE": "fast"}}
    assert config.envs["img"] == {"container": {"image": "rayproject/ray:2.9.0"}}
    assert config.compute["big"]["env"] == "fun"


@pytest.mark.parametrize("text, words", [
    ('[env.fun]\npipp = ["x"]\n', ["[env.fun]", "unknown key 'pipp'", "Did you mean 'pip'?"]),
    ('[env.fun]\npip = ["x"]\npip_file = "r.txt"\n', ["[env.fun]", "both pip and pip_file"]),
    ('[env.fun]\npip_file = "nothere.txt"\n', ["[env.fun]", "pip_file = 'nothere.txt'", "no such file"]),
    ('[env.fun]\nenv_vars = {THREADS = 4}\n', ["[env.fun]", "env_vars: THREADS = 4 is not a string",
                                              'THREADS = "4"']),
    ('[env.fun]\npip = "pyjokes"\n', ["[env.fun] pip must be a list"]),
    ('[env.fun]\ncontainer = {image = "x"}\npip = ["y"]\n', ["[env.fun]", "container cannot be combined"]),
    ('[env.fun]\nconda = "env"\npip = ["y"]\n', ["[env.fun]", "conda and pip"]),
    ('[env.fun]\ncontainer = {img = "x"}\n', ["[env.fun] container must be a table with an image"]),
    ('[compute.big]\nenv = "fun"\n', ["[compute.big] env = 'fun' names no [env.fun] table"]),
])
def test_bad_env_tables_name_the_file_the_table_and_the_key(tmp_path, text, words):
    message = _config_error(tmp_path, text)
    assert str(tmp_path / "mlpipe.toml") in message
    for word in words:
        assert word in message, (word, message)


def test_an_unknown_env_is_a_plan_error_with_the_known_ones_and_a_close_match(tmp_path):
    (tmp_path / "mlpipe.toml").write_text('[env.training]\nenv_vars = {A = "1"}\n[env.prep]\npip = ["x"]\n')
    path = write_notebook(tmp_path / "nb.ipynb", ["%%step fit --env trainin\nx = 1"])
    with pytest.raises(PlanError) as caught:
        Pipeline.from_notebook(path)
    error = caught.value
    assert error.step == "fit" and error.variable == "trainin"
    assert "--env trainin" in str(error) and "Did you mean 'training'?" in str(error)
    assert "Known environments: prep, training" in str(error)


def test_a_steps_env_and_a_compute_targets_env_become_its_runtime_env(tmp_path):
    (tmp_path / "mlpipe.toml").write_text(
        '[env.a]\nenv_vars = {WHO = "a"}\n[env.b]\nenv_vars = {WHO = "b"}\n'
        '[compute.big]\nnum_cpus = 2\nenv = "b"\n')
    path = write_notebook(tmp_path / "nb.ipynb", [
        "%%step one --env a\nx = 1", "%%step two --compute big\ny = 2", "%%step three --compute big --env a\nz = 3",
        "%%step four\nw = 4"])
    plan = Pipeline.from_notebook(path)
    assert plan.steps["one"].resources["runtime_env"] == {"env_vars": {"WHO": "a"}}
    assert plan.steps["two"].resources["env"] == "b" and plan.steps["two"].resources["num_cpus"] == 2
    assert plan.steps["three"].resources["runtime_env"] == {"env_vars": {"WHO": "a"}}  # --env wins
    assert "runtime_env" not in plan.steps["four"].resources and "env" not in plan.steps["four"].to_dict()["options"]


def test_the_installers_words_are_taken_from_rays_setup_error():
    text = ("Failed to set up runtime environment.\n[Node 1.2.3.4] Traceback (most recent call last):\n"
            "  File \"pip.py\", line 252, in _install_pip_packages\n"
            "ray._private.runtime_env.utils.SubprocessCalledProcessError: Run cmd[13] failed.\n"
            "Last 50 lines of stdout:\n    Looking in indexes: https://pypi.org/simple\n"
            "    ERROR: Could not find a version that satisfies the requirement nope-zz (from versions: none)\n"
            "    ERROR: No matching distribution found for nope-zz\n")
    assert installer_message(text) == (
        "ERROR: Could not find a version that satisfies the requirement nope-zz (from versions: none)\n"
        "ERROR: No matching distribution found for nope-zz")
    assert installer_message("Failed.\nRuntimeError: Please install virtualenv") == \
        "RuntimeError: Please install virtualenv"


# --------------------------------------------------------------------------- runs on Ray


def _plain_top_to_bottom(path: Path, names: list[str]) -> dict:
    from test_differential import top_to_bottom

    return top_to_bottom(path, names)


@pytest.mark.slow
def test_an_env_vars_environment_reaches_the_step_and_not_the_driver(ray_address, tmp_path, monkeypatch):
    (tmp_path / "mlpipe.toml").write_text('[env.tuned]\nenv_vars = {MLPIPE_TEST_MODE = "fast", THREADS = "3"}\n')
    path = write_notebook(tmp_path / "nb.ipynb", [
        "import os",
        "%%step settings --env tuned\nmode = os.environ.get('MLPIPE_TEST_MODE')\nthreads = int(os.environ['THREADS'])",
        "%%step plain\nplain_mode = os.environ.get('MLPIPE_TEST_MODE')",
    ])
    # the oracle: the notebook top to bottom in a kernel started with the environment's variables
    monkeypatch.setenv("MLPIPE_TEST_MODE", "fast")
    monkeypatch.setenv("THREADS", "3")
    oracle = _plain_top_to_bottom(path, ["mode", "threads"])
    monkeypatch.delenv("MLPIPE_TEST_MODE")
    monkeypatch.delenv("THREADS")

    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}
    assert (run["mode"], run["threads"]) == (oracle["mode"], oracle["threads"]) == ("fast", 3)
    assert run["plain_mode"] is None  # a step without the env: the driver's environment
    assert "MLPIPE_TEST_MODE" not in os.environ

    again = jupyter_mlpipe.run(path)
    assert {n: s.status for n, s in again.steps.items()} == {"settings": "reused", "plain": "reused"}

    (tmp_path / "mlpipe.toml").write_text('[env.tuned]\nenv_vars = {MLPIPE_TEST_MODE = "slow", THREADS = "3"}\n')
    third = jupyter_mlpipe.run(path)
    assert {n: s.status for n, s in third.steps.items()} == {"settings": "succeeded", "plain": "reused"}
    assert third["mode"] == "slow"
    text = why(path, "settings", no_history_hint="", not_run_hint="")
    assert "environment variable 'MLPIPE_TEST_MODE' changed" in text
    assert "slow" not in text and "fast" not in text  # values may be secrets: never in the record


@pytest.mark.slow
def test_a_pip_environment_installs_a_package_the_driver_lacks(ray_address, tmp_path):
    assert importlib.util.find_spec("pyjokes") is None, "the test needs pyjokes absent from the driver's venv"
    (tmp_path / "mlpipe.toml").write_text('[env.fun]\npip = ["pyjokes==0.8.3"]\n')
    path = write_notebook(tmp_path / "nb.ipynb", [
        "%%step prep\nwords = ['a', 'b']",
        ("%%step joke --env fun\nimport importlib.metadata\nimport pyjokes\n"
         "version = importlib.metadata.version('pyjokes')\njoke_type = type(pyjokes.get_joke()).__name__\n"
         "import jupyter_mlpipe\nsame_package = jupyter_mlpipe.__file__"),
        "%%step count\nn_words = len(words)",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}
    assert run["version"] == "0.8.3" and run["joke_type"] == "str"
    assert run["same_package"] == jupyter_mlpipe.__file__  # the worker's venv inherits the driver's packages
    assert run.steps["joke"].reason["components"]["runtime_env"]["pip"] == {"pyjokes": "0.8.3"}

    again = jupyter_mlpipe.run(path)
    assert {n: s.status for n, s in again.steps.items()} == {"prep": "reused", "joke": "reused", "count": "reused"}

    (tmp_path / "mlpipe.toml").write_text('[env.fun]\npip = ["pyjokes==0.8.2"]\n')
    changed = jupyter_mlpipe.run(path)
    assert {n: s.status for n, s in changed.steps.items()} == {"prep": "reused", "joke": "succeeded",
                                                               "count": "reused"}
    assert changed["version"] == "0.8.2"
    text = why(path, "joke", no_history_hint="", not_run_hint="")
    assert "environment package 'pyjokes' changed: 0.8.3 -> 0.8.2" in text, text


@pytest.mark.slow
def test_an_environment_that_cannot_be_built_fails_its_step_with_pips_words(ray_address, tmp_path):
    (tmp_path / "mlpipe.toml").write_text('[env.broken]\npip = ["nosuchpkg-mlpipe-zz9==1.0"]\n')
    path = write_notebook(tmp_path / "nb.ipynb", [
        "%%step ok\nx = 1",
        "%%step uses --env broken\ny = x + 1",
        "%%step after\nz = y + 1",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "failed"
    assert {n: s.status for n, s in run.steps.items()} == {"ok": "succeeded", "uses": "failed", "after": "skipped"}
    error = run.steps["uses"].error
    assert "its environment 'broken' could not be built" in error
    assert "No matching distribution found for nosuchpkg-mlpipe-zz9" in error
    assert "Ray" not in error
    nb = nbformat.read(run.steps["uses"].notebook_path, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert outputs[0]["ename"] == "EnvironmentBuildFailed"
    assert any("No matching distribution found" in line for line in outputs[0]["traceback"])
    record = run.steps["uses"].error_info
    assert record["ename"] == "EnvironmentBuildFailed" and "could not be built" in record["evalue"]


@pytest.mark.slow
def test_a_fan_out_steps_elements_run_in_its_environment(ray_address, tmp_path):
    (tmp_path / "mlpipe.toml").write_text('[env.tagged]\nenv_vars = {MLPIPE_TEST_TAG = "t"}\n')
    path = write_notebook(tmp_path / "nb.ipynb", [
        "import os",
        "%%step make\nitems = [1, 2, 3]",
        ("%%step each --foreach items --as item --env tagged\n"
         "label = os.environ.get('MLPIPE_TEST_TAG', '-') + str(item)"),
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items()}
    assert run["label"] == ["t1", "t2", "t3"]
