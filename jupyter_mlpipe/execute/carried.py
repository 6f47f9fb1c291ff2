"""Process-wide state a notebook carries from cell to cell, carried from step to step.

A notebook seeds numpy once at the top and every later draw depends on it; it
sets `os.environ['FLAG']`, `pd.set_option(...)` or `sys.path.append('lib')` and
every later cell sees it. Each kind of such state is a *carried state*: a
pseudo-variable (`@numpy.random`, `@environ`, ...) that flows through the plan
like a value. A step that changes it defines it (learned at run time, as
in-place changes are); a step reads it where it would observe it:

- random generators (`RANDOM`): only steps that draw or seed read the state, so
  steps that draw nothing stay parallel;
- process settings (`SETTINGS`): every later step reads them (any cell may look).

What is handed on is the state itself for generators, and the changes made so
far (not the whole environment) for settings, so that a worker's own settings
(Ray's variables, its working directory) are left alone. Everything a step
changed is put back after it, so a warm worker starts the next step clean.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..vocab import CARRIED_RANDOM, CARRIED_SETTINGS
from .shared_code import apply_code, code_changes, code_snapshot, loaded_modules

__all__ = ["RANDOM", "SETTINGS", "Carried", "CarriedStates", "is_carried"]

logger = logging.getLogger(__name__)

RANDOM = CARRIED_RANDOM
SETTINGS = CARRIED_SETTINGS


_LIST_DIFFS = ("@sys.path", "@warnings.filters")  # handed on as {"front", "added", "removed"} lists
_RESTORED_HERE = ("@random", "@numpy.random", "@torch.random", "@pandas.options", "@numpy.printoptions",
                  "@sklearn.config", "@recursionlimit")  # the engine itself restores env, cwd, path, warnings


def is_carried(name: str) -> bool:
    return name.startswith("@")


@dataclass(frozen=True)
class Carried:
    """One kind of state: how to read it, how to set it, and what a step hands on."""

    name: str
    snapshot: Callable[[str], Any]  # the current state (given the notebook's folder), or None if absent
    apply: Callable[[Any, str], None]  # set a handed-on value
    diff: Callable[[Any, Any], Any] | None = None  # settings: the changes from one snapshot to another
    what: str = ""


# -- random generators ----------------------------------------------------------------------------

def _numpy() -> Any:
    return sys.modules.get("numpy")


def _torch() -> Any:
    return sys.modules.get("torch")


def _np_state(_: str) -> Any:
    np = _numpy()
    return np.random.get_state() if np is not None else None


def _np_set(value: Any, _: str) -> None:
    np = _numpy()
    if np is not None and value is not None:
        np.random.set_state(value)


def _torch_state(_: str) -> Any:
    torch = _torch()
    return torch.get_rng_state().numpy().tobytes() if torch is not None else None


def _torch_set(value: Any, _: str) -> None:
    torch = _torch()
    if torch is not None and value is not None:
        torch.set_rng_state(torch.frombuffer(bytearray(value), dtype=torch.uint8))


def _py_random_state(_: str) -> Any:
    import random

    return random.getstate()


def _py_random_set(value: Any, _: str) -> None:
    import random

    random.setstate(value)


# -- settings (handed on as changes) -----------------------------------------------------------

def _dict_diff(before: dict, after: dict) -> dict:
    keys = set(before) | set(after)
    return {k: after.get(k) for k in keys if before.get(k, _MISSING) != after.get(k, _MISSING)}


def _changed_settings(before: dict, after: dict) -> dict:
    """Settings whose values changed; settings that appeared (a library registering its own) are not changes."""
    return {k: after[k] for k in after if k in before and not _same(before[k], after[k])}


_MISSING = object()


def _environ(_: str) -> dict:
    return dict(os.environ)


def _environ_set(changes: dict, _: str) -> None:
    for key, value in changes.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _cwd(base: str) -> dict:
    return {"cwd": os.path.relpath(os.getcwd(), base)}


def _cwd_set(changes: dict, base: str) -> None:
    os.chdir(os.path.join(base, changes["cwd"]))


def _sys_path(_: str) -> list:
    return list(sys.path)


def _sys_path_diff(before: list, after: list) -> dict:
    added = [p for p in after if p not in before]
    kept = [i for i, p in enumerate(after) if p in before]
    first_kept = kept[0] if kept else len(after)
    return {"front": [p for p in added if after.index(p) < first_kept],
            "added": [p for p in added if after.index(p) >= first_kept],
            "removed": [p for p in before if p not in after]}


def _sys_path_set(changes: dict, _: str) -> None:
    for path in changes.get("removed", []):
        while path in sys.path:
            sys.path.remove(path)
    front = changes.get("front", [])
    sys.path[:0] = [p for p in front if p not in sys.path]
    sys.path += [p for p in changes.get("added", []) if p not in sys.path]


def _pandas_options(_: str) -> Any:
    if "pandas" not in sys.modules:
        return None
    try:
        from pandas._config import config
    except ImportError:  # a pandas that moved its option registry: not carried
        return None
    return {key: config.get_option(key) for key in config._registered_options}  # noqa: SLF001


def _pandas_set(changes: dict, _: str) -> None:
    import pandas as pd

    for key, value in changes.items():
        pd.set_option(key, value)


def _np_print(_: str) -> Any:
    np = _numpy()
    return dict(np.get_printoptions()) if np is not None else None


def _np_print_set(changes: dict, _: str) -> None:
    import numpy as np

    np.set_printoptions(**{k: v for k, v in changes.items() if k != "legacy" or v is not False})


def _sklearn(_: str) -> Any:
    if "sklearn" not in sys.modules:
        return None
    import sklearn

    return dict(sklearn.get_config())


def _sklearn_set(changes: dict, _: str) -> None:
    import sklearn

    sklearn.set_config(**changes)


def _warnings(_: str) -> list:
    import warnings

    return list(warnings.filters)


def _warnings_diff(before: list, after: list) -> dict:
    return {"added": [f for f in after if f not in before], "removed": [f for f in before if f not in after]}


def _warnings_set(changes: dict, _: str) -> None:
    import warnings

    for entry in changes.get("removed", []):
        while entry in warnings.filters:
            warnings.filters.remove(entry)
    for entry in reversed(changes.get("added", [])):
        if entry not in warnings.filters:
            warnings.filters.insert(0, entry)
    warnings._filters_mutated()  # noqa: SLF001 - what warnings.filterwarnings itself calls


def _recursion(_: str) -> dict:
    return {"limit": sys.getrecursionlimit()}


def _recursion_set(changes: dict, _: str) -> None:
    sys.setrecursionlimit(changes["limit"])


KINDS: dict[str, Carried] = {c.name: c for c in (
    Carried("@random", _py_random_state, _py_random_set, what="Python's random numbers"),
    Carried("@numpy.random", _np_state, _np_set, what="numpy's global random numbers"),
    Carried("@torch.random", _torch_state, _torch_set, what="torch's random numbers"),
    Carried("@environ", _environ, _environ_set, _dict_diff, "os.environ"),
    Carried("@cwd", _cwd, _cwd_set, _dict_diff, "the working directory"),
    Carried("@sys.path", _sys_path, _sys_path_set, _sys_path_diff, "sys.path"),
    Carried("@pandas.options", _pandas_options, _pandas_set, _changed_settings, "pandas options"),
    Carried("@numpy.printoptions", _np_print, _np_print_set, _changed_settings, "numpy print options"),
    Carried("@sklearn.config", _sklearn, _sklearn_set, _changed_settings, "scikit-learn's configuration"),
    Carried("@warnings.filters", _warnings, _warnings_set, _warnings_diff, "warning filters"),
    Carried("@recursionlimit", _recursion, _recursion_set, _dict_diff, "the recursion limit"),
)}


def _merge(incoming: Any, changes: Any, name: str) -> Any:
    """The changes so far: what came in, then this step's on top."""
    if incoming is None:
        return changes
    if name in _LIST_DIFFS:
        merged = {k: list(incoming.get(k, [])) for k in ("front", "added", "removed")}
        for key in ("front", "added", "removed"):
            merged[key] += [x for x in changes.get(key, []) if x not in merged[key]]
        return merged
    return {**incoming, **changes}


