"""The example notebooks, run the way a newcomer runs them.

Each notebook is executed two ways and chosen final values must agree:

- as a user does in JupyterLab: every cell top to bottom with nbclient, in a
  kernel started with `JPY_SESSION_NAME` set to the notebook's path (what
  jupyter_server does), so its own `%pipeline ...` cells plan and run the saved
  notebook on the suite's Ray (MLPIPE_RAY_ADDRESS is inherited). The values
  compared are taken just before the first `%pipeline` cell: what the plain
  top-to-bottom run computed in the kernel, not what a pipeline run pulled back;
- as a pipeline, with `jupyter_mlpipe.run` on a separate copy.

Notebooks are copied into tmp_path first, with the module notebooks their `--module` lines name
(`lib/features.ipynb`), so no `.mlpipe/` lands in the repo.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, mlpipe_cli
from test_differential import assert_same

import jupyter_mlpipe

pytestmark = pytest.mark.slow

NOTEBOOKS = ROOT / "notebooks"
_PIPELINE_LINE = re.compile(r"^\s*%pipeline\b", re.MULTILINE)
_MODULE_PATH = re.compile(r"^%%step\b.*?--module[ =](\S+\.ipynb)", re.MULTILINE)
LIBRARY = {"lib/features.ipynb"}  # module notebooks: used by the examples, not examples of their own


def copy_notebook(name: str, folder: Path) -> Path:
    """Copy notebooks/NAME to folder/NAME, and the module notebooks it uses (relative to it), recursively."""
    dest = folder / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(NOTEBOOKS / name, dest)
    for cell in nbformat.read(dest, as_version=4).cells:
        for used in _MODULE_PATH.findall(cell.source) if cell.cell_type == "code" else ():
            module = (Path(name).parent / used).as_posix()
            if not (folder / module).exists():
                copy_notebook(module, folder)
    return dest


def run_as_user(path: Path, names: list[str], env: dict | None = None,
                timeout: int = 300) -> tuple[dict, nbformat.NotebookNode]:
    """Execute every cell of the notebook as JupyterLab would; returns (values, executed notebook).

    `names` are pickled by a cell inserted before the first `%pipeline` cell (at the end where none is).
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    dump = path.parent / f"{path.stem}.values.pkl"
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and _PIPELINE_LINE.search(c.source)),
                 len(nb.cells))
    nb.cells.insert(first, nbformat.v4.new_code_cell(
        "import pickle as _pickle\n"
        f"with open({str(dump)!r}, 'wb') as _fh:\n"
        f"    _pickle.dump({{_n: globals()[_n] for _n in {names!r}}}, _fh)"))
    kernel_env = {**os.environ, **(env or {}), "JPY_SESSION_NAME": str(path), "MPLBACKEND": "Agg"}
    kernel_env = {k: v for k, v in kernel_env.items() if v is not None}
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=kernel_env)
    with open(dump, "rb") as fh:
        return pickle.load(fh), nb


def text_of(nb: nbformat.NotebookNode, index_of_source: str) -> str:
    """The text output of the first code cell whose source contains `index_of_source`."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and index_of_source in c.source)
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out and "text/plain" in out.data:
            parts.append(out.data["text/plain"])
    return "".join(parts)


def both_ways(name: str, tmp_path: Path, names: list[str], params: dict | None = None):
    """(user-run values, executed notebook, pipeline run, user copy's path)."""
    pipeline_copy = copy_notebook(name, tmp_path / "pipeline")
    run = jupyter_mlpipe.run(pipeline_copy, params)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items() if s.error}
    user_copy = copy_notebook(name, tmp_path / "user")
    values, nb = run_as_user(user_copy, names)
    for var in names:
        assert_same(var, values[var], run[var])
    return values, nb, run, user_copy


def counts(item: dict) -> dict:
    return {k: v for k, v in item["step_counts"].items() if v}


def test_every_notebook_is_tested_and_well_formed():
    tested = {"quickstart.ipynb", "fan_out.ipynb", "gpu.ipynb", "parameters.ipynb", "modules.ipynb",
              "batch_scoring.ipynb"}
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == tested
    assert {p.relative_to(NOTEBOOKS).as_posix() for p in NOTEBOOKS.glob("*/*.ipynb")
            if not p.parent.name.startswith(".")} == LIBRARY
    for name in sorted(tested | LIBRARY):
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.cells[0].cell_type == "markdown", name
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code[0].source.strip() == "%load_ext jupyter_mlpipe", name
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name}: clear the outputs"
        # a cell after the last step that only looks at results is %%scratch (or drives the pipeline)
        last_step = max(i for i, c in enumerate(code) if c.source.startswith("%%step"))
        for cell in code[last_step + 1:]:
            if not cell.source.startswith("%%step"):
                assert cell.source.startswith("%%scratch") or _PIPELINE_LINE.search(cell.source), \
                    f"{name}: this cell would join the last step:\n{cell.source}"


