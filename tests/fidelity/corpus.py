"""Every case of the fidelity corpus, by category."""

from __future__ import annotations

from . import harness, identity_cases, state_cases


def all_cases(categories: tuple[str, ...] | None = None) -> list[harness.Case]:
    out = harness.cases_from(identity_cases.CASES, identity_cases.PREAMBLE, "identity")
    for category, rows in state_cases.cases():
        out += harness.cases_from(rows, state_cases.PREAMBLE, category)
    return [c for c in out if categories is None or c.category in categories]
