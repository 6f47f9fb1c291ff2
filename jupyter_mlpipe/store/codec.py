"""A value to the bytes the store keeps, and back; which values cannot be stored, and why.

A value is encoded once: as an Arrow IPC file when it round-trips exactly
through Arrow (`arrow_values.py`), else with cloudpickle (protocol 5). The
bytes are self-describing, the Arrow schema metadata (`mlpipe.format`) or the
pickle magic says how to decode them, so a reader needs no side table. The
bytes are hashed while they are written (`HashingSink`), so storing a value
costs one pass over its memory for the hash and one for the write, in parallel.
The hash is BLAKE3 unless told otherwise (`digests.py` says why, and how a
digest names its algorithm).

A value that cannot be encoded (an open file, a lock, a generator) raises
`UnstorableValue` naming the variable and the step, never a raw pickling error.

Nothing here imports pyarrow, pandas, numpy, polars or cloudpickle at module
level: loading the IPython extension must stay fast.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

from . import sharing
from ..errors import UnstorableValue
from .arrow_values import ARROW_FORMATS, format_of, from_arrow, to_arrow
from .digests import CURRENT, Hasher

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "ARROW_FORMATS",
    "FORMATS",
    "Encoded",
    "HashingSink",
    "NotAnArtifact",
    "content_hash",
    "decode",
    "deserialize",
    "encode",
    "serialize",
    "summarize",
    "type_name",
    "unstorable_error",
    "write_body",
]

logger = logging.getLogger(__name__)

FORMATS = (*ARROW_FORMATS, "pickle")

_ARROW_MAGIC = b"ARROW1"
_PICKLE_MAGIC = b"\x80\x05"  # PROTO opcode, protocol 5
_PICKLE_PROTOCOL = 5

_OVERLAP_MIN = 1 << 20  # chunks at least this big are hashed and written in parallel


class Encoded(NamedTuple):
    """A value ready to write: how it is encoded, what it is, and the body to write."""

    format: str
    type_name: str
    summary: str
    body: Any  # a pyarrow.Table for Arrow formats, bytes for pickle


# --------------------------------------------------------------------------- the public codec


def serialize(
    value: Any, *, variable: str, step: str | None = None
) -> tuple[str, str, str, pyarrow.Buffer | bytes]:
    """Encode a value as the bytes the store would write: (format, type_name, summary, payload).

    Raises UnstorableValue (naming `variable` and `step`) when the value cannot be
    encoded at all; never a raw pickling error.
    """
    enc = encode(value, variable=variable, step=step)
    if enc.format == "pickle":
        return enc.format, enc.type_name, enc.summary, enc.body
    return enc.format, enc.type_name, enc.summary, _ipc_payload(enc.body)


def deserialize(format: str | None, data: Any) -> Any:
    """Decode bytes written by `serialize`; `format` may be None (the bytes say what they are).

    `data` is anything with the buffer protocol (bytes, memoryview, pyarrow.Buffer).
    A `format` that contradicts the bytes is a ValueError, as are bytes that are
    not an artifact.
    """
    found, value = decode(data)
    if format is not None and format != found:
        raise ValueError(f"artifact bytes hold format {found!r}, not {format!r}")
    return value


def content_hash(
    value: Any, *, variable: str = "?", step: str | None = None, algorithm: str = CURRENT
) -> str:
    """The digest `put` would give this value, without writing or copying it.

    Used to notice that a step mutated one of its inputs in place. To compare
    with a digest an older version made, pass its algorithm
    (`digests.algorithm_of(digest)`): the same bytes have one digest per algorithm.
    """
    enc = encode(value, variable=variable, step=step)
    sink = HashingSink(algorithm=algorithm)
    write_body(enc, sink)
    return sink.hexdigest()


# --------------------------------------------------------------------------- encoding


def encode(value: Any, *, variable: str, step: str | None) -> Encoded:
    """Choose the encoding of a value (Arrow when exact, else pickle); nothing is written yet.

    Raises UnstorableValue when the value cannot be pickled.
    """
    name = type_name(type(value))
    summary = summarize(value)
    arrow = to_arrow(value)
    if arrow is not None:
        return Encoded(arrow[0], name, summary, arrow[1])
    return Encoded("pickle", name, summary, _pickle(value, variable, step))


def _pickle(value: Any, variable: str, step: str | None) -> bytes:
    try:
        return sharing.dumps(value, protocol=_PICKLE_PROTOCOL)
    except Exception as exc:  # TypeError, PicklingError, AttributeError, RecursionError, ...
        raise unstorable_error(value, variable, step, exc) from exc


def unstorable_error(
    value: Any, variable: str, step: str | None, exc: BaseException
) -> UnstorableValue:
    """The error for a value that cannot be passed to another step: what, where, why, what to do.

    `exc` is why (a pickling error, or a check of the caller's, such as "an open file").
    """
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
        message, variable=variable, step=step, type_name=type_name(type(value)), hint=hint
    )


def type_name(tp: type) -> str:
    """`module.QualName` of a type, as artifact references record it."""
    return f"{tp.__module__}.{tp.__qualname__}"


def _shown_type(tp: type) -> str:
    return tp.__qualname__ if tp.__module__ == "builtins" else type_name(tp)


def summarize(value: Any) -> str:
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
    except Exception:  # a look-alike type with other attributes: its name will do
        logger.debug("could not summarize a %s", name, exc_info=True)
    return name


# --------------------------------------------------------------------------- writing bytes


class HashingSink:
    """A file-like object for pyarrow.PythonFile: hashes what passes, optionally writes it.

    Arrow hands over its column buffers without copying them, so hashing a
    table costs one pass over its memory and storing it one more, done in
    parallel (the hashers and pyarrow all release the GIL).
    """

    def __init__(self, out: Any = None, *, algorithm: str = CURRENT) -> None:
        self._hasher = Hasher(algorithm)
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
        """Nothing to flush: every write has reached the output when it returns."""

    def close(self) -> None:
        self.closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def hexdigest(self) -> str:
        """The digest of what passed, in the store's format (`digests.py`: prefixed for BLAKE3)."""
        return self._hasher.digest()


def _write_ipc(table: pyarrow.Table, stream: Any) -> None:
    import pyarrow as pa

    with pa.ipc.new_file(stream, table.schema) as writer:
        writer.write_table(table)


def write_body(enc: Encoded, sink: HashingSink) -> None:
    """Write an encoded value's bytes through the sink (which hashes them), then close it."""
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


class NotAnArtifact(ValueError):
    """The bytes are neither an Arrow IPC file of ours nor a pickle."""


def decode(data: Any) -> tuple[str, Any]:
    """(format, value) of stored bytes; NotAnArtifact when they are not an artifact."""
    head = bytes(memoryview(data)[:8])
    if head.startswith(_ARROW_MAGIC):
        import pyarrow as pa

        try:
            reader = pa.ipc.open_file(data if isinstance(data, pa.Buffer) else pa.py_buffer(data))
            table = reader.read_all()
        except (pa.ArrowException, OSError) as exc:
            raise NotAnArtifact(f"unreadable Arrow IPC file: {exc}") from exc
        fmt = format_of(table)
        if fmt not in ARROW_FORMATS:
            raise NotAnArtifact(f"Arrow IPC file with unknown mlpipe.format {fmt!r}")
        return fmt, from_arrow(table, fmt)
    if head.startswith(_PICKLE_MAGIC):
        import pickle

        return "pickle", pickle.loads(data)  # cloudpickle output loads with plain pickle
    raise NotAnArtifact("bytes are neither an Arrow IPC file nor a protocol-5 pickle")
