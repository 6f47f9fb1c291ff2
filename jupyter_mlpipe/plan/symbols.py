"""The symbol table: the reaching definition of every name as the planner walks the notebook.

Rule 3 (docs/concepts.md): a step reads the nearest preceding definition of
each name. As the planner walks the items in notebook order it records every
definition here (a step's output, a parameter, shared code, a value computed in
the preamble, a name a step keeps to itself), so that resolving a read is one
lookup. The table also knows the shared code behind each shared name, and what
a step using some of it must replay (`shared_closure`). The errors for reads
that find a definition they may not use are raised here; those for names with
no definition at all are the planner's to decide (`UndefinedName`).

`SymbolTable` is the one class that changes the table; `SymbolView` is the
read-only view that the alias tracker (`aliases`) is given.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from ..vocab import cell_number
from .diagnostics import Reader, star_error
from .notebook import Cell
from .shared import SharedDef, star_defs

__all__ = ["KNOWN_NAMES", "Definition", "ReadMode", "SharedClosure", "SymbolTable", "SymbolView", "UndefinedName"]

KNOWN_NAMES = frozenset(dir(builtins)) | {
    "get_ipython", "display", "In", "Out", "_", "__", "___", "_ih", "_oh", "_dh", "exit", "quit",
    "__file__", "__name__", "__builtins__", "__vsc_ipynb_file__",
}  # the names a notebook may read without defining them

DefinitionKind = Literal["step", "shared", "computed", "param", "hidden"]
HiddenReason = Literal["", "private", "not in --outputs"]
ReadMode = Literal["strict", "free", "soft"]  # the step's code, through a function it calls, `$name` in a shell line


@dataclass
class Definition:
    """A definition of a name, in notebook order. Never changed once made: checkpoints share them."""

    kind: DefinitionKind
    cell: int
    step: str | None = None  # "step" and "hidden": the step that binds it
    shared: list[SharedDef] = field(default_factory=list)  # "shared": the code that defines it
    reason: HiddenReason = ""  # "hidden": why the step does not pass it on


class SharedClosure(NamedTuple):
    """The shared code a step must replay for the shared names it uses."""

    code: tuple[SharedDef, ...]  # in notebook order
    free_values: dict[str, str]  # value names that code reads -> the function or class that reads it
    writes: dict[str, bool]  # module globals that code changes -> does it also read them?
    names: frozenset[str]  # the shared names involved


class UndefinedName(LookupError):
    """No earlier item defines the name: the planner decides (an opaque step's output, a warning, an error)."""


class SymbolView(Protocol):
    """Read-only view of a SymbolTable."""

    @property
    def definitions(self) -> Mapping[str, Definition]: ...

    @property
    def shared_names(self) -> Set[str]: ...


class SymbolTable:
    """Reaching definitions at the current point of the walk, and the shared code they stand for.

    `definitions` and `shared_names` may be read directly (the planner's hot
    loop does); every change goes through the methods, which keep
    `shared_epoch` (the key of the shared-closure cache) current.
    """

    def __init__(self) -> None:
        self.definitions: dict[str, Definition] = {}
        self.shared_names: set[str] = set()  # names whose nearest definition is shared code
        self.shared_epoch = 0  # changes whenever a shared definition does
        self.shared_pos: dict[SharedDef, tuple[int, int]] = {}  # notebook order of shared code
        self._closures: dict[tuple[frozenset[str], int], SharedClosure] = {}

    # -- checkpoints ------------------------------------------------------------
    def copy(self) -> SymbolTable:
        """An independent copy (what the containers hold is never changed in place, so shallow copies)."""
        other = SymbolTable()
        other.definitions = self.definitions.copy()
        other.shared_names = self.shared_names.copy()
        other.shared_epoch = self.shared_epoch
        other.shared_pos = self.shared_pos.copy()
        return other  # with an empty closure cache: its key, shared_epoch, may go back in time

    def same_as(self, other: SymbolTable) -> bool:
        return (self.definitions == other.definitions and self.shared_names == other.shared_names
                and self.shared_pos == other.shared_pos)

    # -- definitions ------------------------------------------------------------
    def define(self, name: str, definition: Definition) -> None:
        self.definitions[name] = definition
        if definition.kind == "shared":
            self.shared_names.add(name)
            self.shared_epoch += 1
        elif name in self.shared_names:
            self.shared_names.discard(name)
            self.shared_epoch += 1

    def is_shared(self, name: str) -> bool:
        return name in self.shared_names

    def is_const(self, name: str) -> bool:
        found = self.definitions.get(name)
        if found is None:
            return False
        return found.kind == "param" or (found.kind == "shared" and any(s.kind == "const" for s in found.shared))

    def place(self, sdef: SharedDef, cell: int) -> SharedDef:
        """Record where shared code first appears (its replay order)."""
        if sdef not in self.shared_pos:
            self.shared_pos[sdef] = (cell, len(self.shared_pos))
        return sdef

    def define_shared(self, sdefs: Iterable[SharedDef], cell: Cell) -> None:
        """The shared code of a preamble or parameters cell. A constant that reads a non-constant is computed."""
        for sdef in sdefs:
            if sdef.kind == "setup":
                continue
            if sdef.name == "*":
                try:
                    stars = star_defs(sdef.module or "", sdef.source)
                except Exception as exc:  # noqa: BLE001 - any import failure is a plan error
                    raise star_error(sdef.module or "", cell, exc) from None
                for star in stars:
                    self.define(star.name, Definition("shared", cell.index, shared=[self.place(star, cell.index)]))
                continue
            if sdef.kind == "const" and sdef.free and not all(self.is_const(n) for n in sdef.free):
                self.define(sdef.name, Definition("computed", cell.index))
                continue
            self.define(sdef.name, Definition("shared", cell.index, shared=[self.place(sdef, cell.index)]))

    def attach_setup(self, setup: Iterable[tuple[str, str]], cell: int) -> set[str]:
        """Preamble lines like `np.random.seed(0)` travel with the module they configure: the names handled."""
        handled = set()
        for name, source in setup:
            found = self.definitions.get(name)
            if found is not None and found.kind == "shared":
                sdef = self.place(SharedDef(name, "setup", source), cell)
                self.define(name, Definition("shared", found.cell, shared=[*found.shared, sdef]))
                handled.add(name)
        return handled

    def define_step(self, step: str, cells: list[int], outputs: Iterable[str], hidden: Sequence[str],
                    rebound: Iterable[str], local_shared: Mapping[str, tuple[SharedDef, int]]) -> None:
        """What later items see of a step: its outputs, the names it keeps, its own shared code.

        `cells` are the step's notebook cells, `rebound` the names it binds or changes (no longer shared
        code), `local_shared` its imports, defs and classes -> the offset of their cell.
        """
        table, shared_names, first = self.definitions, self.shared_names, cells[0]
        if hidden:
            private = Definition("hidden", first, step=step, reason="private")
            dropped = Definition("hidden", first, step=step, reason="not in --outputs")
            for name in hidden:
                table[name] = private if name[0] == "_" else dropped
        produced = Definition("step", first, step=step)
        outputs = list(outputs)
        for name in outputs:
            table[name] = produced
        if shared_names:
            before = len(shared_names)
            shared_names.difference_update(rebound)
            shared_names.difference_update(outputs)
            if len(shared_names) != before:
                self.shared_epoch += 1
        for name, (sdef, offset) in local_shared.items():
            table[name] = Definition("shared", cells[offset], shared=[self.place(sdef, cells[offset])])
            shared_names.add(name)
        if local_shared:
            self.shared_epoch += 1

    # -- reads --------------------------------------------------------------------
    def binding(self, name: str, step: str, cell: int, *, mode: ReadMode, via: str | None = None
                ) -> Definition | None:
        """What step `step`'s read of `name` (in notebook cell `cell`) binds to.

        A "step" or "param" Definition: the step takes it as an input or a
        parameter. None: nothing to pass (shared code, a builtin, a `$name` that
        nothing defines). Raises PlanError for a definition it may not read and
        UndefinedName when there is none.
        """
        found = self.definitions.get(name)
        if found is not None:
            kind = found.kind
            if kind == "step" or kind == "param":
                return found
            if kind == "shared" or mode == "soft":
                return None
        elif name in KNOWN_NAMES or mode == "soft":
            return None
        if found is None:
            raise UndefinedName(name)
        where = Reader(step, cell, via)
        if found.kind == "hidden":
            if found.reason == "private":
                raise where.error(
                    name, f"uses {name!r}, which step {found.step!r} keeps private: names starting with an "
                    "underscore are not passed between steps.",
                    hint=f"Rename it without the underscore in step {found.step!r}.",
                )
            raise where.error(
                name, f"uses {name!r}, which step {found.step!r} defines but does not output "
                f"(its --outputs leaves {name!r} out).",
                hint=f"Add {name!r} to --outputs of step {found.step!r}.",
            )
        raise where.error(  # "computed"
            name, f"uses {name!r}, which is computed in cell {cell_number(found.cell)} before the first step (the preamble), "
            "not in a step.",
            hint=f"Move the code that computes {name!r} into a step (put %%step NAME on its cell), "
            "or make it a literal constant; the preamble may hold only imports, functions, classes, "
            "literal constants and the parameters cell.",
        )

    # -- shared code ----------------------------------------------------------------
    def shared_closure(self, roots: frozenset[str], local_shared: Mapping[str, tuple[SharedDef, int]]
                       ) -> SharedClosure:
        """The shared code reachable from `roots` (rule 4: functions carry their free variables, transitively).

        `local_shared` is the reading step's own shared code, which takes
        precedence. Cached while no shared definition changes (steps after the
        preamble mostly use the same imports and helpers).
        """
        key = (roots, self.shared_epoch)
        if not local_shared:
            cached = self._closures.get(key)
            if cached is not None:
                return cached
        table, shared_names = self.definitions, self.shared_names
        used: dict[int, SharedDef] = {}
        free_values: dict[str, str] = {}
        writes: dict[str, bool] = {}
        pending = list(roots)
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            sdefs = [local_shared[name][0]] if name in local_shared else table[name].shared
            for sdef in sdefs:
                used[id(sdef)] = sdef
                for free in sdef.free:
                    if free in local_shared or free in shared_names:
                        if free not in seen:
                            pending.append(free)
                    else:
                        free_values.setdefault(free, name)
                for w in sdef.global_writes:
                    writes[w] = writes.get(w, False) or w in sdef.free
        result = SharedClosure(tuple(self.ordered_shared(used.values())), free_values, writes, frozenset(seen))
        if not local_shared:
            self._closures[key] = result
        return result

    def ordered_shared(self, sdefs: Iterable[SharedDef]) -> list[SharedDef]:
        """Shared code in notebook order, each statement once."""
        result, seen = [], set()
        for sdef in sorted(sdefs, key=lambda d: self.shared_pos.get(d, (10**9, 0))):
            key = (sdef.kind == "setup", sdef.source)
            if key not in seen:
                seen.add(key)
                result.append(sdef)
        return result
