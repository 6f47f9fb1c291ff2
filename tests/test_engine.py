"""The in-process papermill engine: real papermill, real IPython, no kernel, no Ray."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

nbformat = pytest.importorskip("nbformat")
papermill = pytest.importorskip("papermill")
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook  # noqa: E402
from papermill.exceptions import PapermillExecutionError  # noqa: E402

from jupyter_mlpipe.execute import engine  # noqa: E402


def make_notebook(*cells):
    """Cells are sources, (source, metadata) pairs, or ready-made cells."""
    made = []
    for cell in cells:
        if isinstance(cell, str):
            made.append(new_code_cell(cell))
        elif isinstance(cell, tuple):
            made.append(new_code_cell(cell[0], metadata=cell[1]))
        else:
            made.append(cell)
    return new_notebook(
        cells=made,
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
    )


def run(tmp_path, *cells, name="out.ipynb", **kwargs):
    """Execute; return the executed notebook as written to disk."""
    out = tmp_path / name
    engine.execute_notebook(make_notebook(*cells), str(out), **kwargs)
    return nbformat.read(out, as_version=4)


def fail(tmp_path, *cells, name="out.ipynb", **kwargs):
    """Execute a notebook that must fail; return (error, executed notebook on disk)."""
    out = tmp_path / name
    with pytest.raises(PapermillExecutionError) as info:
        engine.execute_notebook(make_notebook(*cells), str(out), **kwargs)
    return info.value, nbformat.read(out, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def text_of(cell, stream="stdout"):
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == stream)


# --------------------------------------------------------------------------


def test_parameters_are_injected_and_used(tmp_path):
    nb = run(
        tmp_path,
        ("alpha = 1\nname = 'default'", {"tags": ["parameters"]}),
        "print(alpha * 10, name)",
        parameters={"alpha": 4, "name": "given"},
    )
    cells = code_cells(nb)
    assert "injected-parameters" in cells[1].metadata.tags
    assert text_of(cells[2]) == "40 given\n"
    assert nb.metadata.papermill.parameters == {"alpha": 4, "name": "given"}


def test_outputs_of_each_kind(tmp_path):
    nb = run(
        tmp_path,
        "import sys\nprint('out')\nprint('err', file=sys.stderr)",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))",
        "6 * 7",
        "None",
        "6 * 7;",
    )
    streams, displayed, result, none, silenced = code_cells(nb)
    assert [(o.output_type, o.name, o.text) for o in streams.outputs] == [
        ("stream", "stdout", "out\n"),
        ("stream", "stderr", "err\n"),
    ]
    [shown] = displayed.outputs
    assert shown.output_type == "display_data" and shown.data["text/html"] == "<b>bold</b>"
    [value] = result.outputs
    assert value.output_type == "execute_result"
    assert value.data["text/plain"] == "42"
    assert value.execution_count == result.execution_count == 3
    assert none.outputs == [] and silenced.outputs == []
    nbformat.validate(nb)


def test_error_output_and_papermill_semantics(tmp_path):
    error, nb = fail(
        tmp_path,
        "x = 1",
        ("def f(d):\n    return 1 / d", {"mlpipe": {"cell": 3}}),
        ("y = 2\nf(0)", {"mlpipe": {"cell": 7}}),
        "print('never')",
    )
    assert error.ename == "ZeroDivisionError" and error.evalue == "division by zero"
    # The output notebook on disk holds the traceback; later cells did not run.
    failed, later = code_cells(nb)[2:]
    [out] = failed.outputs
    assert out.output_type == "error" and out.ename == "ZeroDivisionError"
    assert any("ZeroDivisionError" in line for line in out.traceback)
    assert failed.metadata.papermill.exception is True
    assert later.outputs == [] and later.execution_count is None
    assert nb.metadata.papermill.exception is True

    text = engine.format_user_traceback(nb)
    assert "cell 8, line 2" in text  # metadata cell 7: people count from 1
    assert "cell 4, line 2, in f" in text
    assert text.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "\x1b[" not in text
    assert "papermill" not in text.lower() and "jupyter_mlpipe" not in text
    assert "interactiveshell" not in text.lower()


def test_user_traceback_keeps_library_frames_and_chains(tmp_path):
    _, nb = fail(
        tmp_path,
        ("import json\ndef parse(s):\n    try:\n        return json.loads(s)\n"
         "    except ValueError as e:\n        raise RuntimeError('bad config') from e", {"mlpipe": {"cell": 2}}),
        ("parse('{')", {"mlpipe": {"cell": 5}}),
    )
    text = engine.format_user_traceback(nb)
    assert "json" + os.sep + "decoder.py" in text  # a library frame stays
    assert "The above exception was the direct cause" in text
    assert "cell 6, line 1" in text and "cell 3, line 6, in parse" in text
    assert text.rstrip().endswith("RuntimeError: bad config")


def test_user_traceback_of_a_syntax_error(tmp_path):
    _, nb = fail(tmp_path, ("x = (1,\n", {"mlpipe": {"cell": 4}}))
    text = engine.format_user_traceback(nb)
    assert "cell 5, line 1" in text and "SyntaxError" in text
    assert "ipython-input" not in text


def test_user_traceback_without_mlpipe_metadata_uses_the_bundle_index(tmp_path):
    _, nb = fail(tmp_path, "a = 1", new_markdown_cell("text"), "b = 2\nraise ValueError('nope')")
    text = engine.format_user_traceback(nb)
    assert "cell 3, line 2" in text and "ValueError: nope" in text


def test_user_traceback_falls_back_to_ipython_text():
    """A notebook run by a kernel has only IPython's (colored) traceback text."""
    nb = make_notebook(("f(0)", {"mlpipe": {"cell": 9}}))
    nb.cells[0].execution_count = 4
    nb.cells[0].outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ZeroDivisionError",
            evalue="division by zero",
            traceback=[
                "\x1b[31m-----------------------------------------\x1b[39m",
                "\x1b[31mZeroDivisionError\x1b[39m      Traceback (most recent call last)",
                "\x1b[36mCell\x1b[39m In[4], line 1\n----> 1 f(0)\n",
                "File /site-packages/papermill/x.py:3, in g()\n      2 pass\n",
                "\x1b[31mZeroDivisionError\x1b[39m: division by zero",
            ],
        )
    ]
    text = engine.format_user_traceback(nb)
    assert "cell 10, line 1" in text and "ZeroDivisionError: division by zero" in text
    assert "\x1b[" not in text


