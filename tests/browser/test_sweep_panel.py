"""The sweep table in JupyterLab, in Chromium: `%pipeline sweep` fills it in live, marks the best trial.

What a person sees is checked: the trials' rows and statuses, the one best row (★, its
background colour unlike the others'), the metric values and the head line's count, against
the same cells run top to bottom for each value (the notebook is the oracle). The table must survive
the sweep: Ray Tune's own Jupyter reporter clears the cell's output when it starts.
"""

from __future__ import annotations

import re

import pytest

from conftest import write_notebook  # tests/conftest.py
from .test_run_panel import RUN_TIMEOUT_MS, _notebook, _open, _run_all

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

SWEPT = [
    "%load_ext jupyter_mlpipe",
    {"source": "k = 1", "tags": ["parameters"]},
    "%%step data\nxs = list(range(10))",
    "%%step score\nfrom jupyter_mlpipe import log_metric\n\nfor i in range(3):\n"
    "    log_metric('score', -(k - 2) ** 2 + i, step=i)\nscore = -(k - 2) ** 2 + 2 + len(xs)",
    "%pipeline sweep -p k=1,2,3 --metric score --goal max --parallel 1",
]


def test_a_sweep_table_fills_in_and_marks_the_best_trial(page, jupyter, artifacts):
    if jupyter.app != "lab":
        pytest.skip("one front end is enough for the sweep table (the widget is the same in Notebook 7)")
    page.set_viewport_size({"width": 1280, "height": 800})
    write_notebook(jupyter.root / "sweep.ipynb", SWEPT)
    _open(page, jupyter, "sweep.ipynb")
    _run_all(page)
    table = _notebook(page).locator("[data-testid='mlpipe-sweep-table']").first
    table.wait_for(timeout=RUN_TIMEOUT_MS)
    head = table.locator(".mlpw-sweep-head")
    head.filter(has_text="step runs saved").wait_for(timeout=RUN_TIMEOUT_MS)  # the sweep's end
    assert "3/3 trials" in head.inner_text()
    rows = table.locator("tr[data-trial]")
    assert rows.count() == 3
    statuses = [rows.nth(i).get_attribute("data-status") for i in range(3)]
    assert statuses == ["succeeded"] * 3, statuses
    # the oracle: k=2 gives the largest last point of the curve, -(k-2)**2 + 2
    metrics = {rows.nth(i).locator("td").nth(1).inner_text().strip(): rows.nth(i).locator(".mlpw-sweep-metric")
               .inner_text().strip() for i in range(3)}
    assert metrics == {"1": "1", "2": "2", "3": "1"}, metrics
    best = table.locator("tr.mlpw-sweep-best")
    assert best.count() == 1
    assert re.match(r"★\s*2$", best.locator("td").first.inner_text().strip())
    assert best.locator("td").nth(1).inner_text().strip() == "2"  # k of the best trial
    colour = best.evaluate("r => getComputedStyle(r).backgroundColor")
    other = table.locator("tr[data-trial]:not(.mlpw-sweep-best)").first.evaluate(
        "r => getComputedStyle(r).backgroundColor")
    assert colour != other, (colour, other)
    box, viewport = table.bounding_box(), page.viewport_size
    assert box and box["width"] <= viewport["width"], box  # the table fits the window's width
    table.screenshot(path=str(artifacts / "lab-sweep-table.png"))
