"""What the cells of one step define and use, combined, before looking at the rest of the notebook.

The pure half of planning a step: it depends only on the texts of the step's
cells, so it is cached by them, and re-planning an edited notebook recombines
only the cells of the steps that changed. The planner then resolves these facts
against what earlier items defined (`symbols`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .cells import analyze_cell
from .nodes import frozen_names
from .shared import SharedDef, star_defs
from .source import CellSyntaxError

__all__ = ["CellFailure", "StepFacts", "step_facts"]


class CellFailure(Exception):
    """A cell of a step could not be analysed: syntax error or unresolvable star import."""

    def __init__(self, offset: int, error: BaseException, module: str | None = None) -> None:
        super().__init__(str(error))
        self.offset = offset
        self.error = error
        self.module = module


@dataclass(frozen=True)
class StepFacts:
    """What the cells of one step define and use, before looking at the rest of the notebook.

    Pure (cell sources in, facts out) and cached, so re-planning an edited
    notebook only recombines the cells of the steps that changed. Cell
    positions are offsets within the step.
    """

    refs: dict[str, int]  # value names read before the step binds them -> cell offset
    soft_refs: dict[str, int]  # `$name` in shell lines: used only if defined
    defs: dict[str, None]  # value names bound or changed, in order
    mutated: frozenset[str]  # changed in place
    ext_mutated: frozenset[str]  # changed in place without being bound here: a module or an upstream value
    loads: dict[str, int]  # every name read -> first cell offset
    local_shared: dict[str, tuple[SharedDef, int]]  # imports, defs, classes of this step
    aliases: dict[str, frozenset[str]]  # a -> names a may refer to or contain
    opaque: tuple[int, str] | None
    load_set: frozenset[str] = frozenset()
    calls: tuple[tuple[int, str, tuple[tuple[int | str, str], ...]], ...] = ()  # (cell offset, function, args)
    outputs: tuple[str, ...] = ()  # defs that are neither private nor shared code
    private: tuple[str, ...] = ()  # defs starting with an underscore


@lru_cache(maxsize=8192)
def step_facts(bodies: tuple[str, ...]) -> StepFacts:
    """Combine the analyses of a step's cells (their bodies, in order). Raises CellFailure."""
    refs: dict[str, int] = {}
    soft: dict[str, int] = {}
    defs: dict[str, None] = {}
    mutated: set[str] = set()
    ext: set[str] = set()
    loads: dict[str, int] = {}
    local_shared: dict[str, tuple[SharedDef, int]] = {}
    aliases: dict[str, set[str]] = {}
    bound: set[str] = set()  # values and shared code bound so far
    value_bound: set[str] = set()
    opaque = None
    calls: list[tuple[int, str, tuple[tuple[int | str, str], ...]]] = []
    for offset, body in enumerate(bodies):
        try:
            analysis = analyze_cell(body)
        except CellSyntaxError as exc:
            raise CellFailure(offset, exc) from None
        for name in analysis.refs:
            if name not in bound and name not in refs:
                refs[name] = offset
        for name in analysis.soft_refs:
            if name not in bound and name not in refs and name not in soft:
                soft[name] = offset
        for sdef in analysis.shared:
            if sdef.kind not in ("import", "def", "class"):
                continue
            if sdef.name == "*":
                try:
                    entries: tuple[SharedDef, ...] = star_defs(sdef.module or "", sdef.source)
                except Exception as exc:  # noqa: BLE001 - any import failure is a plan error
                    raise CellFailure(offset, exc, module=sdef.module or "") from None
            else:
                entries = (sdef,)
            for entry in entries:
                local_shared[entry.name] = (entry, offset)
                bound.add(entry.name)
                value_bound.discard(entry.name)
                defs.pop(entry.name, None)
        for name in analysis.defs:
            if name in analysis.bound:
                value_bound.add(name)
                local_shared.pop(name, None)
            elif name not in value_bound:
                if name in local_shared:
                    continue  # `np.random.seed(0)` after `import numpy as np` here: configuring a module
                ext.add(name)
            defs[name] = None
            bound.add(name)
        for name in analysis.mutated:
            if name in defs:
                mutated.add(name)
        for name in analysis.loads:
            if name not in loads:
                loads[name] = offset
        for a, b in analysis.aliases:
            aliases.setdefault(a, set()).add(b)
        if opaque is None and analysis.opaque:
            opaque = (offset, analysis.opaque)
        calls.extend((offset, f, args) for f, args in analysis.calls)
    return StepFacts(
        refs=refs, soft_refs=soft, defs=defs, mutated=frozen_names(mutated), ext_mutated=frozen_names(ext),
        loads=loads, local_shared=local_shared, aliases={k: frozenset(v) for k, v in aliases.items()},
        opaque=opaque, load_set=frozen_names(loads),
        outputs=tuple(n for n in defs if n[0] != "_" and n not in local_shared), calls=tuple(calls),
        private=tuple(n for n in defs if n[0] == "_"),
    )
