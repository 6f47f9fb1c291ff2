"""Parameter sweeps: many runs of one notebook with different parameters, on Ray Tune (docs/sweeps.md).

Importing this package is cheap: Ray Tune is imported when a sweep starts.
"""

from __future__ import annotations

from ..lazy import lazy_names

__all__ = ["Sweep", "SweepPlan", "prepare", "sweep", "parse_space", "SearchSpace"]

_LAZY = {
    "Sweep": ".driver",
    "SweepPlan": ".driver",
    "prepare": ".driver",
    "sweep": ".driver",
    "parse_space": ".space",
    "SearchSpace": ".space",
}

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, __all__)
