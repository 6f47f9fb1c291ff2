"""The docs generated from the code are up to date; the public API is pinned."""

from __future__ import annotations

import runpy

import jupyter_mlpipe
from conftest import ROOT


def test_reference_is_generated_from_the_code(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    render = runpy.run_path(str(ROOT / "docs" / "gen_reference.py"))["render"]
    assert (ROOT / "docs" / "reference.md").read_text() == render(), \
        "docs/reference.md is stale: run COLUMNS=100 python docs/gen_reference.py"


def test_public_api_is_pinned():
    assert sorted(jupyter_mlpipe.__all__) == sorted([
        "ArtifactCorrupt", "ArtifactMissing", "ConfigError", "InfeasibleRequest", "MlpipeError", "Pipeline",
        "PlanError", "RunNotFound", "StepFailed", "StepOptionError", "UnstorableValue", "__version__",
        "compare", "interactive_metrics", "load_ipython_extension", "load_run", "log_metric", "log_metrics", "run", "runs",
        "unload_ipython_extension",
    ])
    for name in jupyter_mlpipe.__all__:
        assert getattr(jupyter_mlpipe, name) is not None
