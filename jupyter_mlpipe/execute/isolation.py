"""A fresh, Jupyter-like process state for each notebook the in-process engine runs.

Notebooks run one after another in one warm process. Each must see what a new
kernel would show it, and leave nothing behind for the next: the user namespace
and `__main__`, `sys.path`, `sys.argv`, `os.environ`, the working directory,
warning filters, stdout/stderr, `input()`, SIGINT handling and matplotlib
figures are set up before the notebook and put back afterwards, and the modules
it imported from outside installed code (its own `helpers.py`) are forgotten. What stays
shared (the point of a warm process) is listed in `engine`'s documentation.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .figures import close_figures, ensure_inline_figures, has_inline_backend
from .outputs import OutputSink, capturing, streams
from .shell import as_global_shell, fresh_namespace, no_stdin, sigint_flag

if TYPE_CHECKING:  # pragma: no cover
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["process_state"]


@contextlib.contextmanager
def process_state(
    shell: InteractiveShell, sink: OutputSink, on_interrupt: Callable[[], None], argv0: str
) -> Iterator[None]:
    """Give the notebook a fresh, Jupyter-like process state; restore ours afterwards.

    `sink` receives the notebook's outputs; `on_interrupt()` is called when a
    real SIGINT arrives while it runs.
    """
    import builtins
    import getpass
    import warnings

    saved_cwd = os.getcwd()
    saved_path, saved_argv = sys.path[:], sys.argv
    saved_env = dict(os.environ)
    saved_out, saved_err = sys.stdout, sys.stderr
    saved_main = sys.modules.get("__main__")
    saved_modules = set(sys.modules)
    saved_input, saved_getpass = builtins.input, getpass.getpass
    stdout, stderr = streams(saved_out, saved_err)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message="To exit: use 'exit', 'quit', or Ctrl-D.")
            if has_inline_backend():
                os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
            fresh_namespace(shell)
            sys.modules["__main__"] = shell.user_module
            sys.argv = [argv0]
            if saved_cwd not in sys.path:
                sys.path.insert(0, saved_cwd)
            builtins.input = getpass.getpass = no_stdin
            stack.enter_context(as_global_shell(shell))
            stack.enter_context(sigint_flag(on_interrupt))
            stack.enter_context(capturing(sink))
            sys.stdout, sys.stderr = stdout, stderr
            ensure_inline_figures(shell)
            try:
                yield
            finally:
                close_figures()
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err
        builtins.input, getpass.getpass = saved_input, saved_getpass
        if saved_main is not None:
            sys.modules["__main__"] = saved_main
        sys.argv = saved_argv
        sys.path[:] = saved_path
        _restore_environ(saved_env)
        with contextlib.suppress(OSError):  # the notebook removed our working directory
            os.chdir(saved_cwd)
        for name in ("last_type", "last_value", "last_traceback", "last_exc"):
            if hasattr(sys, name):
                delattr(sys, name)
        fresh_namespace(shell)  # release the notebook's objects now, not at the next run
        _drop_user_modules(saved_modules)


def _installed() -> tuple[str, ...]:
    """Where installed code lives: the Python installation, the user's site-packages, this package."""
    import site

    places = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.dirname(__file__))}
    try:
        places.add(site.getusersitepackages())
    except AttributeError:  # a virtualenv's site module may not have it
        pass
    return tuple(os.path.realpath(p) + os.sep for p in places if p)


def _drop_user_modules(before: set[str]) -> None:
    """Modules the notebook imported from outside installed code (its folder's `helpers.py`, a `lib/` it
    put on sys.path) are imported afresh by the next notebook in this warm process, as a new kernel
    would: an edited file must never run with its old code."""
    installed = _installed()
    for name in [n for n in sys.modules if n not in before]:
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str) and not os.path.realpath(path).startswith(installed):
            del sys.modules[name]


def _restore_environ(saved: dict[str, str]) -> None:
    current = os.environ
    for key in [k for k in current if k not in saved]:
        del current[key]
    for key, value in saved.items():
        if current.get(key) != value:
            current[key] = value
