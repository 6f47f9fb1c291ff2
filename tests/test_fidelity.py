"""The notebook is the oracle, at scale: the fidelity corpus (tests/fidelity/).

Every case runs as a pipeline (one step per cell, and cells grouped two to a
step), then twice more with one cell edited (reusing what it can), and each
run's `verdict` is compared with the same cells run top to bottom in a fresh
process. A run may correct itself or refuse loudly; it may never say
`succeeded` with another value.
"""

from __future__ import annotations

import importlib.util

import pytest

from fidelity import harness
from fidelity.corpus import all_cases

pytestmark = pytest.mark.slow

CASES = all_cases(("identity", "seeds", "process", "shared-code", "files"))


@pytest.fixture(scope="module")
def oracle():
    server = harness.Oracle()
    yield server
    server.close()


def _ids(case: harness.Case) -> str:
    return f"{case.category}-{case.id}"


@pytest.mark.parametrize("grouped", [False, True], ids=["per-cell", "grouped"])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_case(case, grouped, oracle, ray_address, tmp_path):
    if case.requires and importlib.util.find_spec(case.requires) is None:
        pytest.skip(f"{case.requires} is not installed")
    results = harness.check_notebook(case, tmp_path / case.id, oracle, grouped=grouped)
    problems = [r for r in results if r.outcome in ("silent", "oracle-failed")]
    assert not problems, "\n".join(
        f"{r.notebook}: {r.outcome}: expected {r.expected}, got {r.actual} {r.error or ''}" for r in problems)
    wanted = ("refused",) if case.expect == "refuse" else ("identical", "corrected")
    wrong = [r for r in results if r.outcome not in wanted]
    assert not wrong, "\n".join(f"{r.notebook}: {r.outcome} (wanted {' or '.join(wanted)}): {r.error}"
                                for r in wrong)
