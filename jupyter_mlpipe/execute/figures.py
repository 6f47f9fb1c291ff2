"""Inline matplotlib figures in a notebook run by the in-process engine (when matplotlib is installed).

Split out of `engine.py`: whether the inline backend is available, choosing it even when
matplotlib was imported before the first notebook, and closing a notebook's figures.
matplotlib is imported only when the notebook already imported it.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

_inline_backend: bool | None = None


def _has_inline_backend() -> bool:
    global _inline_backend
    if _inline_backend is None:
        import importlib.util

        _inline_backend = (
            importlib.util.find_spec("matplotlib") is not None
            and importlib.util.find_spec("matplotlib_inline") is not None
        )
    return _inline_backend


def _ensure_inline_figures(shell: Any) -> None:
    """Figures inline even when matplotlib was imported before the first notebook.

    MPLBACKEND (set while a notebook runs) only counts if matplotlib is imported
    after it. If matplotlib is already imported with no backend chosen, choose
    inline; if pyplot is already imported, do what `%matplotlib inline` does.
    """
    if "matplotlib" not in sys.modules or not _has_inline_backend():
        return
    inline = "module://matplotlib_inline.backend_inline"
    with contextlib.suppress(Exception):
        if "matplotlib.pyplot" not in sys.modules:
            import matplotlib

            if _chosen_backend(matplotlib) is None:
                matplotlib.rcParams["backend"] = inline
            return
        from matplotlib_inline.backend_inline import flush_figures

        if flush_figures not in shell.events.callbacks.get("post_execute", ()):
            shell.enable_matplotlib("inline")


def _chosen_backend(matplotlib: Any) -> str | None:
    """The backend set by the user or MPLBACKEND; None when matplotlib would pick one itself."""
    try:
        return matplotlib.get_backend(auto_select=False)  # matplotlib >= 3.10
    except TypeError:
        from matplotlib import rcsetup

        backend = matplotlib.rcParams._get("backend")
        return None if backend is rcsetup._auto_backend_sentinel else backend


def _close_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        with contextlib.suppress(Exception):
            pyplot.close("all")
