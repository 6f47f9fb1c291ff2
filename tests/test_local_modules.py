"""A module of the notebook's folder, edited between runs: the next run uses the edit.

Steps run in warm processes (Ray workers, step executors shared by every run on
the machine), where an imported module stays in `sys.modules`. A user's own
module (`helpers.py` beside the notebook) must not: the notebook, run top to
bottom in a new kernel, imports the edited file, and so must the pipeline, and
a step that imports it must not be reused from before the edit.
"""

from __future__ import annotations

import jupyter_mlpipe

from conftest import write_notebook


def test_an_edited_helper_module_is_imported_again_and_its_step_reruns(ray_address, tmp_path):
    (tmp_path / "helpers.py").write_text("VALUE = 1\n\ndef double(x):\n    return 2 * x\n")
    path = write_notebook(tmp_path / "uses_helpers.ipynb", [
        "%%step first\nimport helpers\nx = helpers.VALUE",
        "%%step second\nimport helpers\ny = helpers.double(x)",
    ])
    run = jupyter_mlpipe.run(path)
    assert (run["x"], run["y"]) == (1, 2)
    (tmp_path / "helpers.py").write_text("VALUE = 5\n\ndef double(x):\n    return 3 * x\n")
    again = jupyter_mlpipe.run(path)
    assert (again["x"], again["y"]) == (5, 15), again.summary()
    assert {s.status for s in again.steps.values()} == {"succeeded"}
    third = jupyter_mlpipe.run(path)
    assert {s.status for s in third.steps.values()} == {"reused"}
