"""What the cells of one step define and use, combined and cached by their texts (and `import *` names).

Split out of `plan.py`: the pure half of planning a step, before the planner
looks at the rest of the notebook, so that re-planning an edited notebook only
recombines the cells of the steps that changed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache

from .cells import CellSyntaxError, SharedDef, _fs, analyze_cell


@lru_cache(maxsize=512)
def _star_names(module: str) -> tuple[str, ...]:
    """The names `from MODULE import *` binds (its __all__, else its public names)."""
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_")]
    return tuple(str(n) for n in names)


@lru_cache(maxsize=4096)
def _star_defs(module: str, source: str) -> tuple[SharedDef, ...]:
    return tuple(SharedDef(name, "import", source) for name in _star_names(module))


class _CellFailure(Exception):
    """A cell of a step could not be analysed: syntax error or unresolvable star import."""

    def __init__(self, offset: int, error: BaseException, module: str | None = None) -> None:
        super().__init__(str(error))
        self.offset = offset
        self.error = error
        self.module = module


@dataclass(frozen=True)
class _StepFacts:
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
def _step_facts(bodies: tuple[str, ...]) -> _StepFacts:
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
            raise _CellFailure(offset, exc) from None
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
                    entries: tuple[SharedDef, ...] = _star_defs(sdef.module or "", sdef.source)
                except Exception as exc:  # noqa: BLE001 - any import failure is a plan error
                    raise _CellFailure(offset, exc, module=sdef.module or "") from None
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
    return _StepFacts(
        refs=refs, soft_refs=soft, defs=defs, mutated=_fs(mutated), ext_mutated=_fs(ext),
        loads=loads, local_shared=local_shared, aliases={k: frozenset(v) for k, v in aliases.items()},
        opaque=opaque, load_set=_fs(loads),
        outputs=tuple(n for n in defs if n[0] != "_" and n not in local_shared), calls=tuple(calls),
        private=tuple(n for n in defs if n[0] == "_"),
    )
