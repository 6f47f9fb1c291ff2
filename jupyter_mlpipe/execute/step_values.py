"""A running step's values: loaded with their sharing, and handed on with what the step really changed.

The plan says what a step reads and defines; the step's objects say what it
did. At the end of the step (`StepValues.finish`) every value it loaded or
defines is grouped by the mutable objects it shares (`identity`); a group
that holds a new value, or whose content changed, is stored again as one
artifact, and every member of it gets the new version: "a change to one
member is a change to all". A member the plan did not expect this step to
define (`b.append(0)` changing `a`, `np.place(a, ...)`, `train(model, X, y)`)
comes back as *learned*, with the reason, for the driver to correct the run.

Members the step did not ask for but that share objects with what it loaded
("hidden" members: `a` when the step reads `b = a`) are loaded with their group
so that the step's changes through `b` can be seen on `a`.
"""

from __future__ import annotations

import logging
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import StepFailed
from ..store.sharing import SharedGroup, split_ref
from .carried import is_carried
from .identity import SharingWalk, group_by_sharing

if TYPE_CHECKING:  # pragma: no cover
    from ..store.artifacts import ArtifactStore

__all__ = ["Learned", "Loaded", "StepValues"]

logger = logging.getLogger(__name__)

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range)


class Learned(TypedDict):
    """A definition the plan did not know: the new reference and why."""

    ref: dict[str, Any]
    reason: str


@dataclass
class Loaded:
    value: Any
    ref: str  # digest, or DIGEST#NAME for a member of a group
    visible: bool  # bound in the step's namespace (an input), or only carried (a hidden member)


