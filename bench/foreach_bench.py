"""Fan-out benchmarks (issue 16). Ratios, not asserts.

    .venv/bin/python bench/foreach_bench.py [--elements 1000] [--df-mb 256]

1. 1,000 trivial elements (`y = x * 2`): the fan-out step's time per element once warm (the target is
   at most 10 ms amortised), against the same loop in one process; each timed run gets new elements
   (a parameter shifts them) so nothing is reused;
2. a large DataFrame scored in 16 batches (`--batch-size`, `--gather concat`) against scoring it in one
   process. `--df-mb` sets its size: 256 MB by default on a small (2-core) box, `--df-mb 1024` for the
   issue's 1 GB where memory allows (the store, the driver and the workers each hold copies).

It starts a private Ray with the machine's CPUs (MLPIPE_RAY_ADDRESS, when set, is used instead).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from conftest import write_notebook  # noqa: E402

SCORE = "np.tanh(part.to_numpy() @ W).sum(axis=1)"


def trivial(folder: Path, elements: int, runs: int) -> None:
    import jupyter_mlpipe

    path = write_notebook(folder / "trivial.ipynb", [
        "%load_ext jupyter_mlpipe",
        {"source": "shift = 0", "tags": ["parameters"]},
        f"%%step load\nitems = [i + shift for i in range({elements})]",
        "%%step score --foreach items --as x\ny = x * 2",
    ])
    jupyter_mlpipe.run(path, {"shift": -10**7})  # warm: Ray, executors, imports
    per_element = []
    for r in range(runs):
        run = jupyter_mlpipe.run(path, {"shift": (r + 1) * 10**7})  # new elements: nothing reused
        assert run.status == "succeeded", run.summary()
        step = run.steps["score"]
        info = step.reason["foreach"]
        assert info["ran"] == elements, info
        per_element.append(step.duration / elements)
    ns = {"items": list(range(elements))}
    code = compile("y = x * 2", "<cell>", "exec")
    t = time.perf_counter()
    for x in ns["items"]:
        exec(code, {"x": x})
    loop = (time.perf_counter() - t) / elements
    best = min(per_element)
    print(f"1. {elements} trivial elements, warm: {best * 1000:.2f} ms per element amortised "
          f"(median {statistics.median(per_element) * 1000:.2f} ms over {runs} runs; {info['tasks']} tasks); "
          f"in one process {loop * 1e6:.1f} µs per element; target <= 10 ms: {'met' if best <= 0.010 else 'MISSED'}")


def dataframe(folder: Path, megabytes: int) -> None:
    import numpy as np
    import pandas as pd

    import jupyter_mlpipe

    columns = 8
    rows = megabytes * 1024 * 1024 // (8 * columns)
    batch = -(-rows // 16)
    path = write_notebook(folder / "frame.ipynb", [
        "%load_ext jupyter_mlpipe",
        "import numpy as np\nimport pandas as pd",
        f"%%step load\nrng = np.random.default_rng(0)\n"
        f"df = pd.DataFrame(rng.standard_normal(({rows}, {columns})), columns=[f'c{{i}}' for i in range({columns})])\n"
        f"W = rng.standard_normal(({columns}, 64))",
        f"%%step score --foreach df --as part --batch-size {batch} --gather concat\n"
        f"preds = pd.Series({SCORE}, index=part.index)",
    ])
    t = time.perf_counter()
    run = jupyter_mlpipe.run(path)
    total = time.perf_counter() - t
    assert run.status == "succeeded", run.summary()
    step = run.steps["score"]
    info = step.reason["foreach"]
    df, W = run["df"], run["W"]
    part = df
    t = time.perf_counter()
    expected = pd.Series(eval(SCORE, {"np": np, "part": part, "W": W}), index=df.index)  # noqa: S307
    one = time.perf_counter() - t
    preds = run["preds"]
    assert np.allclose(preds.to_numpy(), expected.to_numpy())
    print(f"2. a {megabytes} MB DataFrame ({rows:,} rows) scored in {info['total']} batches on {info['tasks']} tasks: "
          f"the fan-out step {step.duration:.2f} s (the run {total:.2f} s, with loading it) against "
          f"{one:.2f} s in one process: ratio {step.duration / one:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--elements", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--df-mb", type=int, default=256)
    args = parser.parse_args()
    if not os.environ.get("MLPIPE_RAY_ADDRESS"):
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        os.environ["MLPIPE_RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    with tempfile.TemporaryDirectory() as tmp:
        trivial(Path(tmp), args.elements, args.runs)
        dataframe(Path(tmp), args.df_mb)


if __name__ == "__main__":
    main()
