"""Start-up benchmark (issue 14): a 10-step chain as a whole `mlpipe run` process. Ratios, not asserts.

    .venv/bin/python bench/start_bench.py [--metaflow PYTHON]

Side by side, in one run, each case a fresh shell process with no earlier run in its store:

1. the first run ever on the machine: no local Ray head yet (it is started by the run);
2. the local head up without step executors (MLPIPE_EXECUTOR_IDLE_S=0: cold Ray workers);
3. the local head up and warm (the median of three more runs, each in a new folder);
4. `--private-ray`: a Ray of the process's own, as every run was before the shared head;
5. Metaflow's local runner on the same chain (`python chain.py run`), when a Python with
   Metaflow is given (`--metaflow /path/to/python`; e.g. a venv with `pip install "metaflow>=2.19,<2.20"`);
6. the warm per-step overhead: a 50-step against a 10-step chain through the Python API, head up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from conftest import write_notebook  # noqa: E402

MLPIPE = str(Path(sys.executable).parent / "mlpipe")


def chain(n: int) -> list[str]:
    return ["%%step s0\nv0 = 0", *[f"%%step s{i}\nv{i} = v{i - 1} + 1" for i in range(1, n)]]


def mlpipe_run(folder: Path, env: dict, *args: str) -> float:
    path = write_notebook(folder / "chain.ipynb", chain(10))
    t = time.perf_counter()
    out = subprocess.run([MLPIPE, "run", str(path), *args], capture_output=True, text=True, env=env, timeout=600)
    took = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"mlpipe run failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return took


METAFLOW_CHAIN = '''
from metaflow import FlowSpec, step


class Chain(FlowSpec):
    @step
    def start(self):
        self.v = 0
        self.next(self.s1)
{steps}
    @step
    def end(self):
        print(self.v)


if __name__ == "__main__":
    Chain()
'''


def metaflow_run(folder: Path, python: str) -> float:
    steps = ""
    for i in range(1, 11):
        following = f"self.s{i + 1}" if i < 10 else "self.end"
        steps += f"\n    @step\n    def s{i}(self):\n        self.v += 1\n        self.next({following})\n"
    (folder / "chain.py").write_text(METAFLOW_CHAIN.format(steps=steps))
    env = {**os.environ, "USERNAME": "bench", "METAFLOW_DEFAULT_DATASTORE": "local"}
    t = time.perf_counter()
    out = subprocess.run([python, "chain.py", "--quiet", "run"], cwd=folder, capture_output=True, text=True,
                         env=env, timeout=600)
    took = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"metaflow failed:\n{out.stderr[-2000:]}")
    return took


def per_step_overhead(tmp: Path, env: dict) -> float:
    code = (
        "import sys, time, jupyter_mlpipe as m\nfrom conftest import write_notebook\nfrom pathlib import Path\n"
        f"sys.path.insert(0, {str(HERE)!r})\nfrom start_bench import chain\n"
        "def once(n, folder):\n"
        "    Path(folder).mkdir()\n    p = write_notebook(Path(folder) / 'c.ipynb', chain(n))\n"
        "    m.run(p)  # warms the executors\n"
        "    t = time.perf_counter(); r = m.run(p, force=True); return time.perf_counter() - t\n"
        f"a = once(10, {str(tmp / 'o10')!r}); b = once(50, {str(tmp / 'o50')!r})\nprint((b - a) / 40)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600,
                         cwd=HERE.parent / "tests")
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metaflow", metavar="PYTHON", help="a Python that has Metaflow installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlpb") as name:
        tmp = Path(name)
        home = tmp / "h"
        env = {k: v for k, v in os.environ.items() if k not in ("MLPIPE_RAY_ADDRESS", "RAY_ADDRESS")}
        env["MLPIPE_RAY_HOME"] = str(home)
        rows: list[tuple[str, float]] = []
        try:
            rows.append(("first run ever (starts the local head)", mlpipe_run(_mk(tmp, "a"), env)))
            rows.append(("local head up, no executors (IDLE_S=0)", mlpipe_run(_mk(tmp, "b"), {**env, "MLPIPE_EXECUTOR_IDLE_S": "0"})))
            warm = [mlpipe_run(_mk(tmp, f"w{i}"), env) for i in range(4)][1:]
            rows.append(("local head up, warm (median of 3)", statistics.median(warm)))
            rows.append(("--private-ray (a Ray of its own)", mlpipe_run(_mk(tmp, "p"), env, "--private-ray")))
            if args.metaflow:
                metaflow_run(_mk(tmp, "m0"), args.metaflow)  # its first run creates its datastore
                rows.append(("Metaflow local runner", metaflow_run(_mk(tmp, "m"), args.metaflow)))
            overhead = per_step_overhead(tmp, env)
        finally:
            subprocess.run([MLPIPE, "ray", "stop"], env=env, capture_output=True, timeout=120)
    metaflow = dict(rows).get("Metaflow local runner")
    print(f"{'10-step chain, whole `mlpipe run` process':45} {'time':>8} {'vs Metaflow':>12}")
    for label, took in rows:
        ratio = f"{took / metaflow:.2f}x" if metaflow else "-"
        print(f"{label:45} {took:7.2f}s {ratio:>12}")
    print(f"warm per-step overhead (50- vs 10-step chain, Python API): {overhead * 1000:.1f} ms")


def _mk(tmp: Path, name: str) -> Path:
    folder = tmp / name
    folder.mkdir()
    return folder


if __name__ == "__main__":
    main()
