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
`sys.argv`, `os.environ`, warning filters, open matplotlib figures. Shared (the
point of a warm process): imported modules and their state, logging handlers,
threads left running.

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
first use, and nothing is registered with papermill until `register_engine()`.

This module holds the public API, the papermill engine and one notebook's execution;
the warm shell is in `shell.py`, output streams and nodes in `outputs.py`, inline
figures in `figures.py`, tracebacks for people in `tracebacks.py`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import outputs as _outputs
from .figures import _close_figures, _ensure_inline_figures, _has_inline_backend
from .outputs import _clean_metadata, _clean_mimebundle, _node, _streams, _write_original
from .shell import _as_global_shell, _fresh_namespace, _get_shell, _no_stdin, _sigint_flag
from .tracebacks import _exception_chain, _is_clean_exit, _is_internal, _safe_str, format_user_traceback

if TYPE_CHECKING:  # pragma: no cover
    import nbformat

__all__ = [
    "ENGINE_NAME",
    "InProcessEngine",
    "OutputCallback",
    "execute_notebook",
    "format_user_traceback",
    "register_engine",
]

ENGINE_NAME = "mlpipe-inprocess"

#: ``on_output(cell_index, stream_name, text)``: called as a cell prints.
OutputCallback = Callable[[int, str, str], None]

_lock = threading.Lock()  # one notebook at a time per process
_owner: int | None = None  # ident of the thread running a notebook
_engine_class: Any = None

_OK, _FAILED, _INTERRUPTED = "ok", "failed", "interrupted"

# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def register_engine() -> None:
    """Register `InProcessEngine` with papermill as ``ENGINE_NAME``; idempotent."""
    from papermill.engines import papermill_engines

    cls = _get_engine_class()
    if papermill_engines._engines.get(ENGINE_NAME) is not cls:
        papermill_engines.register(ENGINE_NAME, cls)


