"""Run panel benchmark (issue 5). Ratios and counts, not asserts.

    .venv/bin/python bench/panel_bench.py

1. what the panel costs the run: a 50-step chain of trivial steps on a warm Ray, with the panel
   following it and without (the panel is the only listener; min of 3 each);
2. how many widget messages that run sends (the comm is counted, as in a kernel);
3. the work done on the run's thread per step event (the listener only marks what changed),
   and one flush of a 50-step panel (what the timer thread does at most 5 times a second).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from conftest import write_notebook  # noqa: E402
from run_bench import chain  # noqa: E402


def counting_comm_class():
    """A comm that stands for the kernel's and counts the messages a widget publishes."""
    from comm.base_comm import BaseComm

    class CountingComm(BaseComm):
        sent = 0

        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            if msg_type == "comm_msg":
                CountingComm.sent += 1

    return CountingComm


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    import comm

    import jupyter_mlpipe
    from jupyter_mlpipe.execute.ray_backend import ensure_ray
    from jupyter_mlpipe.panel import RunPanel

    CountingComm = counting_comm_class()
    comm.create_comm = lambda *a, **k: CountingComm(*a, **k)
    tmp = Path(tempfile.mkdtemp(prefix="mlpipe-panel-bench-"))
    ensure_ray(os.environ.get("MLPIPE_RAY_ADDRESS"))
    nb = write_notebook(tmp / "chain50.ipynb", chain(50))
    jupyter_mlpipe.run(nb, force=True)  # warm the workers

    bare = min(_timed(lambda: jupyter_mlpipe.run(nb, force=True)) for _ in range(3))
    panels: list = []

    def with_panel() -> None:
        panel = RunPanel()
        panels.append(panel)
        jupyter_mlpipe.run(nb, force=True, listeners=[panel.listener])
        deadline = time.monotonic() + 5
        while panel._timer is not None and time.monotonic() < deadline:  # the last update is sent
            time.sleep(0.01)

    CountingComm.sent = 0
    shown = min(_timed(with_panel) for _ in range(3))
    per_run = CountingComm.sent / 3
    print(f"50-step chain: {bare:.2f} s without the panel, {shown:.2f} s with it "
          f"({(shown - bare) / bare * 100:+.1f} %); {per_run:.0f} widget messages per run "
          f"(100 step events), {panels[-1].updates} panel updates in the last run")

    # the listener, on the run's thread, and one flush (the timer thread)
    panel = panels[-1]
    run = panel._run
    step = next(iter(run.steps.values()))
    n = 20000  # the run is the one the panel follows: each event only marks the step as changed
    t = time.perf_counter()
    for _ in range(n):
        panel.listener(run, "step", step)
    per_event = (time.perf_counter() - t) / n
    flush = min(_timed(lambda: (setattr(panel, "_all_dirty", True), panel.flush())) for _ in range(20))
    print(f"listener: {per_event * 1e6:.1f} us per step event on the run's thread; "
          f"one full flush of a 50-step panel: {flush * 1000:.1f} ms (at most 5 a second, off the run's thread)")


if __name__ == "__main__":
    main()
