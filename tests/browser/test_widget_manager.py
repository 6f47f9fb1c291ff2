"""The run panel outside JupyterLab and Notebook: the standalone widget manager, in Chromium.

Front ends other than Jupyter's own (VS Code's notebook renderer among them) render
widgets with a manager built on `@jupyter-widgets/html-manager`, and load a widget's
JavaScript as an AMD module from the kernel's environment
(`share/jupyter/nbextensions/<module>/index.js`) when they cannot reach a CDN. This test
does the same: the state of a finished run's panel, saved as the widget state that a
notebook or an exported page carries, rendered by html-manager with anywidget's AMD
module, in headless Chromium. There is no Jupyter page there, so the executed notebook
shows as a path instead of a link. VS Code itself is not run here.

The two npm packages come from tests/browser/widget-manager/fetch.sh (bash tests/run.sh
runs it); without them the test is skipped, or fails under CI.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import sys
import threading
from pathlib import Path

import pytest

from conftest import write_notebook  # tests/conftest.py

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

VENDOR = Path(__file__).resolve().parent / "widget-manager" / "vendor"
EMBED = VENDOR / "html-manager" / "dist" / "embed-amd.js"
REQUIRE = VENDOR / "requirejs" / "require.js"
NBEXTENSIONS = Path(sys.prefix) / "share" / "jupyter" / "nbextensions"

PIPELINE = [
    {"source": "n = 8", "tags": ["parameters"]},
    "%%step load\ndata = list(range(n))\nprint('loaded', len(data))",
    "%%step train\nfrom jupyter_mlpipe import log_metric\n\nfor epoch in range(6):\n"
    "    log_metric('loss', 1 / (epoch + 1), step=epoch)\nmodel = sum(data)",
    "%%step report\nratio = model / (len(data) - n)",  # fails: ZeroDivisionError
]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>mlpipe run panel, standalone widget manager</title>
<script src="vendor/requirejs/require.js"></script>
<script>require.config({{ paths: {{ anywidget: "nbextensions/anywidget/index" }} }});</script>
<script src="vendor/html-manager/dist/embed-amd.js" data-jupyter-widgets-cdn-only-not-set></script>
<script type="application/vnd.jupyter.widget-state+json">{state}</script>
</head><body style="width: 1100px">
<script type="application/vnd.jupyter.widget-view+json">{view}</script>
</body></html>
"""