class StepValues:
    """What one running step loaded, and what it hands on."""

    def __init__(self, artifacts: ArtifactStore, step: str) -> None:
        self.artifacts = artifacts
        self.step = step
        self.loaded: dict[str, Loaded] = {}
        self.groups: dict[str, SharedGroup] = {}  # digest -> the group as loaded
        self.notes: list[str] = []

    # -- loading -----------------------------------------------------------
    def load(self, ns: dict[str, Any], inputs: dict[str, str], hidden: dict[str, str]) -> None:
        """Bind the inputs in `ns`; load the hidden members beside them; a group is loaded once."""
        for name, ref in [*inputs.items(), *hidden.items()]:
            if is_carried(name):
                continue  # process state, not a value: `carried` applies it
            digest, member = split_ref(ref)
            if member is None:
                value = self.artifacts.get(digest)
            else:
                if digest not in self.groups:
                    self.groups[digest] = self.artifacts.get_group(digest)
                value = self.groups[digest].members[member]
            self.loaded[name] = Loaded(value, ref, name in inputs)
            if name in inputs:
                ns[name] = value

    # -- handing on --------------------------------------------------------
    def finish(self, ns: dict[str, Any], outputs: list[str], required: list[str],
               refuse: Any = None) -> tuple[dict[str, dict], dict[str, Learned], list[str]]:
        """(outputs, learned definitions, warnings) of the step; raises what cannot be handed on."""
        from ..errors import UnstorableValue

        step = self.step
        tracked: dict[str, Any] = {}
        origin: dict[str, str | None] = {}
        warnings: list[str] = []
        for name in outputs:
            if is_carried(name):
                continue
            if name not in ns:
                if name in required:
                    raise StepFailed(
                        f"Step {step!r} did not define {name!r}, which a later step needs "
                        "(was it assigned only on some branch?).",
                        step=step,
                        hint=f"Make sure {name!r} is always assigned in step {step!r}.",
                    )
                continue
            value = ns[name]
            if isinstance(value, types.ModuleType):
                continue
            if refuse is not None:
                try:
                    refuse(value, name, step)
                except UnstorableValue as exc:
                    if name in required:
                        raise
                    warnings.append(f"{name!r} was not stored ({exc.type_name}); no later step reads it.")
                    continue
            tracked[name] = value
            loaded = self.loaded.get(name)
            origin[name] = loaded.ref if loaded is not None and loaded.value is value else None
        for name, loaded in self.loaded.items():
            if name in tracked or (loaded.visible and ns.get(name) is not loaded.value):
                continue  # rebound by the step (and no later step reads it), or an output already
            tracked[name] = loaded.value
            origin[name] = loaded.ref
        walk = SharingWalk()
        mutable = {n: v for n, v in tracked.items() if type(v) not in _IMMUTABLE}
        groups = group_by_sharing(mutable, walk) + [[n] for n in tracked if n not in mutable]
        if walk.truncated:
            self.notes.append(f"sharing between values was checked for the first {walk.limit:,} objects only")
        saved: dict[str, dict] = {}
        learned: dict[str, Learned] = {}
        output_set = set(outputs)
        for members in groups:
            try:
                self._hand_on(members, tracked, origin, output_set, saved, learned)
            except UnstorableValue as exc:
                needed = [n for n in members if n in required or n not in output_set]
                if needed:
                    raise
                warnings.append(f"{exc.variable!r} was not stored ({exc.type_name}); no later step reads it.")
        return saved, learned, warnings

    def _hand_on(self, members: list[str], tracked: dict[str, Any], origin: dict[str, str | None],
                 outputs: set[str], saved: dict[str, dict], learned: dict[str, Learned]) -> None:
        loaded = [n for n in members if origin[n] is not None]
        fresh = [n for n in members if origin[n] is None]
        incoming = {split_ref(origin[n])[0] for n in loaded}  # type: ignore[arg-type]
        merged = bool(loaded) and (bool(fresh) or len(incoming) > 1)
        changed = not merged and bool(loaded) and self._changed(loaded, tracked, origin)
        if not fresh and not merged and not changed and not (outputs & set(members)):
            return  # loaded, untouched, still shared as before: nothing new to hand on
        if len(members) == 1:
            name = members[0]
            refs = {name: self.artifacts.put(tracked[name], variable=name, step=self.step).to_dict()}
        else:
            ordered = sorted(members)
            refs = {n: r.to_dict() for n, r in self.artifacts.put_group(
                {n: tracked[n] for n in ordered}, step=self.step).items()}
        for name in members:
            if name in outputs:
                saved[name] = refs[name]
            elif refs[name]["digest"] != origin[name]:
                learned[name] = Learned(ref=refs[name], reason=self._reason(name, members, fresh, merged, changed))

    def _changed(self, loaded: list[str], tracked: dict[str, Any], origin: dict[str, str | None]) -> bool:
        """Whether the step changed these loaded values (all from one artifact) in place."""
        from ..store.codec import content_hash
        from ..store.digests import algorithm_of

        digest, member = split_ref(origin[loaded[0]])  # type: ignore[arg-type]
        algorithm = algorithm_of(digest)  # an input stored by an older version may be addressed by sha256
        if member is None:
            value: Any = tracked[loaded[0]]
        else:
            value = self.groups[digest]  # the whole group as loaded, its members changed or not
        try:
            if content_hash(value, variable=loaded[0], step=self.step, algorithm=algorithm) == digest:
                return False
            original = self.artifacts.get(digest)
            return content_hash(original, variable=loaded[0], step=self.step, algorithm=algorithm) != content_hash(
                value, variable=loaded[0], step=self.step, algorithm=algorithm)
        except Exception:  # noqa: BLE001 - it cannot be encoded again, or compared: count it as changed
            logger.debug("step %r: could not compare %s with what it loaded", self.step, loaded, exc_info=True)
            return True

    def _reason(self, name: str, members: list[str], fresh: list[str], merged: bool, changed: bool) -> str:
        others = [n for n in members if n != name]
        visible = [n for n in others if n in self.loaded and self.loaded[n].visible or n in fresh]
        if merged and fresh:
            return f"{self.step} made {_names(fresh)} share objects with {name!r}"
        if merged:
            return f"{self.step} made {_names(others)} share objects with {name!r}"
        if name in self.loaded and not self.loaded[name].visible:
            through = f" through its alias {_names(visible or others)}" if (visible or others) else ""
            return f"{self.step} changed {name!r}{through}"
        return f"{self.step} changed {name!r} in place" if changed else \
            f"{self.step} stored {name!r} again with {_names(others)}"


def _names(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
