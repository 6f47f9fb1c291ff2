"""The content-addressed artifact store: values passed between steps, stored under their hash.

A value is stored under the digest of its encoded bytes (`codec.py`), so an
identical value is stored once and a consumer can tell that its input did not
change from the address alone. Writes go to a unique temporary file that is
renamed into place, so a reader never sees a partial file and concurrent
writers of the same value all succeed; reads re-hash the bytes before decoding
them, so a damaged file is reported, never loaded. The root is a local folder
or any pyarrow filesystem URI.

New values are addressed by BLAKE3 (``b3-`` + hex); sha256 digests (bare hex)
that older versions wrote stay readable, each verified with its own algorithm
(`digests.py` has the format and why).

Nothing here imports pyarrow, pandas, numpy, polars or cloudpickle at module
level: loading the IPython extension must stay fast.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactCorrupt, ArtifactMissing, ArtifactWriteError, UnstorableValue
from .codec import (
    ARROW_FORMATS,
    FORMATS,
    HashingSink,
    NotAnArtifact,
    content_hash,
    decode,
    deserialize,
    encode,
    serialize,
    summarize,
    type_name,
    write_body,
)
from .digests import (
    CURRENT,
    algorithm_of,
    check_algorithm,
    hash_bytes,
    hex_part,
    is_digest,
)
from .sharing import SharedGroup, member_ref, split_ref

if TYPE_CHECKING:
    import pyarrow.fs

__all__ = [
    "ARROW_FORMATS",
    "FORMATS",
    "ArtifactRef",
    "ArtifactStore",
    "content_hash",
    "deserialize",
    "serialize",
]

logger = logging.getLogger(__name__)

_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")


@dataclass(frozen=True)
class ArtifactRef:
    """Where a stored value lives and what it is, small enough to put in a notebook parameter."""

    digest: str
    format: str
    type_name: str
    size: int
    summary: str

    def to_dict(self) -> dict:
        """A JSON-able form (papermill parameters, run history)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ArtifactRef:
        """Inverse of `to_dict`; unknown keys are ignored so newer writers stay readable."""
        return cls(**{f.name: d[f.name] for f in fields(cls)})


