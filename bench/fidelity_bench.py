"""How often the pipeline gives the notebook's values: the fidelity corpus, counted.

    .venv/bin/python bench/fidelity_bench.py [--variant per-cell|grouped|both] [-k SUBSTRING]

For every case of tests/fidelity (each as written and twice edited) it prints
how many runs were identical to the top-to-bottom run, corrected at run time,
refused loudly, and silently different (must be 0), by category, and the steps
that corrections re-ran. Starts its own local Ray.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fidelity import harness  # noqa: E402
from fidelity.corpus import all_cases  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=["per-cell", "grouped", "both"], default="both")
    parser.add_argument("-k", default="", help="only cases whose id contains this")
    parser.add_argument("--show", action="store_true", help="print every run that was not identical")
    args = parser.parse_args()

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    os.environ["MLPIPE_RAY_ADDRESS"] = ray.get_runtime_context().gcs_address
    variants = {"per-cell": [False], "grouped": [True], "both": [False, True]}[args.variant]
    oracle = harness.Oracle()
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    reruns: collections.Counter = collections.Counter()
    shown = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for case in all_cases():
            if args.k not in case.id:
                continue
            if case.requires and importlib.util.find_spec(case.requires) is None:
                continue
            for grouped in variants:
                folder = Path(tmp) / f"{case.id}-{int(grouped)}"
                for result in harness.check_notebook(case, folder, oracle, grouped=grouped):
                    counts[case.category][result.outcome] += 1
                    reruns[case.category] += result.reruns
                    if result.outcome != "identical":
                        shown.append(result)
    oracle.close()
    elapsed = time.perf_counter() - started
    outcomes = ["identical", "corrected", "refused", "silent", "oracle-failed"]
    print(f"{'category':<12}" + "".join(f"{o:>15}" for o in outcomes) + f"{'steps re-run':>15}")
    total: collections.Counter = collections.Counter()
    for category, counter in sorted(counts.items()):
        total.update(counter)
        print(f"{category:<12}" + "".join(f"{counter[o]:>15}" for o in outcomes) + f"{reruns[category]:>15}")
    print(f"{'all':<12}" + "".join(f"{total[o]:>15}" for o in outcomes) + f"{sum(reruns.values()):>15}")
    print(f"{sum(total.values())} pipeline runs in {elapsed:.0f} s")
    if args.show:
        for r in shown:
            print(f"- {r.notebook}: {r.outcome}: expected {r.expected} got {r.actual}; {r.error or ''} "
                  f"{'; '.join(r.corrections)}"[:600])
    return 1 if total["silent"] or total["oracle-failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
