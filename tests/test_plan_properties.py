"""Property tests: any program, any cell split, any %%step header -> a Pipeline or a PlanError.

Never another exception, and a plan that holds together: every input comes
from an earlier definition that outputs it, edges match the inputs, the graph
is acyclic, and the JSON form round-trips.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlpipe import Pipeline, PlanError

NAMES = ["x", "y", "df", "model", "data", "train", "test", "_tmp", "lr", "f", "np", "item", "k", "out", "files"]
STEP_NAMES = ["load", "clean", "train", "eval", "a", "b", "load"]  # duplicates on purpose

name = st.sampled_from(NAMES)
small = st.one_of(st.integers(-5, 5).map(str), name, st.sampled_from(["'s'", "[1, 2]", "{'k': 1}", "None"]))


@st.composite
def expr(draw, depth=0):
    if depth > 2:
        return draw(small)
    kind = draw(st.integers(0, 9))
    sub = lambda: draw(expr(depth + 1))  # noqa: E731
    return [
        lambda: draw(small),
        lambda: f"{sub()} + {sub()}",
        lambda: f"{draw(name)}({sub()})",
        lambda: f"{draw(name)}.{draw(st.sampled_from(['copy', 'head', 'fit', 'mean']))}({sub()})",
        lambda: f"[{draw(name)} for {draw(name)} in {sub()} if {sub()}]",
        lambda: f"lambda {draw(name)}: {sub()}",
        lambda: f"({draw(name)} := {sub()})",
        lambda: f"{draw(name)}.query('a > @{draw(name)}')",
        lambda: f"{draw(name)}[{sub()}]",
        lambda: f"f'{{{draw(name)}}}'",
    ][kind]()


@st.composite
def statement(draw):
    n, m = draw(name), draw(name)
    e = draw(expr())
    choices = [
        f"{n} = {e}",
        f"{n}, {m} = {e}, {n}",
        f"{n} += {e}",
        f"{n}.attr = {e}",
        f"{n}[{e}] = {m}",
        f"del {n}[{e}]",
        f"{n}.append({e})",
        f"{n}.fillna(0, inplace=True)",
        f"{n}.head()",
        f"for {n} in [{m}, {e}]:\n    {n}['c'] = 1",
        f"for {n} in range(3):\n    {m} = {n}",
        f"def {n}({m}=1):\n    global {draw(name)}\n    return {e}",
        f"class {n.capitalize()}Thing:\n    v = {e}\n    def go(self):\n        return {m}",
        f"import {draw(st.sampled_from(['math', 'os', 'json', 'numpy as np', 'no_such_mod']))}",
        f"from {draw(st.sampled_from(['math', 'os.path', 'no_such_module_qq']))} import *",
        f"with open('f') as {n}:\n    pass",
        f"try:\n    {n} = {e}\nexcept Exception as {m}:\n    pass",
        f"%time {n} = {e}",
        f"%timeit {e}",
        f"{n} = !ls ${m}",
        f"!echo {{{n}}}",
        "%matplotlib inline",
        f"exec('{n} = 1')",
        f"{n} = eval('{m}')",
        f"print({e})",
        f"{n}?",
        f"if {e}:\n    {n} = {m}\nelse:\n    pass",
        f"{n}: int = {e}",
        "%pipeline plan",
        "%load_ext jupyter_mlpipe",
    ]
    garbage = st.text(max_size=30)
    return draw(st.one_of(*[st.sampled_from(choices)] * 7, garbage))  # garbage one line in eight


step_options = st.sampled_from([
    "", " --compute gpu", " --gpus 0.5", " --memory 4GB", " --cpus 2", " --no-cache", " --defer",
    " --after load", " --after nowhere", " --inputs x,y", " --outputs df", " --retries 2 --timeout 10",
    " --gpus abc", " --memory lots", " --compute tpu", " --gpu 1", " extra words", " --after a,b",
])
header = st.one_of(
    st.tuples(st.sampled_from(STEP_NAMES), step_options).map(lambda t: f"%%step {t[0]}{t[1]}\n"),
    st.sampled_from(["", "", "", "%%scratch\n", "%%capture out\n", "%%time\n", "%%step ../x\n", "%%step\n",
                     "%%bash\n"]),
)


@st.composite
def notebook_cells(draw):
    lines = draw(st.lists(statement(), min_size=0, max_size=14))
    cuts = sorted(draw(st.sets(st.integers(0, len(lines)), max_size=6)) | {0, len(lines)})
    cells = []
    for start, end in zip(cuts, cuts[1:]):
        source = draw(header) + "\n".join(lines[start:end])
        tags = draw(st.sampled_from([[], [], [], ["parameters"], ["scratch"]]))
        cells.append({"source": source, "tags": tags} if tags else source)
    return cells


def check(plan: Pipeline) -> None:
    steps = plan.steps
    positions = {n: i for i, n in enumerate(steps)}
    for step in steps.values():
        assert set(step.inputs) == set(step.input_sources)
        for variable, source in step.input_sources.items():
            assert source in steps and source != step.name
            assert variable in steps[source].outputs
            assert positions[source] < positions[step.name]
            assert any(e.source == source and e.target == step.name and variable in e.variables for e in plan.edges)
        assert not any(o.startswith("_") for o in step.outputs) or step.options.outputs is not None
    # acyclic
    incoming = {n: {e.source for e in plan.edges if e.target == n} for n in steps}
    done: set[str] = set()
    while len(done) < len(steps):
        ready = [n for n in steps if n not in done and incoming[n] <= done]
        assert ready, "cycle in a returned plan"
        done.update(ready)
    data = plan.to_dict()
    assert json.loads(json.dumps(data)) == data
    plan.describe()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notebook_cells())
def test_plan_or_plan_error(cells):
    try:
        plan = Pipeline.from_sources(cells)
    except PlanError as exc:
        assert str(exc)
        json.dumps(exc.to_dict())
        return
    check(plan)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=40), max_size=6))
def test_arbitrary_text_cells(sources):
    try:
        check(Pipeline.from_sources(sources))
    except PlanError:
        pass


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=10,
)
raw_cell = st.fixed_dictionaries({}, optional={
    "cell_type": st.sampled_from(["code", "markdown", "raw", 3]),
    "source": st.one_of(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=3), json_values),
    "metadata": st.one_of(st.fixed_dictionaries({"tags": st.one_of(
        st.lists(st.sampled_from(["parameters", "scratch", "x"]), max_size=2), json_values)}), json_values),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.one_of(st.fixed_dictionaries({"cells": st.lists(st.one_of(raw_cell, json_values), max_size=5)}),
                 json_values))
def test_from_notebook_on_any_json(tmp_path, data):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(data))
    try:
        check(Pipeline.from_notebook(path))
    except PlanError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notebook_cells(), st.data())
def test_incremental_replanning_equals_planning_from_scratch(cells, data):
    """Re-planning after an edit resumes from a checkpoint; the result must be what a cold plan gives."""
    from jupyter_mlpipe.plan import planner as planmod

    old_every = planmod._CHECKPOINT_EVERY
    planmod._CHECKPOINT_EVERY = data.draw(st.integers(1, 3))
    try:
        def outcome(sources):
            try:
                p = Pipeline.from_sources(sources)
            except PlanError as exc:
                return ("error", str(exc))
            return ("plan", p.to_dict())

        outcome(cells)  # leaves a trace with checkpoints
        edited = list(cells)
        if edited:
            i = data.draw(st.integers(0, len(edited) - 1))
            extra = data.draw(statement())
            cell = edited[i]
            if isinstance(cell, dict):
                edited[i] = {**cell, "source": cell["source"] + "\n" + extra}
            else:
                edited[i] = cell + "\n" + extra
        if data.draw(st.booleans()):
            edited.append(data.draw(st.sampled_from(["%%step z\nprint(x)", "x = 1", "%%step load\ny = 2"])))
        warm = outcome(edited)
        planmod.clear_caches()
        cold = outcome(edited)
        assert warm == cold
    finally:
        planmod._CHECKPOINT_EVERY = old_every
