"""The notebook is the oracle: a pipeline run must give the values of a top-to-bottom run.

The harness strips the `%%step` lines (and the cells that drive the pipeline:
`%pipeline ...`, `%load_ext jupyter_mlpipe`, `%%scratch`), executes the
notebook top to bottom in a real kernel with nbclient, and compares chosen
final values with `jupyter_mlpipe.run(...)` on the same notebook.
"""

from __future__ import annotations

import pickle
import re
import shutil
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import jupyter_mlpipe
from conftest import ROOT, write_notebook

pytestmark = pytest.mark.slow

_CONTROL = re.compile(r"^\s*(%pipeline\b.*|%load_ext\s+jupyter_mlpipe\s*)$")


def as_plain_notebook(path: Path, names: list[str], dump: Path, params: dict | None = None) -> nbformat.NotebookNode:
    """The notebook as a plain top-to-bottom notebook that pickles `names` into `dump` at the end."""
    with warnings.catch_warnings():  # test notebooks have no cell ids
        warnings.simplefilter("ignore")
        nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines and lines[0].strip().startswith("%%scratch") or "scratch" in cell.metadata.get("tags", []):
            continue
        if lines and lines[0].strip().startswith("%%step"):
            lines = lines[1:]
        lines = [line for line in lines if not _CONTROL.match(line)]
        if not any(line.strip() for line in lines):
            continue
        cells.append(nbformat.v4.new_code_cell("\n".join(lines)))
        if params and "parameters" in cell.metadata.get("tags", []):
            cells.append(nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items())))
    cells.append(nbformat.v4.new_code_cell(
        "import pickle as _pickle\n"
        f"with open({str(dump)!r}, 'wb') as _fh:\n"
        f"    _pickle.dump({{_n: globals()[_n] for _n in {names!r}}}, _fh)"
    ))
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def top_to_bottom(path: Path, names: list[str], params: dict | None = None) -> dict:
    from nbclient import NotebookClient

    dump = path.parent / f"{path.stem}.oracle.pkl"
    nb = as_plain_notebook(path, names, dump, params)
    NotebookClient(nb, kernel_name="python3", timeout=180,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    with open(dump, "rb") as fh:
        return pickle.load(fh)


def assert_same(name: str, expected, actual) -> None:
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(actual, expected, obj=name)
    elif isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(actual, expected, obj=name)
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(actual, expected, err_msg=name)
        assert actual.dtype == expected.dtype, name
    else:
        assert type(actual) is type(expected), (name, type(actual), type(expected))
        assert actual == expected, (name, actual, expected)


def check(path: Path, names: list[str], params: dict | None = None):
    """Run both ways and compare; returns the pipeline run."""
    oracle = top_to_bottom(path, names, params)
    run = jupyter_mlpipe.run(path, params)
    assert run.status == "succeeded", {n: s.error for n, s in run.steps.items() if s.error}
    for name in names:
        assert_same(name, oracle[name], run[name])
    return run


def test_the_harness_strips_steps_and_pipeline_cells(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [
        "%load_ext jupyter_mlpipe",
        {"source": "n = 1", "tags": ["parameters"]},
        "\n%%step a --retries 2\nx = n",
        "%%scratch\nraise SystemExit",
        {"source": "explore = 1", "tags": ["scratch"]},
        "%pipeline plan",
        {"source": "# notes", "cell_type": "markdown"},
    ])
    nb = as_plain_notebook(path, ["x"], tmp_path / "out.pkl", params={"n": 2})
    sources = [c.source for c in nb.cells]
    assert sources[:3] == ["n = 1", "n = 2", "x = n"]
    assert len(sources) == 4 and "pickle" in sources[3]


def test_quickstart(ray_address, tmp_path):
    path = tmp_path / "quickstart.ipynb"
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", path)
    names = ["X", "y", "X_train", "X_test", "y_train", "y_test", "accuracy"]
    run = check(path, names)
    assert 0.8 < run["accuracy"] <= 1.0
    run = check(path, ["X_train", "y_test", "accuracy"], params={"C": 0.01, "seed": 3})
    assert run.params["seed"] == 3


def test_redefinition(ray_address, tmp_path):
    path = write_notebook(tmp_path / "redefine.ipynb", [
        "%%step a\nx = 1\ncount = 0",
        "%%step b\nx = x + 1\ny = x * 10",
        "%%step c\nx = 100\ncount += 1",
        "%%step d\nz = x + y + count",
        "%%step e\nx = [x]\nw = y",
    ])
    check(path, ["x", "y", "z", "count", "w"])


def test_in_place_mutation(ray_address, tmp_path):
    path = write_notebook(tmp_path / "mutate.ipynb", [
        "import pandas as pd\nimport numpy as np",
        "%%step load\ndf = pd.DataFrame({'a': [1, 2, 3]})\nitems = [1, 2]\narr = np.zeros(4)\nconfig = {'k': 1}",
        "%%step mutate\ndf['b'] = df['a'] * 2\nitems.append(3)\ndf.loc[df['a'] > 1, 'a'] = 0\n"
        "arr[1:3] += 5\nconfig.update(k=2)\narr.sort()",
        "%%step more\ndf.drop(columns=['b'], inplace=True)\nitems += [4]\narr *= 2",
        "%%step use\ntotal = int(df['a'].sum()) + len(items)\ncols = list(df.columns)\nlast = float(arr[-1])",
    ])
    run = check(path, ["df", "items", "arr", "config", "total", "cols", "last"])
    assert not any("STALE" in w for s in run.steps.values() for w in s.warnings)


def test_mutation_through_aliases(ray_address, tmp_path):
    path = write_notebook(tmp_path / "aliases.ipynb", [
        "import pandas as pd",
        "%%step split\ntrain_df = pd.DataFrame({'v': [1, 2, 3]})\ntest_df = pd.DataFrame({'v': [4, 5]})",
        "%%step features\nfor d in [train_df, test_df]:\n    d['x'] = d['v'] * 2",
        "%%step more\nframes = {'train': train_df, 'test': test_df}\nfor key, frame in frames.items():\n"
        "    frame['y'] = frame['v'] + 1\nalias = train_df\nalias['z'] = 0",
        "%%step model\ns = int(train_df['x'].sum() + test_df['x'].sum() + train_df['y'].sum() + train_df['z'].sum())",
    ])
    run = check(path, ["train_df", "test_df", "s"])
    assert not any("STALE" in w for st in run.steps.values() for w in st.warnings), \
        [w for st in run.steps.values() for w in st.warnings]


def test_functions_reading_globals(ray_address, tmp_path):
    path = write_notebook(tmp_path / "globals.ipynb", [
        "SCALE = 3\n\ndef f(v):\n    return v * SCALE * factor\n\nclass Box:\n    def size(self):\n"
        "        return len(items) * SCALE",
        "%%step s1\nfactor = 2\nitems = [1, 2]",
        "%%step s2\nout = f(5)\nb1 = Box().size()",
        "%%step s3\nfactor = 10\nitems = items + [3]",
        "%%step s4\nout2 = f(5)\nb2 = Box().size()",
        "def g():\n    return out2 + 1",
        "%%step s5\nout3 = g()",
    ])
    check(path, ["out", "out2", "b1", "b2", "out3"])


def test_parameters(ray_address, tmp_path):
    path = write_notebook(tmp_path / "params.ipynb", [
        "import numpy as np",
        {"source": "n = 10\nseed = 0\nname = 'run'", "tags": ["parameters"]},
        "%%step data\nrng = np.random.default_rng(seed)\nvalues = rng.normal(size=n)",
        "%%step stats\nmean = float(values.mean())\nlabel = f'{name}-{n}'",
    ])
    check(path, ["values", "mean", "label"])
    check(path, ["values", "mean", "label"], params={"n": 5, "name": "other"})


def test_ipython_syntax_in_steps(ray_address, tmp_path):
    path = write_notebook(tmp_path / "ipython.ipynb", [
        "%load_ext jupyter_mlpipe",
        "import os",
        "%%step a\nx = 1\n%time y = x + 1\nfiles = !ls\nlisted = 'ipython.ipynb' in files",
        "%%step b\nz = y * 10\nhere = os.path.basename(os.getcwd())",
        "%pipeline plan",
    ])
    check(path, ["x", "y", "listed", "z", "here"])
