"""A fan-out step's tasks on a node without the notebook's folder: the folder shipped through the store.

The in-process backend stands in for such a node: it hands every fan-out task a folder and a run folder
that do not exist (as a node that does not share the driver's file system sees them), and runs it. The
real thing, a Ray node in a mount namespace of its own, is `test_cluster.py`'s far node.
"""

from __future__ import annotations

import pytest

pytest.importorskip("papermill")

from jupyter_mlpipe.execute import ray_backend  # noqa: E402
from jupyter_mlpipe.execute.backend import InProcessBackend  # noqa: E402
from jupyter_mlpipe.execute.runner import RunOptions, start_run  # noqa: E402
from jupyter_mlpipe.plan import Pipeline  # noqa: E402
from jupyter_mlpipe.store.history import History  # noqa: E402
from jupyter_mlpipe.store.paths import Store  # noqa: E402

CELLS = [
    "%%step load\nscale = 10",
    '%%step sizes --files "data/*.csv" --as path\nrows = len(open(path).read().splitlines()) * scale',
    "%%step total\nall_rows = sum(rows)",
]


class FarBackend(InProcessBackend):
    """Runs a fan-out step's tasks as a node without the driver's folders would: their folder is not there."""

    def __init__(self, nowhere: str) -> None:
        super().__init__()
        self.nowhere = nowhere
        self.fanout_tasks: list[dict] = []

    def submit(self, name, task, resources, retries):
        if "fanout" in task:
            task = {**task, "cwd": f"{self.nowhere}/project", "started_marker": f"{self.nowhere}/run/{name}.started"}
            self.fanout_tasks.append(task)
        super().submit(name, task, resources, retries)


@pytest.fixture(autouse=True)
def no_ray(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the in-process backend must not start Ray")

    monkeypatch.setattr(ray_backend.ray_connect, "connect", refuse)


def _project(tmp_path):
    (tmp_path / "data").mkdir()
    for i, lines in enumerate([2, 5, 1]):
        (tmp_path / "data" / f"part{i}.csv").write_text("".join(f"{j}\n" for j in range(lines)))
    from conftest import write_notebook

    return write_notebook(tmp_path / "far.ipynb", CELLS)


def _drive(path, backend, **options):
    store = Store.for_notebook(path)
    return start_run(Pipeline.from_notebook(path), params={}, store=store, history=History(store.history_path),
                     options=RunOptions(**options), backend=backend)


def test_a_fanout_step_gets_the_shipped_folder_where_its_own_is_missing(tmp_path):
    path = _project(tmp_path)
    backend = FarBackend(str(tmp_path / "not-on-this-node"))
    run = _drive(path, backend, ship_project=True)
    assert run.status == "succeeded", run.summary()
    # the glob ran in the shipped folder (a missing folder would glob nothing), the elements read its files
    assert run["rows"] == [20, 50, 10] and run["all_rows"] == 80
    kinds = [task["fanout"] for task in backend.fanout_tasks]
    assert kinds[0] == "split" and "chunk" in kinds and kinds[-1] == "gather"
    # the same packed folder as the plain steps get (one per run)
    assert {task["project"] for task in backend.fanout_tasks} == {_driver_project(run)}
    assert not (tmp_path / "not-on-this-node").exists()  # no start marker made up where the run folder is not


def _driver_project(run):
    from jupyter_mlpipe.execute.project import pack

    return pack(str(run.store.base), run.artifacts)  # content-addressed: the digest the run shipped


def test_without_ship_project_the_step_fails_naming_the_folder_and_the_fix(tmp_path):
    path = _project(tmp_path)
    backend = FarBackend(str(tmp_path / "not-on-this-node"))
    run = _drive(path, backend)
    assert run.steps["sizes"].status == "failed"
    message = run.steps["sizes"].error or ""
    assert f"{tmp_path}/not-on-this-node/project does not exist on" in message, message
    assert "ship_project = true" in message, message
    assert [task["fanout"] for task in backend.fanout_tasks] == ["split"]  # refused, not zero files found
