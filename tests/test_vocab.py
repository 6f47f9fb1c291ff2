"""One vocabulary: statuses, their looks, JSON; the front ends' copies agree with `jupyter_mlpipe.vocab`."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from jupyter_mlpipe.vocab import (
    DONE,
    FINISHED,
    LOOKS,
    RUN_LOOKS,
    RUN_STATUSES,
    STEP_STATUSES,
    look_of,
    looks_json,
    to_json,
)

ROOT = Path(__file__).resolve().parents[1]
STATES_TS = ROOT / "labextension" / "src" / "states.ts"
PANEL_CSS = ROOT / "jupyter_mlpipe" / "panel" / "panel.css"
LAB_CSS = ROOT / "labextension" / "style" / "base.css"
PANEL_JS = [ROOT / "jupyter_mlpipe" / "panel" / name for name in ("panel.js", "runs.js")]


def css_colours(path: Path, prefix: str) -> dict[str, str]:
    """The `--PREFIX-STATUS: #rrggbb` custom properties a style sheet defines."""
    pattern = rf"--{prefix}-([a-z]+):\s*(#[0-9a-fA-F]{{6}})\s*;"
    return dict(re.findall(pattern, path.read_text(encoding="utf-8")))


def test_statuses_and_their_subsets():
    assert STEP_STATUSES == ("pending", "running", "succeeded", "reused", "failed", "skipped", "cancelled")
    assert set(FINISHED) <= set(STEP_STATUSES) and set(DONE) <= set(FINISHED)
    assert "pending" not in FINISHED and "running" not in FINISHED
    assert set(LOOKS) == set(STEP_STATUSES) | {"notrun", "excluded"}
    assert set(RUN_LOOKS) == set(RUN_STATUSES)


def test_every_status_has_its_own_icon_and_a_colour():
    icons = [look["icon"] for look in LOOKS.values()]
    assert len(set(icons)) == len(icons)
    for status, look in LOOKS.items():
        assert re.fullmatch(r"#[0-9a-f]{6}", look["color"]), status
        if status in STEP_STATUSES:
            assert look["label"] == status


def test_look_of_unknown_and_missing_statuses():
    assert look_of(None) == LOOKS["notrun"]
    assert look_of("failed") == LOOKS["failed"]
    assert look_of("weird") == {"icon": "?", "label": "weird", "color": LOOKS["excluded"]["color"]}


def test_looks_json_is_what_the_front_ends_get():
    looks = looks_json()
    assert json.loads(json.dumps(looks)) == looks
    assert {k: looks[k] for k in LOOKS} == LOOKS
    assert looks["interrupted"]["icon"] == "⚡"
    looks["failed"]["icon"] = "changed"  # a copy: the vocabulary itself stays as it is
    assert LOOKS["failed"]["icon"] == "✗"


# --------------------------------------------------------------------------- the front ends' copies


def test_states_ts_agrees_with_the_vocabulary():
    text = STATES_TS.read_text(encoding="utf-8")
    table = dict((status, (icon, label, colour)) for status, icon, label, colour in re.findall(
        r"^\s*(\w+): \['([^']*)', '([^']*)', '(#[0-9a-f]{6})'\],?$", text, flags=re.M))
    assert table == {status: (look["icon"], look["label"], look["color"]) for status, look in LOOKS.items()}
    statuses = re.search(r"export const STATUSES: readonly Status\[\] = \[(.*?)\];", text, flags=re.S)
    assert statuses is not None
    assert tuple(re.findall(r"'(\w+)'", statuses.group(1))) == STEP_STATUSES
    status_type = re.search(r"export type Status =(.*?);", text, flags=re.S)
    assert status_type is not None
    assert tuple(re.findall(r"'(\w+)'", status_type.group(1))) == STEP_STATUSES


@pytest.mark.parametrize("sheet, prefix, needed", [
    (PANEL_CSS, "mlpw", set(STEP_STATUSES) | {"excluded"}),  # the run panel never shows "not run yet"
    (LAB_CSS, "mlp", set(LOOKS)),
])
def test_the_style_sheets_agree_with_the_vocabulary(sheet, prefix, needed):
    colours = css_colours(sheet, prefix)
    assert needed <= set(colours), f"{sheet.name} lacks --{prefix}-{sorted(needed - set(colours))}"
    for status, colour in colours.items():
        if status in LOOKS:
            assert colour.lower() == LOOKS[status]["color"], f"{sheet.name}: --{prefix}-{status}"


def test_the_widgets_javascript_restates_no_icons():
    """panel.js and runs.js draw the icons the widget sends (trait `looks`); they keep no table of their own."""
    punctuation = {"·", "–"}  # pending's and excluded's icons are also the text's separators and blanks
    for path in PANEL_JS:
        text = path.read_text(encoding="utf-8")
        for status, look in {**LOOKS, **RUN_LOOKS}.items():
            if look["icon"] not in punctuation:
                assert look["icon"] not in text, f"{path.name} restates the icon of {status!r}"


# --------------------------------------------------------------------------- JSON


class Odd:
    def __str__(self) -> str:
        return "odd"


def test_to_json_makes_plain_json():
    value = {
        "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "x": 1.5, "n": 3, "b": True, "none": None,
        "tuple": (1, (2, 3)), "set": {4}, 5: "int key", "odd": Odd(), "nested": [{"deep": math.nan}],
    }
    assert to_json(value) == {
        "nan": None, "inf": None, "-inf": None, "x": 1.5, "n": 3, "b": True, "none": None,
        "tuple": [1, [2, 3]], "set": [4], "5": "int key", "odd": "odd", "nested": [{"deep": None}],
    }
    json.dumps(to_json(value), allow_nan=False)


def test_to_json_reads_numpy_scalars_as_numbers():
    np = pytest.importorskip("numpy")
    assert to_json({"i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True), "nan": np.float64("nan")}) == {
        "i": 3, "f": 0.5, "b": True, "nan": None}
    assert to_json(np.array([1, 2])) == "[1 2]"  # not a scalar: its str(), as any unknown value
