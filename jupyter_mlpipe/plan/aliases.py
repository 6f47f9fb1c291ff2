"""In-place changes for the planner: arguments changed by called functions, and changes through aliases.

Split out of `plan.py` to keep that module to the walk over the cells;
`_AliasMixin` is one of the bases of `plan._Planner` and is not used on its
own. It keeps the may-alias facts across steps (`combine = [train, test]` in
one step, `for d in combine: d['x'] = 1` in a later one).

Attributes of the composed class it relies on: `table` (name -> `_Def`),
`alias_of` (holder -> {(name it holds, step that produced that name)}) and
`held_by` (the reverse), which `record_aliases` updates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .symbols import _KNOWN_NAMES

if TYPE_CHECKING:  # pragma: no cover
    from .steps import _StepFacts
    from .model import Step


class _AliasMixin:
    """`_Planner`'s handling of values changed in place: through calls, through aliases, across steps."""

    def mutated_by_calls(self, facts: _StepFacts, shared) -> dict[str, int]:
        """Arguments changed in place by the functions the step calls -> the cell offset of the call."""
        changed: dict[str, int] = {}
        for offset, function, args in facts.calls:
            if function in facts.local_shared:
                sdef = facts.local_shared[function][0]
            else:
                found = self.table.get(function)
                if found is None or found.kind != "shared" or not found.shared:
                    continue
                sdef = found.shared[0]
            if not sdef.mutated_params:
                continue
            for key, arg in args:
                param = sdef.params[key] if isinstance(key, int) and key < len(sdef.params) else key
                if param in sdef.mutated_params and not shared(arg) and arg not in _KNOWN_NAMES:
                    changed.setdefault(arg, offset)
        return changed

    def mutate_through_aliases(self, facts: _StepFacts, refs: dict[str, int], defs: dict[str, None],
                               mutated: frozenset[str], shared) -> tuple[dict[str, int], dict[str, None]]:
        """`for d in [train, test]: d['x'] = 1` changes train and test: they are read and redefined here.

        Within the step through its own aliases; across steps through what
        earlier steps recorded (`combine = [train, test]` in one step, the loop in
        a later one).
        """
        table = self.table
        changed = set(mutated)
        stack = list(mutated)
        new_refs: dict[str, int] = {}
        new_defs: list[str] = []
        while stack:
            name = stack.pop()
            targets = set(facts.aliases.get(name, ()))
            if name in refs or name not in defs:  # the value comes from an earlier step
                found = table.get(name)
                if found is not None and found.kind == "step":
                    for held, producer in self.alias_of.get(name, ()):
                        d = table.get(held)
                        if d is not None and d.kind == "step" and d.step == producer:
                            targets.add(held)
                    for holder in self.held_by.get((name, found.step), ()):  # type: ignore[arg-type]
                        if (name, found.step) in self.alias_of.get(holder, ()):
                            d = table.get(holder)
                            if d is not None and d.kind == "step":
                                targets.add(holder)
            for target in targets:
                if target in changed or shared(target) or target in _KNOWN_NAMES:
                    continue
                changed.add(target)
                stack.append(target)
                if target not in defs:
                    new_refs.setdefault(target, 0)
                    new_defs.append(target)
        if not new_defs:
            return refs, defs
        refs = {**refs, **{n: o for n, o in new_refs.items() if n not in refs}}
        defs = {**defs, **{n: None for n in new_defs}}
        return refs, defs

    def record_aliases(self, step: Step, facts: _StepFacts, inputs: dict[str, str]) -> None:
        """Remember which outputs may hold other values, for mutations in later steps."""
        outputs = set(step.outputs)
        aliases: dict[str, set[str]] = {}
        recorded: dict[str, frozenset[tuple[str, str]]] = {}
        for name in [n for n in facts.aliases if n in outputs or n in inputs]:
            pairs: set[tuple[str, str]] = set()
            stack, seen = [name], {name}
            while stack:
                current = stack.pop()
                for target in facts.aliases.get(current, ()):
                    if target in seen:
                        continue
                    seen.add(target)
                    stack.append(target)
                    if target in outputs:
                        pairs.add((target, step.name))
                    elif target in inputs:
                        pairs.add((target, inputs[target]))
                        pairs.update(self.alias_of.get(target, ()))
            pairs.discard((name, step.name))
            if pairs:
                aliases[name] = {t for t, _ in pairs}
                if name in outputs:
                    recorded[name] = frozenset(pairs)
        # An input this step outputs again may be the same object, changed in place: the
        # containers that held it (and that it held) keep holding it, now from this step.
        for name in outputs & inputs.keys():
            old_pair, new_pair = (name, inputs[name]), (name, step.name)
            for holder in self.held_by.pop(old_pair, set()):
                if holder in self.alias_of:
                    self.alias_of[holder] = (self.alias_of[holder] - {old_pair}) | {new_pair}
                    self.held_by.setdefault(new_pair, set()).add(holder)
        if self.alias_of:
            for name in self.alias_of.keys() & outputs:
                kept = self.alias_of.pop(name)
                for pair in kept:
                    holders = self.held_by.get(pair)
                    if holders is not None:
                        holders.discard(name)
                if name in inputs and name not in recorded:
                    recorded[name] = frozenset((held, step.name) if held in outputs else (held, producer)
                                               for held, producer in kept)
        for name, pairs in recorded.items():
            self.alias_of[name] = pairs
            for pair in pairs:
                self.held_by.setdefault(pair, set()).add(name)
        if aliases:
            step.aliases = {n: sorted(v) for n, v in sorted(aliases.items())}
