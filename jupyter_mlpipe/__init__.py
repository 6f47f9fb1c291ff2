"""jupyter-mlpipe: turn a notebook into a machine-learning pipeline.

`%load_ext jupyter_mlpipe` registers `%%step`, `%%scratch` and `%pipeline`.
Public names are imported lazily so that loading the extension stays fast and
pulls in none of ray, pyarrow, pandas or papermill.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    ArtifactCorrupt,
    ArtifactMissing,
    ConfigError,
    InfeasibleRequest,
    MlpipeError,
    PlanError,
    RunNotFound,
    StepFailed,
    StepOptionError,
    UnstorableValue,
)
from .lazy import lazy_names

__version__ = "0.1.0"

__all__ = [
    "ArtifactCorrupt",
    "ArtifactMissing",
    "ConfigError",
    "InfeasibleRequest",
    "MlpipeError",
    "Pipeline",
    "PlanError",
    "RunNotFound",
    "StepFailed",
    "StepOptionError",
    "UnstorableValue",
    "compare",
    "interactive_metrics",
    "load_ipython_extension",
    "load_run",
    "log_metric",
    "log_metrics",
    "run",
    "runs",
    "unload_ipython_extension",
    "__version__",
]

_LAZY = {
    "Pipeline": "jupyter_mlpipe.plan",
    "run": "jupyter_mlpipe.api",
    "runs": "jupyter_mlpipe.api",
    "load_run": "jupyter_mlpipe.api",
    "compare": "jupyter_mlpipe.queries",
    "log_metric": "jupyter_mlpipe.execute.runtime",
    "log_metrics": "jupyter_mlpipe.execute.runtime",
    "interactive_metrics": "jupyter_mlpipe.execute.runtime",
}


__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, __all__)


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics; nothing heavy happens here."""
    from .kernel.magics import MlpipeMagics

    ipython.register_magics(MlpipeMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: magics stay until the kernel restarts (IPython has no unregister)."""
