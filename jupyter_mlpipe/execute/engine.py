"""An in-process papermill engine: a step's notebook runs in this process, in a warm IPython shell.

Starting a Jupyter kernel costs more than a second; a pipeline step should cost
milliseconds. `InProcessEngine` runs a notebook's code cells with one IPython
`InteractiveShell` per process, created on first use and kept warm, while
papermill still does everything around it: parameter injection, the executed
notebook written as cells run, `PapermillExecutionError` on failure.

A notebook sees what a fresh Jupyter kernel would show it: `get_ipython()`,
magics, `!cmd`, `display()`, the last expression of a cell as `Out[n]`,
matplotlib figures inline (when matplotlib is installed), tracebacks formatted
by IPython. Outputs are nbformat v4 outputs on each cell.

Isolation between notebooks that run one after another in one process. Fresh
for each notebook: the user namespace and `__main__`, `In`/`Out`, execution
counts (from 1), `from __future__` flags, the working directory, `sys.path`,
`sys.argv`, `os.environ`, warning filters, open matplotlib figures, and modules
imported from outside installed code (the notebook's own `helpers.py`). Shared
(the point of a warm process): installed modules and their state, logging
handlers, threads left running.

Interrupts: a `KeyboardInterrupt` that comes from a real SIGINT while a cell runs
(Ctrl-C, or `ray.cancel`, which interrupts the main thread) is recorded as the
cell's error, the notebook is saved, and the `KeyboardInterrupt` is raised again
to the caller: the step was cancelled, it did not fail. A `KeyboardInterrupt`
or `SystemExit` raised by the user's code is that cell's error; `sys.exit(0)`
stops the notebook without an error, as it does under papermill with a kernel.
Only the main thread receives signals, so in another thread every
`KeyboardInterrupt` counts as the user's.

Not re-entrant: one notebook at a time per process (a lock serialises callers;
a notebook that runs another notebook with this engine gets an `MlpipeError`).
Limits: output written straight to file descriptors 1 and 2 (C extensions,
`os.system`, `subprocess` without capture) goes to the process's own
stdout/stderr, not to the notebook (`!cmd` is captured); `input()` and
`getpass()` raise `StdinNotImplementedError`; there is no execution timeout
(the runner enforces one); no GUI event loops.

Importing this module is cheap: papermill, nbformat and IPython are imported on
first use. papermill finds the engine through the ``papermill.engine`` entry
point (the class is built when papermill loads it); `register_engine()`
registers it through papermill's public API where the installed package
metadata predates that entry point.

This module holds the public API and the papermill engine; one notebook's cell
loop and outputs are in `notebook_run.py`, the per-notebook process state in
`isolation.py`, the warm shell in `shell.py`, output streams and nodes in
`outputs.py`, inline figures in `figures.py`, tracebacks for people in
`tracebacks.py`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .isolation import process_state
from .notebook_run import NotebookRun, OutputCallback
from .shell import get_shell
from .tracebacks import format_user_traceback

_SAVE_EVERY_S = 1.0
"""How often at most the output notebook is written while its cells run."""

if TYPE_CHECKING:  # pragma: no cover
    import nbformat
    from papermill.engines import Engine, NotebookExecutionManager

__all__ = [
    "ENGINE_NAME",
    "InProcessEngine",  # noqa: F822 - built on first access by the module's __getattr__
    "OutputCallback",
    "execute_notebook",
    "format_user_traceback",
    "register_engine",
]

ENGINE_NAME = "mlpipe-inprocess"

_lock = threading.Lock()  # one notebook at a time per process
_owner: int | None = None  # ident of the thread running a notebook
_engine_class: type[Engine] | None = None

# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def register_engine() -> None:
    """Make sure papermill knows `InProcessEngine` as ``ENGINE_NAME``; idempotent.

    An installed package declares it in the ``papermill.engine`` entry-point
    group, which papermill reads when it is imported; this registers it through
    papermill's public API when that did not happen (metadata of an older
    install, or a source tree on sys.path).
    """
    from papermill.engines import papermill_engines
    from papermill.exceptions import PapermillException

    cls = _get_engine_class()
    try:
        if papermill_engines.get_engine(ENGINE_NAME) is cls:
            return
    except PapermillException:  # not registered yet
        pass
    papermill_engines.register(ENGINE_NAME, cls)


def execute_notebook(
    nb_or_path: str | os.PathLike | dict,
    output_path: str | os.PathLike | None,
    *,
    parameters: dict | None = None,
    cwd: str | os.PathLike | None = None,
    on_output: OutputCallback | None = None,
) -> nbformat.NotebookNode:
    """Execute a notebook with papermill and the in-process engine; return the executed notebook.

    ``nb_or_path`` is a path, a `NotebookNode` or a notebook dict (not modified). ``output_path``
    receives the executed notebook as cells run (``None``: not written).
    ``on_output(cell_index, stream_name, text)`` is called live as a cell
    writes to stdout or stderr. Raises `PapermillExecutionError` when a cell
    fails; the output notebook then holds the traceback, and
    `format_user_traceback` renders it for people.
    """
    import papermill
    from nbformat import NotebookNode, from_dict

    register_engine()
    if isinstance(nb_or_path, dict) and not isinstance(nb_or_path, NotebookNode):
        nb_or_path = from_dict(nb_or_path)
    return papermill.execute_notebook(
        nb_or_path,
        output_path,
        parameters=parameters,
        engine_name=ENGINE_NAME,
        kernel_name="python3",
        language="python",
        progress_bar=False,
        log_output=False,
        cwd=cwd,
        on_output=on_output,
    )


def __getattr__(name: str) -> Any:
    # `InProcessEngine` subclasses papermill's Engine, so it is built on first access
    # (the ``papermill.engine`` entry point names it, so papermill builds it as it loads).
    if name == "InProcessEngine":
        return _get_engine_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------
# The papermill engine
# --------------------------------------------------------------------------


def _get_engine_class() -> type[Engine]:
    global _engine_class
    if _engine_class is None:
        from papermill.engines import Engine

        class InProcessEngine(Engine):
            """Runs a notebook's cells in this process with a warm IPython shell.

            Not re-entrant: one notebook at a time per process. See the module
            documentation of `jupyter_mlpipe.execute.engine` for what is fresh
            for each notebook and what is shared.
            """

            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
                language = cls.nb_language(nb_man.nb)
                if str(language).lower() != "python":
                    from ..errors import MlpipeError

                    raise MlpipeError(
                        f"The in-process engine runs Python notebooks only (got {language!r}).",
                        hint="Use papermill's default engine (a kernel) for other languages.",
                    )
                _run_managed(nb_man, **kwargs)

            @classmethod
            def nb_kernel_name(cls, nb, name=None):
                return name or nb.metadata.get("kernelspec", {}).get("name") or "python3"

            @classmethod
            def nb_language(cls, nb, language=None):
                return (
                    language
                    or nb.metadata.get("kernelspec", {}).get("language")
                    or nb.metadata.get("language_info", {}).get("name")
                    or "python"
                )

        InProcessEngine.__module__ = __name__
        _engine_class = InProcessEngine
    return _engine_class


def _run_managed(
    nb_man: NotebookExecutionManager,
    *,
    on_output: OutputCallback | None = None,
    log_output: bool = False,
    stdout_file: TextIO | None = None,
    stderr_file: TextIO | None = None,
    input_path: object = None,
    **_ignored: Any,
) -> None:
    """Execute the cells of ``nb_man.nb``, under the process lock."""
    global _owner
    me = threading.get_ident()
    if _owner == me:
        from ..errors import MlpipeError

        raise MlpipeError(
            "The in-process engine is not re-entrant: a notebook it runs cannot run another "
            "notebook with it.",
            hint="Run the inner notebook with papermill's default engine (a kernel), or as its own step.",
        )
    with _lock:
        _owner = me
        try:
            shell = get_shell()
            run = NotebookRun(
                nb_man,
                shell,
                on_output=on_output,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            argv0 = input_path if isinstance(input_path, str) else ""
            real_save = nb_man.save
            nb_man.save = _throttled(real_save)
            try:
                with process_state(shell, run, run.mark_interrupted, argv0):
                    run.execute_cells()
            finally:
                nb_man.save = real_save  # papermill's notebook_complete then writes the whole notebook
        finally:
            _owner = None


def _throttled(write: Callable[..., Any]) -> Callable[..., Any]:
    """papermill writes the output notebook at every cell's start and end: a dozen writes of a step
    bundle that takes milliseconds (about half the warm per-step overhead). Write at most every
    `_SAVE_EVERY_S` while cells run (the first cell's start, and progress during long cells); the
    complete notebook is written when it ends, failed or not."""
    last = [float("-inf")]

    def save(**kwargs: Any) -> Any:
        now = time.monotonic()
        if now - last[0] < _SAVE_EVERY_S:
            return None
        last[0] = now
        return write(**kwargs)

    return save
