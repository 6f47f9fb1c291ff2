"""Sweep benchmark (issue 17): a 12-trial sweep against the same 12 trials as independent `mlpipe run`s.

    .venv/bin/python bench/sweep_bench.py [--quick]

notebooks/fan_out.ipynb swept over n_trees (forest) x n_stages (boosting): `data`, `logreg` and
`svc` read neither, so the sweep runs them once and every trial reuses them. The baseline runs the
same 12 parameter sets one after the other, each a fresh `mlpipe run` process, in a copy of the
notebook with its own store (so it reuses what its earlier runs made, as a user's runs would). Both
use this machine's shared local Ray head, started before the clock starts. Prints wall times and
their ratio (no asserts). --quick: 4 trials.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLPIPE = [sys.executable, "-m", "jupyter_mlpipe.cli"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trees, stages = ([10, 40], [5, 20]) if args.quick else ([10, 20, 30, 40], [5, 10, 20])
    grid = list(itertools.product(trees, stages))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("MLPIPE_RAY_ADDRESS", None)
    subprocess.run([*MLPIPE, "ray", "start"], check=True, env=env, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        swept, single = Path(tmp, "sweep"), Path(tmp, "runs")
        for folder in (swept, single):
            folder.mkdir()
            shutil.copy(ROOT / "notebooks" / "fan_out.ipynb", folder / "fan_out.ipynb")
        t = time.perf_counter()
        out = subprocess.run([*MLPIPE, "sweep", str(swept / "fan_out.ipynb"),
                              "-p", "n_trees=" + ",".join(map(str, trees)),
                              "-p", "n_stages=" + ",".join(map(str, stages)),
                              "--metric", "boosting.test_accuracy", "--goal", "max", "--json"],
                             env=env, capture_output=True, text=True)
        sweep_s = time.perf_counter() - t
        if out.returncode != 0:
            sys.exit(f"the sweep failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout)
        t = time.perf_counter()
        for n_trees, n_stages in grid:
            subprocess.run([*MLPIPE, "run", str(single / "fan_out.ipynb"), "-p", f"n_trees={n_trees}",
                            "-p", f"n_stages={n_stages}", "--json"], check=True, env=env, capture_output=True)
        runs_s = time.perf_counter() - t
    print(f"{len(grid)} trials of notebooks/fan_out.ipynb (n_trees x n_stages), CPUs: {os.cpu_count()}")
    print(f"  mlpipe sweep:                       {sweep_s:7.1f} s  (shared steps {result['shared_steps']} "
          f"ran once; {result['steps_saved']} step runs saved; best {result['best']['params']} "
          f"-> {result['best']['metric']:.4f})")
    print(f"  {len(grid)} independent mlpipe run calls:     {runs_s:7.1f} s")
    print(f"  ratio (independent runs / sweep):   {runs_s / sweep_s:7.2f}x")


if __name__ == "__main__":
    main()