def _same(a: Any, b: Any) -> bool:
    try:
        return pickle.dumps(a) == pickle.dumps(b)
    except Exception:  # noqa: BLE001 - cannot compare: say it changed
        return False


class CarriedStates:
    """The carried states of one running step: applied at its start, compared and handed on at its end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.incoming: dict[str, Any] = {}
        self.pristine: dict[str, Any] = {}  # `@file:` -> what it was before this run changed it (a re-run)
        self.before: dict[str, Any] = {}
        self.code_before: dict[str, dict[str, Any]] | None = None
        self.module_values: dict[str, dict[str, Any]] = {}
        self.module_touched: dict[str, set[str]] = {}  # module -> attributes set by patches or the step
        self.files: Any = None  # files.FileAccess while the step runs
        self.literal_paths: list[str] = []  # strings of the step's code that may name files (C code opens them)
        self.original: dict[str, Any] = {name: _safe(kind.snapshot, base) for name, kind in KINDS.items()}
        """The worker's own state before the step (and its shared code): put back after it."""

    def begin_code(self, ns: dict[str, Any]) -> None:
        """After the shared code ran: apply the changes earlier steps made to it, note it as it is."""

        self.module_values = {m.__name__: dict(vars(m)) for m in loaded_modules(ns)}
        patches = self.incoming.get("@code")
        for owner, attrs in (patches or {}).items():
            if owner.startswith("module:"):
                self.module_touched.setdefault(owner[7:], set()).update(attrs)
        if patches:
            try:
                apply_code(ns, patches)
            except Exception:  # noqa: BLE001 - a class the step does not define: nothing to patch
                logger.warning("could not apply earlier changes to shared code", exc_info=True)
        self.code_before = code_snapshot(ns)

    def end_code(self, ns: dict[str, Any]) -> dict[str, tuple[Any, str]]:
        if self.code_before is None:
            return {}
        changes = code_changes(ns, self.code_before, self.module_values)
        for owner, attrs in changes.items():
            if owner.startswith("module:"):
                self.module_touched.setdefault(owner[7:], set()).update(attrs)
        if not changes:
            return {}
        merged = {k: dict(v) for k, v in (self.incoming.get("@code") or {}).items()}
        for owner, attrs in changes.items():
            merged.setdefault(owner, {}).update(attrs)
        names = ", ".join(f"{o.removeprefix('module:')}.{a}" for o, attrs in changes.items() for a in attrs)
        return {"@code": (merged, f"changes shared code ({names})")}

    def begin_files(self) -> None:
        """Write back the files earlier steps left (as they left them); then watch this step's."""
        from .files import FILE_PREFIX, FileAccess, materialize, watch

        # a step re-run in its run, touching a file no earlier step writes: as it was before the run, not
        # as this step's own first attempt (or a step running beside it) left it
        states = {**self.pristine, **self.incoming}
        for name, state in states.items():
            if name.startswith(FILE_PREFIX):
                try:
                    materialize(self.base, name[len(FILE_PREFIX):], state)
                except OSError:
                    logger.warning("could not restore %s as an earlier step left it", name, exc_info=True)
        self.files = FileAccess(self.base)
        self.files.watch_literals(self.literal_paths)
        watch(self.files)

    def found_files(self) -> dict[str, tuple[float, Any, str, bool]]:
        """`@file:` -> (when, what it was before the step first touched it, read or write, whether that first
        touch replaced it), for each path it touched."""
        from .files import FILE_PREFIX

        if self.files is None:
            return {}
        return {FILE_PREFIX + rel: (*self.files.found[rel], access, rel in self.files.fresh)
                for rel, access in self.files.touched.items() if rel in self.files.found}

    def end_files(self) -> dict[str, tuple[Any, str]]:
        from .files import FILE_PREFIX, state_of, watch

        watch(None)
        if self.files is None:
            return {}
        self.files.note_modules()
        self.files.settle_literals()
        handed: dict[str, tuple[Any, str]] = {}
        for rel, access in sorted(self.files.touched.items()):
            name = FILE_PREFIX + rel
            verb = "writes" if access == "write" else "reads"
            handed[name] = (state_of(self.base, rel, access, self.incoming.get(name)), f"{verb} {rel!r}")
        return handed

    def begin(self, values: dict[str, Any]) -> None:
        # a relative sys.path entry ('lib') is resolved once and cached per process: not across notebooks
        for key in [k for k in sys.path_importer_cache if isinstance(k, str) and not os.path.isabs(k)]:
            del sys.path_importer_cache[key]
        if "numpy" not in sys.modules:
            try:  # seeded in an earlier step, numpy must be there to take the state
                import numpy  # noqa: F401
            except ImportError:
                pass
        for name, value in values.items():
            kind = KINDS.get(name)
            if kind is None:
                continue
            self.incoming[name] = value
            try:
                kind.apply(value, self.base)
            except Exception:  # noqa: BLE001 - e.g. a pandas option this version lacks
                logger.warning("could not apply the carried state %s", name, exc_info=True)
        for name, kind in KINDS.items():
            self.before[name] = _safe(kind.snapshot, self.base)

    def unchanged(self, name: str) -> Any:
        """What to hand on for a state this step is known to change but did not change this time."""
        if name in self.incoming:
            return self.incoming[name]
        if name == "@code":
            return {}
        if name.startswith("@file:"):
            from .files import state_of

            return state_of(self.base, name[len("@file:"):], "read", None)
        kind = KINDS[name]
        if kind.diff is None:
            return self.before.get(name)
        return {"front": [], "added": [], "removed": []} if name in _LIST_DIFFS else {}

    def end(self) -> dict[str, tuple[Any, str]]:
        """What the step changed: name -> (the value to hand on, a note for people)."""
        changed: dict[str, tuple[Any, str]] = {}
        for name, kind in KINDS.items():
            after = _safe(kind.snapshot, self.base)
            before = self.before.get(name)
            if after is None or _same(before, after):
                continue
            if kind.diff is None:
                changed[name] = (after, f"draws or seeds {kind.what}")
            else:
                changes = kind.diff(before or ([] if isinstance(after, list) else {}), after)
                if changes:
                    changed[name] = (_merge(self.incoming.get(name), changes, name), f"changes {kind.what}")
        return changed

    def restore(self) -> None:
        """Put the worker's own state back (env, cwd, sys.path and warnings the engine restores itself)."""
        from .files import watch

        watch(None)
        for module_name, attrs in self.module_touched.items():  # attributes set on imported modules
            module = sys.modules.get(module_name)
            saved = self.module_values.get(module_name, {})
            for attr in attrs if module is not None else ():
                if attr in saved:
                    setattr(module, attr, saved[attr])
                elif hasattr(module, attr):
                    delattr(module, attr)
        for name in _RESTORED_HERE:
            original = self.original.get(name)
            if original is None:
                continue
            kind = KINDS[name]
            try:
                if kind.diff is None:
                    kind.apply(original, self.base)
                else:
                    now = _safe(kind.snapshot, self.base)
                    if now is not None and not _same(now, original):
                        kind.apply(kind.diff(now, original), self.base)
            except Exception:  # noqa: BLE001 - the next step starts from what it is given anyway
                logger.debug("could not restore %s", name, exc_info=True)


def _safe(snapshot: Callable[[str], Any], base: str) -> Any:
    try:
        return snapshot(base)
    except Exception:  # noqa: BLE001 - a state we cannot read is not carried
        logger.debug("could not read a carried state", exc_info=True)
        return None
