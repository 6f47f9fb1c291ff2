"""`%pipeline debug STEP --element N`: one element of a fan-out step, with the step's inputs, in the kernel.

In-process runs (no Ray) for what `kernel.debug` loads and refuses; a real kernel (nbclient, the suite's
Ray) for the magic, checked against running the cell's code for that element in the notebook.
"""

from __future__ import annotations

import pytest

pytest.importorskip("papermill")

from conftest import write_notebook
from test_debug import run_in_kernel

from jupyter_mlpipe.execute import ray_backend
from jupyter_mlpipe.execute.backend import InProcessBackend
from jupyter_mlpipe.execute.runner import RunOptions, start_run
from jupyter_mlpipe.kernel.debug import StepNotDebuggable, debug_text, load_step_inputs
from jupyter_mlpipe.plan import Pipeline
from jupyter_mlpipe.store.history import History
from jupyter_mlpipe.store.paths import Store

CELLS = [
    "%load_ext jupyter_mlpipe",
    {"source": "offset = 1", "tags": ["parameters"]},
    "%%step load\nbatches = [[1, 2], [3, 0], [5, 6], [7, 0]]",
    "%%step score --foreach batches --as batch --error-threshold 2\nratio = batch[0] / batch[1] + offset",
]


def drive(path, **options):
    store = Store.for_notebook(path)
    plan = Pipeline.from_notebook(path)
    return start_run(plan, params={"offset": 1}, store=store, history=History(store.history_path),
                     options=RunOptions(**options), backend=InProcessBackend())


@pytest.fixture
def scored(tmp_path, monkeypatch):
    """`score` succeeded within its threshold; elements 1 and 3 divided by zero."""
    def refuse(*args, **kwargs):
        raise AssertionError("the in-process backend must not start Ray")

    monkeypatch.setattr(ray_backend.ray_connect, "connect", refuse)
    path = write_notebook(tmp_path / "pipe.ipynb", CELLS)
    run = drive(path)
    assert run.steps["score"].status == "succeeded", run.summary()
    assert [f["index"] for f in run.steps["score"].reason["foreach"]["failures"]] == [1, 3]
    return path, run


def test_a_failed_element_comes_with_the_steps_inputs_and_its_own_error(scored):
    path, run = scored
    found = load_step_inputs(path, "score", element=3, current_plan=Pipeline.from_notebook(path))
    assert found.values == {"batches": [[1, 2], [3, 0], [5, 6], [7, 0]], "offset": 1, "batch": [7, 0]}
    assert found.sources["batch"] == "element 3 of 'batches'"
    assert (found.element, found.as_name, found.cell) == (3, "batch", 4)
    assert "ZeroDivisionError" in found.error
    text = debug_text(found)
    assert "batch    list[2]  (element 3 of 'batches')" in text
    assert "To run it for element 3 alone ('batch' holds it)" in text and "%%scratch" in text
    assert "The error element 3 had:" in text
    # in this namespace the cell's code fails as the element did in the run
    namespace = dict(found.values)
    with pytest.raises(ZeroDivisionError):
        exec("ratio = batch[0] / batch[1] + offset", namespace)


def test_an_element_that_did_not_fail_and_the_step_without_element(scored):
    path, run = scored
    found = load_step_inputs(path, "score", element=2)
    assert found.values["batch"] == [5, 6] and found.error is None
    assert f"Element 2 did not fail in run {run.id} (failed: elements 1, 3)." in found.notes
    whole = load_step_inputs(path, "score")
    assert "batch" not in whole.values and whole.values["batches"][1] == [3, 0]
    assert any("Step 'score' fans out (4 elements, failed: elements 1, 3): %pipeline debug score --element 1"
               in note for note in whole.notes), whole.notes


def test_elements_are_split_as_the_run_split_them(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    monkeypatch.setattr(ray_backend.ray_connect, "connect", lambda *a, **k: pytest.fail("no Ray here"))
    path = write_notebook(tmp_path / "b.ipynb", [
        "%%step load\nimport pandas as pd\nframe = pd.DataFrame({'x': range(10)})",
        "%%step total --foreach frame --as part --batch-size 4\ns = int(part['x'].sum())",
    ])
    run = drive(path)
    assert run["s"] == [6, 22, 17]
    found = load_step_inputs(path, "total", element=2)
    pd.testing.assert_frame_equal(found.values["part"], pd.DataFrame({"x": range(10)}).iloc[8:])


def test_files_elements_and_the_refusals(tmp_path, monkeypatch):
    monkeypatch.setattr(ray_backend.ray_connect, "connect", lambda *a, **k: pytest.fail("no Ray here"))
    (tmp_path / "data").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "data" / name).write_text(name)
    path = write_notebook(tmp_path / "f.ipynb", [
        "%%step plain\nk = 1",
        '%%step read --files "data/*.txt" --as f\ntext = open(f).read() * k',
    ])
    drive(path)
    found = load_step_inputs(path, "read", element=1)
    assert found.values["f"] == "data/b.txt" and found.values["k"] == 1
    assert "as the notebook's folder is now" in found.sources["f"]
    with pytest.raises(StepNotDebuggable, match=r"Step 'read' has 2 element\(s\) in run .*: there is no "
                                                r"element 5\.") as caught:
        load_step_inputs(path, "read", element=5)
    assert "from 0 to 1" in caught.value.hint
    with pytest.raises(StepNotDebuggable, match="Step 'plain' does not fan out") as caught:
        load_step_inputs(path, "plain", element=0)
    assert "%pipeline debug plain" in caught.value.hint


def test_the_magic_line_parses_element():
    from jupyter_mlpipe.kernel.magics import MlpipeMagics, pipeline_parser

    args = pipeline_parser().parse_args(["debug", "score", "--element", "3"])
    assert (args.step, args.element, args.run) == ("score", 3, None)
    assert pipeline_parser().parse_args(["debug", "score"]).element is None
    assert "debug STEP [--run RUN] [--element N]" in MlpipeMagics.pipeline.__doc__


@pytest.mark.slow
def test_the_magic_in_a_kernel_binds_the_element_the_pipeline_ran(tmp_path, ray_address, monkeypatch):
    path = write_notebook(tmp_path / "k.ipynb", [
        *CELLS,
        "%pipeline run",
        "%pipeline debug score --element 3",
        "%%scratch\nprint('element', repr(batch), repr(batches[3]), offset)",  # a plain cell would join score
        "%%scratch\ntry:\n    ratio = batch[0] / batch[1] + offset\nexcept ZeroDivisionError as exc:\n"
        "    print('the element fails here too:', type(exc).__name__)",
        "%pipeline debug score --element 9",
        "%pipeline debug load --element 0",
    ])
    said = run_in_kernel(path, monkeypatch)

    assert "score: 2 of 4 elements done" in said(3)  # the kernel's loop, as the notebook runs top to bottom
    debug = said(5)
    assert "Step 'score', run " in debug and "(element 3 of 'batches')" in debug, debug
    assert "The error element 3 had:" in debug and "ZeroDivisionError" in debug, debug
    assert "element [7, 0] [7, 0] 1" in said(6)
    assert "the element fails here too: ZeroDivisionError" in said(7)
    assert "Step 'score' has 4 element(s) in run" in said(8) and "no element 9" in said(8)
    assert "Step 'load' does not fan out" in said(9)
