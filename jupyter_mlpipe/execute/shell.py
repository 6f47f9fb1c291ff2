"""The warm IPython shell that runs every notebook of this process, and its per-notebook reset.

Creating an IPython shell costs far more than a small step, so each process has
one, created on first use and kept warm. Its display hook, display publisher and
tracebacks become outputs of the running notebook (through `outputs.current_sink`),
and the helpers here make each notebook start fresh: namespace, `get_ipython()`,
SIGINT, no stdin. IPython and traitlets are imported on first use.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from .outputs import current_sink

if TYPE_CHECKING:  # pragma: no cover
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["as_global_shell", "fresh_namespace", "get_shell", "no_stdin", "sigint_flag"]

_shell: InteractiveShell | None = None  # the warm shell, created on first use


def get_shell() -> InteractiveShell:
    """This process's warm shell (an `InteractiveShell` whose outputs go to the running notebook)."""
    global _shell
    if _shell is None:
        import atexit
        import shutil
        import tempfile

        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False
        config.HistoryManager.hist_file = ":memory:"
        # A private IPython dir: nothing is read from or written to ~/.ipython.
        ipython_dir = tempfile.mkdtemp(prefix="mlpipe-ipython-")
        atexit.register(shutil.rmtree, ipython_dir, True)
        main = sys.modules.get("__main__")
        try:
            _shell = _shell_class()(config=config, ipython_dir=ipython_dir)
        finally:  # InteractiveShell puts its namespace in sys.modules["__main__"]
            if main is not None:
                sys.modules["__main__"] = main
    return _shell


def _shell_class() -> type:
    import linecache

    from IPython.core.compilerop import CachingCompiler
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type

    class _Compiler(CachingCompiler):
        """Remembers the names it gives cells, to map traceback frames back to cells."""

        def __init__(self) -> None:
            super().__init__()
            self.names: dict[str, int] = {}

            self.raw_lines: dict[str, list[str]] = {}

        def get_code_name(self, raw_code, transformed_code, number):
            name = super().get_code_name(raw_code, transformed_code, number)
            self.names[name] = number
            self.raw_lines[name] = raw_code.splitlines()
            return name

        def raw_line(self, name: str, lineno: int | None) -> str | None:
            """The line as the user wrote it (`%time f()`, not its transformed form)."""
            lines = self.raw_lines.get(name, ())
            return lines[lineno - 1] if lineno and 0 < lineno <= len(lines) else None

        def forget(self) -> None:
            for name in self.names:
                linecache.cache.pop(name, None)
            self.names.clear()
            self.raw_lines.clear()
            self._filename_map.clear()

    class _DisplayHook(DisplayHook):
        """The value of a cell's last expression becomes an execute_result output."""

        def write_output_prompt(self) -> None:
            if current_sink() is None:
                super().write_output_prompt()

        def write_format_data(self, format_dict, md_dict=None) -> None:
            sink = current_sink()
            if sink is None:
                return super().write_format_data(format_dict, md_dict)
            sink.execute_result(format_dict, md_dict or {}, self.prompt_count)

        def finish_displayhook(self) -> None:
            if current_sink() is None:
                return super().finish_displayhook()
            self._is_active = False

    class _DisplayPublisher(DisplayPublisher):
        """display() becomes a display_data output."""

        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            sink = current_sink()
            if sink is None:
                return super().publish(data, metadata, transient=transient, update=update, **kwargs)
            sink.display(data, metadata or {}, transient or {}, update)

        def clear_output(self, wait=False):
            sink = current_sink()
            if sink is None:
                return super().clear_output(wait)
            sink.clear_output(wait)

    class MlpipeShell(InteractiveShell):
        """A plain (non-terminal) shell whose outputs become notebook outputs."""

        displayhook_class = Type(_DisplayHook)
        display_pub_class = Type(_DisplayPublisher)
        compiler_class = Type(_Compiler)

        def _showtraceback(self, etype, evalue, stb):
            sink = current_sink()
            if sink is None:
                return super()._showtraceback(etype, evalue, stb)
            sink.error(etype, evalue, stb)

        def ask_exit(self):
            """exit() / quit(): the notebook stops here, without an error."""
            self.exit_now = True

        def enable_gui(self, gui=None):
            if gui in (None, "inline"):
                return
            raise UsageError(
                f"GUI event loop {gui!r} is not available in a pipeline step; use %matplotlib inline."
            )

    MlpipeShell.__module__ = __name__
    return MlpipeShell


def fresh_namespace(shell: InteractiveShell) -> None:
    """A new user namespace and module, history and counters: nothing of the last notebook stays."""
    import types

    history = shell.history_manager
    history.reset(new_session=True)
    history.output_hist_reprs.clear()
    shell.execution_count = 1
    shell.last_execution_succeeded = True
    shell.last_execution_result = None
    for name in ("_", "__", "___"):
        setattr(shell.displayhook, name, "")
    shell.displayhook.exec_result = None
    module = types.ModuleType("__main__", doc="A notebook run by jupyter-mlpipe's in-process engine.")
    shell.init_create_namespaces(user_module=module)
    shell.init_user_ns()
    old, shell.compile = shell.compile, shell.compiler_class()
    old.forget()
    shell.exit_now = False


@contextlib.contextmanager
def as_global_shell(shell: InteractiveShell) -> Iterator[None]:
    """Make `shell` what `get_ipython()` and `InteractiveShell.instance()` return, for a while.

    display(), matplotlib-inline and other libraries find the shell through the
    singleton; a process that already has one (a kernel) gets it back afterwards.
    """
    from traitlets.config.configurable import SingletonConfigurable

    classes = [
        c for c in type(shell).__mro__ if issubclass(c, SingletonConfigurable) and c is not SingletonConfigurable
    ]
    missing = object()
    saved = [(c, c.__dict__.get("_instance", missing)) for c in classes]
    for c in classes:
        c._instance = shell
    try:
        yield
    finally:
        for c, old in saved:
            if old is missing:
                with contextlib.suppress(AttributeError):
                    delattr(c, "_instance")
            else:
                c._instance = old


@contextlib.contextmanager
def sigint_flag(on_interrupt: Callable[[], None]) -> Iterator[None]:
    """Call `on_interrupt()` when a real SIGINT arrives; the previous handler still acts.

    A KeyboardInterrupt from a real signal means the step was cancelled; one
    raised by the user's code is the cell's error. The flag tells them apart.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    import signal

    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if previous is signal.SIG_IGN:
            return
        on_interrupt()
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def no_stdin(*args: Any, **kwargs: Any) -> NoReturn:
    """input() and getpass() in a notebook: refused at once rather than waiting forever."""
    from IPython.core.error import StdinNotImplementedError

    raise StdinNotImplementedError(
        "input() and getpass() are not available in a pipeline step: it runs without a terminal. "
        "Pass the value as a parameter instead."
    )