def test_quickstart(ray_address, tmp_path):
    names = ["X_train", "y_test", "model", "accuracy"]
    values, nb, run, path = both_ways("quickstart.ipynb", tmp_path, ["X_train", "y_test", "accuracy"])
    assert 0.9 < values["accuracy"] <= 1.0
    items = jupyter_mlpipe.runs(path)[::-1]  # oldest first: run, run again, run -p C=0.05
    assert [i["status"] for i in items] == ["succeeded"] * 3
    assert counts(items[0]) == {"succeeded": 4}
    assert counts(items[1]) == {"reused": 4}
    assert counts(items[2]) == {"reused": 2, "succeeded": 2}
    assert items[2]["params"]["C"] == 0.05
    assert "C" in text_of(nb, "%pipeline why train")
    assert "accuracy of the last pipeline run" in text_of(nb, "%%scratch")
    del names


def test_quickstart_as_a_newcomer_runs_it(tmp_path):
    """No cluster, default settings: the kernel starts the shared local Ray head when the first %%step cell runs."""
    path = copy_notebook("quickstart.ipynb", tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("MLPIPE_RAY_ADDRESS", "RAY_ADDRESS")}
    env = {**env, "MLPIPE_RAY_ADDRESS": None, "RAY_ADDRESS": None, "MLPIPE_RAY_PRESTART": "1"}
    values, nb = run_as_user(path, ["accuracy"], env=env, timeout=150)
    table = text_of(nb, "%pipeline runs").splitlines()
    assert table[0].split()[:5] == ["run", "started", "status", "duration", "reused"]
    # the re-run reused all four steps (the words: id, date, time, status, duration, unit, reused)
    assert "4/4" in [row.split()[6] for row in table[1:]]


def test_fan_out(ray_address, tmp_path):
    names = ["scores", "best", "logreg_score", "forest_score", "boosting_score", "svc_score", "svc_cv"]
    values, nb, run, path = both_ways("fan_out.ipynb", tmp_path, names)
    assert values["best"] in values["scores"] and all(0.85 < s <= 1 for s in values["scores"].values())
    # the four models depend on the features alone, so they may run side by side (whether they overlap
    # depends on how fast a second executor starts on a loaded machine: test_run checks parallel runs)
    models = [run.steps[s] for s in ("logreg", "forest", "boosting", "svc")]
    assert all(s.status == "succeeded" for s in models)
    assert {s: sorted(run.plan.steps[s].input_sources.values()) for s in ("logreg", "forest", "boosting", "svc")} \
        == {s: ["data"] * len(run.plan.steps[s].input_sources) for s in ("logreg", "forest", "boosting", "svc")}
    # each model step logged a curve into the run history
    from jupyter_mlpipe.store.history import History
    from jupyter_mlpipe.store.paths import store_for

    metrics = History(store_for(path)[0].history_path).get_run(jupyter_mlpipe.runs(path)[0]["id"])["metrics"]
    assert set(metrics) >= {"logreg", "forest", "boosting", "svc"}, metrics
    assert len(metrics["boosting"]["test_accuracy"]) == 20
    assert [index for index, _, _ in metrics["forest"]["test_accuracy"]] == [10, 20, 30, 40]
    assert values["best"] in text_of(nb, "print(best, scores[best])")


def test_gpu_notebook_runs_where_a_gpu_is(ray_address, tmp_path):
    """The suite's Ray has one (fake) GPU: the GPU step is scheduled; without torch it says so."""
    names = ["X_train", "test_accuracy", "trained_with"]
    values, nb, run, path = both_ways("gpu.ipynb", tmp_path, names)
    assert values["test_accuracy"] > 0.85
    assert run.steps["train"].resources["num_gpus"] == 1
    try:
        import torch  # noqa: F401
    except ImportError:
        assert "PyTorch is not installed" in text_of(nb, "%%step train")
        assert values["trained_with"] == "scikit-learn (cpu)"
    assert "The pipeline was not run" not in text_of(nb, "%%scratch")
    assert [i["status"] for i in jupyter_mlpipe.runs(path)] == ["succeeded"]


def _machine_has_gpu() -> bool:
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(_machine_has_gpu(), reason="this machine has a GPU: nothing is refused")
def test_gpu_notebook_without_a_gpu_shows_the_refusal(tmp_path):
    """On a machine without a GPU, the run cell shows why nothing ran; `mlpipe run` refuses too, before any Ray
    is started."""
    path = copy_notebook("gpu.ipynb", tmp_path)
    no_cluster = {"MLPIPE_RAY_ADDRESS": None, "RAY_ADDRESS": None}
    env = {k: v for k, v in os.environ.items() if k not in no_cluster}
    values, nb = run_as_user(path, ["trained_with"], env={**env, **no_cluster})
    shown = text_of(nb, "%%scratch")
    assert "The pipeline was not run" in shown
    assert "'train'" in shown and "no GPU" in shown, shown
    assert "Nothing was submitted" in shown

    fresh_home = tmp_path / "ray-home"
    result = subprocess.run([os.path.join(os.path.dirname(os.sys.executable), "mlpipe"), "run", str(path)],
                            capture_output=True, text=True, timeout=240,
                            env={**env, "MLPIPE_RAY_HOME": str(fresh_home)})
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "'train'" in message and "no GPU" in message, message
    assert not (fresh_home / "head.json").exists()  # refused before a Ray head was started


