"""The run panel widget's and the JupyterLab extension's style sheets share one page and keep apart.

anywidget puts the widget's sheet (jupyter_mlpipe/panel/panel.css) in the page's <head>, beside the
extension's (labextension/style/base.css). Each rule is scoped to its own root, the two use distinct
class names (`mlpw-` for the widget, `mlps-` for the side panel, `mlp-badge`/`mlp-cell-` for the
marks on cells) and distinct custom properties and animations, and the code that draws each front end
uses only its own classes. tests/browser and labextension/ui-tests check what this looks like.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PANEL_CSS = ROOT / "jupyter_mlpipe" / "panel" / "panel.css"
LAB_CSS = ROOT / "labextension" / "style" / "base.css"
# (chart.js draws with the prefix it is given: `mlpw` here, `mlps` in the side panel's chart.ts)
WIDGET_CODE = [ROOT / "jupyter_mlpipe" / "panel" / name for name in ("panel.js", "runs.js")]
# the metric charts: uPlot's sheet (vendored, every selector prefixed by the root) and our theme for it
WIDGET_CHART_CSS = [ROOT / "jupyter_mlpipe" / "panel" / "vendor" / "uPlot.css", ROOT / "jupyter_mlpipe" / "panel" / "chart.css"]
UPLOT_CLASS = re.compile(r"^(uplot|u-[\w-]+)$")
# the side panel (panel.ts) and the modules that draw its parts
SIDE_PANEL_CODE = [ROOT / "labextension" / "src" / name
                   for name in ("panel.ts", "graphview.ts", "panzoom.ts", "stepdetails.ts", "runsview.ts")]
BADGE_CODE = ROOT / "labextension" / "src" / "badges.ts"

# the roots of the extension's rules: a badge, a step cell (JupyterLab's own cell node), the side panel
LAB_ROOTS = (".mlp-badge", ".jp-Notebook .jp-Cell.mlp-cell-", ".mlps-panel")
# an mlpipe class or custom property: mlp-x, mlpw-x, mlps-x (not `mlpipe-...` test ids, not data-mlp-x)
OURS = re.compile(r"(?<![\w-])(mlp[ws]?-[\w-]+)")


def selectors(path: Path) -> list[str]:
    """Every selector of every style rule, outside @keyframes (whose `50%` are no selectors)."""
    text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
    found, stack, prelude = [], [], ""
    for token in re.split(r"([{}])", text):
        if token == "{":
            prelude = prelude.strip()
            if prelude.startswith("@"):
                stack.append("keyframes" if prelude.startswith("@keyframes") else "at")
            elif "keyframes" in stack:
                stack.append("frame")
            else:
                stack.append("rule")
                found += [s.strip() for s in prelude.split(",")]
            prelude = ""
        elif token == "}":
            stack.pop()
            prelude = ""
        else:
            prelude = token
    return found


def classes(selector: str) -> set[str]:
    return set(re.findall(r"\.([\w-]+)", selector))


def custom_properties(path: Path) -> set[str]:
    """The custom properties a sheet defines (not the ones it reads from the host)."""
    return set(re.findall(r"(--[\w-]+)\s*:", path.read_text(encoding="utf-8")))


def animations(path: Path) -> set[str]:
    return set(re.findall(r"@keyframes\s+([\w-]+)", path.read_text(encoding="utf-8")))


def test_every_widget_rule_is_scoped_to_the_widget_root():
    found = selectors(PANEL_CSS)
    assert len(found) > 50
    for selector in found:
        assert selector.startswith(".mlpw-root"), f"panel.css: {selector!r} reaches outside .mlpw-root"
        assert all(c.startswith("mlpw-") for c in classes(selector)), f"panel.css: {selector!r}"
    assert all(p.startswith("--mlpw-") for p in custom_properties(PANEL_CSS))
    assert all(a.startswith("mlpw-") for a in animations(PANEL_CSS))


@pytest.mark.parametrize("path", WIDGET_CHART_CSS, ids=lambda p: p.name)
def test_the_chart_sheets_are_scoped_to_the_widget_root(path):
    """uPlot's classes (uplot, u-*) appear only under .mlpw-root; our theme touches them only in a chart."""
    found = selectors(path)
    assert len(found) > 10
    for selector in found:
        assert selector.startswith(".mlpw-root "), f"{path.name}: {selector!r} reaches outside .mlpw-root"
        theirs = {c for c in classes(selector) if UPLOT_CLASS.match(c)}
        assert all(c.startswith("mlpw-") for c in classes(selector) - theirs), f"{path.name}: {selector!r}"
        if theirs and path.name == "chart.css":
            assert selector.startswith(".mlpw-root .mlpw-chart "), f"{path.name}: {selector!r}"
    assert not custom_properties(path) and not animations(path)


