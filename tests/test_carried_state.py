"""Process state carried from step to step (issue #13): random generators, settings, shared code."""

from __future__ import annotations

import pytest

import jupyter_mlpipe
from conftest import mlpipe_cli
from jupyter_mlpipe.store.history import History

pytestmark = pytest.mark.slow


def test_steps_that_draw_nothing_stay_parallel_in_a_seeded_notebook(ray_address, notebook):
    path = notebook([
        "import time\nimport numpy as np",
        "%%step seed\nnp.random.seed(0)",
        "%%step left\ntime.sleep(1.5)\na = 1",
        "%%step right\ntime.sleep(1.5)\nb = 2",
        "%%step draw\nx = float(np.random.rand())",
    ])
    jupyter_mlpipe.run(path)  # learns which steps draw
    run = jupyter_mlpipe.run(path, force=True)
    assert run.status == "succeeded" and run.corrections == []
    assert run["x"] == pytest.approx(0.5488135039273248)  # np.random.seed(0); np.random.rand()
    left, right = run.steps["left"], run.steps["right"]
    assert left.started < right.ended and right.started < left.ended, "left and right did not overlap"
    assert run.plan.steps["draw"].input_sources["@numpy.random"] == "seed"
    assert "@numpy.random" not in run.plan.steps["left"].input_sources


def test_a_changed_seed_reruns_only_the_steps_that_draw(ray_address, notebook):
    path = notebook([
        "import numpy as np",
        {"source": "seed = 0", "tags": ["parameters"]},
        "%%step seeding\nnp.random.seed(seed)",
        "%%step data\nrows = list(range(5))",
        "%%step noise\nnoise = np.random.rand(3).round(6).tolist()",
    ])
    first = jupyter_mlpipe.run(path)
    assert first["noise"] == [0.548814, 0.715189, 0.602763]
    again = jupyter_mlpipe.run(path, {"seed": 1})
    assert {n: s.status for n, s in again.steps.items()} == {
        "seeding": "succeeded", "data": "reused", "noise": "succeeded"}
    assert again["noise"] == [0.417022, 0.720324, 0.000114]
    text = mlpipe_cli("plan", str(path)).stdout
    assert "learned: defines @numpy.random: seeding draws or seeds numpy's global random numbers" in text


