"""Containers keep the identity of their elements across steps (`combine = [train, test]`)."""

from __future__ import annotations

import pytest

import jupyter_mlpipe
from test_differential import top_to_bottom

pytestmark = pytest.mark.slow

LOAD = ("%%step load\nimport pandas as pd\ntrain = pd.DataFrame({'a': [1]})\n"
        "test = pd.DataFrame({'a': [2]})\nframes = [train, test]")


@pytest.mark.parametrize("cells", [
    [LOAD, "%%step feat\nfor d in frames:\n    d['b'] = 2", "%%step use\ns = len(train) + len(test)"],
    ["def add_features(df):\n    df['x'] = 1", LOAD, "%%step feat\nadd_features(train)",
     "%%step feat2\nfor d in frames:\n    d['b'] = 2", "%%step use\ns = len(train) + len(test)"],
    [LOAD.replace("[train, test]", "{'tr': train, 'te': test}"),
     "%%step feat\nfor d in frames.values():\n    d['b'] = 2", "%%step use\ns = len(train) + len(test)"],
], ids=["list", "function-then-list", "dict"])
def test_mutation_through_a_container_from_an_earlier_step(ray_address, notebook, cells):
    path = notebook(cells)
    oracle = top_to_bottom(path, ["train", "test"])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    for name in ("train", "test"):
        assert list(run[name].columns) == list(oracle[name].columns), name
        assert run[name].equals(oracle[name]), name


@pytest.mark.parametrize("swap", [
    "%%step swap\ntrain = train.assign(c=3)",  # rebinding: frames still holds the old train
    "%%step swap\ntrain['c'] = 3",  # in place: frames[0] is train, changed
], ids=["rebound", "changed-in-place"])
def test_a_container_keeps_the_element_it_held_when_a_later_step_rebinds_the_name(ray_address, notebook, swap):
    path = notebook([LOAD, swap, "%%step use\nfirst = frames[0]\nsame = first is train\nfirst['d'] = 4"])
    oracle = top_to_bottom(path, ["first", "same", "train"])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    assert run["same"] is oracle["same"]
    for name in ("first", "train"):
        assert list(run[name].columns) == list(oracle[name].columns), name
        assert run[name].equals(oracle[name]), name
