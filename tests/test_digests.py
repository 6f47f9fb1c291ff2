"""Digests: BLAKE3 for new artifacts, sha256 ones from older versions still load, verify and are collected."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import blake3
import numpy as np
import pandas as pd
import pytest

from jupyter_mlpipe.errors import ArtifactCorrupt
from jupyter_mlpipe.store import digests
from jupyter_mlpipe.store.artifacts import (
    ArtifactRef,
    ArtifactStore,
    content_hash,
    serialize,
)
from jupyter_mlpipe.store.digests import algorithm_of, hash_bytes, hex_part, is_digest
from jupyter_mlpipe.store.gc import collect
from jupyter_mlpipe.store.history import History
from jupyter_mlpipe.store.paths import Store

REPO = Path(digests.__file__).resolve().parents[2]

# Reference values (b3sum and sha256sum of the empty input).
EMPTY_B3 = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def frame(n: int = 1000) -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(n, dtype="float64"), "b": np.arange(n) % 7})


def put_the_old_way(root: Path, value, variable: str = "v") -> ArtifactRef:
    """Store a value exactly as versions before BLAKE3 did: sha256 of the bytes, bare hex, `<2 hex>/<hex>`."""
    fmt, type_name, summary, payload = serialize(value, variable=variable)
    data = bytes(payload)
    digest = hashlib.sha256(data).hexdigest()
    path = root / "artifacts" / digest[:2] / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ArtifactRef(digest, fmt, type_name, len(data), summary)


def flip_middle_byte(path: str) -> None:
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


# ------------------------------------------------------------------ the format


def test_each_digest_names_its_algorithm():
    assert hash_bytes(b"") == "b3-" + EMPTY_B3
    assert hash_bytes(b"", "blake3") == "b3-" + EMPTY_B3
    assert hash_bytes(b"", "sha256") == EMPTY_SHA256
    assert algorithm_of("b3-" + EMPTY_B3) == "blake3"
    assert algorithm_of(EMPTY_SHA256) == "sha256"
    assert hex_part("b3-" + EMPTY_B3) == EMPTY_B3 and hex_part(EMPTY_SHA256) == EMPTY_SHA256
    assert is_digest("b3-" + EMPTY_B3) and is_digest(EMPTY_SHA256)


@pytest.mark.parametrize(
    "bad", [None, 5, "", EMPTY_B3[:-1], "b3-" + EMPTY_B3.upper(), "b3:" + EMPTY_B3,
            "blake3-" + EMPTY_B3, "b3-" + EMPTY_B3 + "#x", " " + EMPTY_SHA256],
)
def test_anything_else_is_not_a_digest(bad):
    assert not is_digest(bad)
    with pytest.raises(ValueError, match="not a content digest"):
        algorithm_of(bad)


def test_an_unknown_algorithm_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown digest algorithm 'md5'.*'blake3', 'sha256'"):
        hash_bytes(b"", "md5")
    with pytest.raises(ValueError, match="md5"):
        ArtifactStore(tmp_path, algorithm="md5")


def test_incremental_hashing_matches_the_whole_buffer():
    data = os.urandom(3 << 20)
    for algorithm in digests.ALGORITHMS:
        hasher = digests.Hasher(algorithm)
        for i in range(0, len(data), 1 << 20):
            hasher.update(memoryview(data)[i:i + (1 << 20)])
        assert hasher.digest() == hash_bytes(data, algorithm)
    assert hash_bytes(data) == "b3-" + blake3.blake3(data).hexdigest()


# ------------------------------------------------------------------ BLAKE3 artifacts


def test_a_blake3_artifact_round_trips_and_can_be_checked_by_hand(tmp_path):
    store = ArtifactStore(tmp_path)
    value = frame()
    ref = store.put(value, variable="df")
    assert algorithm_of(ref.digest) == "blake3"
    path = Path(store.path_of(ref.digest))
    assert path.parent.name == hex_part(ref.digest)[:2]
    assert ref.digest == "b3-" + blake3.blake3(path.read_bytes()).hexdigest()  # what b3sum prints
    assert content_hash(value) == ref.digest
    assert store.verify(ref.digest)
    assert list(store.digests()) == [ref.digest]
    pd.testing.assert_frame_equal(store.get(ref), value)


def test_a_sha256_store_writes_what_older_versions_wrote(tmp_path):
    value = frame()
    old = put_the_old_way(tmp_path / "old", value)
    ref = ArtifactStore(tmp_path / "new", algorithm="sha256").put(value, variable="v")
    assert ref == old
    assert content_hash(value, algorithm="sha256") == old.digest
    assert (tmp_path / "new" / "artifacts" / old.digest[:2] / old.digest).read_bytes() == \
        (tmp_path / "old" / "artifacts" / old.digest[:2] / old.digest).read_bytes()


# ------------------------------------------------------------------ sha256 artifacts of older versions


@pytest.mark.parametrize("value", [frame(), np.arange(100), {"k": [1, 2, 3]}])
def test_a_legacy_sha256_artifact_loads_and_verifies(tmp_path, value):
    ref = put_the_old_way(tmp_path, value)
    store = ArtifactStore(tmp_path)  # a BLAKE3 store reads what older versions wrote
    assert store.exists(ref.digest) and store.verify(ref.digest)
    assert list(store.digests()) == [ref.digest]
    loaded = store.get(ref)
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, value)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(loaded, value, strict=True)
    else:
        assert loaded == value
    assert store.get(ref.digest) is not None


def test_both_kinds_live_side_by_side_and_the_same_value_has_one_digest_per_kind(tmp_path):
    value = frame()
    old = put_the_old_way(tmp_path, value)
    new = ArtifactStore(tmp_path).put(value, variable="v")
    assert hex_part(new.digest) != old.digest
    store = ArtifactStore(tmp_path)
    assert sorted(store.digests()) == sorted([old.digest, new.digest])
    assert store.verify(old.digest) and store.verify(new.digest)


@pytest.mark.parametrize("written", ["blake3", "sha256", "the old way"])
def test_a_corrupted_artifact_is_detected_under_both_algorithms(tmp_path, written):
    value = frame()
    if written == "the old way":
        ref = put_the_old_way(tmp_path, value)
    else:
        ref = ArtifactStore(tmp_path, algorithm=written).put(value, variable="v")
    store = ArtifactStore(tmp_path)
    path = store.path_of(ref.digest)
    flip_middle_byte(path)
    assert store.exists(ref.digest) and not store.verify(ref.digest)
    with pytest.raises(ArtifactCorrupt) as info:
        store.get(ref)
    assert info.value.digest == ref.digest and path in str(info.value)
    actual = hash_bytes(Path(path).read_bytes(), algorithm_of(ref.digest))
    assert f"its bytes hash to {actual}" in str(info.value)  # the same algorithm, so comparable


def test_a_legacy_group_member_loads(tmp_path):
    from jupyter_mlpipe.store.sharing import SharedGroup, member_ref

    shared = [1, 2]
    ref = put_the_old_way(tmp_path, SharedGroup({"a": shared, "b": {"x": shared}}))
    store = ArtifactStore(tmp_path)
    a, b = store.get(member_ref(ref.digest, "a")), store.get(member_ref(ref.digest, "b"))
    group = store.get_group(member_ref(ref.digest, "a"))
    assert a == [1, 2] and b == {"x": [1, 2]}
    assert group.members["a"] is group.members["b"]["x"]


def test_old_history_rows_still_load_and_gc_knows_both_kinds(tmp_path):
    where = Store.for_notebook(tmp_path / "nb.ipynb")
    history = History(where.history_path)
    try:
        legacy = put_the_old_way(Path(where.artifacts_root), frame(), "old_df")
        legacy_orphan = put_the_old_way(Path(where.artifacts_root), [0], "gone")
        store = ArtifactStore(where.artifacts_root)
        fresh = store.put({"new": True}, variable="new")
        fresh_orphan = store.put("nobody needs me", variable="orphan")

        run_id = history.new_run_id()
        history.start_run(run_id, notebook="nb.ipynb", params={}, plan={})
        history.record_step(run_id, "old", status="succeeded",
                            outputs={"old_df": legacy.to_dict()}, inputs={})
        history.record_step(run_id, "new", status="succeeded",
                            outputs={"new": fresh.to_dict()}, inputs={"old_df": legacy.digest})
        history.finish_run(run_id, "succeeded")

        steps = history.get_run(run_id)["steps"]
        for step, name in (("old", "old_df"), ("new", "new")):
            ref = ArtifactRef.from_dict(steps[step]["outputs"][name])
            assert store.verify(ref.digest)
            assert store.get(ref) is not None

        report = collect(history, where)
        assert "removed 2 unreferenced artifact(s)" in report, report
        assert sorted(store.digests()) == sorted([legacy.digest, fresh.digest])
        assert not store.exists(legacy_orphan.digest) and not store.exists(fresh_orphan.digest)
    finally:
        history.close()


def _hash_in_child(data: bytes, queue) -> None:
    queue.put(hash_bytes(data))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # Python 3.12+: forking with threads
def test_a_process_forked_after_hashing_on_threads_still_hashes():
    # BLAKE3's thread pool does not survive a fork: a child that used it would hang
    data = os.urandom(16 << 20)
    expected = hash_bytes(data)  # the parent's pool is running now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_hash_in_child, args=(data, queue))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the forked child hung hashing with the thread pool it inherited")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == expected


def test_importing_digests_loads_no_blake3():
    code = (
        "import sys, jupyter_mlpipe.store.digests as d\n"
        "d.hash_bytes(b'', 'sha256')\n"
        "assert 'blake3' not in sys.modules\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_public_names():
    assert sorted(digests.__all__) == sorted([
        "ALGORITHMS", "CURRENT", "Algorithm", "Hasher", "algorithm_of", "check_algorithm",
        "hash_bytes", "hex_part", "is_digest",
    ])
