"""The magics in a real IPython shell (in-process)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from IPython.testing.globalipapp import get_ipython

from jupyter_mlpipe.kernel.session import find_notebook_path, session_of


@pytest.fixture(scope="module")
def ip():
    shell = get_ipython()
    shell.run_line_magic("load_ext", "jupyter_mlpipe")
    return shell


def test_load_ext_is_light():
    code = (
        "import sys, time\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "t = time.perf_counter(); ip.run_line_magic('load_ext', 'jupyter_mlpipe'); dt = time.perf_counter() - t\n"
        "heavy = [m for m in ('ray', 'pyarrow', 'pandas', 'papermill') if m in sys.modules]\n"
        "print(heavy, 'step' in ip.magics_manager.magics['cell'], 'pipeline' in ip.magics_manager.magics['line'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True True"


def test_step_runs_body_like_a_plain_cell(ip, capsys):
    result = ip.run_cell("%%step first --cpus 1\nvalue = 21 * 2\n%time doubled = value * 2\nlines = !echo hi\nprint(value)")
    assert result.success
    assert ip.user_ns["value"] == 42 and ip.user_ns["doubled"] == 84
    assert list(ip.user_ns["lines"]) == ["hi"]
    assert "42" in capsys.readouterr().out
    assert "first" in session_of(ip).steps


def test_step_error_shows_user_line_and_fails_the_cell(ip, capsys):
    result = ip.run_cell("%%step broken\na = 1\nb = a / 0")
    assert not result.success
    out = capsys.readouterr()
    text = out.out + out.err
    assert "ZeroDivisionError" in text
    assert "----> 3 b = a / 0" in text  # line 3 of the cell, as the user counts it
    assert "jupyter_mlpipe" not in text


def test_defer_registers_without_running(ip):
    ip.user_ns.pop("never", None)
    assert ip.run_cell("%%step later --defer\nnever = 1").success
    assert "never" not in ip.user_ns
    assert "later" in session_of(ip).steps


@pytest.mark.parametrize("line, expected", [
    ("%%step", "needs a step name"),
    ("%%step ../x", "Invalid step name '../x'"),
    ("%%step a --bogus 1", "--bogus"),
    ("%%step a --gpus lots", "--gpus"),
    ("%%step a --memory 4XB", "--memory"),
    ("%%step a --retries -1", "--retries"),
    ("%%step --compute gpu", "step name before the options"),
])
def test_bad_step_lines_are_usage_errors(ip, line, expected):
    with pytest.raises(UsageError, match=expected.replace("(", r"\(").replace(".", r"\.")):
        ip.run_cell_magic("step", line.removeprefix("%%step").strip(), "x = 1")


def test_bad_step_line_in_a_cell_prints_no_traceback(ip, capsys):
    result = ip.run_cell("%%step a --gpus=oops\nx = 1")
    assert not result.success
    text = capsys.readouterr()
    assert "UsageError" in text.out + text.err
    assert "Traceback" not in text.out + text.err


def test_step_help_lists_the_options(ip):
    doc = ip.magics_manager.magics["cell"]["step"].__doc__
    for flag in ("--compute", "--gpus", "--cpus", "--memory", "--retries", "--timeout", "--no-cache",
                 "--inputs", "--outputs", "--after", "--deps", "--defer"):
        assert flag in doc


def test_scratch_runs_and_is_excluded(ip):
    assert ip.run_cell("%%scratch\nexplored = 5").success
    assert ip.user_ns["explored"] == 5


def test_pipeline_bad_subcommand_is_usage_error(ip):
    with pytest.raises(UsageError, match="invalid choice"):
        ip.run_line_magic("pipeline", "fly")


def test_notebook_path_from_vscode_and_jupyter_server(tmp_path):
    nb = tmp_path / "sub" / "a.ipynb"
    nb.parent.mkdir()
    nb.write_text("{}")
    assert find_notebook_path({"__vsc_ipynb_file__": str(nb)}, {}, str(tmp_path)) == nb
    assert find_notebook_path({}, {"JPY_SESSION_NAME": str(nb)}, "/") == nb
    # a server-root-relative path, resolved from the kernel's start folder (the notebook's folder)
    assert find_notebook_path({}, {"JPY_SESSION_NAME": "sub/a.ipynb"}, str(nb.parent)) == nb
    assert find_notebook_path({}, {}, str(tmp_path)) is None


@pytest.mark.slow
def test_pipeline_runs_compares_two_runs_in_a_terminal(tmp_path, ray_address):
    """A terminal IPython (no widgets): `%pipeline runs A B` prints the table and what differs."""
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'jupyter_mlpipe')\n"
        "ip.run_cell('%%step a\\nx = 2', store_history=True)\n"
        "ip.run_cell('%pipeline run')\n"
        "ip.run_cell('%pipeline run --force')\n"
        "import jupyter_mlpipe\n"
        "new, old = [r['id'] for r in jupyter_mlpipe.runs('.mlpipe/kernel-session.ipynb')]\n"
        "print('IDS', old, new)\n"
        "ip.run_cell(f'%pipeline runs {new[-6:]} {old[-6:]}')\n"
        "ip.run_cell(f'%pipeline runs {new[-6:]} {new}')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         timeout=240)
    text = out.stdout + out.stderr
    old, new = next(line.split()[1:] for line in text.splitlines() if line.startswith("IDS "))
    assert f"{old} -> {new}" in text, text  # oldest first, whatever the order given
    assert "parameters:\n  the same" in text and "a  succeeded  ->  succeeded" in text
    assert "UsageError: '" in text and "are the same run" in text


def test_pipeline_runs_takes_metric_sort_and_order_as_mlpipe_runs_does(ip, tmp_path, monkeypatch, capsys):
    """`%pipeline runs --metric/--sort/--order`: the same table as `mlpipe runs` (queries.result_table_for)."""
    from jupyter_mlpipe.kernel import commands
    from jupyter_mlpipe.queries import ShownRuns

    def record(n: int, loss: float | None, acc: float) -> dict:
        metrics = {"fit": {"loss": [(0, loss, 1)]}} if loss is not None else {}
        metrics["evaluate"] = {"accuracy": [(0, acc, 2)]}
        return {"id": f"20261203-1200{n:02d}-abc0{n:02d}", "started": 100.0 * n, "status": "succeeded",
                "duration": 1.0, "params": {}, "steps": {"fit": {"status": "succeeded"}}, "metrics": metrics}

    newest_first = [record(3, None, 0.7), record(2, 0.2, 0.9), record(1, 0.5, 0.8)]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(commands, "shown_runs", lambda path, chosen: ShownRuns(newest_first, [], None))
    ids = [r["id"] for r in newest_first]

    def order_of(text: str) -> list[str]:
        return [line.split()[0] for line in text.splitlines() if line.split() and line.split()[0] in ids]

    ip.run_line_magic("pipeline", "runs --sort loss")
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[5] == "fit.loss"  # the sort metric is the result column
    assert order_of(out) == [ids[1], ids[2], ids[0]] and "(sorted by fit.loss, lowest first" in out
    ip.run_line_magic("pipeline", "runs --metric accuracy --order asc")  # --order alone: by the result column
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[5] == "evaluate.accuracy"
    assert order_of(out) == [ids[0], ids[2], ids[1]] and "(sorted by evaluate.accuracy, lowest first" in out
    with pytest.raises(UsageError, match="No metric 'auc'"):
        ip.run_line_magic("pipeline", "runs --metric auc")
    from jupyter_mlpipe.panel import RunsTable
    from jupyter_mlpipe.queries import result_table_for

    widget = RunsTable(result_table_for(newest_first, None, "loss", None))  # the widget keeps the table's order
    assert [r["id"] for r in widget.rows] == [ids[1], ids[2], ids[0]] and "sorted by fit.loss" in widget.text()


@pytest.mark.slow
def test_pipeline_load_puts_a_runs_results_into_the_kernel(tmp_path, ray_address):
    """`%pipeline load [RUN] [NAME ...]`: a run's values (started elsewhere: the side panel) into the kernel."""
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'jupyter_mlpipe')\n"
        "ip.run_cell('%%step a\\nxs = [1, 2, 3]', store_history=True)\n"
        "ip.run_cell('%%step b\\ntotal = sum(xs)\\nfor k in xs:\\n    pass', store_history=True)\n"
        "ip.run_cell('%pipeline run --no-pull')\n"
        "for name in ('xs', 'total', 'k'):\n"
        "    ip.user_ns.pop(name, None)\n"
        "ip.run_cell('%pipeline load')\n"
        "print('AFTER', ip.user_ns.get('total'), 'k' in ip.user_ns, 'xs' in ip.user_ns)\n"
        "import jupyter_mlpipe\n"
        "run_id = jupyter_mlpipe.runs('.mlpipe/kernel-session.ipynb')[0]['id']\n"
        "ip.run_cell(f'%pipeline load {run_id[-6:]} xs')\n"
        "print('XS', ip.user_ns.get('xs'))\n"
        "ip.run_cell(f'%pipeline load {run_id[-6:]} nope')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=240)
    text = out.stdout + out.stderr
    assert "into this kernel: total" in text, text
    assert "AFTER 6 False False" in text, text  # the final step's result, not its loop variable
    assert "XS [1, 2, 3]" in text, text
    assert "UsageError: No step of run" in text and "'nope'" in text, text
