"""Inline matplotlib figures in a notebook run by the in-process engine (when matplotlib is installed).

A kernel shows figures inline; a warm process that runs notebook after notebook
must do the same, even when matplotlib was imported before the first notebook,
and must not leak one notebook's open figures into the next. matplotlib is
imported only when the notebook already imported it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["close_figures", "ensure_inline_figures", "has_inline_backend"]

logger = logging.getLogger(__name__)
_inline_backend: bool | None = None


def has_inline_backend() -> bool:
    """Whether matplotlib and matplotlib-inline are installed (looked up once per process)."""
    global _inline_backend
    if _inline_backend is None:
        import importlib.util

        _inline_backend = (
            importlib.util.find_spec("matplotlib") is not None
            and importlib.util.find_spec("matplotlib_inline") is not None
        )
    return _inline_backend


def ensure_inline_figures(shell: InteractiveShell) -> None:
    """Figures inline even when matplotlib was imported before the first notebook.

    MPLBACKEND (set while a notebook runs) only counts if matplotlib is imported
    after it. If matplotlib is already imported with no backend chosen, choose
    inline; if pyplot is already imported, do what `%matplotlib inline` does.
    """
    if "matplotlib" not in sys.modules or not has_inline_backend():
        return
    inline = "module://matplotlib_inline.backend_inline"
    try:
        if "matplotlib.pyplot" not in sys.modules:
            import matplotlib

            if _chosen_backend(matplotlib) is None:
                matplotlib.rcParams["backend"] = inline
            return
        from matplotlib_inline.backend_inline import flush_figures

        if flush_figures not in shell.events.callbacks.get("post_execute", ()):
            shell.enable_matplotlib("inline")
    except Exception:  # noqa: BLE001 - a broken matplotlib setup: the notebook runs, without inline figures
        logger.debug("could not make matplotlib figures inline", exc_info=True)


def _chosen_backend(matplotlib: Any) -> str | None:
    """The backend set by the user or MPLBACKEND; None when matplotlib would pick one itself."""
    try:
        return matplotlib.get_backend(auto_select=False)  # matplotlib >= 3.10
    except TypeError:
        from matplotlib import rcsetup

        backend = matplotlib.rcParams._get("backend")
        return None if backend is rcsetup._auto_backend_sentinel else backend


def close_figures() -> None:
    """Close the figures a notebook left open, so the next notebook starts with none."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # noqa: BLE001 - a figure whose close fails must not fail the step
            logger.debug("could not close matplotlib figures", exc_info=True)