def _vendored() -> None:
    missing = [str(p) for p in (EMBED, REQUIRE, NBEXTENSIONS / "anywidget" / "index.js") if not p.is_file()]
    if missing:
        message = (f"missing {', '.join(missing)}: run bash tests/browser/widget-manager/fetch.sh "
                   "(bash tests/run.sh does), and install the package with its dependencies (anywidget)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def site(tmp_path):
    """A local web server for the page, the vendored packages and the kernel's nbextensions."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "vendor").symlink_to(VENDOR, target_is_directory=True)
    (root / "nbextensions").symlink_to(NBEXTENSIONS, target_is_directory=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_run_panel_renders_and_responds_in_the_standalone_widget_manager(browser, site, tmp_path, ray_address,
                                                                           artifacts):
    _vendored()
    import jupyter_mlpipe
    from ipywidgets.embed import embed_data
    from jupyter_mlpipe.panel import show_plan

    nb = tmp_path / "pipe.ipynb"
    write_notebook(nb, PIPELINE)
    run = jupyter_mlpipe.run(nb)
    assert run.status == "failed"
    panel = show_plan(run.plan, run, history=run._history)
    # all of the state, the widget's code (_esm, _css) included: what a saved notebook carries
    data = embed_data(views=[panel], drop_defaults=False)
    root, base = site
    (root / "index.html").write_text(PAGE.format(state=json.dumps(data["manager_state"]).replace("</", "<\\/"),
                                                 view=json.dumps(data["view_specs"][0])))

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(f"{base}/index.html")
        shown = page.locator(f"[data-testid='mlpipe-run-panel'][data-run-id='{run.id}'][data-run-status='failed']")
        shown.wait_for(timeout=60_000)
        states = dict(shown.locator("g.mlpw-node[data-step]").evaluate_all(
            "els => els.map(e => [e.dataset.step, e.dataset.status])"))
        assert states == {"load": "succeeded", "train": "succeeded", "report": "failed"}
        assert shown.locator("g.mlpw-node[data-step='report'] text.mlpw-icon").text_content() == "✗"
        assert "data" in shown.locator("g.mlpw-labels").text_content()

        # the details of a step, its metric plot, and its executed notebook as a path (no Jupyter page here)
        shown.locator("g.mlpw-node[data-step='train']").click()
        details = shown.locator("[data-testid='mlpipe-step-details'][data-step='train']")
        details.wait_for(timeout=10_000)
        chart = details.locator(".mlpw-metric[data-metric='loss'] .mlpw-chart[data-x-ticks]")
        chart.wait_for(timeout=10_000)
        seen = chart.evaluate(CHART)
        assert seen["series"] == ["train"] and seen["xAxisInk"] > 50 and seen["yAxisInk"] > 50
        assert [float(t) for t in seen["xTicks"]][0] == 0 and float(seen["xTicks"][-1]) == 5  # epochs 0-5
        assert details.locator("a.mlpw-nblink").count() == 0
        path = details.locator("h4:text-is('Executed notebook') + div code.mlpw-nbpath").inner_text()
        assert path == run.steps["train"].notebook_path and Path(path).is_file()

        # the failed step: the user's traceback
        shown.locator("g.mlpw-node[data-step='report']").click()
        details = shown.locator("[data-testid='mlpipe-step-details'][data-step='report']")
        details.wait_for(timeout=10_000)
        assert "ZeroDivisionError" in details.locator("pre.mlpw-error").inner_text()
        shown.screenshot(path=str(artifacts / "standalone-widget-manager.png"))
    finally:
        page.close()
    assert not [e for e in errors if "mlp" in e or "anywidget" in e or "blob:" in e], errors


def _render(page, site, widget, body_style: str = "") -> None:
    from ipywidgets.embed import embed_data

    data = embed_data(views=[widget], drop_defaults=False)
    root, base = site
    html = PAGE.format(state=json.dumps(data["manager_state"]).replace("</", "<\\/"),
                       view=json.dumps(data["view_specs"][0]))
    name = f"page-{len(list(root.glob('page-*.html')))}.html"  # a new address: no cached page
    (root / name).write_text(html.replace('<body style="', f'<body style="{body_style}'))
    page.goto(f"{base}/{name}")


def _overlaps(boxes: list[dict], pad: float = 0.0) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if (a["x"] < b["x"] + b["w"] - pad and b["x"] < a["x"] + a["w"] - pad
                    and a["y"] < b["y"] + b["h"] - pad and b["y"] < a["y"] + a["h"] - pad):
                found.append((a["name"], b["name"]))
    return found


BOXES = """(sel) => [...document.querySelectorAll(sel)].map((e, i) => {
  const b = e.getBBox();
  const g = e.closest('[data-step]');
  return { name: (g ? g.dataset.step : '') + ':' + (e.textContent || i), x: b.x, y: b.y, w: b.width, h: b.height };
})"""


def test_a_50_step_plan_with_a_20_wide_fan_out_renders_legibly(browser, site, artifacts):
    """What the browser draws, not only what the layout computes: no node overlaps another, and no
    edge label overlaps a node or another label, for 50 steps with 20 in parallel."""
    _vendored()
    from jupyter_mlpipe.panel import show_plan
    from jupyter_mlpipe.plan import Pipeline

    cells = ["%%step load\ndata = list(range(100))"]
    cells += [f"%%step model_{i:02d}\nscore_{i:02d} = sum(data) * {i}" for i in range(20)]
    cells.append("%%step compare\nbest = max([" + ", ".join(f"score_{i:02d}" for i in range(20)) + "])")
    previous = "best"
    for i in range(28):
        cells.append(f"%%step report_{i:02d}\nr{i} = {previous} + 1")
        previous = f"r{i}"
    plan = Pipeline.from_sources(cells)
    assert len(plan.steps) == 50
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _render(page, site, show_plan(plan))
        panel = page.locator("[data-testid='mlpipe-run-panel']")
        panel.locator("g.mlpw-node[data-step]").nth(49).wait_for(timeout=60_000)
        assert panel.locator("g.mlpw-node[data-step]").count() == 50
        assert panel.locator("g.mlpw-node[data-status='pending']").count() == 50
        nodes = page.evaluate(BOXES, "g.mlpw-node rect.mlpw-box")
        labels = page.evaluate(BOXES, "g.mlpw-labels text")
        assert len(nodes) == 50 and labels
        assert not _overlaps(nodes), _overlaps(nodes)[:5]
        assert not _overlaps(labels, pad=0.5), _overlaps(labels, pad=0.5)[:5]
        assert not _overlaps(nodes + labels, pad=0.5), _overlaps(nodes + labels, pad=0.5)[:5]
        # the 20 parallel steps share one layer: one place along the layers, 20 across them (a column
        # left to right; a row top to bottom, which this graph gets: it needs less shrinking so)
        fan = [b for b in nodes if b["name"].startswith("model_")]
        direction = panel.locator("svg[data-direction]").first.get_attribute("data-direction")
        along, across = ("x", "y") if direction == "LR" else ("y", "x")
        assert len({round(b[along]) for b in fan}) == 1 and len({round(b[across]) for b in fan}) == 20
        # every node's name is drawn whole
        names = panel.locator("g.mlpw-node text.mlpw-name").all_text_contents()
        assert sorted(names) == sorted(plan.steps)
        panel.screenshot(path=str(artifacts / "standalone-50-steps.png"))
    finally:
        page.close()


def test_the_panel_takes_the_colours_of_a_dark_vs_code_theme(browser, site):
    """VS Code gives its webviews the theme as --vscode-* variables; JupyterLab's --jp-* come first."""
    _vendored()
    from jupyter_mlpipe.panel import show_plan
    from jupyter_mlpipe.plan import Pipeline

    plan = Pipeline.from_sources(["%%step load\nx = 1", "%%step train\ny = x + 1"])
    dark = ("--vscode-editor-background: #1e1e1e; --vscode-editor-foreground: #d4d4d4; "
            "--vscode-descriptionForeground: #9d9d9d; ")
    page = browser.new_page(viewport={"width": 1000, "height": 600})
    try:
        for style, background, colour in [(dark, "rgb(30, 30, 30)", "rgb(212, 212, 212)"),
                                          ("", "rgb(255, 255, 255)", "rgb(31, 35, 40)"),
                                          (dark + "--jp-layout-color1: #111111; ", "rgb(17, 17, 17)",
                                           "rgb(212, 212, 212)")]:
            _render(page, site, show_plan(plan), body_style=style)
            root = page.locator("[data-testid='mlpipe-run-panel']")
            root.locator("g.mlpw-node[data-step='train']").wait_for(timeout=60_000)
            seen = root.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
            assert seen == [background, colour], (style, seen)
    finally:
        page.close()


# the fan-out notebook's shape: four models after `data`, two pairs of them logging the same metric
FAN_OUT = ["%%step data\nX = list(range(10))"] + [f"%%step {m}\n{m}_score = len(X)" for m in
                                                  ("logreg", "forest", "boosting", "svc")]
FAN_OUT_METRICS = {
    "logreg": {"cv_accuracy": [[0, 0.955], [1, 0.962], [2, 0.948]]},
    "forest": {"test_accuracy": [[10, 0.91], [20, 0.94], [30, 0.952], [40, 0.957]]},
    "boosting": {"test_accuracy": [[i, 0.6 + 0.015 * i] for i in range(1, 21)], "train_loss": [[1, 2.1], [2, 1.4]]},
    "svc": {"cv_accuracy": [[0, 0.93], [1, 0.978], [2, 0.981]]},
}
# what a person sees of a chart: the legend's names and colours, the readout, the tick labels uPlot drew,
# and how much of the canvas under the plot (the x axis' labels) and left of it (the y axis') is painted
CHART = """(box) => {
  const canvas = box.querySelector('canvas');
  const over = box.querySelector('.u-over').getBoundingClientRect(), c = canvas.getBoundingClientRect();
  const ctx = canvas.getContext('2d'), k = canvas.width / c.width;
  const ink = (x, y, w, h) => { const d = ctx.getImageData(x * k, y * k, Math.max(1, w * k), Math.max(1, h * k)).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; };
  return {
    series: [...box.querySelectorAll('.u-legend .u-series')].slice(1).map(r => r.querySelector('.u-label').textContent),
    markers: [...box.querySelectorAll('.u-legend .u-series')].slice(1).map(r => getComputedStyle(r.querySelector('.u-marker')).borderColor),
    values: [...box.querySelectorAll('.u-legend .u-series')].map(r => r.querySelector('.u-value').textContent),
    xTicks: JSON.parse(box.dataset.xTicks || '[]'), yTicks: JSON.parse(box.dataset.yTicks || '[]'),
    width: c.width, height: c.height,
    xAxisInk: ink(over.left - c.left, over.bottom - c.top + 2, over.width, c.bottom - over.bottom - 2),
    yAxisInk: ink(0, over.top - c.top, over.left - c.left - 2, over.height),
    legendColour: getComputedStyle(box.querySelector('.u-legend')).color,
  };
}"""


def test_metric_charts_have_axes_a_legend_and_a_hover_readout(browser, site, artifacts):
    """Step details: a chart per metric name, the other steps logging it on the same axes; below the
    graph (open, as `%pipeline show` has them) every metric's chart. A person reads the axes' tick
    labels, the legend's step names in two colours, and a value under the mouse."""
    _vendored()
    from jupyter_mlpipe.panel import show_plan
    from jupyter_mlpipe.plan import Pipeline

    panel = show_plan(Pipeline.from_sources(FAN_OUT))
    panel.metrics = FAN_OUT_METRICS
    panel.metrics_open = True
    panel.selected = "forest"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        _render(page, site, panel)
        root = page.locator("[data-testid='mlpipe-run-panel']")
        details = root.locator("[data-testid='mlpipe-step-details'][data-step='forest']")
        chart = details.locator(".mlpw-metric[data-metric='test_accuracy']")
        chart.locator(".mlpw-chart[data-x-ticks] canvas").wait_for(timeout=60_000)
        assert details.locator(".mlpw-metric").count() == 1  # forest logs one metric
        assert chart.locator(".mlpw-metric-name").inner_text() == "test_accuracy = 0.957"
        seen = chart.locator(".mlpw-chart").evaluate(CHART)
        assert seen["series"] == ["forest", "boosting"]  # the selected step first, then the graph's order
        assert seen["markers"][0] != seen["markers"][1]
        assert seen["width"] > 300 and seen["height"] > 100
        xs = [float(t) for t in seen["xTicks"]]
        assert len(xs) >= 3 and 1 <= min(xs) <= 10 and 35 <= max(xs) <= 40  # stages 1-20, trees 10-40: one axis
        ys = [float(t) for t in seen["yTicks"]]
        assert len(ys) >= 3 and min(ys) <= 0.7 and max(ys) >= 0.9
        assert seen["xAxisInk"] > 50 and seen["yAxisInk"] > 50  # the tick labels are painted
        assert seen["values"][1] == "–" or seen["values"][1]  # no hover yet
        # hover: the readout shows the values at the mouse (x, forest's and boosting's)
        over = chart.locator(".u-over")
        box = over.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.98, box["y"] + box["height"] / 2)
        page.wait_for_timeout(200)
        values = chart.locator(".mlpw-chart").evaluate(CHART)["values"]
        assert values[0] == "40" and values[1] == "0.957", values
        page.mouse.move(box["x"] + box["width"] * (20 - 1) / (40 - 1), box["y"] + box["height"] / 2)
        page.wait_for_timeout(200)
        values = chart.locator(".mlpw-chart").evaluate(CHART)["values"]
        assert values[0] == "20" and values[1] == "0.94" and values[2] == "0.9", values

        # below the graph: every metric name, each with the steps that log it
        curves = root.locator("[data-testid='mlpipe-run-metrics']")
        assert curves.get_attribute("open") is not None
        assert "3 charts" in curves.locator("summary").inner_text()
        names = {}
        for block in curves.locator(".mlpw-metric").all():
            block.locator(".mlpw-chart[data-x-ticks]").wait_for(timeout=10_000)
            names[block.get_attribute("data-metric")] = block.locator(".mlpw-chart").evaluate(CHART)["series"]
        assert names == {"cv_accuracy": ["logreg", "svc"], "test_accuracy": ["forest", "boosting"],
                         "train_loss": ["boosting"]}
        root.screenshot(path=str(artifacts / "standalone-metric-charts.png"))
    finally:
        page.close()
