"""The shared planner acceptance cases (../shared/cases/planner_cases.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlpipe import Pipeline, PlanError

CASES_FILE = Path(__file__).resolve().parents[2] / "shared" / "cases" / "planner_cases.json"


def _load_cases() -> list[dict]:
    if not CASES_FILE.is_file():
        return []
    return json.loads(CASES_FILE.read_text(encoding="utf-8"))


CASES = _load_cases()


def _edge_set(plan: Pipeline) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(e.source, e.target, tuple(sorted(e.variables))) for e in plan.edges}


@pytest.mark.skipif(not CASES, reason=f"shared planner cases not found at {CASES_FILE}")
def test_cases_file_is_not_empty():
    assert len(CASES) >= 19


@pytest.mark.parametrize("case", CASES or [pytest.param(None, marks=pytest.mark.skip(
    reason=f"shared planner cases not found at {CASES_FILE}"))],
    ids=[c["name"] for c in CASES] or ["missing"])
def test_shared_case(case):
    if "error" in case:
        with pytest.raises(PlanError) as info:
            Pipeline.from_sources(case["cells"])
        message = str(info.value)
        for fragment in case["error"]:
            assert fragment in message, f"{fragment!r} missing from: {message}"
        return
    plan = Pipeline.from_sources(case["cells"])
    expected = {(a, b, tuple(sorted(v))) for a, b, v in case["edges"]}
    assert _edge_set(plan) == expected
    json.dumps(plan.to_dict())  # the plan is JSON-able
