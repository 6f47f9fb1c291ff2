"""Store benchmark (issue 14, "Faster store"): sha256 against BLAKE3, side by side. Ratios, not asserts.

    .venv/bin/python bench/store_bench.py [--mb 256] [--repeat 3] [--dir DIR] [--json FILE]

1. hashing a buffer of that size in memory: sha256, BLAKE3 on one thread, BLAKE3
   with its own threads (`max_threads=AUTO`, what the store uses);
2. the store with each algorithm, on the same DataFrame (8 float64 columns):
   put, verified get and unverified get throughput (bytes of the artifact per second);
3. the hand-off of that DataFrame through the store (put, then verified get),
   against an in-memory copy (`df.copy()`): the ratio is what passing a value
   between steps costs over copying it.

Times are the best of `--repeat` tries (the median is in the JSON). Each put
writes a new file (the previous copy is deleted first, untimed); gets read what
the put left in the page cache, as the next step on the same machine would.
The store lives in a temporary folder under `--dir` (default: the system's).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def timed(fn: Callable[[], Any], repeat: int, before: Callable[[], Any] | None = None) -> dict:
    """Best and median seconds of `repeat` calls; `before` runs untimed ahead of each."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"best_s": min(times), "median_s": statistics.median(times)}


def gbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e9


def hashing(nbytes: int, repeat: int) -> dict:
    """Section 1: the hashes alone, over one buffer in memory."""
    import hashlib

    import blake3
    import numpy as np

    buf = memoryview(np.random.default_rng(1).integers(0, 256, nbytes, dtype=np.uint8))
    runs = {
        "sha256": lambda: hashlib.sha256(buf).hexdigest(),
        "blake3, 1 thread": lambda: blake3.blake3(buf).hexdigest(),
        "blake3, max_threads=AUTO": lambda: blake3.blake3(buf, max_threads=blake3.blake3.AUTO).hexdigest(),
    }
    out = {}
    for name, fn in runs.items():
        t = timed(fn, repeat)
        out[name] = {**t, "gb_per_s": gbps(nbytes, t["best_s"])}
    return out


def frame(mb: int) -> Any:
    import numpy as np
    import pandas as pd

    rows = mb * 1024 * 1024 // (8 * 8)
    return pd.DataFrame(np.random.default_rng(0).random((rows, 8)), columns=list("abcdefgh"))


def store_runs(df: Any, root: Path, algorithm: str, repeat: int) -> dict:
    """Section 2 and 3 for one algorithm: put, get (verified and not), and the whole hand-off."""
    from jupyter_mlpipe.store.artifacts import ArtifactStore

    store = ArtifactStore(root / algorithm, algorithm=algorithm)
    ref = store.put(df, variable="df")  # warm up: folders made, the file's pages allocated once
    size = ref.size

    def forget() -> None:
        store.delete(ref.digest)

    put = timed(lambda: store.put(df, variable="df"), repeat, before=forget)
    got = timed(lambda: store.get(ref), repeat)
    raw = timed(lambda: store.get(ref, verify=False), repeat)

    def hand_off() -> None:
        store.get(store.put(df, variable="df"))

    both = timed(hand_off, repeat, before=forget)
    return {
        "digest": ref.digest,
        "artifact_bytes": size,
        "put": {**put, "gb_per_s": gbps(size, put["best_s"])},
        "get_verified": {**got, "gb_per_s": gbps(size, got["best_s"])},
        "get_unverified": {**raw, "gb_per_s": gbps(size, raw["best_s"])},
        "hand_off": both,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mb", type=int, default=256, help="size of the DataFrame and of the hashed buffer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the temporary store goes")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    nbytes = args.mb * 1024 * 1024

    import blake3
    import pandas as pd
    import pyarrow as pa

    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "pandas": pd.__version__,
                    "pyarrow": pa.__version__, "blake3": blake3.__version__},
        "mb": args.mb,
        "repeat": args.repeat,
    }
    print(f"{os.cpu_count()} CPUs, {args.mb} MB, best of {args.repeat}")

    results["hashing"] = hashing(nbytes, args.repeat)
    print("\n1. hashing a buffer in memory")
    for name, r in results["hashing"].items():
        print(f"   {name:<26} {r['gb_per_s']:6.2f} GB/s")

    df = frame(args.mb)
    copy = timed(lambda: df.copy(), args.repeat)
    results["copy"] = copy
    with tempfile.TemporaryDirectory(prefix="mlpipe-store-bench-", dir=args.dir) as tmp:
        results["store"] = {alg: store_runs(df, Path(tmp), alg, args.repeat) for alg in ("sha256", "blake3")}
    results["store_dir"] = args.dir or tempfile.gettempdir()

    old, new = results["store"]["sha256"], results["store"]["blake3"]
    print(f"\n2. the store, {old['artifact_bytes'] / 1e6:.0f} MB artifact (GB/s)   sha256   blake3   ratio")
    for key, label in (("put", "put"), ("get_verified", "get, verified"), ("get_unverified", "get, not verified")):
        a, b = old[key]["gb_per_s"], new[key]["gb_per_s"]
        print(f"   {label:<38} {a:6.2f}   {b:6.2f}   {b / a:5.2f}x")

    print(f"\n3. DataFrame hand-off (put + verified get) against df.copy() ({copy['best_s'] * 1000:.0f} ms)")
    for alg in ("sha256", "blake3"):
        s = results["store"][alg]["hand_off"]["best_s"]
        results["store"][alg]["hand_off"]["x_copy"] = s / copy["best_s"]
        print(f"   {alg:<8} {s * 1000:6.0f} ms = {s / copy['best_s']:5.2f}x the copy")
    speedup = old["hand_off"]["best_s"] / new["hand_off"]["best_s"]
    print(f"   blake3 hands the frame on {speedup:.2f}x faster than sha256")

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