def test_no_error_means_no_user_traceback(tmp_path):
    assert engine.format_user_traceback(run(tmp_path, "x = 1")) is None


def test_magics_and_shell_escapes(tmp_path):
    (tmp_path / "marker.txt").write_text("")
    nb = run(
        tmp_path,
        "%time x = sum(range(10))",
        "files = !ls\nprint('marker.txt' in files)",
        "!echo hi-from-shell",
        "get_ipython() is not None and x == 45",
        cwd=str(tmp_path),
    )
    timed, listed, echoed, ipython = code_cells(nb)
    assert "Wall time" in text_of(timed)
    assert text_of(listed) == "True\n"
    assert "hi-from-shell" in text_of(echoed)
    assert ipython.outputs[0].data["text/plain"] == "True"


def test_each_notebook_gets_a_fresh_namespace(tmp_path):
    first = run(tmp_path, "leaked = 1\nfrom __future__ import annotations", name="one.ipynb")
    assert code_cells(first)[0].execution_count == 1
    error, second = fail(tmp_path, "leaked", name="two.ipynb")
    assert error.ename == "NameError" and "leaked" in error.evalue
    assert code_cells(second)[0].execution_count == 1  # counts restart, like a fresh kernel
    # `from __future__ import annotations` did not carry over either.
    error, _ = fail(tmp_path, "def f(x: Undefined): pass", name="three.ipynb")
    assert error.ename == "NameError"


def test_process_state_is_restored(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    before = (os.getcwd(), sys.path[:], sys.argv[:], sys.stdout, sys.stderr, sys.modules["__main__"])
    nb = run(
        tmp_path,
        "import os, sys\nprint(os.getcwd())",
        "os.environ['MLPIPE_TEST_LEAK'] = '1'\nsys.path.append('/nowhere')\nos.chdir('/')",
        cwd=str(work),
    )
    assert text_of(code_cells(nb)[0]).strip() == str(work)
    after = (os.getcwd(), sys.path[:], sys.argv[:], sys.stdout, sys.stderr, sys.modules["__main__"])
    assert after == before
    assert "MLPIPE_TEST_LEAK" not in os.environ
    # Without cwd= too: a notebook's os.chdir does not stay.
    run(tmp_path, "import os\nos.chdir('/')", name="two.ipynb")
    assert os.getcwd() == before[0]


def test_on_output_receives_printed_text_live(tmp_path):
    seen = []
    run(
        tmp_path,
        "print('first')",
        "import sys\nprint('a', 'b')\nprint('oops', file=sys.stderr)",
        on_output=lambda index, stream, text: seen.append((index, stream, text)),
    )
    assert seen == [(0, "stdout", "first\n"), (1, "stdout", "a b\n"), (1, "stderr", "oops\n")]


def test_a_failing_on_output_does_not_fail_the_notebook(tmp_path):
    def broken(*args):
        raise RuntimeError("sink down")

    nb = run(tmp_path, "print('x')", on_output=broken)
    assert text_of(code_cells(nb)[0]) == "x\n"


def test_matplotlib_figures_are_inline_images_and_closed(tmp_path):
    pytest.importorskip("matplotlib")
    nb = run(
        tmp_path,
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]);",
        "plt.figure(); plt.close()\nlen(plt.get_fignums())",
    )
    plotted, count = code_cells(nb)
    [image] = plotted.outputs
    assert image.output_type == "display_data" and image.data["image/png"]
    assert count.outputs[0].data["text/plain"] == "0"
    # A figure left open by one notebook does not reach the next.
    run(tmp_path, "import matplotlib.pyplot as plt\nplt.ioff()\nfig = plt.figure()", name="two.ipynb")
    nb = run(tmp_path, "import matplotlib.pyplot as plt\nplt.ion()\nlen(plt.get_fignums())", name="three.ipynb")
    assert code_cells(nb)[0].outputs[0].data["text/plain"] == "0"


