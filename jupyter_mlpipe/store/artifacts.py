"""Values passed between steps: value <-> bytes, and a content-addressed store.

A value is encoded once (Arrow IPC for tables and numeric arrays, cloudpickle
for the rest) and stored under the sha256 of its bytes, so an identical value
is stored once and a consumer can tell that its input did not change from the
address alone. Files are self-describing: the Arrow schema
metadata (key ``mlpipe.format``) or the pickle magic says how to decode them,
so ``get(digest)`` needs no side table.

Nothing here imports pyarrow, pandas, numpy, polars or cloudpickle at module
level: loading the IPython extension must stay fast, and a value's own library
is already imported whenever such a value exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple

from ..errors import ArtifactCorrupt, ArtifactMissing, UnstorableValue

if TYPE_CHECKING:
    import pyarrow
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

ARROW_FORMATS = ("arrow-pandas", "arrow-series", "arrow-table", "arrow-polars", "arrow-numpy")
FORMATS = (*ARROW_FORMATS, "pickle")

_ARROW_MAGIC = b"ARROW1"
_PICKLE_MAGIC = b"\x80\x05"  # PROTO opcode, protocol 5
_PICKLE_PROTOCOL = 5

_META_FORMAT = b"mlpipe.format"
_META_FREQ = b"mlpipe.pandas.freq"  # DatetimeIndex/TimedeltaIndex freq, which Arrow drops
_META_SERIES_NAME = b"mlpipe.series.name"
_META_DTYPE = b"mlpipe.numpy.dtype"
_META_SHAPE = b"mlpipe.numpy.shape"
_META_ORDER = b"mlpipe.numpy.order"
_OUR_KEYS = (_META_FORMAT, _META_FREQ, _META_SERIES_NAME, _META_DTYPE, _META_SHAPE, _META_ORDER)

_PROBE_ROWS = 8  # rows round-tripped to decide whether a frame survives Arrow exactly
_OVERLAP_MIN = 1 << 20  # chunks at least this big are hashed and written in parallel
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
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


# --------------------------------------------------------------------------- encoding


class _Encoded(NamedTuple):
    format: str
    type_name: str
    summary: str
    body: Any  # a pyarrow.Table for Arrow formats, bytes for pickle


def serialize(
    value: Any, *, variable: str, step: str | None = None
) -> tuple[str, str, str, pyarrow.Buffer | bytes]:
    """Encode a value as the bytes the store would write: (format, type_name, summary, payload).

    Raises UnstorableValue (naming `variable` and `step`) when the value cannot be
    encoded at all; never a raw pickling error.
    """
    enc = _encode(value, variable=variable, step=step)
    if enc.format == "pickle":
        return enc.format, enc.type_name, enc.summary, enc.body
    return enc.format, enc.type_name, enc.summary, _ipc_payload(enc.body)


def deserialize(format: str | None, data: Any) -> Any:
    """Decode bytes written by `serialize`; `format` may be None (the bytes say what they are).

    `data` is anything with the buffer protocol (bytes, memoryview, pyarrow.Buffer).
    A `format` that contradicts the bytes is a ValueError, as are bytes that are
    not an artifact.
    """
    found, value = _decode(data)
    if format is not None and format != found:
        raise ValueError(f"artifact bytes hold format {found!r}, not {format!r}")
    return value


def content_hash(value: Any, *, variable: str = "?", step: str | None = None) -> str:
    """The digest `put` would give this value, without writing or copying it.

    Used to notice that a step mutated one of its inputs in place.
    """
    enc = _encode(value, variable=variable, step=step)
    sink = _HashingSink()
    _write_body(enc, sink)
    return sink.hexdigest()


def _encode(value: Any, *, variable: str, step: str | None) -> _Encoded:
    type_name = _type_name(type(value))
    summary = _summarize(value)
    arrow = _to_arrow(value)
    if arrow is not None:
        return _Encoded(arrow[0], type_name, summary, arrow[1])
    return _Encoded("pickle", type_name, summary, _pickle(value, variable, step))


def _pickle(value: Any, variable: str, step: str | None) -> bytes:
    import cloudpickle

    try:
        return cloudpickle.dumps(value, protocol=_PICKLE_PROTOCOL)
    except Exception as exc:  # TypeError, PicklingError, AttributeError, RecursionError, ...
        raise _unstorable(value, variable, step, exc) from exc


def _unstorable(value: Any, variable: str, step: str | None, exc: BaseException) -> UnstorableValue:
    shown = _shown_type(type(value))
    article = "an" if shown[:1].lower() in "aeiou_" else "a"
    reason = (str(exc) or type(exc).__name__).rstrip(".")
    subject = f"'{variable}' ({article} {shown})"
    if step is not None:
        message = (
            f"Step '{step}' defines {subject}, which cannot be stored to pass it to another"
            f" step: {reason}."
        )
    else:
        message = f"{subject} cannot be stored to pass it to another step: {reason}."
    hint = "Recreate it inside the step that uses it"
    if variable.startswith("_"):
        hint += "."
    else:
        hint += (
            f", or give it a name starting with an underscore (_{variable}) to keep it"
            " private to its step."
        )
    return UnstorableValue(
        message, variable=variable, step=step, type_name=_type_name(type(value)), hint=hint
    )


def _type_name(tp: type) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


def _shown_type(tp: type) -> str:
    return tp.__qualname__ if tp.__module__ == "builtins" else _type_name(tp)


def _summarize(value: Any) -> str:
    """A short human description for the panel and messages; never fails."""
    tp = type(value)
    name = tp.__name__
    module = tp.__module__
    try:
        if module.startswith("pandas") and name == "DataFrame":
            rows, cols = value.shape
            return f"DataFrame {rows}×{cols}"
        if module.startswith("pandas") and name == "Series":
            return f"Series {value.dtype} [{len(value)}]"
        if module == "numpy" and name == "ndarray":
            return f"ndarray {value.dtype} {value.shape}"
        if module.startswith("pyarrow") and name == "Table":
            return f"Table {value.num_rows}×{value.num_columns}"
        if module.startswith("polars") and name == "DataFrame":
            rows, cols = value.shape
            return f"polars.DataFrame {rows}×{cols}"
        if isinstance(value, (str, bytes, bytearray, list, tuple, dict, set, frozenset)):
            return f"{name}[{len(value)}]"
    except Exception:
        pass
    return name


# --------------------------------------------------------------------------- to Arrow


def _to_arrow(value: Any) -> tuple[str, pyarrow.Table] | None:
    """(format, table) when the value round-trips exactly through Arrow, else None.

    Types are checked exactly (no subclasses: a subclass may carry state that Arrow
    drops) and only against libraries that are already imported, since a value of
    a library's type cannot exist before the library is imported.
    """
    tp = type(value)
    module = tp.__module__
    if module.startswith("pandas"):
        pd = sys.modules.get("pandas")
        if pd is not None and tp in (pd.DataFrame, pd.Series):
            return _pandas_to_arrow(value, pd)
    elif module == "numpy":
        np = sys.modules.get("numpy")
        if np is not None and tp is np.ndarray:
            return _numpy_to_arrow(value, np)
    elif module.startswith("pyarrow"):
        pa = sys.modules.get("pyarrow")
        if pa is not None and tp is pa.Table:
            return "arrow-table", _with_meta(value, "arrow-table", {})
    elif module.startswith("polars"):
        pl = sys.modules.get("polars")
        if pl is not None and tp is pl.DataFrame:
            return _polars_to_arrow(value, pl)
    return None


def _with_meta(table: pyarrow.Table, fmt: str, extra: dict[bytes, bytes]) -> pyarrow.Table:
    meta = dict(table.schema.metadata or {})
    meta[_META_FORMAT] = fmt.encode()
    meta.update(extra)
    return table.replace_schema_metadata(meta)


def _same_layout(a: pyarrow.Table, b: pyarrow.Table) -> bool:
    return a.schema.names == b.schema.names and a.schema.types == b.schema.types


def _pandas_arrow_safe(value: Any, pd: Any) -> bool:
    """Cheap rule: no numpy-object or sparse data anywhere (columns, categories, index)."""
    import numpy as np

    dtypes = [value.dtype] if isinstance(value, pd.Series) else list(value.dtypes)
    index = value.index
    dtypes += list(index.dtypes) if isinstance(index, pd.MultiIndex) else [index.dtype]
    for dt in dtypes:
        if isinstance(dt, np.dtype) and dt.kind == "O":
            return False  # Arrow would infer a type from the values: not exact
        if isinstance(dt, pd.SparseDtype):
            return False
        if isinstance(dt, pd.CategoricalDtype) and dt.categories.dtype == object:
            return False
    return True


def _pandas_to_arrow(value: Any, pd: Any) -> tuple[str, pyarrow.Table] | None:
    """Arrow when a probe of the first rows comes back identical, else None (pickle).

    With object columns excluded, the Arrow types (and so the way back) depend on
    the dtypes only, not on the data, so a few rows decide for the whole frame;
    the full table's types are checked against the probe's as well.
    """
    import pyarrow as pa

    is_series = isinstance(value, pd.Series)
    fmt = "arrow-series" if is_series else "arrow-pandas"
    if not _pandas_arrow_safe(value, pd):
        return None
    extra: dict[bytes, bytes] = {}
    if is_series:
        name = value.name
        if name is not None and type(name) not in (str, int, float, bool):
            return None
        extra[_META_SERIES_NAME] = json.dumps({"name": name}).encode()
    index = value.index
    if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) and index.freq is not None:
        extra[_META_FREQ] = index.freqstr.encode()

    def to_table(obj: Any) -> pyarrow.Table:
        if is_series:
            obj = obj.to_frame(name=obj.name if isinstance(obj.name, str) else "__series__")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyarrow warns about names it stringifies
            return _with_meta(pa.Table.from_pandas(obj), fmt, extra)

    try:
        head = value.iloc[:_PROBE_ROWS]
        probe = to_table(head)
        _assert_pandas_equal(head, _pandas_from_arrow(probe, fmt), pd)
        table = to_table(value)
    except Exception:  # ArrowInvalid, TypeError, ValueError, AssertionError, ...
        return None
    return (fmt, table) if _same_layout(probe, table) else None


def _assert_pandas_equal(left: Any, right: Any, pd: Any) -> None:
    strict = dict(
        check_exact=True,
        check_index_type=True,
        check_freq=True,
        check_flags=True,
        check_categorical=True,
        check_names=True,
    )
    if isinstance(left, pd.Series):
        pd.testing.assert_series_equal(left, right, check_series_type=True, **strict)
    else:
        pd.testing.assert_frame_equal(
            left, right, check_column_type=True, check_frame_type=True, **strict
        )
    if left.attrs != right.attrs:
        raise AssertionError("attrs differ")


def _numpy_to_arrow(arr: Any, np: Any) -> tuple[str, pyarrow.Table] | None:
    """A one-column table of the flattened data; dtype, shape and order go to metadata.

    Fortran-ordered arrays (what `DataFrame.to_numpy()` returns) are flattened in
    their own order, which is a view, not a copy.

    Ints and floats Arrow knows keep their Arrow type (readable by other tools);
    bool, complex, datetime/timedelta and non-native byte orders are stored as
    their raw bytes (uint8/int64), which is exact for every fixed-size dtype.
    """
    import pyarrow as pa

    dt = arr.dtype
    if arr.ndim == 0 or dt.kind not in "biufcmM" or dt.fields is not None or dt.subdtype:
        return None
    order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
    flat = arr.ravel(order=order)  # a view when the array is contiguous
    if dt.isnative and (dt.kind in "iu" or (dt.kind == "f" and dt.itemsize <= 8)):
        column = pa.array(flat)  # zero-copy
    elif dt.isnative and dt.kind in "mM":
        column = pa.array(flat.view(np.int64))
    else:
        column = pa.array(flat.view(np.uint8))
    extra = {
        _META_DTYPE: dt.str.encode(),
        _META_SHAPE: json.dumps(list(arr.shape)).encode(),
        _META_ORDER: order.encode(),
    }
    return "arrow-numpy", _with_meta(pa.table({"data": column}), "arrow-numpy", extra)


def _polars_to_arrow(df: Any, pl: Any) -> tuple[str, pyarrow.Table] | None:
    """Arrow when a probe of the first rows comes back with the same schema and values."""
    try:
        head = df.head(_PROBE_ROWS)
        probe = head.to_arrow()
        back = pl.from_arrow(probe)
        if not isinstance(back, pl.DataFrame) or back.schema != head.schema:
            return None
        if not back.equals(head):
            return None
        table = df.to_arrow()
    except Exception:  # polars Object columns, unsupported types
        return None
    if not _same_layout(probe, table):
        return None
    return "arrow-polars", _with_meta(table, "arrow-polars", {})


# --------------------------------------------------------------------------- writing bytes


class _HashingSink:
    """A file-like object for pyarrow.PythonFile: hashes what passes, optionally writes it.

    Arrow hands over its column buffers without copying them, so hashing a
    table costs one pass over its memory and storing it one more, done in
    parallel (hashlib and pyarrow both release the GIL).
    """

    def __init__(self, out: Any = None) -> None:
        self._hasher = hashlib.sha256()
        self._out = out
        self._pool: ThreadPoolExecutor | None = None
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if self._out is None:
            self._hasher.update(view)
        elif view.nbytes >= _OVERLAP_MIN:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlpipe-write")
            pending = self._pool.submit(self._out.write, view)
            self._hasher.update(view)
            pending.result()
        else:
            self._out.write(view)
            self._hasher.update(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()


def _write_ipc(table: pyarrow.Table, stream: Any) -> None:
    import pyarrow as pa

    with pa.ipc.new_file(stream, table.schema) as writer:
        writer.write_table(table)


def _write_body(enc: _Encoded, sink: _HashingSink) -> None:
    if enc.format == "pickle":
        sink.write(enc.body)
        sink.close()
        return
    import pyarrow as pa

    stream = pa.PythonFile(sink, mode="w")
    try:
        _write_ipc(enc.body, stream)
    finally:
        stream.close()
        sink.close()


def _ipc_payload(table: pyarrow.Table) -> pyarrow.Buffer:
    """The IPC file as one buffer of the exact size: measure first, then copy once.

    (A growing BufferOutputStream reallocates and copies repeatedly.)
    """
    import pyarrow as pa

    mock = pa.MockOutputStream()
    _write_ipc(table, mock)
    buf = pa.allocate_buffer(mock.size())
    _write_ipc(table, pa.FixedSizeBufferWriter(buf))
    return buf


# --------------------------------------------------------------------------- reading bytes


class _NotAnArtifact(ValueError):
    """The bytes are neither an Arrow IPC file of ours nor a pickle."""


def _decode(data: Any) -> tuple[str, Any]:
    head = bytes(memoryview(data)[:8])
    if head.startswith(_ARROW_MAGIC):
        import pyarrow as pa

        try:
            reader = pa.ipc.open_file(data if isinstance(data, pa.Buffer) else pa.py_buffer(data))
            table = reader.read_all()
        except (pa.ArrowException, OSError) as exc:
            raise _NotAnArtifact(f"unreadable Arrow IPC file: {exc}") from exc
        fmt = (table.schema.metadata or {}).get(_META_FORMAT, b"").decode()
        if fmt not in ARROW_FORMATS:
            raise _NotAnArtifact(f"Arrow IPC file with unknown mlpipe.format {fmt!r}")
        return fmt, _READERS[fmt](table, fmt)
    if head.startswith(_PICKLE_MAGIC):
        import pickle

        return "pickle", pickle.loads(data)  # cloudpickle output loads with plain pickle
    raise _NotAnArtifact("bytes are neither an Arrow IPC file nor a protocol-5 pickle")


def _strip_meta(table: pyarrow.Table) -> pyarrow.Table:
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k not in _OUR_KEYS}
    return table.replace_schema_metadata(meta or None)


def _pandas_from_arrow(table: pyarrow.Table, fmt: str) -> Any:
    meta = table.schema.metadata or {}
    df = table.to_pandas()  # copies into pandas blocks: the result is writable
    out = df.iloc[:, 0] if fmt == "arrow-series" else df
    if fmt == "arrow-series":
        out.name = json.loads(meta[_META_SERIES_NAME])["name"]
    freq = meta.get(_META_FREQ)
    if freq is not None:
        index = out.index
        out.index = type(index)(index, freq=freq.decode(), name=index.name)
    return out


def _numpy_from_arrow(table: pyarrow.Table, fmt: str) -> Any:
    import numpy as np

    meta = table.schema.metadata
    dtype = np.dtype(meta[_META_DTYPE].decode())
    shape = tuple(json.loads(meta[_META_SHAPE]))
    column = table.column(0)
    chunk = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    order = meta.get(_META_ORDER, b"C").decode()
    raw = chunk.to_numpy(zero_copy_only=True)
    # A copy: the mapped file is read-only, and steps may modify their inputs in place.
    return raw.view(dtype).reshape(shape, order=order).copy(order="K")


def _polars_from_arrow(table: pyarrow.Table, fmt: str) -> Any:
    import polars as pl

    return pl.from_arrow(_strip_meta(table))


def _table_from_arrow(table: pyarrow.Table, fmt: str) -> Any:
    return _strip_meta(table)


_READERS = {
    "arrow-pandas": _pandas_from_arrow,
    "arrow-series": _pandas_from_arrow,
    "arrow-numpy": _numpy_from_arrow,
    "arrow-polars": _polars_from_arrow,
    "arrow-table": _table_from_arrow,
}


# --------------------------------------------------------------------------- the store


def _check_digest(digest: str) -> None:
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")


class ArtifactStore:
    """A directory (local or any pyarrow filesystem) of immutable, content-addressed values.

    Layout: ``<root>/artifacts/<2 hex>/<digest>``, temporary files in ``<root>/tmp/``.
    A value is written to a unique temporary file and renamed into place, so a
    reader never sees a partial file at its address and concurrent writers of
    the same value all succeed.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = os.fspath(root)
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
        _check_digest(digest)
        self._filesystem()
        return f"{self._base}/artifacts/{digest[:2]}/{digest}"

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
        enc = _encode(value, variable=variable, step=step)
        fs = self._filesystem()
        tmp_dir = f"{self._base}/tmp"
        self._makedirs(tmp_dir)
        tmp = f"{tmp_dir}/{uuid.uuid4().hex}.part"
        try:
            with fs.open_output_stream(tmp) as out:
                sink = _HashingSink(out)
                _write_body(enc, sink)
            digest = sink.hexdigest()
            final = self._path(digest)
            self._makedirs(final.rsplit("/", 1)[0])
            self._move_into_place(tmp, final)
        except BaseException:
            self._discard(tmp)
            raise
        return ArtifactRef(digest, enc.format, enc.type_name, sink.size, enc.summary)

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
        try:
            self._filesystem().delete_file(path)
        except OSError:
            pass

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
        digest = ref.digest if isinstance(ref, ArtifactRef) else ref
        data = self._read(digest)
        if verify:
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                raise self._corrupt(digest, f"its bytes hash to {actual}")
        try:
            return _decode(data)[1]
        except _NotAnArtifact as exc:
            raise self._corrupt(digest, str(exc)) from exc

    def verify(self, digest: str) -> bool:
        """Re-hash the stored bytes: False if missing or not matching the address."""
        try:
            data = self._read(digest)
        except ArtifactMissing:
            return False
        return hashlib.sha256(data).hexdigest() == digest

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
                and _DIGEST_RE.match(name)
                and info.path.rsplit("/", 2)[-2] == name[:2]
            ):
                yield name
