"""Which values travel between steps as Arrow tables, and how they come back exactly.

Tables and numeric arrays (pandas, numpy, polars, pyarrow) are stored as Arrow:
readable by other tools, memory-mapped on load, and hashed and written without
a copy. A value takes this path only when it comes back identical (types,
dtypes, index, names, attrs); anything else is left to cloudpickle by
`codec.py`. What Arrow itself drops (a pandas index `freq`, a Series name,
numpy dtype, shape and order) is kept in the table's schema metadata under
`mlpipe.*` keys, and `mlpipe.format` says which library to rebuild.

Nothing is imported at module level: a value's library is already imported
whenever such a value exists, and pyarrow is imported on first use.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow

__all__ = ["ARROW_FORMATS", "META_FORMAT", "format_of", "from_arrow", "to_arrow"]

logger = logging.getLogger(__name__)

ARROW_FORMATS = ("arrow-pandas", "arrow-series", "arrow-table", "arrow-polars", "arrow-numpy")

META_FORMAT = b"mlpipe.format"
_META_FREQ = b"mlpipe.pandas.freq"  # DatetimeIndex/TimedeltaIndex freq, which Arrow drops
_META_SERIES_NAME = b"mlpipe.series.name"
_META_DTYPE = b"mlpipe.numpy.dtype"
_META_SHAPE = b"mlpipe.numpy.shape"
_META_ORDER = b"mlpipe.numpy.order"
_OUR_KEYS = (META_FORMAT, _META_FREQ, _META_SERIES_NAME, _META_DTYPE, _META_SHAPE, _META_ORDER)

_PROBE_ROWS = 8  # rows round-tripped to decide whether a frame survives Arrow exactly


# --------------------------------------------------------------------------- to Arrow


def to_arrow(value: Any) -> tuple[str, pyarrow.Table] | None:
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
    meta[META_FORMAT] = fmt.encode()
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
        logger.debug("%s does not round-trip through Arrow; pickling it", fmt, exc_info=True)
        return None
    return (fmt, table) if _same_layout(probe, table) else None


def _assert_pandas_equal(left: Any, right: Any, pd: Any) -> None:
    strict = {
        "check_exact": True,
        "check_index_type": True,
        "check_freq": True,
        "check_flags": True,
        "check_categorical": True,
        "check_names": True,
    }
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
        logger.debug("a polars.DataFrame does not convert to Arrow; pickling it", exc_info=True)
        return None
    if not _same_layout(probe, table):
        return None
    return "arrow-polars", _with_meta(table, "arrow-polars", {})


# --------------------------------------------------------------------------- from Arrow


def format_of(table: pyarrow.Table) -> str:
    """The `mlpipe.format` a table was stored with ("" when it has none)."""
    return (table.schema.metadata or {}).get(META_FORMAT, b"").decode()


def from_arrow(table: pyarrow.Table, fmt: str) -> Any:
    """The value a table stored as `fmt` (one of ARROW_FORMATS) came from."""
    return _READERS[fmt](table, fmt)


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


_READERS: dict[str, Callable[[pyarrow.Table, str], Any]] = {
    "arrow-pandas": _pandas_from_arrow,
    "arrow-series": _pandas_from_arrow,
    "arrow-numpy": _numpy_from_arrow,
    "arrow-polars": _polars_from_arrow,
    "arrow-table": _table_from_arrow,
}
