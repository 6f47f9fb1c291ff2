"""Whether a step runs or is reused, and why, in words the run record keeps.

A step is reused when the cache holds a result under its key (`reuse.key_of`)
whose stored values are all still intact on disk and include every value the
run's later steps read. Otherwise it runs, and the reason says what changed
since its previous run (`reuse.explain`), or why no stored result could be
used. `why STEP`, the run panel and the CLI read that reason back from the
history, so it is written once, here, for all of them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from .environments import EnvResolver
from .reuse import explain, key_components, key_of
from .task import OutputRef

if TYPE_CHECKING:  # pragma: no cover
    from ..plan import Step
    from ..store.artifacts import ArtifactStore
    from ..store.history import History

__all__ = ["Decision", "Reason", "ReuseDecider", "artifact_state"]

logger = logging.getLogger(__name__)


class Reason(TypedDict, total=False):
    """Why a step ran, was reused or was skipped (``StepRun.reason``, kept in the run record)."""

    decision: Literal["ran", "reused", "skipped"]
    summary: str  # one line for people
    changes: list[str]  # what differs from the step's previous run (`reuse.explain`)
    components: dict[str, Any]  # what the key is made of (`reuse.key_components`)
    from_run: str  # reused: the run that produced the stored result


@dataclass
class Decision:
    """The outcome for one step: its key, why, and (when reused) the stored result."""

    key: str
    reason: Reason
    reused: bool = False
    outputs: dict[str, OutputRef] = field(default_factory=dict)
    notebook_path: str | None = None  # reused: the executed notebook of the run that produced it


class ReuseDecider:
    """Decides for each step of one run; remembers the recorded runs it read meanwhile."""

    def __init__(self, *, history: History, artifacts: Callable[[], ArtifactStore], run_id: str,
                 notebook: str, params: dict[str, Any], base: Path, force: bool) -> None:
        self.history = history
        self.artifacts = artifacts  # opened on first use: a run that reuses nothing never needs it
        self.run_id = run_id
        self.notebook = notebook
        self.params = params
        self.base = base
        self.force = force
        self.records: dict[str, dict] = {}  # run id -> recorded run, for reused steps' notebooks
        self.envs = EnvResolver()  # the steps' environments, each resolved once in this run

    def key(self, step: Step, input_digests: dict[str, str]) -> tuple[str, dict[str, Any]]:
        """The cache key of `step` with these inputs, and what it is made of."""
        components = key_components(step, input_digests=input_digests, params=self.params, base=self.base,
                                    runtime_env=self.envs.component(step))
        return key_of(components), components

    def decide(self, step: Step, *, input_digests: dict[str, str], required: list[str]) -> Decision:
        """Reuse or run `step`, given the digests of its inputs and the values later steps read."""
        name = step.name
        key, components = self.key(step, input_digests)
        previous = self.history.last_step_run(self.notebook, name, before_run=self.run_id)
        previous_components = ((previous or {}).get("reason") or {}).get("components")
        changes = explain(components, previous_components)
        note = None
        if not self.force and not step.options.no_cache:
            hit = self.history.cache_get(key)
            if hit is not None:
                lacking = [v for v in required if v not in hit["outputs"]]
                broken = self.broken_outputs(hit["outputs"])
                if lacking:
                    # stored by a run in which no step needed it (e.g. unstorable, or a partial run)
                    note = (f"its stored result lacks {lacking[0]!r}, which a later step needs, so the "
                            "step runs again")
                elif not broken:
                    return Decision(key, {"decision": "reused", "changes": [], "components": components,
                                          "from_run": hit["run_id"],
                                          "summary": f"nothing changed since run {hit['run_id']}"},
                                    reused=True, outputs=hit["outputs"],
                                    notebook_path=self.notebook_of(hit["run_id"], name, previous))
                else:
                    note = f"a stored output was {broken} on disk, so the step runs again"
        if self.force:
            summary = "--force: every step runs"
        elif step.options.no_cache:
            summary = "--no-cache: this step always runs"
        elif note:
            summary = note
        elif changes and changes != ["this step never ran before"]:
            summary = "; ".join(c.split("\n")[0] for c in changes)
        elif previous is None:
            summary = "this step never ran before"
        elif previous.get("status") == "failed":
            summary = "it failed in its previous run (nothing in its key changed since)"
        else:
            summary = "no stored result matches (the previous result was not kept)"
        return Decision(key, {"decision": "ran", "changes": changes if not note else [note, *changes],
                              "components": components, "summary": summary})

    def notebook_of(self, run_id: str, name: str, previous: dict | None) -> str | None:
        """The executed notebook of the step run that produced a cached result."""
        if previous is not None and previous.get("run_id") == run_id:
            return previous.get("notebook_path")
        if run_id not in self.records:
            try:
                self.records[run_id] = self.history.get_run(run_id)
            except Exception:  # noqa: BLE001 - forgotten by gc: no notebook to show
                logger.debug("run %s is not in the history any more", run_id, exc_info=True)
                self.records[run_id] = {}
        return ((self.records[run_id].get("steps") or {}).get(name) or {}).get("notebook_path")

    def broken_outputs(self, outputs: dict[str, OutputRef]) -> Literal["missing", "corrupt"] | None:
        """'missing' or 'corrupt' when a stored output is not intact on disk, else None."""
        for ref in outputs.values():
            state = artifact_state(self.artifacts(), ref["digest"])
            if state is not None:
                return state
        return None


_VERIFIED: dict[str, tuple[int, int, int]] = {}  # artifact path -> (mtime_ns, size, inode) seen intact


def artifact_state(artifacts: ArtifactStore, digest: str) -> Literal["missing", "corrupt"] | None:
    """None when the artifact is present and intact, else 'missing' or 'corrupt'.

    Re-hashing every output of every reused step on every run costs a full read;
    a local file seen intact by this process, unchanged since (same mtime, size
    and inode), is not hashed again. A changed file always is, and every read of
    a value verifies its bytes anyway.
    """
    path = artifacts.path_of(digest)
    local = "://" not in path
    stamp = None
    if local:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return "missing"
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if _VERIFIED.get(path) == stamp:
            return None
    elif not artifacts.exists(digest):
        return "missing"
    if not artifacts.verify(digest):
        _VERIFIED.pop(path, None)
        return "corrupt" if artifacts.exists(digest) else "missing"
    if stamp is not None:
        _VERIFIED[path] = stamp
    return None