def execute_notebook(
    nb_or_path: Any,
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
    # `InProcessEngine` subclasses papermill's Engine, so it is built on first access.
    if name == "InProcessEngine":
        return _get_engine_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------
# The papermill engine
# --------------------------------------------------------------------------


def _get_engine_class() -> Any:
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
    nb_man: Any,
    *,
    on_output: OutputCallback | None = None,
    log_output: bool = False,
    stdout_file: Any = None,
    stderr_file: Any = None,
    input_path: Any = None,
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
            shell = _get_shell()
            run = _Run(
                nb_man,
                shell,
                on_output=on_output,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            argv0 = input_path if isinstance(input_path, str) else ""
            with _process_state(shell, run, argv0):
                run.execute_cells()
        finally:
            _owner = None


# --------------------------------------------------------------------------
# One notebook's execution
# --------------------------------------------------------------------------


class _Run:
    """The state of one notebook's execution: where outputs go, which cell is running."""

    def __init__(self, nb_man, shell, *, on_output, log_output, stdout_file, stderr_file):
        self.nb_man = nb_man
        self.nb = nb_man.nb
        self.shell = shell
        self.on_output = on_output
        self.log_output = log_output
        self.files = {"stdout": stdout_file, "stderr": stderr_file}
        self.thread = threading.get_ident()
        self.mutex = threading.RLock()  # outputs may come from other threads
        self.index: int | None = None
        self.cell: Any = None
        self.clear_pending = False
        self.display_ids: dict[str, list] = {}
        self.cell_of_count: dict[int, int] = {}
        self.interrupted = False  # a real SIGINT arrived during the current cell
        self.held: dict[str, tuple[int | None, str]] = {}  # on_output text waiting for a newline

    # -- the cell loop (papermill's NotebookExecutionManager callbacks) ----

    def execute_cells(self) -> None:
        nb, nb_man = self.nb, self.nb_man
        nb.metadata["language_info"] = _language_info()
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("mlpipe")
            if isinstance(meta, dict):
                meta.pop("error", None)
        for index, cell in enumerate(nb.cells):
            try:
                nb_man.cell_start(cell, index)
                if cell.get("cell_type") == "code" and cell.get("source", "").strip():
                    status = self.run_code_cell(index, cell)
                    if status != _OK:
                        nb_man.cell_exception(nb.cells[index], cell_index=index)
                        if status == _INTERRUPTED:
                            raise KeyboardInterrupt
                        break
            finally:
                nb_man.cell_complete(nb.cells[index], cell_index=index)
            if self.shell.exit_now:  # the user called exit(): stop, like a kernel that quit
                self.shell.exit_now = False
                break

    def run_code_cell(self, index: int, cell: Any) -> str:
        shell = self.shell
        with self.mutex:
            self.index, self.cell = index, cell
            self.clear_pending = False
            cell.outputs = []
        cell.execution_count = shell.execution_count
        self.cell_of_count[shell.execution_count] = index
        self.interrupted = False
        try:
            result = shell.run_cell(cell.source, store_history=True, cell_id=cell.get("id"))
        finally:
            self.flush_output()
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            return _OK
        if not any(o.get("output_type") == "error" for o in cell.outputs):
            # IPython printed it (a UsageError) instead of showing a traceback.
            name = type(error).__name__
            self.error(type(error), error, [f"{name}: {_safe_str(error)}"])
        if not (isinstance(error, SystemExit) and _is_clean_exit("SystemExit", _safe_str(error))):
            cell.metadata.setdefault("mlpipe", {})
            if isinstance(cell.metadata["mlpipe"], dict):
                cell.metadata["mlpipe"]["error"] = self.describe_error(error)
        if isinstance(error, KeyboardInterrupt) and self.interrupted:
            return _INTERRUPTED
        return _FAILED

    # -- outputs -----------------------------------------------------------

    def stream(self, name: str, text: str) -> bool:
        """Append text to the current cell's stream output; False when no cell has run yet."""
        if not text:
            return True
        with self.mutex:
            cell = self.cell
            if cell is None:
                return False
            self._take_pending_clear()
            outputs = cell.outputs
            if outputs and outputs[-1].get("output_type") == "stream" and outputs[-1].get("name") == name:
                outputs[-1]["text"] += text
            else:
                outputs.append(_node(output_type="stream", name=name, text=text))
            ready = self._hold(self.index, name, text) if self.on_output is not None else ()
        self._call_on_output(ready)
        file = self.files.get(name)
        if file is not None:
            file.write(text)
            file.flush()
        if self.log_output:
            from papermill.log import logger

            (logger.info if name == "stdout" else logger.warning)(text)
        self._autosave()
        return True

    def flush_output(self) -> None:
        """Hand on_output the text held back waiting for a newline (at a cell's end, on flush())."""
        if self.on_output is None:
            return
        with self.mutex:
            ready = [chunk for name in list(self.held) for chunk in self._hold(None, name, "", final=True)]
        self._call_on_output(ready)

    def _hold(self, index: int | None, name: str, text: str, final: bool = False) -> list:
        """Line-buffer on_output: whole lines now, the rest at the next newline or flush."""
        held_index, held = self.held.get(name, (index, ""))
        ready = []
        if held and held_index != index and index is not None:
            ready.append((held_index, name, held))
            held = ""
        held += text
        cut = len(held) if final else held.rfind("\n") + 1
        if cut:
            ready.append((held_index if index is None else index, name, held[:cut]))
            held = held[cut:]
        self.held[name] = (held_index if index is None else index, held)
        return ready

    def _call_on_output(self, chunks: Any) -> None:
        for index, name, text in chunks:
            callback = self.on_output
            if callback is None:
                return
            try:
                callback(index, name, text)
            except Exception as exc:  # a broken log sink must not fail the user's cell
                self.on_output = None
                _write_original(f"jupyter-mlpipe: the on_output callback failed and is now off: {exc!r}\n")

    def display(self, data: dict, metadata: dict, transient: dict, update: bool) -> None:
        display_id = transient.get("display_id")
        data, metadata = _clean_mimebundle(data), _clean_metadata(metadata)
        with self.mutex:
            if update:
                for output in self.display_ids.get(display_id, ()):
                    output["data"], output["metadata"] = _node(**data), _node(**metadata)
                return
            output = _node(output_type="display_data", data=data, metadata=metadata)
            self._append(output)
            if display_id:
                self.display_ids.setdefault(display_id, []).append(output)
        self._autosave()

    def execute_result(self, data: dict, metadata: dict, count: int) -> None:
        output = _node(
            output_type="execute_result",
            data=_clean_mimebundle(data),
            metadata=_clean_metadata(metadata),
            execution_count=count,
        )
        with self.mutex:
            self._append(output)

    def error(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        output = _node(
            output_type="error", ename=etype.__name__, evalue=_safe_str(evalue), traceback=list(stb)
        )
        with self.mutex:
            self._append(output)

    def clear_output(self, wait: bool) -> None:
        with self.mutex:
            if wait:
                self.clear_pending = True
            elif self.cell is not None:
                self.clear_pending = False
                self._clear()

    def _append(self, output: Any) -> None:
        if self.cell is None:  # before the first code cell: nowhere to put it
            return
        self._take_pending_clear()
        self.cell.outputs.append(output)

    def _take_pending_clear(self) -> None:
        if self.clear_pending:
            self.clear_pending = False
            self._clear()

    def _clear(self) -> None:
        removed = {id(o) for o in self.cell.outputs}
        self.cell.outputs[:] = []
        for outputs in self.display_ids.values():
            outputs[:] = [o for o in outputs if id(o) not in removed]

    def _autosave(self) -> None:
        if threading.get_ident() == self.thread:  # never serialise while another thread writes
            self.nb_man.autosave_cell()

    # -- errors for people ---------------------------------------------------

    def label(self, index: int) -> int:
        """The cell number people know: metadata mlpipe.cell, else the bundle index."""
        meta = self.nb.cells[index].get("metadata", {}).get("mlpipe")
        if isinstance(meta, dict) and isinstance(meta.get("cell"), int):
            return meta["cell"]
        return index

    def cell_label_of_file(self, filename: str | None) -> int | None:
        count = self.shell.compile.names.get(filename) if filename else None
        index = self.cell_of_count.get(count) if count is not None else None
        return None if index is None else self.label(index)

    def describe_error(self, error: BaseException) -> dict:
        """The traceback as data: chained exceptions, user and library frames only."""
        import traceback

        chain = []
        for exc, link in _exception_chain(error):
            frames = []
            for fs in traceback.extract_tb(exc.__traceback__):
                label = self.cell_label_of_file(fs.filename)
                if label is not None:
                    code = self.shell.compile.raw_line(fs.filename, fs.lineno) or fs.line or ""
                    frames.append({"cell": label, "line": fs.lineno, "name": fs.name, "code": code})
                elif not _is_internal(fs.filename):
                    frames.append(
                        {"file": fs.filename, "line": fs.lineno, "name": fs.name, "code": fs.line or ""}
                    )
            lines = list(traceback.TracebackException(type(exc), exc, None).format_exception_only())
            entry: dict[str, Any] = {"frames": frames, "link": link}
            if isinstance(exc, SyntaxError):
                label = self.cell_label_of_file(exc.filename)
                if label is not None and lines and lines[0].lstrip().startswith("File "):
                    entry["at"] = {"cell": label, "line": exc.lineno}
                    lines = lines[1:]
            text = "".join(lines)
            module = type(exc).__module__ or ""
            if module.split(".")[0] == "jupyter_mlpipe":
                text = text.replace(f"{module}.{type(exc).__qualname__}", type(exc).__qualname__, 1)
            entry["exception"] = text
            chain.append(entry)
        return {"ename": type(error).__name__, "evalue": _safe_str(error), "chain": chain}


@contextlib.contextmanager
def _process_state(shell: Any, run: _Run, argv0: str) -> Iterator[None]:
    """Give the notebook a fresh, Jupyter-like process state; restore ours afterwards."""
    import builtins
    import getpass
    import warnings

    saved_cwd = os.getcwd()
    saved_path, saved_argv = sys.path[:], sys.argv
    saved_env = dict(os.environ)
    saved_out, saved_err = sys.stdout, sys.stderr
    saved_main = sys.modules.get("__main__")
    saved_input, saved_getpass = builtins.input, getpass.getpass
    stdout, stderr = _streams(saved_out, saved_err)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message="To exit: use 'exit', 'quit', or Ctrl-D.")
            if _has_inline_backend():
                os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
            _fresh_namespace(shell)
            sys.modules["__main__"] = shell.user_module
            sys.argv = [argv0]
            if saved_cwd not in sys.path:
                sys.path.insert(0, saved_cwd)
            builtins.input = getpass.getpass = _no_stdin
            stack.enter_context(_as_global_shell(shell))
            stack.enter_context(_sigint_flag(run))
            _outputs._active = run
            sys.stdout, sys.stderr = stdout, stderr
            _ensure_inline_figures(shell)
            try:
                yield
            finally:
                _close_figures()
    finally:
        _outputs._active = None
        sys.stdout, sys.stderr = saved_out, saved_err
        builtins.input, getpass.getpass = saved_input, saved_getpass
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        sys.argv = saved_argv
        sys.path[:] = saved_path
        _restore_environ(saved_env)
        with contextlib.suppress(OSError):
            os.chdir(saved_cwd)
        for name in ("last_type", "last_value", "last_traceback", "last_exc"):
            if hasattr(sys, name):
                delattr(sys, name)
        _fresh_namespace(shell)  # release the notebook's objects now, not at the next run


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _restore_environ(saved: dict[str, str]) -> None:
    current = os.environ
    for key in [k for k in current if k not in saved]:
        del current[key]
    for key, value in saved.items():
        if current.get(key) != value:
            current[key] = value


def _language_info() -> dict:
    import platform

    return {
        "name": "python",
        "version": platform.python_version(),
        "mimetype": "text/x-python",
        "file_extension": ".py",
        "pygments_lexer": "ipython3",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "nbconvert_exporter": "python",
    }
