"""Import Ray without paying for a grammar it never uses.

`import ray` imports jsonschema, whose format checkers import the optional
`rfc3987_syntax` package when it is installed (JupyterLab's jupyter_events
installs it). That package compiles an Earley grammar at import: 1.1 s of
the 1.4 s `import ray` takes on a 2-core machine, paid by every `mlpipe run`
and kernel. A placeholder module stands in for it until a schema actually
checks an IRI, when the real package is imported and called: the behaviour is
unchanged, only the cost moves to the (rare) first use.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import types
from typing import Any

__all__ = ["defer_iri_grammar", "import_ray"]

logger = logging.getLogger(__name__)

_GRAMMAR_MODULE = "rfc3987_syntax"
_LOCK = threading.Lock()


class _DeferredGrammar(types.ModuleType):
    """Stands in for `rfc3987_syntax`; the first call imports the real one."""

    def __init__(self) -> None:
        super().__init__(_GRAMMAR_MODULE, "placeholder until an IRI is checked (jupyter_mlpipe)")
        self._real: types.ModuleType | None = None

    def _load(self) -> types.ModuleType:
        with _LOCK:
            if self._real is None:
                if sys.modules.get(_GRAMMAR_MODULE) is self:
                    del sys.modules[_GRAMMAR_MODULE]
                self._real = importlib.import_module(_GRAMMAR_MODULE)
            return self._real

    def is_valid_syntax(self, *args: Any, **kwargs: Any) -> Any:
        return self._load().is_valid_syntax(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._load(), name)


def defer_iri_grammar() -> bool:
    """Put the placeholder in place unless the real package is imported or absent; say if it was."""
    if _GRAMMAR_MODULE in sys.modules:
        return False
    try:
        if importlib.util.find_spec(_GRAMMAR_MODULE) is None:
            return False
    except (ImportError, ValueError):
        logger.debug("could not look for %s", _GRAMMAR_MODULE, exc_info=True)
        return False
    sys.modules[_GRAMMAR_MODULE] = _DeferredGrammar()
    return True


def import_ray() -> types.ModuleType:
    """`import ray`, with the IRI grammar deferred when this is the process's first import of Ray."""
    if "ray" not in sys.modules:
        defer_iri_grammar()
    import ray

    return ray
