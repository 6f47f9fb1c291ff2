"""`why STEP` in words: a step that ran after a code edit (and an input change) reads as one clean sentence.

No Ray and no store: the reuse decision is made against a history that knows one previous run, and its
reason goes through `why_text` as `%pipeline why` and `mlpipe why` show it.
"""

from __future__ import annotations

from pathlib import Path

from jupyter_mlpipe.execute.decision import ReuseDecider
from jupyter_mlpipe.execute.reuse import explain, key_components
from jupyter_mlpipe.plan import Pipeline
from jupyter_mlpipe.queries import why_text


def _step(body: str):
    return Pipeline.from_sources(["x = 1", f"%%step train\n{body}"]).steps["train"]


class _History:
    """What the decider reads: the step's previous run, and an empty cache."""

    def __init__(self, previous_components: dict) -> None:
        self.previous = {"run_id": "r1", "status": "succeeded",
                         "reason": {"decision": "ran", "components": previous_components}}

    def last_step_run(self, notebook, step, *, before_run=None):
        return self.previous

    def cache_get(self, key):
        return None


def _reason(tmp_path: Path) -> dict:
    before = key_components(_step("model = x * 2"), input_digests={"x": "d1"}, params={}, base=tmp_path)
    decider = ReuseDecider(history=_History(before), artifacts=lambda: None, run_id="r2", notebook="nb",
                           params={}, base=tmp_path, force=False)
    decision = decider.decide(_step("model = x * 3"), input_digests={"x": "d2"}, required=[])
    assert not decision.reused
    return dict(decision.reason)


def _record(reason: dict) -> dict:
    return {"id": "r2", "steps": {"train": {"status": "succeeded", "reason": reason}}, "plan": {}}


def test_the_code_change_has_a_headline_then_its_diff(tmp_path):
    before = key_components(_step("model = x * 2"), input_digests={}, params={}, base=tmp_path)
    now = key_components(_step("model = x * 3"), input_digests={}, params={}, base=tmp_path)
    (change,) = explain(now, before)
    headline, *diff = change.split("\n")
    assert headline == "the code changed"
    assert "    -model = x * 2" in diff and "    +model = x * 3" in diff


def test_the_summary_joins_headlines_without_stray_colons(tmp_path):
    reason = _reason(tmp_path)
    assert reason["summary"] == "the code changed; input 'x' changed: its value changed"


def test_why_reads_as_one_sentence_then_the_changes(tmp_path):
    text = why_text(_record(_reason(tmp_path)), "train")
    assert ":;" not in text and ":." not in text
    lines = text.splitlines()
    assert lines[:3] == [
        "Run r2: step 'train' succeeded.",
        "It ran because the code changed; input 'x' changed: its value changed.",
        "What changed since its previous run:",
    ]
    assert "  - the code changed" in lines and "  - input 'x' changed: its value changed" in lines
    assert "    +model = x * 3" in lines


def test_why_of_a_run_recorded_with_the_old_summary_has_no_stray_colon():
    """Histories written before the fix keep `the code changed:;` in their summaries."""
    reason = {"decision": "ran", "summary": "the code changed:; input 'x' changed: its value changed",
              "changes": ["the code changed:\n    -a\n    +b", "input 'x' changed: its value changed"]}
    text = why_text(_record(reason), "train")
    assert "It ran because the code changed; input 'x' changed: its value changed." in text
    reason = {"decision": "ran", "summary": "the code changed:", "changes": ["the code changed:\n    -a\n    +b"]}
    assert "It ran because the code changed.\n" in why_text(_record(reason), "train")
