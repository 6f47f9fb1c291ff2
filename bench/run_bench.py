"""Execution and reuse benchmarks (issues 3 and 4). Ratios, not asserts.

    .venv/bin/python bench/run_bench.py [--quick]

1. per-step overhead of 10- and 50-step chains of trivial steps with Ray up, against the same
   cells in one process and against plain papermill (a kernel per notebook);
2. a 256 MB DataFrame passed between two steps: throughput against an in-memory copy;
3. two independent CPU-bound 2-second steps: wall time against running them one after the other;
4. an unchanged re-run of a 50-step pipeline (Python API, warm), and the whole `mlpipe run` process;
5. a 50-step pipeline with one step edited in the middle, against a full run;
6. a fresh kernel: from `%load_ext jupyter_mlpipe` to the end of a one-step `%pipeline run`
   (the kernel starts its own embedded Ray, as a user's would).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from conftest import write_notebook  # noqa: E402


def chain(n: int) -> list:
    cells = ["%%step s0\nv0 = 0"]
    cells += [f"%%step s{i}\nv{i} = v{i - 1} + 1" for i in range(1, n)]
    return cells


def in_process(cells: list) -> float:
    ns: dict = {}
    bodies = [c.split("\n", 1)[1] for c in cells]
    t = time.perf_counter()
    for body in bodies:
        exec(compile(body, "<cell>", "exec"), ns)
    return time.perf_counter() - t


def plain_papermill(tmp: Path, n: int) -> float:
    import papermill

    nb = write_notebook(tmp / "pm.ipynb", ["x = 1"])
    papermill.execute_notebook(str(nb), str(tmp / "out.ipynb"), progress_bar=False, kernel_name="python3")
    t = time.perf_counter()
    for _ in range(n):
        papermill.execute_notebook(str(nb), str(tmp / "out.ipynb"), progress_bar=False, kernel_name="python3")
    return (time.perf_counter() - t) / n


def main() -> None:
    import jupyter_mlpipe
    from jupyter_mlpipe.execute.ray_backend import ensure_ray

    quick = "--quick" in sys.argv
    tmp = Path(tempfile.mkdtemp(prefix="mlpipe-bench-"))
    t = time.perf_counter()
    ensure_ray(os.environ.get("MLPIPE_RAY_ADDRESS"))
    print(f"ray up in {time.perf_counter() - t:.1f} s")
    results: dict = {}

    # warm the workers
    warm = write_notebook(tmp / "warm.ipynb", chain(4))
    jupyter_mlpipe.run(warm, force=True)

    for n in (10, 50):
        nb = write_notebook(tmp / f"chain{n}.ipynb", chain(n))
        jupyter_mlpipe.run(nb, force=True)
        best = min(_timed(lambda: jupyter_mlpipe.run(nb, force=True)) for _ in range(3))
        base = in_process(chain(n))
        results[f"chain{n}"] = {"total_s": best, "per_step_ms": 1000 * (best - base) / n,
                                "in_process_s": base}
        print(f"{n}-step chain: {best:.2f} s, overhead {1000 * (best - base) / n:.1f} ms/step "
              f"(same cells in one process: {base * 1000:.2f} ms total)")
    if not quick:
        pm = plain_papermill(tmp, 3)
        results["papermill_per_notebook_s"] = pm
        print(f"plain papermill: {pm * 1000:.0f} ms per notebook -> "
              f"{pm * 1000 / results['chain10']['per_step_ms']:.0f}x our per-step overhead")

    # 2. 256 MB DataFrame
    mb = 64 if quick else 256
    rows = mb * 1024 * 1024 // (8 * 8)
    nb = write_notebook(tmp / "big.ipynb", [
        "import numpy as np\nimport pandas as pd",
        f"%%step make\ndf = pd.DataFrame(np.random.default_rng(0).random(({rows}, 8)), columns=list('abcdefgh'))",
        "%%step use\ntotal = float(df['a'].sum())",
    ])
    run = jupyter_mlpipe.run(nb, force=True)
    import numpy as np

    arr = np.random.default_rng(0).random((rows, 8))
    t = time.perf_counter()
    arr.copy()
    copy_s = time.perf_counter() - t
    make, use = run.steps["make"], run.steps["use"]
    results["dataframe"] = {"mb": mb, "make_s": make.duration, "use_s": use.duration, "memcpy_s": copy_s}
    print(f"{mb} MB DataFrame: producing step {make.duration:.2f} s (incl. creating it), consuming step "
          f"{use.duration:.2f} s; in-memory copy {copy_s:.3f} s")

    # 3. two independent CPU-bound 2 s steps
    busy = "import time\nt0 = time.process_time()\nwhile time.process_time() - t0 < 2: pass"
    nb = write_notebook(tmp / "par.ipynb", [f"%%step a --no-cache\n{busy}\na = 1", f"%%step b --no-cache\n{busy}\nb = 1"])
    wall = _timed(lambda: jupyter_mlpipe.run(nb))
    results["parallel"] = {"wall_s": wall, "sequential_s": 4.0}
    print(f"two 2-second CPU steps: {wall:.2f} s wall against 4.0 s one after the other ({4.0 / wall:.2f}x)")

    # 4. unchanged re-run of 50 steps
    nb = write_notebook(tmp / "chain50.ipynb", chain(50))
    jupyter_mlpipe.run(nb)
    rerun = min(_timed(lambda: jupyter_mlpipe.run(nb)) for _ in range(5))
    results["rerun50_api_s"] = rerun
    print(f"unchanged 50-step re-run, Python API in a warm process: {rerun * 1000:.0f} ms")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jupyter_mlpipe.cli", "run", str(nb)], check=True, capture_output=True)
    cli = time.perf_counter() - t
    results["rerun50_cli_s"] = cli
    print(f"unchanged 50-step re-run, whole `mlpipe run` process: {cli:.2f} s")

    # 5. one step edited in the middle
    cells = chain(50)
    cells[25] = cells[25] + "  # edited\nextra = 1"
    write_notebook(nb, cells)
    edited = _timed(lambda: jupyter_mlpipe.run(nb))
    full = _timed(lambda: jupyter_mlpipe.run(nb, force=True))
    results["edit50"] = {"edited_s": edited, "full_s": full}
    print(f"50 steps, one edited in the middle: {edited:.2f} s against a full run {full:.2f} s")
    results["fresh_kernel"] = fresh_kernel(tmp)
    print(json.dumps(results, indent=1))


def fresh_kernel(tmp: Path) -> dict:
    """Time %load_ext -> end of a one-step run inside a new kernel with its own Ray."""
    import nbformat
    from nbclient import NotebookClient

    nb_path = write_notebook(tmp / "fresh.ipynb", [
        "import time\n_t0 = time.perf_counter()\n%load_ext jupyter_mlpipe",
        "%%step one\nx = 1",
        "%pipeline run",
        "%%scratch\nprint(f'ELAPSED {time.perf_counter() - _t0:.2f}')",
    ])
    env_backup = dict(os.environ)
    os.environ.pop("MLPIPE_RAY_ADDRESS", None)
    os.environ["JPY_SESSION_NAME"] = str(nb_path)
    try:
        nb = nbformat.read(nb_path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    elapsed = float(text.split("ELAPSED")[1])
    print(f"fresh kernel: %load_ext to the end of a one-step run {elapsed:.1f} s (includes starting Ray)")
    return {"load_ext_to_run_end_s": elapsed}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
