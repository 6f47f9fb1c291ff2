"""The artifact store: exact round trips, content addressing, atomic writes, damage detection."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import jupyter_mlpipe.store.artifacts as artifacts
from jupyter_mlpipe.store.artifacts import (
    ArtifactRef,
    ArtifactStore,
    content_hash,
    deserialize,
    serialize,
)
from jupyter_mlpipe.errors import ArtifactCorrupt, ArtifactMissing, UnstorableValue
from jupyter_mlpipe.store.digests import hex_part

REPO = Path(artifacts.__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


def assert_same(expected, actual) -> None:
    """Exact equality, including types, dtypes, index, shape and metadata."""
    assert type(actual) is type(expected)
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(
            actual, expected, check_exact=True, check_index_type=True,
            check_column_type=True, check_freq=True, check_flags=True,
        )
        assert actual.attrs == expected.attrs
    elif isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(
            actual, expected, check_exact=True, check_index_type=True, check_freq=True
        )
    elif isinstance(expected, np.ndarray):
        assert actual.dtype == expected.dtype
        assert actual.shape == expected.shape
        if expected.dtype.kind == "O":
            assert actual.tolist() == expected.tolist()
        else:
            np.testing.assert_array_equal(actual, expected, strict=True)
    elif isinstance(expected, pa.Table):
        assert actual.equals(expected, check_metadata=True)
    elif isinstance(expected, pl.DataFrame):
        assert actual.schema == expected.schema
        assert actual.equals(expected)
    else:
        assert actual == expected


class Point:
    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and other.x == self.x


def _with_attrs(df: pd.DataFrame) -> pd.DataFrame:
    df.attrs["source"] = "unit test"
    return df


PANDAS_CASES = {
    "numeric": (pd.DataFrame({"a": np.arange(5), "b": np.linspace(0, 1, 5)}), "arrow-pandas"),
    "strings": (pd.DataFrame({"s": ["a", None, "c"]}), "arrow-pandas"),
    "categorical": (
        pd.DataFrame({"c": pd.Categorical(list("abca"), categories=list("cba"), ordered=True)}),
        "arrow-pandas",
    ),
    "categorical_int": (pd.DataFrame({"c": pd.Categorical([3, 1, 3, None])}), "arrow-pandas"),
    "datetime_tz": (
        pd.DataFrame({"t": pd.date_range("2024-03-30", periods=4, freq="h", tz="Europe/Paris")}),
        "arrow-pandas",
    ),
    "datetime_ns_nat": (
        pd.DataFrame({"t": pd.to_datetime(["2020-01-01", None]).as_unit("ns")}),
        "arrow-pandas",
    ),
    "timedelta": (pd.DataFrame({"d": pd.to_timedelta([1, 2, 3], unit="s")}), "arrow-pandas"),
    "nullable": (
        pd.DataFrame(
            {
                "i": pd.array([1, None, 3], dtype="Int64"),
                "f": pd.array([1.5, None, np.nan], dtype="Float64"),
                "b": pd.array([True, None, False], dtype="boolean"),
                "s": pd.array(["x", None, "z"], dtype="string"),
            }
        ),
        "arrow-pandas",
    ),
    "multiindex": (
        pd.DataFrame(
            {"v": np.arange(4.0)},
            index=pd.MultiIndex.from_product([["x", "y"], [1, 2]], names=["k", "j"]),
        ),
        "arrow-pandas",
    ),
    "multiindex_columns": (
        pd.DataFrame(np.ones((2, 2)), columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")])),
        "arrow-pandas",
    ),
    "integer_column_names": (pd.DataFrame(np.eye(3), columns=[0, 1, 2]), "arrow-pandas"),
    "range_index_step": (
        pd.DataFrame({"a": [1, 2, 3]}, index=pd.RangeIndex(10, 16, 2, name="r")),
        "arrow-pandas",
    ),
    "string_index": (
        pd.DataFrame({"a": [1, 2]}, index=pd.Index(["p", "q"], name="id")),
        "arrow-pandas",
    ),
    "datetime_index_freq": (
        pd.DataFrame({"a": np.arange(5)}, index=pd.date_range("2020-01-01", periods=5, freq="D")),
        "arrow-pandas",
    ),
    "period_interval": (
        pd.DataFrame(
            {"p": pd.period_range("2020-01", periods=3, freq="M"), "i": pd.interval_range(0, 3)}
        ),
        "arrow-pandas",
    ),
    "float16_uint8": (
        pd.DataFrame({"h": np.ones(3, np.float16), "u": np.arange(3, dtype=np.uint8)}),
        "arrow-pandas",
    ),
    "empty_with_columns": (pd.DataFrame({"a": pd.Series([], dtype="float64")}), "arrow-pandas"),
    "attrs": (_with_attrs(pd.DataFrame({"a": [1.0]})), "arrow-pandas"),
    # Not exact through Arrow: must fall back to pickle, and still round-trip.
    "object_mixed": (pd.DataFrame({"o": pd.Series([1, "a", 2.5, None], dtype=object)}), "pickle"),
    "object_strings": (pd.DataFrame({"o": pd.Series(["a", "b"], dtype=object)}), "pickle"),
    "object_decimals": (pd.DataFrame({"o": [__import__("decimal").Decimal("1.1")]}), "pickle"),
    "mixed_column_names": (pd.DataFrame(np.ones((2, 2)), columns=[0, "a"]), "pickle"),
    "non_string_index_name": (pd.DataFrame({"a": [1]}, index=pd.Index([7], name=5)), "pickle"),
    "empty": (pd.DataFrame(), "pickle"),
    "sparse": (pd.DataFrame({"s": pd.arrays.SparseArray([0, 0, 1])}), "pickle"),
    "complex": (pd.DataFrame({"c": np.array([1 + 2j])}), "pickle"),
    "object_index": (pd.DataFrame({"a": [1]}, index=pd.Index(["x"], dtype=object)), "pickle"),
}

SERIES_CASES = {
    "named": (pd.Series([1.0, 2.0, np.nan], name="x"), "arrow-series"),
    "unnamed_freq_index": (
        pd.Series([1, 2, 3], index=pd.date_range("2020", periods=3, freq="h")),
        "arrow-series",
    ),
    "int_name_categorical": (pd.Series(pd.Categorical(["a", "b"]), name=3), "arrow-series"),
    "multiindex": (
        pd.Series([1, 2], index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]), name="m"),
        "arrow-series",
    ),
    "tuple_name": (pd.Series([1, 2], name=("a", "b")), "pickle"),
    "object": (pd.Series([1, "x"], dtype=object), "pickle"),
}

NUMPY_CASES = {
    "float64_2d": (np.arange(12.0).reshape(3, 4), "arrow-numpy"),
    "fortran": (np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)), "arrow-numpy"),
    "strided_view": (np.arange(20.0)[::3], "arrow-numpy"),
    "bool": (np.array([[True, False], [False, True]]), "arrow-numpy"),
    "uint16": (np.arange(5, dtype=np.uint16), "arrow-numpy"),
    "float16": (np.array([0.5, -1.0], dtype=np.float16), "arrow-numpy"),
    "nan_and_signed_zero": (np.array([np.nan, -0.0, np.inf]), "arrow-numpy"),
    "complex": (np.array([1 + 2j, -3j]), "arrow-numpy"),
    "datetime64": (np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]"), "arrow-numpy"),
    "timedelta64": (np.array([1, 2], dtype="timedelta64[ms]"), "arrow-numpy"),
    "big_endian": (np.arange(3, dtype=">f8"), "arrow-numpy"),
    "empty_2d": (np.empty((0, 3)), "arrow-numpy"),
    "object": (np.array([1, "a", None], dtype=object), "pickle"),
    "structured": (np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]), "pickle"),
    "zero_d": (np.array(3.5), "pickle"),
    "unicode": (np.array(["ab", "c"]), "pickle"),
}


def _chunked_table() -> pa.Table:
    table = pa.concat_tables([pa.table({"a": [1, 2], "s": ["x", None]})] * 2)
    return table.replace_schema_metadata({b"owner": b"me"})


OTHER_CASES = {
    "arrow_table": (_chunked_table(), "arrow-table"),
    "arrow_table_nested": (
        pa.table({"l": [[1, 2], None, []], "m": [{"k": 1}, None, {"k": 2}]}),
        "arrow-table",
    ),
    "polars": (
        pl.DataFrame(
            {
                "i": [1, None, 3],
                "s": ["a", "b", None],
                "c": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
                "e": pl.Series(["x", "y", "x"], dtype=pl.Enum(["x", "y", "z"])),
                "t": pl.Series([0, 1, 2]).cast(pl.Datetime("us", "Asia/Tokyo")),
                "l": [[1], [], None],
            }
        ),
        "arrow-polars",
    ),
    "int": (42, "pickle"),
    "none": (None, "pickle"),
    "str": ("hello", "pickle"),
    "nested": ({"a": [1, 2.5, (3, "x")], "b": {1, 2}}, "pickle"),
    "instance": (Point(3), "pickle"),
}


def _roundtrip(store: ArtifactStore, value, expected_format: str) -> None:
    ref = store.put(value, variable="v", step="s")
    assert ref.format == expected_format
    assert ref.size == os.path.getsize(store.path_of(ref.digest))
    assert_same(value, store.get(ref))
    assert_same(value, store.get(ref.digest, verify=False))
    assert_same(value, ArtifactStore(store.root).get(ref.digest))  # no state needed


@pytest.mark.parametrize("name", sorted(PANDAS_CASES))
def test_pandas_frames_round_trip(store, name):
    _roundtrip(store, *PANDAS_CASES[name])


@pytest.mark.parametrize("name", sorted(SERIES_CASES))
def test_pandas_series_round_trip(store, name):
    _roundtrip(store, *SERIES_CASES[name])


@pytest.mark.parametrize("name", sorted(NUMPY_CASES))
def test_numpy_arrays_round_trip(store, name):
    _roundtrip(store, *NUMPY_CASES[name])


@pytest.mark.parametrize("name", sorted(OTHER_CASES))
def test_tables_and_python_values_round_trip(store, name):
    _roundtrip(store, *OTHER_CASES[name])


def test_functions_round_trip_by_value(store):
    offset = 10
    ref = store.put(lambda x: x + offset, variable="f", step="s")
    assert ref.format == "pickle"
    assert store.get(ref)(1) == 11


def test_polars_object_columns_are_unstorable(store):
    # Neither Arrow nor polars' own pickling supports Object columns.
    value = pl.DataFrame({"o": pl.Series([Point(1)], dtype=pl.Object)})
    with pytest.raises(UnstorableValue, match="Object"):
        store.put(value, variable="v", step="s")


def test_subclasses_are_pickled_not_converted(store):
    class MyFrame(pd.DataFrame):
        pass

    value = MyFrame({"a": [1, 2]})
    ref = store.put(value, variable="v")
    assert ref.format == "pickle"
    assert type(store.get(ref)) is MyFrame


def test_loaded_values_are_writable_and_independent_of_the_store(store):
    df = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10)})
    arr = np.arange(10.0).reshape(2, 5)
    df_ref, arr_ref = store.put(df, variable="df"), store.put(arr, variable="arr")

    loaded = store.get(df_ref)
    loaded.iloc[0, 0] = -1.0
    loaded["b"] += 1
    loaded_arr = store.get(arr_ref)
    loaded_arr[0, 0] = -1.0

    assert_same(df, store.get(df_ref))
    assert_same(arr, store.get(arr_ref))
    assert store.verify(df_ref.digest) and store.verify(arr_ref.digest)


def test_files_are_self_describing(store):
    refs = {
        "arrow-pandas": store.put(pd.DataFrame({"a": [1]}), variable="df"),
        "arrow-numpy": store.put(np.arange(3), variable="arr"),
        "pickle": store.put({"k": 1}, variable="d"),
    }
    for fmt, ref in refs.items():
        data = Path(store.path_of(ref.digest)).read_bytes()
        if fmt == "pickle":
            assert data[:2] == b"\x80\x05"
        else:
            assert data[:6] == b"ARROW1"
            schema = pa.ipc.open_file(pa.py_buffer(data)).schema
            assert schema.metadata[b"mlpipe.format"] == fmt.encode()
        assert deserialize(None, data) is not None
        assert deserialize(fmt, data) is not None


def test_layout_and_ref_fields(store, tmp_path):
    df = pd.DataFrame(np.zeros((1000, 5)), columns=list("abcde"))
    ref = store.put(df, variable="df", step="load")
    root = tmp_path / "store"
    assert ref.digest.startswith("b3-")  # BLAKE3, named; spread by the hash's first digits
    assert store.path_of(ref.digest) == str(root / "artifacts" / hex_part(ref.digest)[:2] / ref.digest)
    assert ref.type_name == f"{pd.DataFrame.__module__}.DataFrame"  # module.qualname
    assert ref.summary == "DataFrame 1000×5"
    assert list(store.digests()) == [ref.digest]
    assert list((root / "tmp").iterdir()) == []
    assert ArtifactRef.from_dict(json.loads(json.dumps(ref.to_dict()))) == ref


@pytest.mark.parametrize(
    ("value", "summary"),
    [
        (np.zeros((3, 4)), "ndarray float64 (3, 4)"),
        (5, "int"),
        ([1, 2, 3], "list[3]"),
        ("hello world!", "str[12]"),
        (pa.table({"a": [1, 2]}), "Table 2×1"),
        (pd.Series([1.0, 2.0]), "Series float64 [2]"),
    ],
)
def test_summaries(value, summary):
    assert serialize(value, variable="v")[2] == summary


def test_serialize_matches_put_and_content_hash(store):
    for value in (pd.DataFrame({"a": [1.5, 2.5]}), np.arange(4), [1, 2], pa.table({"x": [1]})):
        fmt, type_name, summary, payload = serialize(value, variable="v")
        ref = store.put(value, variable="v")
        assert (fmt, type_name, summary) == (ref.format, ref.type_name, ref.summary)
        assert bytes(payload) == Path(store.path_of(ref.digest)).read_bytes()
        assert content_hash(value) == ref.digest
        assert_same(value, deserialize(fmt, payload))


def test_deserialize_rejects_mismatched_format_and_garbage():
    payload = serialize(np.arange(3), variable="a")[3]
    with pytest.raises(ValueError, match="arrow-numpy"):
        deserialize("pickle", payload)
    with pytest.raises(ValueError):
        deserialize(None, b"not an artifact")


def test_identical_values_are_stored_once(store, tmp_path):
    first = store.put(pd.DataFrame({"a": np.arange(100)}), variable="a", step="one")
    second = store.put(pd.DataFrame({"a": np.arange(100)}), variable="b", step="two")
    other = store.put(pd.DataFrame({"a": np.arange(101)}), variable="c", step="two")
    assert first.digest == second.digest != other.digest
    assert sorted(store.digests()) == sorted({first.digest, other.digest})
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_content_hash_detects_in_place_mutation(store):
    df = pd.DataFrame({"a": np.arange(5.0), "b": list("vwxyz")})
    ref = store.put(df, variable="df")
    assert content_hash(df, variable="df") == ref.digest
    df.loc[2, "a"] = 99.0
    mutated = content_hash(df, variable="df")
    assert mutated != ref.digest
    assert store.put(df, variable="df").digest == mutated

    arr = np.zeros(4)
    before = content_hash(arr)
    arr[1] += 1
    assert content_hash(arr) != before

    items = [1, 2]
    before = content_hash(items)
    items.append(3)
    assert content_hash(items) != before


def _flip_byte(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize(
    "value", [pd.DataFrame({"a": np.arange(1000.0)}), np.arange(1000), list(range(1000))]
)
def test_a_damaged_file_is_never_returned(store, value):
    ref = store.put(value, variable="x", step="prep")
    path = store.path_of(ref.digest)
    _flip_byte(path, os.path.getsize(path) // 2)

    assert store.exists(ref.digest)
    assert not store.verify(ref.digest)
    with pytest.raises(ArtifactCorrupt) as info:
        store.get(ref)
    err = info.value
    assert err.digest == ref.digest
    assert ref.digest in str(err) and path in str(err)
    assert "re-run" in err.hint

    # Storing the value again repairs the damaged copy.
    assert store.put(value, variable="x", step="prep").digest == ref.digest
    assert store.verify(ref.digest)
    assert_same(value, store.get(ref))


def test_unreadable_bytes_are_corrupt_even_without_verification(store):
    ref = store.put(np.arange(100), variable="a")
    _flip_byte(store.path_of(ref.digest), 0)  # breaks the ARROW1 magic
    with pytest.raises(ArtifactCorrupt):
        store.get(ref, verify=False)

    ref = store.put(np.arange(7), variable="b")
    Path(store.path_of(ref.digest)).write_bytes(b"")
    assert not store.verify(ref.digest)
    with pytest.raises(ArtifactCorrupt):
        store.get(ref)


def test_a_deleted_file_is_missing(store):
    ref = store.put({"x": 1}, variable="d")
    store.delete(ref.digest)
    store.delete(ref.digest)  # twice is fine
    assert not store.exists(ref.digest)
    assert not store.verify(ref.digest)
    with pytest.raises(ArtifactMissing) as info:
        store.get(ref)
    assert info.value.digest == ref.digest and ref.digest in str(info.value)
    assert list(store.digests()) == []


def test_an_empty_store_needs_no_directory(tmp_path):
    store = ArtifactStore(tmp_path / "never-written")
    assert list(store.digests()) == []
    assert not store.exists("0" * 64)
    assert not (tmp_path / "never-written").exists()
    with pytest.raises(ArtifactMissing):
        store.get("0" * 64)


@pytest.mark.parametrize(
    "bad", ["", "abc", "../" + "0" * 61, "A" * 64, "b3-" + "0" * 63, "B3-" + "0" * 64,
            "sha256-" + "0" * 64, "b3-" + "0" * 64 + "/..", "0" * 65],
)
def test_malformed_digests_are_rejected(store, bad):
    with pytest.raises(ValueError, match="digest"):
        store.get(bad)
    with pytest.raises(ValueError, match="digest"):
        store.path_of(bad)


def _generator():
    yield 1


UNSTORABLE = {
    "generator": lambda tmp: (_generator(), "generator"),
    "open_file": lambda tmp: (open(tmp / "f.txt", "w"), "_io.TextIOWrapper"),
    "lock": lambda tmp: (threading.Lock(), "_thread.lock"),
    "socket": lambda tmp: (socket.socket(), "socket.socket"),
    "sqlite": lambda tmp: (sqlite3.connect(":memory:"), "sqlite3.Connection"),
    "nested_lock": lambda tmp: ({"cfg": 1, "lock": threading.Lock()}, "dict"),
}


@pytest.mark.parametrize("kind", sorted(UNSTORABLE))
def test_unstorable_values_name_the_variable_and_the_step(store, tmp_path, kind):
    value, shown = UNSTORABLE[kind](tmp_path)
    try:
        with pytest.raises(UnstorableValue) as info:
            store.put(value, variable="f", step="load")
        err = info.value
        assert err.variable == "f" and err.step == "load"
        assert err.type_name.endswith(shown.split(".")[-1])
        assert err.message.startswith("Step 'load' defines 'f' (a")
        assert f"{shown})" in err.message
        assert "cannot be stored to pass it to another step: " in err.message
        assert "(_f)" in err.hint
        assert isinstance(err.__cause__, Exception)

        for call in (serialize, content_hash):
            with pytest.raises(UnstorableValue):
                call(value, variable="f", step="load")
    finally:
        if hasattr(value, "close"):
            value.close()
    assert list(store.digests()) == []


def test_unstorable_message_without_a_step():
    with pytest.raises(UnstorableValue) as info:
        serialize(threading.Lock(), variable="lk")
    assert info.value.message.startswith("'lk' (an _thread.lock) cannot be stored")
    assert info.value.step is None


def test_file_uri_root_works_like_a_path(tmp_path):
    root = tmp_path / "uri store"
    uri_store = ArtifactStore(root.as_uri())
    value = pd.DataFrame({"a": [1, 2, 3]})
    ref = uri_store.put(value, variable="df", step="s")
    where = root / "artifacts" / hex_part(ref.digest)[:2] / ref.digest
    assert where.is_file()
    assert uri_store.path_of(ref.digest) == str(where)
    assert_same(value, uri_store.get(ref))
    assert uri_store.verify(ref.digest) and uri_store.exists(ref.digest)

    path_store = ArtifactStore(root)
    assert list(path_store.digests()) == [ref.digest]
    assert_same(value, path_store.get(ref.digest))
    uri_store.delete(ref.digest)
    assert not path_store.exists(ref.digest)


def test_threads_putting_the_same_value(store):
    value = pd.DataFrame(np.random.default_rng(1).random((50_000, 4)), columns=list("abcd"))
    digests: list[str] = []
    threads = [
        threading.Thread(target=lambda: digests.append(store.put(value, variable="v").digest))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(digests)) == 1 and len(digests) == 4
    assert store.verify(digests[0])


def _concurrent_value() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    return pd.DataFrame(rng.random((400_000, 8)), columns=[f"c{i}" for i in range(8)])  # 25 MB


def _put_repeatedly(root: str, times: int, start, results) -> None:
    from jupyter_mlpipe.store.artifacts import ArtifactStore

    value = _concurrent_value()
    store = ArtifactStore(root)
    start.wait()
    results.put([store.put(value, variable="df", step="p").digest for _ in range(times)])


def test_two_processes_putting_the_same_value(tmp_path):
    root = str(tmp_path / "store")
    expected = content_hash(_concurrent_value())
    final = ArtifactStore(root).path_of(expected)
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_put_repeatedly, args=(root, 5, start, results)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()

    # While they write, whatever is at the final path is always complete.
    checks = 0
    deadline = time.monotonic() + 120
    reader = ArtifactStore(root)
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        if os.path.exists(final):
            assert reader.verify(expected)
            checks += 1
        time.sleep(0.005)
    assert checks > 0
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    assert all(d == expected for digests in got for d in digests)
    assert list(reader.digests()) == [expected]
    assert reader.verify(expected)
    assert list((tmp_path / "store" / "tmp").iterdir()) == []
    assert_same(_concurrent_value(), reader.get(expected))


def test_importing_the_module_loads_no_heavy_package():
    code = (
        "import sys, jupyter_mlpipe.store.artifacts as a, jupyter_mlpipe.store.codec\n"
        "a.ArtifactStore('somewhere')\n"
        "heavy = [m for m in ('pyarrow', 'pandas', 'numpy', 'polars', 'cloudpickle', 'blake3')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_public_names():
    assert sorted(artifacts.__all__) == sorted(
        [
            "ARROW_FORMATS",
            "FORMATS",
            "ArtifactRef",
            "ArtifactStore",
            "content_hash",
            "deserialize",
            "serialize",
        ]
    )
