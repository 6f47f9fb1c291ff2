"""`%pipeline debug STEP`: the values a step received in a run, put into the kernel.

In-process runs (no Ray) for what `kernel.debug` finds and refuses; a real kernel
(nbclient, the suite's Ray) for the magic itself.
"""

from __future__ import annotations

import os

import nbformat
import pytest

pytest.importorskip("papermill")

from conftest import write_notebook

from jupyter_mlpipe.api import resolve_params
from jupyter_mlpipe.errors import RunNotFound
from jupyter_mlpipe.execute import ray_backend
from jupyter_mlpipe.execute.backend import InProcessBackend
from jupyter_mlpipe.execute.runner import RunOptions, start_run
from jupyter_mlpipe.kernel.debug import (
    InputsMissing,
    StepNotDebuggable,
    debug_text,
    load_step_inputs,
)
from jupyter_mlpipe.plan import Pipeline
from jupyter_mlpipe.store.history import History
from jupyter_mlpipe.store.paths import Store
from jupyter_mlpipe.store.sharing import split_ref

CELLS = [
    "%load_ext jupyter_mlpipe",
    {"source": "n = 3", "tags": ["parameters"]},
    {"source": "Some prose between the cells.", "cell_type": "markdown"},
    "%%step make\ndata = [n, 0]\nview = data",
    "%%step divide\nview.append(1)\nratio = 10 / view[1]",
    "%%step report\nprint(ratio)",
]


def drive(path, params=None, **options):
    store = Store.for_notebook(path)
    plan = Pipeline.from_notebook(path)
    return start_run(plan, params=resolve_params(plan, params), store=store, history=History(store.history_path),
                     options=RunOptions(**options), backend=InProcessBackend())


