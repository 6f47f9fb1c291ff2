"""A fan-out `%%step` cell run in the kernel: the loop over its elements, so the notebook still runs
top to bottom and gives the values the pipeline gives.

Each element runs the cell in a fresh namespace made from the kernel's (the
element bound to the `--as` name), through the same `execute.foreach`
functions the pipeline's workers use: same elements, same failures, same
gathered values. After the loop each name the cell defines is, in the kernel,
the list (or concatenation) of its values; the `--as` name and the cell's
private names are left as they were before the cell.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import StepFailed
from ..execute.foreach import ElementCode, ElementFailed, elements_of, file_elements, gather
from ..plan.fanout import allowed_failures, fanout_names
from ..plan.options import StepOptions
from ..plan.step_facts import step_facts

__all__ = ["run_foreach_cell"]

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range)


def run_foreach_cell(shell: Any, options: StepOptions, line: str, cell: str) -> bool:
    """Run the cell once per element; bind the gathered values. False when the step fails (already
    reported); raises StepFailed for elements that cannot be made."""
    from ..store.codec import content_hash

    name, ns = options.name, shell.user_ns
    facts = step_facts((cell,))
    refs, defs = fanout_names(options, facts.refs, facts.defs)
    outputs = list(options.outputs) if options.outputs is not None else [
        n for n in defs if not n.startswith(("_", "@")) and n not in facts.local_shared]
    elements = _elements(options, ns)
    watched = {n: ns[n] for n in refs if n in ns and n != options.foreach and type(ns[n]) not in _IMMUTABLE
               and not callable(ns[n]) and type(ns[n]).__name__ != "module"}
    before = {n: content_hash(v, variable=n, step=name) for n, v in watched.items()}
    code = ElementCode(name, line, cell, cell=None)
    allowed = allowed_failures(options.error_threshold, len(elements))
    values: dict[str, list[Any]] = {n: [] for n in outputs}
    failures: list[tuple[int, dict]] = []
    for index, element in enumerate(elements):
        for attempt in range(options.retries + 1):
            try:
                got = code.run(ns, options.as_name or "", element, outputs)
                break
            except ElementFailed as exc:
                info = exc.info
        else:
            failures.append((index, info))
            print(f"{name}: element {index} failed: " + (info.get("traceback") or
                  f"{info.get('ename')}: {info.get('evalue')}").rstrip(), file=sys.stderr)
            if len(failures) > allowed:
                break
            continue
        for n in outputs:
            values[n].append(got[n])
    changed = [n for n, v in watched.items() if content_hash(v, variable=n, step=name) != before[n]]
    if changed:
        print(f"{name}: an element changed its input {changed[0]!r} in place; the pipeline runs elements in "
              f"parallel, each from the step's inputs, so it cannot give this notebook's values. Work on a copy "
              f"({changed[0]}.copy()) in the cell.", file=sys.stderr)
        return False
    limit = f"--error-threshold {options.error_threshold} allows {allowed}" if options.error_threshold else \
        "without --error-threshold none may fail"
    if len(failures) > allowed:
        print(f"{name}: {len(failures)} element(s) failed ({limit}); the step fails.", file=sys.stderr)
        return False
    for n in outputs:
        ns[n] = gather(name, n, values[n], options.gather)
    done = len(elements) - len(failures)
    note = f", {len(failures)} failed ({limit}): elements {', '.join(str(i) for i, _ in failures)}" if failures else ""
    print(f"{name}: {done} of {len(elements)} elements done{note}", file=sys.stderr if failures else sys.stdout)
    return True


def _elements(options: StepOptions, ns: dict[str, Any]) -> list[Any]:
    name = options.name
    if options.files:
        return file_elements(os.getcwd(), options.files, step=name)
    source = options.foreach or ""
    if source not in ns:
        raise StepFailed(f"Step {name!r}: --foreach {source}: {source!r} is not defined in this kernel.",
                         step=name, hint=f"Run the cell that defines {source!r} first.")
    return elements_of(ns[source], step=name, source=source, batch_size=options.batch_size)