def test_settings_and_shared_code_changes_reach_later_steps(ray_address, notebook):
    path = notebook([
        "import os\nimport pandas as pd",
        "class Config:\n    lr = 0.1",
        "%%step setup\nos.environ['MLPIPE_TEST_FLAG'] = 'on'\npd.set_option('display.max_rows', 7)",
        "%%step tune\nConfig.lr = 0.01",
        "%%step read\nflag = os.environ.get('MLPIPE_TEST_FLAG')\nrows = pd.get_option('display.max_rows')\nlr = Config.lr",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded"
    assert (run["flag"], run["rows"], run["lr"]) == ("on", 7, 0.01)
    record = History(path.parent / ".mlpipe" / "history.sqlite").get_run(run.id)
    assert any("changes os.environ" in c for c in record["corrections"]), record["corrections"]
    # whether `read` had to run again for Config.lr depends on when `tune` finished; that it was learned does not
    learned = jupyter_mlpipe.api.plan(path).steps["read"].input_sources
    assert learned.get("@code") == "tune" or any(
        "changes shared code (Config.lr)" in c for c in record["corrections"]), (learned, record["corrections"])
    # the worker's own state is put back: a later, unrelated notebook does not see the flag
    other = notebook(["import os", "%%step look\nseen = os.environ.get('MLPIPE_TEST_FLAG')"], name="other.ipynb")
    assert jupyter_mlpipe.run(other)["seen"] is None


def test_files_written_and_read_are_ordered_and_a_changed_data_file_reruns_its_reader(ray_address, notebook,
                                                                                       tmp_path):
    (tmp_path / "data.txt").write_text("3")
    path = notebook([
        "import os",
        "%%step read\nwith open('data.txt') as fh:\n    n = int(fh.read())",
        "%%step write\nwith open('out.txt', 'w') as fh:\n    fh.write(str(n * 2))",
        "%%step other\nz = 5",
        "%%step check\nwith open('out.txt') as fh:\n    doubled = int(fh.read())\nexists = os.path.exists('out.txt')",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded" and run["doubled"] == 6 and run["exists"] is True
    plan = jupyter_mlpipe.api.plan(path)
    assert plan.steps["check"].input_sources["@file:out.txt"] == "write"
    assert jupyter_mlpipe.run(path).corrections == []  # learned once: the keys of `read` and `write` gain
    again = jupyter_mlpipe.run(path)                     # the files, so these run once more, then no more
    assert {s.status for s in again.steps.values()} == {"reused"}
    (tmp_path / "data.txt").write_text("4")  # same path, new content: its reader runs again
    changed = jupyter_mlpipe.run(path)
    assert changed.steps["read"].status == "succeeded" and changed.steps["other"].status == "reused"
    assert changed["doubled"] == 8


def test_a_step_that_appends_while_the_writer_runs_still_gives_the_notebooks_file(ray_address, notebook):
    """First run, nothing learned: `append` changes the file while `write` runs, and is then told to run
    again (it reads what `write` leaves). Its dropped result still shows the overlap, so `write`'s
    handed-on file ('ab') is not trusted: the notebook's 'ab', never 'abb'."""
    path = notebook([
        "import time",
        "%%step write\nwith open('log.txt', 'w') as fh:\n    fh.write('a')\ntime.sleep(1.5)",
        "%%step append\ntime.sleep(0.5)\nwith open('log.txt', 'a') as fh:\n    fh.write('b')\ntime.sleep(2.5)",
        "%%step read\nwith open('log.txt') as fh:\n    log = fh.read()",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded"
    assert run["log"] == "ab"
    assert any("write re-ran: write and append touched 'log.txt' at the same time" in c
               for c in run.corrections), run.corrections
    again = jupyter_mlpipe.run(path, force=True)  # learned: in notebook order from the start
    assert again["log"] == "ab" and again.corrections == []


def test_steps_that_append_to_a_file_nobody_creates_give_the_notebooks_file(ray_address, notebook):
    """First run: `second` appends before `first` does (sleeps force it), and each attempt changes the file
    for good. A re-run of the first step to touch it must start from the file as it was before the run
    (missing), not as its own or the other's attempt left it ('21', '1212' before this was fixed)."""
    path = notebook([
        "import time",
        "%%step first\ntime.sleep(1)\nwith open('o.txt', 'a') as fh:\n    fh.write('1')",
        "%%step second\nwith open('o.txt', 'a') as fh:\n    fh.write('2')",
        "%%step read\no = open('o.txt').read()",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded" and run["o"] == "12", run.corrections
    # run again in place, as a person re-running the notebook: it appends again, nothing stale is reused
    again = jupyter_mlpipe.run(path)
    assert again["o"] == "1212" and again.steps["first"].status == "succeeded"


def test_a_step_reset_before_its_neighbour_ends_still_counts_against_it(ray_address, notebook):
    """`remove` deletes `make`'s folder while `make` runs, then is re-run for another reason (it and `log`
    touched o.txt at once) before `make` ends: its first attempt must still show that `make` handed on a
    folder someone else deleted. (It used to fail at the correction limit, or give o.txt '1212'.)"""
    path = notebook([
        "import os, shutil, time",
        "%%step make\nos.makedirs('tree/x', exist_ok=True)\ntime.sleep(4)",
        "%%step remove\ntime.sleep(0.3)\nshutil.rmtree('tree')\nwith open('o.txt', 'a') as fh:\n    fh.write('1')\n"
        "time.sleep(0.5)",
        "%%step log\ntime.sleep(0.5)\nwith open('o.txt', 'a') as fh:\n    fh.write('2')\ntime.sleep(0.5)",
        "%%step check\ngone = not os.path.exists('tree')\no = open('o.txt').read()",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    assert (run["gone"], run["o"]) == (True, "12"), run.corrections


def test_a_step_that_fails_on_its_own_after_reading_an_earlier_steps_file_says_why(ray_address, notebook):
    """It waited for the writer and found the notebook's file: its error is its own, shown at once, not
    re-run until the correction limit."""
    path = notebook([
        "%%step write\nopen('f.txt', 'w').write('1')",
        "%%step parse\nv = open('f.txt').read()\nint('z')",
    ])
    run = jupyter_mlpipe.run(path)
    assert run.status == "failed"
    assert "invalid literal for int()" in run.steps["parse"].error, run.steps["parse"].error
    assert sum("parse re-ran" in c for c in run.corrections) <= 1, run.corrections