def test_the_side_panels_chart_sheet_is_scoped_to_the_side_panel():
    """labextension/style/uplot.css: uPlot's sheet prefixed by .mlps-panel, and our theme for it."""
    path = ROOT / "labextension" / "style" / "uplot.css"
    found = selectors(path)
    assert len(found) > 10
    for selector in found:
        assert selector.startswith(".mlps-panel "), f"uplot.css: {selector!r} reaches outside .mlps-panel"
        theirs = {c for c in classes(selector) if UPLOT_CLASS.match(c)}
        assert all(c.startswith("mlps-") for c in classes(selector) - theirs), f"uplot.css: {selector!r}"
    assert not custom_properties(path) and not animations(path)


def test_every_extension_rule_is_scoped_to_a_badge_a_step_cell_or_the_side_panel():
    found = selectors(LAB_CSS)
    assert len(found) > 50
    for selector in found:
        assert selector.startswith(LAB_ROOTS), f"base.css: {selector!r} has none of the roots {LAB_ROOTS}"
        ours = {c for c in classes(selector) if not c.startswith("jp-")}
        if selector.startswith(".mlps-panel"):
            assert all(c.startswith("mlps-") for c in ours), f"base.css: {selector!r}"
        else:
            assert all(c.startswith("mlp-") for c in ours), f"base.css: {selector!r}"


def test_the_two_sheets_share_no_class_property_or_animation():
    widget = set().union(*map(classes, selectors(PANEL_CSS)))
    lab = set().union(*map(classes, selectors(LAB_CSS)))
    assert not widget & lab
    assert not custom_properties(PANEL_CSS) & custom_properties(LAB_CSS)
    assert not animations(PANEL_CSS) & animations(LAB_CSS)


@pytest.mark.parametrize("paths, prefix", [
    (WIDGET_CODE, "mlpw-"),
    (SIDE_PANEL_CODE, "mlps-"),
    ([BADGE_CODE], "mlp-"),
], ids=["widget", "side panel", "badges"])
def test_each_front_end_draws_with_its_own_classes(paths, prefix):
    for path in paths:
        names = set(OURS.findall(path.read_text(encoding="utf-8")))
        assert names, path.name
        assert {n for n in names if not n.startswith(prefix)} == set(), path.name


def test_the_designers_rules_are_scoped_to_the_side_panel_or_its_cell_marks():
    sheet = ROOT / "labextension" / "style" / "designer.css"
    found = selectors(sheet)
    assert len(found) > 20
    for selector in found:
        assert selector.startswith((".mlps-panel", ".jp-Notebook .jp-Cell.mlps-cell-")), f"designer.css: {selector!r}"
        assert all(c.startswith("mlps-") for c in classes(selector) if not c.startswith("jp-")), f"designer.css: {selector!r}"
    assert not set().union(*map(classes, found)) & set().union(*map(classes, selectors(PANEL_CSS)))
    for name in ("designer.ts", "designcommands.ts"):
        names = set(OURS.findall((ROOT / "labextension" / "src" / name).read_text(encoding="utf-8")))
        assert {n for n in names if not n.startswith("mlps-")} == set(), name
