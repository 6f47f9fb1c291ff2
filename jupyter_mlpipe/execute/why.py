"""`why STEP`: the reuse decision of a step in the last run that included it, in words."""

from __future__ import annotations

from typing import Any

__all__ = ["why_text"]


def why_text(record: dict[str, Any], step: str) -> str:
    """Explain one step of a recorded run (a History.get_run() record)."""
    steps = record.get("steps") or {}
    if step not in steps:
        known = ", ".join(steps) or "(none)"
        return f"Step {step!r} was not part of run {record['id']}. Its steps: {known}."
    data = steps[step]
    reason = data.get("reason") or {}
    status = data.get("status")
    head = f"Run {record['id']}: step {step!r} {status}."
    decision = reason.get("decision")
    if decision == "reused":
        return f"{head}\nNothing in its key changed since run {reason.get('from_run')}: code, shared code, " \
               "inputs, parameters, --deps files and package versions are the same, so its stored outputs " \
               "were reused."
    if decision == "skipped":
        return f"{head}\nIt did not run: {reason.get('summary')}."
    lines = [head, f"It ran because {reason.get('summary', 'it had no stored result')}."]
    changes = [c for c in reason.get("changes") or [] if c]
    if changes and changes != ["this step never ran before"]:
        lines.append("What changed since its previous run:")
        lines += [f"  - {change}" for change in changes]
    elif not changes:
        lines.append("Nothing in its key changed, but no stored result could be used.")
    return "\n".join(lines)