def test_keyboard_interrupt_raised_by_user_code_is_a_cell_error(tmp_path):
    error, _ = fail(tmp_path, "raise KeyboardInterrupt('mine')", "print('never')")
    assert error.ename == "KeyboardInterrupt"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_real_interrupt_cancels_the_notebook(tmp_path):
    out = tmp_path / "out.ipynb"
    nb = make_notebook(
        "import _thread, threading, time\n"
        "threading.Timer(0.05, _thread.interrupt_main).start()\n"  # what ray.cancel does
        "for _ in range(500):\n"
        "    time.sleep(0.01)",
        "print('never')",
    )
    with pytest.raises(KeyboardInterrupt):
        engine.execute_notebook(nb, str(out))
    written = nbformat.read(out, as_version=4)
    interrupted, later = code_cells(written)
    assert interrupted.outputs[-1].ename == "KeyboardInterrupt"
    assert later.execution_count is None
    # The process is fine afterwards.
    assert text_of(code_cells(run(tmp_path, "print('still here')", name="two.ipynb"))[0]) == "still here\n"


def test_sys_exit_zero_stops_without_error_and_exit_code_fails(tmp_path):
    nb = run(tmp_path, "import sys\nsys.exit(0)", "print('never')")
    assert code_cells(nb)[1].execution_count is None
    error, _ = fail(tmp_path, "import sys\nsys.exit(3)", name="two.ipynb")
    assert error.ename == "SystemExit" and error.evalue == "3"


def test_input_is_refused_rather_than_hanging(tmp_path):
    error, _ = fail(tmp_path, "input('name? ')")
    assert error.ename == "StdinNotImplementedError"


def test_the_engine_is_not_reentrant(tmp_path):
    error, _ = fail(
        tmp_path,
        "import nbformat\nfrom jupyter_mlpipe.execute import engine\n"
        "engine.execute_notebook(nbformat.v4.new_notebook(), None)",
    )
    assert error.ename == "MlpipeError" and "not re-entrant" in error.evalue


def test_notebooks_from_several_threads_run_one_at_a_time(tmp_path):
    import threading

    windows, errors = [], []

    def worker(i):
        try:
            nb = run(tmp_path, "import time\nstart = time.monotonic()\ntime.sleep(0.2)\n(start, time.monotonic())",
                     name=f"t{i}.ipynb")
            windows.append(eval(code_cells(nb)[0].outputs[0].data["text/plain"]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(windows) == 3
    windows.sort()
    assert all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))  # no overlap


def test_engine_registration_is_idempotent():
    engine.register_engine()
    engine.register_engine()
    from papermill.engines import papermill_engines

    assert papermill_engines.get_engine(engine.ENGINE_NAME) is engine.InProcessEngine


def test_the_package_declares_the_engine_as_a_papermill_entry_point():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["papermill.engine"]
    assert declared == {engine.ENGINE_NAME: "jupyter_mlpipe.execute.engine:InProcessEngine"}


def test_papermill_finds_the_engine_through_its_entry_point():
    from importlib.metadata import entry_points

    found = [ep for ep in entry_points(group="papermill.engine") if ep.name == engine.ENGINE_NAME]
    if not found:
        pytest.skip("the installed package metadata predates the entry point (pip install -e . refreshes it)")
    code = textwrap.dedent(
        """
        from papermill.engines import papermill_engines
        import jupyter_mlpipe.execute.engine as engine
        assert papermill_engines.get_engine(engine.ENGINE_NAME) is engine.InProcessEngine
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_importing_the_module_is_cheap():
    code = textwrap.dedent(
        """
        import sys
        import jupyter_mlpipe.execute.engine as engine
        heavy = [m for m in ("papermill", "nbformat", "nbclient", "IPython.core.interactiveshell") if m in sys.modules]
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_nothing_is_written_to_the_home_directory(tmp_path):
    """No ~/.ipython (profile, history database): the shell keeps its state private."""
    home = tmp_path / "home"
    home.mkdir()
    code = textwrap.dedent(
        """
        import nbformat
        from jupyter_mlpipe.execute import engine
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%time x = 1\\nx")])
        out = engine.execute_notebook(nb, None)
        assert out.cells[0].outputs[-1].data["text/plain"] == "1", out.cells[0].outputs
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("IPYTHONDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env, cwd=str(tmp_path))
    assert list(home.iterdir()) == []