class ArtifactStore:
    """A directory (local or any pyarrow filesystem) of immutable, content-addressed values.

    Layout: ``<root>/artifacts/<2 hex>/<digest>``, temporary files in ``<root>/tmp/``;
    the two hex digits are the first of the hash itself (after a ``b3-`` prefix),
    so BLAKE3 and sha256 artifacts spread over the same 256 folders.
    A value is written to a unique temporary file and renamed into place, so a
    reader never sees a partial file at its address and concurrent writers of
    the same value all succeed.

    `algorithm` is what new values are addressed with (BLAKE3; sha256 only to
    measure or to write as older versions did); reading accepts either.
    """

    def __init__(self, root: str | os.PathLike, *, algorithm: str = CURRENT) -> None:
        self.root = os.fspath(root)
        self.algorithm = check_algorithm(algorithm)
        self._fs: pyarrow.fs.FileSystem | None = None
        self._base = ""
        self._local = False
        self._dirs_made: set[str] = set()

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root!r})"

    # -- locations

    def _filesystem(self) -> pyarrow.fs.FileSystem:
        """Resolve the root on first use, so that creating a store imports nothing heavy."""
        if self._fs is None:
            import pyarrow.fs as pafs

            if _URI_RE.match(self.root):
                fs, base = pafs.FileSystem.from_uri(self.root)
            else:
                fs = pafs.LocalFileSystem()
                base = os.path.abspath(os.path.expanduser(self.root)).replace(os.sep, "/")
            self._local = isinstance(fs, pafs.LocalFileSystem)
            self._base = base.rstrip("/") if base != "/" else ""
            self._fs = fs
        return self._fs

    def _path(self, digest: str) -> str:
        digest = split_ref(digest)[0]  # a group member lives in its group's file
        fan_out = hex_part(digest)[:2]  # ValueError for anything that is not a digest
        self._filesystem()
        return f"{self._base}/artifacts/{fan_out}/{digest}"

    def path_of(self, digest: str) -> str:
        """Where the artifact lives, for messages (a URI for remote filesystems)."""
        path = self._path(digest)
        return path if self._local else f"{self._fs.type_name}://{path}"

    def _makedirs(self, path: str) -> None:
        """mkdir -p; remembered only for remote stores, where it costs a request."""
        if self._local or path not in self._dirs_made:
            self._filesystem().create_dir(path, recursive=True)
            self._dirs_made.add(path)

    # -- writing

    def put(self, value: Any, *, variable: str, step: str | None = None) -> ArtifactRef:
        """Store a value and return its reference; an identical value is stored only once.

        Raises UnstorableValue (with the variable and the step) if it cannot be encoded.
        """
        enc = encode(value, variable=variable, step=step)
        fs = self._filesystem()
        tmp_dir = f"{self._base}/tmp"
        self._makedirs(tmp_dir)
        tmp = f"{tmp_dir}/{uuid.uuid4().hex}.part"
        try:
            with fs.open_output_stream(tmp) as out:
                sink = HashingSink(out, algorithm=self.algorithm)
                write_body(enc, sink)
            digest = sink.hexdigest()
            final = self._path(digest)
            self._makedirs(final.rsplit("/", 1)[0])
            self._move_into_place(tmp, final)
        except BaseException as exc:
            self._discard(tmp)  # nothing half-written stays behind
            if isinstance(exc, OSError):
                raise self._write_error(exc, variable, step) from exc
            raise
        return ArtifactRef(digest, enc.format, enc.type_name, sink.size, enc.summary)

    def _write_error(self, exc: OSError, variable: str, step: str | None) -> ArtifactWriteError:
        full = exc.errno == errno.ENOSPC or "No space left" in str(exc)
        why = "it is full (no space left on device)" if full else f"{type(exc).__name__}: {exc}"
        hint = ("Free space there (`mlpipe gc NOTEBOOK` removes what no recorded run refers to), or point "
                "`store` in mlpipe.toml at a bigger disk; nothing half-written was kept.") if full else \
            "Check that the store's location exists and is writable (`store` in mlpipe.toml, MLPIPE_STORE)."
        return ArtifactWriteError(f"Could not store {variable!r} in the artifact store at {self.root}: {why}.",
                                  variable=variable, step=step, store=str(self.root), hint=hint)

    def _move_into_place(self, tmp: str, final: str) -> None:
        """Atomic rename over any existing copy (same bytes, by construction).

        Replacing rather than keeping the old file means that storing a value
        again also repairs a copy that was damaged on disk. Where the rename
        cannot replace (a file open on Windows), the existing copy is kept.
        """
        fs = self._filesystem()
        try:
            fs.move(tmp, final)
        except OSError:
            if not self._is_file(final):
                raise
            self._discard(tmp)

    def _discard(self, path: str) -> None:
        """Delete a file if it is there; a failure is logged, not raised (the caller goes on)."""
        try:
            self._filesystem().delete_file(path)
        except FileNotFoundError:
            pass  # already gone: what was asked
        except OSError:
            logger.warning("could not delete %s", path, exc_info=True)

    def delete(self, digest: str) -> None:
        """Remove an artifact; removing one that is absent is not an error."""
        self._discard(self._path(digest))

    # -- reading

    def _is_file(self, path: str) -> bool:
        import pyarrow.fs as pafs

        return self._filesystem().get_file_info(path).type == pafs.FileType.File

    def exists(self, digest: str) -> bool:
        """Whether a file is stored under this address (its content is not checked)."""
        return self._is_file(self._path(digest))

    def _read(self, digest: str) -> Any:
        """The stored bytes: memory-mapped for local files, read whole otherwise."""
        import pyarrow as pa

        path = self._path(digest)
        try:
            if self._local:
                if os.path.getsize(path) == 0:
                    return b""
                return pa.memory_map(path, "r").read_buffer()
            with self._fs.open_input_file(path) as f:
                return f.read_buffer()
        except FileNotFoundError:
            raise ArtifactMissing(
                f"No artifact {digest} in the store: {self.path_of(digest)} does not exist.",
                digest=digest,
                hint="The step that produced it will be re-run on the next run;"
                " run the pipeline again, or the producing step alone.",
            ) from None

    def _corrupt(self, digest: str, why: str) -> ArtifactCorrupt:
        return ArtifactCorrupt(
            f"Artifact {digest} at {self.path_of(digest)} is corrupt: {why}."
            " It was not loaded.",
            digest=digest,
            hint="The step that produced it will be re-run on the next run, which replaces"
            " the damaged file; if it keeps happening, check the disk or the filesystem"
            " behind the store, or delete the file.",
        )

    def get(self, ref: ArtifactRef | str, *, verify: bool = True) -> Any:
        """Load a value by reference or digest; with verify, damaged bytes are never decoded.

        Raises ArtifactMissing or ArtifactCorrupt.
        """
        digest, member = split_ref(ref.digest if isinstance(ref, ArtifactRef) else ref)
        value = self._load(digest, verify)
        if member is None:
            return value
        if not isinstance(value, SharedGroup) or member not in value.members:
            raise self._corrupt(digest, f"it holds no shared value named {member!r}")
        return value.members[member]

    def get_group(self, digest: str, *, verify: bool = True) -> SharedGroup:
        """The stored group a `DIGEST#NAME` reference points into, all its members together."""
        digest = split_ref(digest)[0]
        value = self._load(digest, verify)
        if not isinstance(value, SharedGroup):
            raise self._corrupt(digest, "it is a single value, not a group of shared values")
        return value

    def put_group(self, members: dict[str, Any], *, step: str | None = None) -> dict[str, ArtifactRef]:
        """Store values that share objects as one artifact; a reference (`DIGEST#NAME`) for each."""
        try:
            group = self.put(SharedGroup(members), variable=", ".join(members), step=step)
        except UnstorableValue:
            for name, value in members.items():  # name the value that cannot be stored, not the group
                try:
                    encode(value, variable=name, step=step)
                except UnstorableValue as exc:
                    others = ", ".join(repr(n) for n in members if n != name)
                    exc.message += f" (It shares objects with {others}, so they are stored together.)"
                    raise exc from None
            raise
        return {name: ArtifactRef(member_ref(group.digest, name), "group-member", type_name(type(value)),
                                  group.size, summarize(value))
                for name, value in members.items()}

    def _load(self, digest: str, verify: bool) -> Any:
        data = self._read(digest)
        if verify:
            actual = hash_bytes(data, algorithm_of(digest))
            if actual != digest:
                raise self._corrupt(digest, f"its bytes hash to {actual}")
        try:
            return decode(data)[1]
        except NotAnArtifact as exc:
            raise self._corrupt(digest, str(exc)) from exc

    def verify(self, digest: str) -> bool:
        """Re-hash the stored bytes with the digest's algorithm: False if missing or not matching."""
        digest = split_ref(digest)[0]  # a group member is verified with its group's file
        try:
            data = self._read(digest)
        except ArtifactMissing:
            return False
        return hash_bytes(data, algorithm_of(digest)) == digest

    def digests(self) -> Iterator[str]:
        """Every stored digest (in no particular order)."""
        import pyarrow.fs as pafs

        fs = self._filesystem()
        selector = pafs.FileSelector(
            f"{self._base}/artifacts", recursive=True, allow_not_found=True
        )
        for info in fs.get_file_info(selector):
            name = info.base_name
            if (
                info.type == pafs.FileType.File
                and is_digest(name)
                and info.path.rsplit("/", 2)[-2] == hex_part(name)[:2]
            ):
                yield name