@pytest.fixture
def no_ray(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the in-process backend must not start Ray")

    monkeypatch.setattr(ray_backend.ray_connect, "connect", refuse)


@pytest.fixture
def failed(tmp_path, no_ray):
    """A notebook whose `divide` failed on the value `make` produced with n=5 (run with -p n=5)."""
    path = write_notebook(tmp_path / "pipe.ipynb", CELLS)
    run = drive(path, {"n": 5})
    assert {n: s.status for n, s in run.steps.items()} == {"make": "succeeded", "divide": "failed",
                                                           "report": "skipped"}
    return path, run


def test_the_failed_step_gets_exactly_what_the_run_gave_it(failed):
    path, run = failed
    found = load_step_inputs(path, "divide", current_plan=Pipeline.from_notebook(path))
    assert (found.run, found.step, found.status) == (run.id, "divide", "failed")
    assert found.values["view"] == [5, 0]  # the run's n=5, not the notebook's n = 3
    assert "n" not in found.values  # divide reads no parameter
    assert found.values["data"] is found.values["view"]  # loaded with its group: still one list
    assert found.sources["view"] == "from step 'make'"
    assert found.sources["data"] == "from step 'make'"  # the plan knows divide may read it through view
    assert found.cell == 5  # 1-based, the markdown cell counted, as JupyterLab numbers cells
    text = debug_text(found)
    assert f"Step 'divide', run {run.id} (it failed there):" in text
    assert "view  list[2]  (from step 'make')" in text
    assert "Its first cell is cell 5" in text
    assert "failed in cell 5: ZeroDivisionError" in text and "cell 5, line 3" in text  # counted from 1 too


def test_parameters_the_step_uses_come_with_the_run_values(tmp_path, no_ray):
    path = write_notebook(tmp_path / "p.ipynb", [
        "%load_ext jupyter_mlpipe",
        {"source": "lr = 0.1\nepochs = 2", "tags": ["parameters"]},
        "%%step fit\nscore = lr * 10\nraise ValueError(score)",
    ])
    drive(path, {"lr": 0.5})
    found = load_step_inputs(path, "fit")
    assert found.values == {"lr": 0.5}  # only the parameters it reads; epochs is not one
    assert found.sources == {"lr": "parameter"}
    assert found.cell == 3
    assert "ValueError: 5.0" in found.error


def test_a_step_that_succeeded_can_be_debugged_too(failed):
    path, run = failed
    found = load_step_inputs(path, "make")
    assert found.status == "succeeded"
    assert found.values == {"n": 5}
    assert f"Step 'make' succeeded in run {run.id}: these are the inputs it ran with." in debug_text(found)


def test_a_skipped_step_names_the_step_that_failed(failed):
    path, run = failed
    with pytest.raises(StepNotDebuggable) as caught:
        load_step_inputs(path, "report")
    error = caught.value
    assert (error.step, error.run) == ("report", run.id)
    assert f"Step 'report' did not run in run {run.id}: it was skipped" in str(error)
    assert "%pipeline debug divide" in str(error)
    assert error.to_dict()["run"] == run.id


def test_a_reused_step_points_at_the_run_where_it_ran(failed):
    path, first = failed
    second = drive(path, {"n": 5})
    assert second.steps["make"].status == "reused"
    with pytest.raises(StepNotDebuggable) as caught:
        load_step_inputs(path, "make")  # the last run that has it: the second, where it was reused
    assert f"Step 'make' was reused in run {second.id}" in str(caught.value)
    assert f"%pipeline debug make --run {first.id}" in str(caught.value)
    assert load_step_inputs(path, "make", first.id[-6:]).run == first.id  # --run: a unique part of the id


def test_a_step_that_never_ran_and_a_step_that_does_not_exist(tmp_path, no_ray):
    path = write_notebook(tmp_path / "pipe.ipynb", CELLS)
    with pytest.raises(RunNotFound, match="No runs recorded"):
        load_step_inputs(path, "divide")
    drive(path, steps=["make"])
    plan = Pipeline.from_notebook(path)
    with pytest.raises(StepNotDebuggable, match="Step 'divide' has not been part of any run") as caught:
        load_step_inputs(path, "divide", current_plan=plan)
    assert "%pipeline run divide" in str(caught.value)
    with pytest.raises(StepNotDebuggable, match=r"no step 'dvide'\. Its steps: make, divide, report\."):
        load_step_inputs(path, "dvide", current_plan=plan)
    only_make = History(Store.for_notebook(path).history_path).list_runs(None)[0]["id"]
    with pytest.raises(StepNotDebuggable, match=f"Step 'divide' was not part of run {only_make}"):
        load_step_inputs(path, "divide", only_make)


def test_inputs_gone_from_the_store_are_named_before_anything_is_loaded(failed):
    path, run = failed
    digest, _ = split_ref(run.steps["divide"].inputs["view"])
    os.remove(run.artifacts.path_of(digest))
    with pytest.raises(InputsMissing) as caught:
        load_step_inputs(path, "divide")
    error = caught.value
    assert (error.step, error.run, error.variables) == ("divide", run.id, ["data", "view"])
    assert f"Step 'divide' of run {run.id} received 'data', 'view', which are no longer in the store" in str(error)
    assert "%pipeline run divide" in str(error)


# --------------------------------------------------------------------------- in a real kernel


def run_in_kernel(path, monkeypatch):
    """Run every cell of the notebook in a real kernel as JupyterLab would (errors kept); what each cell said."""
    from nbclient import NotebookClient

    monkeypatch.setenv("JPY_SESSION_NAME", str(path))  # what jupyter_server does for a notebook's kernel
    monkeypatch.setenv("MLPIPE_RAY_PRESTART", "0")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()

    def said(index: int) -> str:
        return "\n".join(o.get("text") or f"{o.get('ename')}: {o.get('evalue')}" for o in nb.cells[index].outputs)

    return said


@pytest.mark.slow
def test_the_magic_in_a_kernel_brings_back_what_the_failed_step_received(tmp_path, ray_address, monkeypatch):
    path = write_notebook(tmp_path / "k.ipynb", [
        *CELLS,
        "%pipeline run -p n=5",
        "print('kernel has', repr(data), repr(n))",
        "%pipeline debug divide",
        "print('debugging with', repr(view), repr(n), view is data)",
        "%pipeline debug report",
        "%pipeline debug divide --run nosuchrun",
    ])
    said = run_in_kernel(path, monkeypatch)

    assert "ZeroDivisionError" in said(4)  # the step cell failed in the kernel too
    assert "kernel has [3, 0, 1] 3" in said(7)  # the kernel's own values: n = 3, and divide's append
    debug = said(8)
    assert "Step 'divide', run " in debug and "(it failed there)" in debug
    assert "view  list[2]  (from step 'make')" in debug
    assert "Its first cell is cell 5" in debug and "failed in cell 5: ZeroDivisionError" in debug
    # exactly the run's values: make's list from n=5 (the kernel holds [3, 0, 1]), aliases kept; and n as the
    # run gave it to divide, if its recorded plan says it is one of divide's parameters
    n = "5" if "n     int  (parameter)" in debug else "3"
    assert f"debugging with [5, 0] {n} True" in said(9)
    assert "Step 'report' did not run in run" in said(10) and "%pipeline debug divide" in said(10)
    assert "No run 'nosuchrun'" in said(11)


def test_the_magic_line_parses():
    from IPython.core.error import UsageError

    from jupyter_mlpipe.kernel.magics import MlpipeMagics, pipeline_parser

    args = pipeline_parser().parse_args(["debug", "train", "--run", "3f9a1c"])
    assert (args.command, args.step, args.run) == ("debug", "train", "3f9a1c")
    assert pipeline_parser().parse_args(["debug", "train"]).run is None
    with pytest.raises(UsageError, match="the following arguments are required: STEP"):
        pipeline_parser().parse_args(["debug"])
    assert "debug STEP [--run RUN]" in MlpipeMagics.pipeline.__doc__