def test_parameters(ray_address, tmp_path):
    names = ["X_train", "model", "accuracy", "auc", "n_features_used"]
    values, nb, run, path = both_ways("parameters.ipynb", tmp_path, ["X_train", "accuracy", "auc", "n_features_used"])
    del names
    items = jupyter_mlpipe.runs(path)[::-1]
    assert [i["params"]["C"] for i in items] == [1.0, 0.05, 0.05]
    assert [i["params"]["penalty"] for i in items] == ["l2", "l2", "l1"]
    assert counts(items[1]) == {"reused": 1, "succeeded": 2}  # data reused when only C changes
    assert "comparison" in nb.cells[-1].source
    table = text_of(nb, "comparison = pd.DataFrame")
    assert "l1" in table and "0.05" in table

    # headless, as the notebook shows: the same store, so everything is reused
    result = mlpipe_cli("run", str(path), "-p", "C=0.05", "-p", "penalty=l1", "--json", cwd=path.parent)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    states = {name: step["status"] for name, step in data["steps"].items()}
    assert states == {"data": "reused", "train": "reused", "evaluate": "reused"}, states
    # and a new value runs the model steps only, with the same numbers as the Python API
    result = mlpipe_cli("run", str(path), "-p", "C=0.3", "--json", cwd=path.parent)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["steps"]["data"]["status"] == "reused"
    api = jupyter_mlpipe.run(path, {"C": 0.3})
    assert {s.status for s in api.steps.values()} == {"reused"}


def test_modules(ray_address, tmp_path):
    names = ["sales", "X", "y", "mae", "baseline_mae"]
    values, nb, run, path = both_ways("modules.ipynb", tmp_path, names)
    assert values["mae"] < values["baseline_mae"]  # the features help
    assert list(values["X"].columns) == ["yesterday", "mean_7d", "std_7d", "temperature", "weekend"]
    assert "feats: module lib/features.ipynb ran; bound X, y" in text_of(nb, "%%step feats --module")
    collapsed = text_of(nb, "%pipeline plan")  # the first: without --expand
    assert "module feats" in collapsed and "feats.clean" not in collapsed, collapsed
    assert "step feats.clean" in text_of(nb, "%pipeline plan --expand")
    assert list(run.plan.steps) == ["load", "feats", "feats.clean", "feats.features", "train"]
    items = jupyter_mlpipe.runs(path)[::-1]  # oldest first: run, run -p window_days=14
    assert [i["status"] for i in items] == ["succeeded"] * 2
    assert items[1]["params"]["window_days"] == 14
    last = jupyter_mlpipe.load_run(items[1]["id"], path)
    states = {name: step.status for name, step in last.steps.items()}
    # only the steps that read the window ran: the module's features, and the training on them
    assert states == {"load": "reused", "feats": "succeeded", "feats.clean": "reused",
                      "feats.features": "succeeded", "train": "succeeded"}, states
    assert list(last["X"].columns)[1] == "mean_14d"
    assert "window" in text_of(nb, "%pipeline why feats.features")


def test_modules_lib_notebook_runs_on_its_own(ray_address, tmp_path):
    """lib/features.ipynb is an ordinary notebook too: top to bottom in a kernel, and as a pipeline."""
    values, nb, run, path = both_ways("lib/features.ipynb", tmp_path, ["data", "X", "y"])
    assert len(values["X"]) == len(values["data"]) - 7 and list(values["y"].index) == list(values["X"].index)
    assert list(run.steps) == ["clean", "features"]


def test_batch_scoring(ray_address, tmp_path):
    names = ["incoming", "model", "scored", "n_unscored", "accuracy"]
    values, nb, run, path = both_ways("batch_scoring.ipynb", tmp_path, ["incoming", "scored", "n_unscored",
                                                                          "accuracy"])
    del names
    # ten batches of 500 rows; the one holding the corrupt row failed, within the threshold
    assert (len(values["scored"]), values["n_unscored"]) == (4500, 500)
    assert values["accuracy"] > 0.8
    shown = text_of(nb, "%%step score --foreach")
    assert "score: 9 of 10 elements done, 1 failed" in shown and "rows [3234] have missing values" in shown
    info = run.steps["score"].reason["foreach"]
    assert (info["total"], info["done"], info["failed"]) == (10, 9, 1)
    assert [f["index"] for f in info["failures"]] == [2]
    # 500 more rows: the ten batches seen before are reused (the failed one is tried again), the new one runs
    items = jupyter_mlpipe.runs(path)[::-1]
    assert [i["params"]["n_incoming"] for i in items] == [5000, 5500]
    again = jupyter_mlpipe.load_run(items[1]["id"], path)
    info = again.steps["score"].reason["foreach"]
    assert (info["total"], info["done"], info["reused"], info["ran"], info["failed"]) == (11, 10, 9, 1, 1), info
    assert again.steps["train"].status == "reused"
    assert len(again["scored"]) == 5000
