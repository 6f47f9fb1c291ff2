"""The planner: PRODUCT.md section 3 and issue 2, rule by rule.

`edges(cells)` returns the plan's edges as {(from, to, (variables...))}; a cell
is a source string or {"source", "tags"}; a first line `%%step NAME` makes a step.
"""

from __future__ import annotations

import json

import pytest

from jupyter_mlpipe import Pipeline, PlanError, StepOptionError
from jupyter_mlpipe.plan import clear_caches


def plan(cells) -> Pipeline:
    return Pipeline.from_sources(cells)


def edges(cells) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(e.source, e.target, tuple(e.variables)) for e in plan(cells).edges}


def error(cells) -> PlanError:
    with pytest.raises(PlanError) as info:
        plan(cells)
    return info.value


def io(cells) -> dict[str, tuple[list[str], list[str]]]:
    return {s.name: (s.inputs, s.outputs) for s in plan(cells).steps.values()}


# ---------------------------------------------------------------------------
# rule 1: defs and refs

DEF_CASES = {
    "for target": ["%%step a\nfor i in range(3):\n    pass", "%%step b\nprint(i)"],
    "with target": ["%%step a\nwith open('f') as fh:\n    pass", "%%step b\nprint(fh)"],
    "tuple unpacking": ["%%step a\nX, (y, *rest) = 1, (2, 3)", "%%step b\nprint(y)"],
    "walrus in comprehension": ["%%step a\nys = [(y := v) for v in range(3)]", "%%step b\nprint(y)"],
    "walrus in if": ["%%step a\nif (y := 3) > 2:\n    pass", "%%step b\nprint(y)"],
    "annotated assignment": ["%%step a\ny: int = 3", "%%step b\nprint(y)"],
    "global write in a function defined and called in the step":
        ["%%step a\ndef setup():\n    global y\n    y = 1\nsetup()", "%%step b\nprint(y)"],
    "match capture": ["%%step a\nmatch [1]:\n    case [y]:\n        pass", "%%step b\nprint(y)"],
}


@pytest.mark.parametrize("cells", DEF_CASES.values(), ids=DEF_CASES.keys())
def test_defs_flow_to_later_steps(cells):
    variables = {v for _, _, vs in edges(cells) for v in vs}
    assert edges(cells) and {"a"} == {s for s, _, _ in edges(cells)}
    assert variables & {"i", "fh", "y"}


def test_import_def_class_are_shared_code_not_values():
    p = plan(["%%step a\nimport math\nfrom os import path\ndef f(v):\n    return v\nclass K:\n    pass\nr = 1",
              "%%step b\ns = math.floor(f(r)) + len(path.sep) + hash(K)"])
    assert {(e.source, e.target, e.variables) for e in p.edges} == {("a", "b", ("r",))}
    assert p.steps["a"].outputs == ["r"]
    assert {s.name for s in p.steps["b"].shared} == {"math", "path", "f", "K"}


NON_DEF_CASES = {
    "comprehension variable": ["%%step a\nx = 99", "%%step b\nsq = [x for x in range(3)]", "%%step c\nz = x"],
    "generator and dict comprehension": ["%%step a\nx = 99", "%%step b\ng = {x: 1 for x in 'ab'}",
                                         "%%step c\nz = x"],
    "lambda parameter": ["%%step a\nx = 99", "%%step b\nf = lambda x: x + 1", "%%step c\nz = x"],
    "function parameter and local": ["%%step a\nx = 99", "%%step b\ndef f(x):\n    y = x\n    return y",
                                     "%%step c\nz = x"],
    "except as": ["%%step a\nx = 99", "%%step b\ntry:\n    pass\nexcept Exception as x:\n    pass",
                  "%%step c\nz = x"],
    "for inside a function": ["%%step a\nx = 99", "%%step b\ndef f():\n    for x in range(2):\n        pass",
                              "%%step c\nz = x"],
}


@pytest.mark.parametrize("cells", NON_DEF_CASES.values(), ids=NON_DEF_CASES.keys())
def test_local_names_are_not_defs(cells):
    assert ("a", "c", ("x",)) in edges(cells)
    assert not any(s == "b" and "x" in vs for s, _, vs in edges(cells))


# ---------------------------------------------------------------------------
# rule 2: mutation is a redefinition

MUTATIONS = ["x += 1", "x -= 1", "x.a = 2", "x['k'] = 2", "del x['k']", "x.update(k=3)", "x.fit(1, 2)",
             "x.drop('a', axis=1, inplace=True)", "x.a.b['k'] = 1", "x[0].c = 1", "x['k'] += 1",
             "x.sort_values('a', inplace=True)", "del x.attr"]


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_mutation_forms(mutation):
    cells = ["%%step a\nx = make()", f"%%step b\n{mutation}", "%%step c\nprint(x)"]
    cells.insert(0, "def make():\n    return {}")
    assert edges(cells) == {("a", "b", ("x",)), ("b", "c", ("x",))}


@pytest.mark.parametrize("read", ["x.head()", "x.describe()", "print(x.shape)", "y = x.copy()", "x.plot()",
                                  "y = x.drop('a', axis=1)", "x.to_csv('out.csv')", "display(x)", "len(x)"])
def test_reads_do_not_mutate(read):
    cells = ["def make():\n    return {}", "%%step a\nx = make()", f"%%step b\n{read}", "%%step c\nprint(x)"]
    assert ("a", "c", ("x",)) in edges(cells)
    assert ("b", "c", ("x",)) not in edges(cells)


def test_method_call_on_a_module_is_not_a_mutation():
    cells = ["import numpy as np", "%%step a\nnp.random.seed(0)\nx = np.zeros(2)", "%%step b\nnp.random.seed(1)",
             "%%step c\nprint(x)"]
    assert edges(cells) == {("a", "c", ("x",))}
    assert plan(cells).steps["b"].outputs == []


def test_module_configured_in_a_later_cell_of_the_step_that_imports_it():
    p = plan(["%%step a\nimport numpy as np", "np.random.seed(0)\nx = np.ones(2)", "%%step b\nprint(x)"])
    assert p.steps["a"].outputs == ["x"]


def test_mutation_through_aliases_within_a_step():
    cells = ["import pandas as pd",
             "%%step load\ntrain_df = pd.DataFrame({'a': [1]})\ntest_df = pd.DataFrame({'a': [2]})",
             "%%step feat\ndata = [train_df, test_df]\nfor dataset in data:\n    dataset['x'] = 1",
             "%%step use\nprint(train_df, test_df)"]
    assert edges(cells) == {("load", "feat", ("test_df", "train_df")), ("feat", "use", ("test_df", "train_df"))}
    assert plan(cells).steps["feat"].aliases["data"] == ["test_df", "train_df"]


def test_mutation_through_aliases_across_cells_of_one_step():
    cells = ["import pandas as pd",
             "%%step load\ntrain_df = pd.DataFrame({'a': [1]})\ntest_df = pd.DataFrame({'a': [2]})",
             "%%step feat\ncombine = [train_df, test_df]",
             "for dataset in combine:\n    dataset['Title'] = dataset['a'] * 2",
             "%%step use\nprint(train_df)"]
    assert edges(cells) == {("load", "feat", ("test_df", "train_df")), ("feat", "use", ("train_df",))}


def test_mutation_through_aliases_across_steps():
    # Titanic style: `combine` made in one step, mutated through a loop in the next ones
    cells = ["import pandas as pd",
             "%%step load\ntrain_df = pd.DataFrame({'a': [1]})\ntest_df = pd.DataFrame({'a': [2]})\n"
             "combine = [train_df, test_df]",
             "%%step title\nfor dataset in combine:\n    dataset['t'] = 1",
             "%%step use\nprint(train_df)"]
    assert ("title", "use", ("train_df",)) in edges(cells)
    title = plan(cells).steps["title"]
    assert set(title.outputs) >= {"combine", "train_df", "test_df"}


def test_mutating_a_member_changes_the_container_seen_by_later_steps():
    cells = ["%%step load\ntrain = {}\ntest = {}\ncombine = [train, test]",
             "%%step fix\ntrain['k'] = 1",
             "%%step use\nprint(combine)"]
    assert ("fix", "use", ("combine",)) in edges(cells)


def test_rebinding_breaks_the_alias():
    cells = ["%%step load\ntrain = {}\ncombine = [train]",
             "%%step new\ntrain = {'fresh': 1}",
             "%%step fix\nfor d in combine:\n    d['k'] = 1",
             "%%step use\nprint(train)"]
    assert ("new", "use", ("train",)) in edges(cells)
    assert not any(t == "use" and s == "fix" for s, t, _ in edges(cells))


def test_direct_alias():
    cells = ["%%step a\nd = {}", "%%step b\ne = d\ne['x'] = 1", "%%step c\nprint(d)"]
    assert edges(cells) == {("a", "b", ("d",)), ("b", "c", ("d",))}


def test_copy_is_not_an_alias():
    cells = ["%%step a\nd = {}", "%%step b\ne = d.copy()\ne['x'] = 1", "%%step c\nprint(d)"]
    assert edges(cells) == {("a", "b", ("d",)), ("a", "c", ("d",))}


def test_functions_that_mutate_globals_redefine_them_where_called():
    cells = ["def add(v):\n    results.append(v)", "%%step a\nresults = []", "%%step b\nadd(1)",
             "%%step c\nprint(results)"]
    assert edges(cells) == {("a", "b", ("results",)), ("b", "c", ("results",))}


def test_global_augmented_assignment_in_a_function():
    cells = ["%%step a\ncounter = 0", "def bump():\n    global counter\n    counter += 1", "%%step b\nbump()",
             "%%step c\nprint(counter)"]
    assert edges(cells) == {("a", "b", ("counter",)), ("b", "c", ("counter",))}


def test_function_defined_in_a_step_writes_globals_only_where_called():
    cells = ["%%step a\ndef reset():\n    global counter\n    counter = 0", "%%step b\nreset()",
             "%%step c\nprint(counter)"]
    assert edges(cells) == {("b", "c", ("counter",))}
    assert plan(cells).steps["a"].outputs == []


# ---------------------------------------------------------------------------
# rule 3: reaching definitions in notebook order

def test_nearest_preceding_definition():
    cells = ["%%step a\ndf = 1", "%%step b\nn = df", "%%step c\ndf = 2", "%%step d\nm = df + n"]
    assert edges(cells) == {("a", "b", ("df",)), ("c", "d", ("df",)), ("b", "d", ("n",))}


def test_read_then_redefine_in_the_same_step():
    cells = ["%%step a\ndf = 1", "%%step b\ndf = df + 1", "%%step c\nprint(df)"]
    assert edges(cells) == {("a", "b", ("df",)), ("b", "c", ("df",))}


def test_defined_earlier_in_the_same_step_is_not_an_input():
    p = plan(["%%step a\nx = 1", "%%step b\nx = 5", "y = x * 2", "%%step c\nprint(y)"])
    assert p.steps["b"].inputs == []
    assert p.steps["b"].cells == [1, 2]


def test_continuation_cells_belong_to_the_step_above():
    p = plan(["import math", "%%step a\nx = 1", "y = x + 1", "z = y + 1", "%%step b\nprint(z)"])
    assert p.steps["a"].cells == [1, 2, 3]
    assert p.steps["a"].outputs == ["x", "y", "z"]
    assert [c for c, _ in p.steps["a"].code] == [1, 2, 3]
    assert p.steps["a"].code[0][1] == "x = 1"  # the %%step line is not code


def test_use_before_definition_names_both_steps_the_variable_and_the_cell():
    err = error(["%%step early\nv = later_value + 1", "%%step late\nlater_value = 2"])
    assert (err.step, err.cell, err.variable) == ("early", 0, "later_value")
    assert "late" in str(err) and "later_value" in str(err) and err.hint


def test_undefined_name():
    err = error(["%%step a\nv = nowhere + 1"])
    assert (err.step, err.variable) == ("a", "nowhere") and "no cell" in str(err)
    assert "Did you mean" not in str(err)


def test_a_misspelled_name_gets_the_name_defined_above_it():
    err = error(["%%step load\nsales = [1, 2]", "%%step feats\nraw = sale", "%%step later\nsaler = 1"])
    assert err.variable == "sale" and "Did you mean 'sales'?" in err.hint  # not a later step's 'saler'


def test_defined_only_in_a_scratch_cell():
    err = error(["%%scratch\nexplore = 1", "%%step a\nv = explore"])
    assert err.variable == "explore" and "scratch" in str(err)


def test_parameter_used_before_the_parameters_cell():
    err = error(["%%step a\nx = lr", {"source": "lr = 0.1", "tags": ["parameters"]}])
    assert err.variable == "lr" and "parameters cell" in str(err)


def test_builtins_and_ipython_names_are_known():
    assert edges(["%%step a\nprint(len([]), display, get_ipython, In, Out, __name__)"]) == set()


# ---------------------------------------------------------------------------
# step boundaries and cell roles

def test_scratch_cells_are_left_out():
    cells = ["%%step a\nx = 1", "%%scratch\nx = 5\nplot(x)", {"source": "x = 7", "tags": ["scratch"]},
             "%%step c\nprint(x)"]
    p = plan(cells)
    assert edges(cells) == {("a", "c", ("x",))}
    assert p.steps["a"].cells == [0]


def test_scratch_cell_does_not_end_the_step():
    p = plan(["%%step a\nx = 1", "%%scratch\nprint(x)", "y = x + 1", "%%step b\nprint(y)"])
    assert p.steps["a"].cells == [0, 2]


def test_control_cells_are_left_out():
    p = plan(["%load_ext jupyter_mlpipe", "import math", "%%step a\nx = 1", "%pipeline plan",
              "%pipeline run", "%%step b\nprint(x)"])
    assert p.steps["a"].cells == [2] and list(p.steps) == ["a", "b"]


def test_markdown_and_raw_cells_are_ignored(tmp_path):
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# Title\n%%step fake\nx = 1"},
        {"cell_type": "code", "metadata": {}, "source": ["%%step a\n", "x = 1\n"], "outputs": [],
         "execution_count": None},
        {"cell_type": "raw", "metadata": {}, "source": "y = x"},
        {"cell_type": "markdown", "metadata": {}, "source": "text"},
        {"cell_type": "code", "metadata": {}, "source": "y = x + 1", "outputs": [], "execution_count": None},
        {"cell_type": "code", "metadata": {}, "source": "%%step b\nprint(y)", "outputs": [],
         "execution_count": None},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    p = Pipeline.from_notebook(path)
    assert list(p.steps) == ["a", "b"]
    assert p.steps["a"].cells == [1, 4]  # notebook indices, markdown counted
    assert {(e.source, e.target, e.variables) for e in p.edges} == {("a", "b", ("y",))}


def test_empty_and_comment_only_steps():
    p = plan(["%%step a", "%%step b\n# nothing yet\n"])
    assert list(p.steps) == ["a", "b"] and p.edges == []


# ---------------------------------------------------------------------------
# the preamble and the parameters cell

def test_preamble_literal_constants_and_constant_expressions_are_shared():
    p = plan(["N = 10\nM = N * 2\nROOT = 'data'\nPATH = f'{ROOT}/x.csv'\nCOLS = ['a', 'b']\nNEG = -1.5",
              "%%step a\nx = M + len(PATH) + len(COLS) + NEG"])
    assert p.edges == [] and p.steps["a"].inputs == []
    assert [s.name for s in p.steps["a"].shared] == ["N", "M", "ROOT", "PATH", "COLS", "NEG"]


def test_preamble_computed_value_is_an_error_naming_variable_cell_and_step():
    err = error(["import pandas as pd", "df = pd.DataFrame({'a': [1]})", "%%step use\nn = len(df)"])
    assert (err.step, err.variable) == ("use", "df")
    assert "cell 2" in str(err) and "use" in str(err) and err.hint  # cells counted from 1


def test_preamble_constant_from_a_computed_value_is_computed():
    err = error(["import os\nROOT = os.getcwd()\nDATA = ROOT + '/data'", "%%step a\nx = DATA"])
    assert err.variable == "DATA"


def test_preamble_computed_value_used_through_a_function_is_an_error():
    err = error(["import numpy as np\nz = np.zeros(3)\ndef f():\n    return z", "%%step a\nx = f()"])
    assert err.variable == "z" and "f()" in str(err)


def test_unused_preamble_values_are_fine():
    assert edges(["import numpy as np\nscratch = np.zeros(3)\nprint(scratch)", "%%step a\nx = 1"]) == set()


@pytest.mark.parametrize("setup", [
    "np.random.seed(0)", "pd.set_option('display.max_columns', 50)", "pd.options.display.max_rows = 10",
    "plt.rcParams['figure.figsize'] = (10, 6)", "os.environ['X'] = '1'", "warnings.filterwarnings('ignore')",
    "%matplotlib inline", "%load_ext autoreload\n%autoreload 2", "sys.path.append('..')",
])
def test_preamble_setup_lines_are_not_computed_values(setup):
    cells = ["import os, sys, warnings\nimport numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt",
             setup, "%%step a\nx = np.zeros(2) + len(pd.__version__) + len(os.sep) + len(sys.path)\nplt.plot(x)"]
    p = plan(cells)
    assert p.steps["a"].inputs == []


def test_setup_lines_travel_with_their_module():
    p = plan(["import numpy as np\nnp.random.seed(0)", "%%step a\nx = np.random.rand()"])
    sources = [s.source for s in p.steps["a"].shared]
    assert sources == ["import numpy as np", "np.random.seed(0)"]


def test_parameters_are_params_not_edges():
    p = plan([{"source": "lr = 0.1\nepochs = 3  # how long\nname: str = 'run'", "tags": ["parameters"]},
              "%%step train\nw = lr * epochs", "%%step report\nprint(w, name)"])
    assert {(e.source, e.target, e.variables) for e in p.edges} == {("train", "report", ("w",))}
    assert p.steps["train"].params == ["epochs", "lr"] and p.steps["report"].params == ["name"]
    assert {n: q.default for n, q in p.params.items()} == {"lr": 0.1, "epochs": 3, "name": "run"}


def test_parameter_redefined_by_a_step_flows_from_that_step():
    cells = [{"source": "lr = 0.1", "tags": ["parameters"]}, "%%step a\nlr = lr * 2", "%%step b\nprint(lr)"]
    assert edges(cells) == {("a", "b", ("lr",))}
    assert plan(cells).steps["a"].params == ["lr"]


def test_parameters_read_by_shared_functions():
    p = plan([{"source": "lr = 0.1", "tags": ["parameters"]}, "def opt():\n    return lr",
              "%%step a\nx = opt()"])
    assert p.steps["a"].params == ["lr"]


# ---------------------------------------------------------------------------
# rule 4: functions and classes carry their free variables

def test_function_free_variables_transitively():
    cells = ["%%step cfg\nlr = 1e-3", "def g():\n    return lr", "def f():\n    return g() * 2",
             "%%step use\ny = f()"]
    assert edges(cells) == {("cfg", "use", ("lr",))}
    assert [s.name for s in plan(cells).steps["use"].shared] == ["g", "f"]


def test_class_free_variables():
    cells = ["%%step cfg\nlr = 1", "class Model:\n    def step(self):\n        return lr",
             "%%step use\ny = Model().step()"]
    assert edges(cells) == {("cfg", "use", ("lr",))}


def test_class_body_names_do_not_hide_globals_from_methods():
    cells = ["%%step a\nx = 5", "class C:\n    x = 1\n    def m(self):\n        return x", "%%step b\nv = C().m()"]
    assert edges(cells) == {("a", "b", ("x",))}


def test_function_defined_in_a_step_reads_that_steps_values():
    cells = ["%%step a\nmodel = 2\ndef predict(v):\n    return model * v", "%%step b\ny = predict(3)"]
    assert edges(cells) == {("a", "b", ("model",))}


def test_function_free_variable_binds_at_the_calling_step():
    cells = ["def show():\n    return df", "%%step a\ndf = 1", "%%step b\ndf = 2", "%%step c\nshow()"]
    assert edges(cells) == {("b", "c", ("df",))}


def test_function_free_variable_defined_later_is_a_warning():
    p = plan(["def f():\n    return later", "%%step a\ny = f()", "%%step b\nlater = 1"])
    assert p.edges == [] and any("later" in w for w in p.warnings)


def test_decorators_and_defaults_run_at_definition():
    cells = ["%%step a\nregistry = {}\nbase = 3", "def register(f):\n    registry[f.__name__] = f\n    return f",
             "%%step b\n@register\ndef g(v=base):\n    return v", "%%step c\nprint(registry)"]
    assert edges(cells) == {("a", "b", ("base", "registry")), ("b", "c", ("registry",))}


def test_shared_function_redefined_later():
    cells = ["%%step a\nx = 1\ny = 2", "%%step b\ndef f():\n    return x\nr = f()",
             "%%step c\ndef f():\n    return y\ns = f()", "%%step d\nt = f()"]
    assert edges(cells) == {("a", "b", ("x",)), ("a", "c", ("y",)), ("a", "d", ("y",))}


def test_function_called_before_the_step_redefines_it():
    cells = ["%%step a\nx = 1\ny = 2", "def f():\n    return x", "%%step b\nr = f()",
             "def f():\n    return y", "%%step c\ns = f()"]
    # b calls a's f (which reads x), then redefines f to read y; c calls the new f
    assert edges(cells) == {("a", "b", ("x", "y")), ("a", "c", ("y",))}


def test_value_shadowing_a_function():
    cells = ["def model():\n    return 1", "%%step a\nmodel = model()", "%%step b\nprint(model)"]
    assert edges(cells) == {("a", "b", ("model",))}


# ---------------------------------------------------------------------------
# rule 5: errors

def test_duplicate_step_names():
    err = error(["%%step a\nx = 1", "%%step a\ny = 2"])
    assert err.step == "a" and err.cell == 1 and "Duplicate" in str(err)


@pytest.mark.parametrize("line", ["../x", "my step", "'my step'", "a/b", "1st", ""])
def test_invalid_step_names(line):
    with pytest.raises(StepOptionError) as info:
        plan([f"%%step {line}\nx = 1"])
    assert info.value.cell == 0 and "name" in str(info.value)


def test_unknown_after_target():
    err = error(["%%step a --after nowhere\nx = 1"])
    assert (err.step, err.variable) == ("a", "nowhere")


def test_after_a_later_step_orders_without_a_cycle():
    assert edges(["%%step a --after b\nx = 1", "%%step b\ny = 2"]) == {("b", "a", ())}


def test_after_cycle():
    err = error(["%%step a --after b\nx = 1", "%%step b\ny = x"])
    assert "cycle" in str(err) and "a" in str(err) and "b" in str(err)


def test_after_cycle_of_three():
    err = error(["%%step a --after c\nx = 1", "%%step b\ny = x", "%%step c\nz = y", "%%step d\nw = z"])
    assert "a -> b -> c -> a" in str(err) or "b -> c -> a -> b" in str(err) or "c -> a -> b -> c" in str(err)
    assert err.step in {"a", "b", "c"} and "'d'" not in str(err)


def test_after_adds_an_order_edge_next_to_data_edges():
    assert edges(["%%step a\nx = 1", "%%step b\nprint(x)", "%%step c --after a,b\nz = 1"]) == {
        ("a", "b", ("x",)), ("a", "c", ()), ("b", "c", ())}


def test_after_and_data_to_the_same_step_make_one_edge():
    assert edges(["%%step a\nx = 1", "%%step b --after a\nprint(x)"]) == {("a", "b", ("x",))}


def test_syntax_error_in_a_step_names_cell_and_line():
    err = error(["%%step a\nx = 1", "%%step b\ny = 1\nz = (\n"])
    assert err.step == "b" and err.cell == 1 and "line 3" in str(err)


def test_syntax_error_in_a_continuation_cell():
    err = error(["%%step a\nx = 1", "y = 1\nif x\n"])
    assert err.step == "a" and err.cell == 1 and "line 2" in str(err)


def test_syntax_error_in_the_preamble():
    err = error(["def f(:\n    pass", "%%step a\nx = 1"])
    assert err.cell == 0 and "line 1" in str(err)


def test_syntax_error_in_a_scratch_cell_is_ignored():
    assert list(plan(["%%step a\nx = 1", "%%scratch\nthis is not python"]).steps) == ["a"]


def test_star_import_resolved():
    p = plan(["from math import *", "%%step a\nx = sqrt(2) + pi"])
    assert p.edges == [] and [s.source for s in p.steps["a"].shared] == ["from math import *"]
    assert p.to_dict()["steps"][0]["shared"] == ["pi", "sqrt"]


def test_star_import_in_a_step():
    assert edges(["%%step a\nfrom math import *\nr = sqrt(2)", "%%step b\ns = floor(r)"]) == {("a", "b", ("r",))}


def test_unresolvable_star_import_in_the_preamble():
    err = error(["from no_such_module_xyz import *", "%%step a\nx = thing"])
    assert err.cell == 0 and "no_such_module_xyz" in str(err) and err.hint


def test_unresolvable_star_import_in_a_step():
    err = error(["%%step a\nx = 1", "%%step b\nfrom no_such_module_xyz import *\ny = thing"])
    assert err.step == "b" and err.cell == 1 and "no_such_module_xyz" in str(err)


def test_private_names_are_not_passed_between_steps():
    p = plan(["%%step a\n_tmp = 1\nx = _tmp + 1", "%%step b\nprint(x)"])
    assert p.steps["a"].outputs == ["x"]
    err = error(["%%step a\n_tmp = 1", "%%step b\nprint(_tmp)"])
    assert (err.step, err.variable) == ("b", "_tmp") and "private" in str(err)


def test_private_redefinition_hides_an_older_value():
    err = error(["_x = 1", "%%step a\n_x = 2", "%%step b\nprint(_x)"])
    assert err.variable == "_x"


def test_unknown_compute_target():
    err = error(["%%step a --compute tpu\nx = 1"])
    assert err.step == "a" and "tpu" in str(err)


def test_compute_targets_from_config():
    p = Pipeline.from_sources(["%%step a --compute big\nx = 1"], compute={"big": {"num_cpus": 8, "memory": 10}})
    assert p.steps["a"].resources == {"compute": "big", "num_cpus": 8, "memory": 10}


@pytest.mark.parametrize("line, flag", [("--gpus abc", "--gpus"), ("--memory lots", "--memory"),
                                        ("--gpus 1.5", "--gpus"), ("--retries x", "--retries"),
                                        ("--gpu 1", "--gpu")])
def test_bad_option_values_name_the_flag(line, flag):
    with pytest.raises(StepOptionError) as info:
        plan([f"%%step a {line}\nx = 1"])
    assert flag in str(info.value) and info.value.step == "a" and info.value.cell == 0


def test_resources():
    p = plan(["%%step a --gpus 0.5 --memory 4GB --cpus 2\nx = 1", "%%step b --compute gpu\ny = 1",
              "%%step c\nz = 1"])
    assert p.steps["a"].resources == {"compute": "cpu", "num_cpus": 2, "num_gpus": 0.5, "memory": 4_000_000_000}
    assert p.steps["b"].resources == {"compute": "gpu", "num_cpus": 1, "num_gpus": 1}
    assert p.steps["c"].resources == {"compute": "cpu", "num_cpus": 1}


# ---------------------------------------------------------------------------
# overrides

def test_inputs_override():
    p = plan(["%%step a\nx = 1\ny = 2", "%%step b --inputs x\nz = x + y"])
    assert p.steps["b"].inputs == ["x"]
    assert {(e.source, e.target, e.variables) for e in p.edges} == {("a", "b", ("x",))}


def test_inputs_override_can_add_what_the_planner_cannot_see():
    p = plan(["%%step a\nx = 1", "%%step b --inputs x\nz = eval('x')"])
    assert p.steps["b"].inputs == ["x"]


def test_inputs_override_of_an_undefined_name():
    assert error(["%%step a\nx = 1", "%%step b --inputs nothing\nz = 1"]).variable == "nothing"


def test_outputs_override():
    p = plan(["%%step a --outputs x\nx = 1\ny = 2", "%%step b\nz = x"])
    assert p.steps["a"].outputs == ["x"]
    err = error(["%%step a --outputs x\nx = 1\ny = 2", "%%step b\nz = y"])
    assert err.variable == "y" and "--outputs" in str(err)


def test_outputs_override_of_something_not_assigned_warns():
    p = plan(["%%step a --outputs ghost\nx = 1", "%%step b\nprint(ghost)"])
    assert p.steps["a"].outputs == ["ghost"] and any("ghost" in w for w in p.warnings)
    assert {(e.source, e.target, e.variables) for e in p.edges} == {("a", "b", ("ghost",))}


# ---------------------------------------------------------------------------
# rule 6: magics and shell escapes

def test_line_magics_and_shell_captures():
    cells = ["%%step a\nx = 3", "%%step b\n%time r = x * 2\nfiles = !ls", "%%step c\nprint(r, files)"]
    assert edges(cells) == {("a", "b", ("x",)), ("b", "c", ("files", "r"))}


def test_capture_cell_magic():
    cells = ["%%step a\nx = 1", "%%step b\n%%capture out\nprint(x)", "%%step c\nprint(out)"]
    assert edges(cells) == {("a", "b", ("x",)), ("b", "c", ("out",))}


def test_capture_in_a_continuation_cell():
    cells = ["%%step a\nx = 1", "%%capture log\ny = x + 1", "%%step b\nprint(log, y)"]
    assert edges(cells) == {("a", "b", ("log", "y"))}


def test_timeit_does_not_define():
    err = error(["%%step a\nx = 1", "%%step b\n%timeit y = x + 1", "%%step c\nprint(y)"])
    assert err.variable == "y"


def test_shell_variables_ref_values_when_they_exist():
    cells = ["%%step a\npath = '.'", "%%step b\n!ls $path {path}\n!echo $HOME"]
    assert edges(cells) == {("a", "b", ("path",))}


def test_bash_cell_magic_in_a_step():
    assert edges(["%%step a\nx = 1", "%%step b\n%%bash\necho $HOME $x"]) == set()


def test_help_and_other_magics_do_not_crash():
    p = plan(["%%step a\nx = 1", "%%step b\nx?\n%who\n%matplotlib inline\n!pip list"])
    assert list(p.steps) == ["a", "b"]


# ---------------------------------------------------------------------------
# rule 7: strings, query, opaque steps

def test_strings_are_not_code():
    assert edges(["%%step a\nx = 1", "%%step b\nprint('x + 1', \"x\")"]) == set()


def test_query_at_names():
    cells = ["import pandas as pd", "%%step data\ndf = pd.DataFrame({'s': [0.1]})", "%%step cut\nthr = 0.5",
             "%%step sel\nres = df.query('s > @thr')\nres2 = df.eval('s * @k', local_dict={})",
             ]
    with pytest.raises(PlanError) as info:
        plan(cells)
    assert info.value.variable == "k"
    cells[-1] = "%%step sel\nres = df.query('s > @thr')"
    assert edges(cells) == {("data", "sel", ("df",)), ("cut", "sel", ("thr",))}


@pytest.mark.parametrize("code", ["exec('z = 1')", "v = eval('1')", "g = globals()", "v = vars()",
                                  "%run other.py", "v = get_ipython().user_ns"])
def test_opaque_steps_run_after_everything_before_them(code):
    p = plan(["%%step a\nx = 1", "%%step b\ny = 2", "%%step c\nprint(x)", f"%%step d\n{code}",
              "%%step e\nw = 1"])
    d = p.steps["d"]
    assert d.opaque
    assert {e.source for e in p.edges if e.target == "d"} == {"a", "b", "c"}
    assert set(d.inputs) == {"x", "y"}
    assert any("opaque" in w for w in p.warnings)
    assert p.to_dict()["steps"][3]["options"]["opaque"] == d.opaque
    assert not [e for e in p.edges if e.target == "e"]


def test_names_only_an_opaque_step_can_define():
    p = plan(["%%step a\nexec('z = 1')", "%%step b\nprint(z)"])
    assert {(e.source, e.target, e.variables) for e in p.edges} == {("a", "b", ("z",))}
    assert p.steps["a"].outputs == ["z"]


# ---------------------------------------------------------------------------
# the JSON plan

def test_json_shape():
    p = plan([{"source": "lr = 0.1", "tags": ["parameters"]}, "import math",
              "%%step a --compute gpu --retries 2\nx = math.sqrt(lr)", "%%step b --after a\ny = x"])
    data = json.loads(p.to_json())
    assert set(data) >= {"steps", "edges"}
    a = data["steps"][0]
    assert set(a) >= {"name", "cells", "inputs", "outputs", "params", "resources", "options"}
    assert a == {**a, "name": "a", "cells": [2], "inputs": [], "outputs": ["x"], "params": ["lr"]}
    assert a["options"]["retries"] == 2 and a["resources"]["num_gpus"] == 1
    assert data["edges"] == [{"from": "a", "to": "b", "variables": ["x"]}]


def test_edges_carry_only_values():
    p = plan([{"source": "lr = 0.1", "tags": ["parameters"]}, "import math\nK = 3\ndef f(v):\n    return v",
              "%%step a\nimport os\nx = f(math.pi * lr * K)", "%%step b\ny = f(os.sep) + str(x * lr * K)"])
    assert [(e.source, e.target, e.variables) for e in p.edges] == [("a", "b", ("x",))]


def test_describe_mentions_every_step_and_edge():
    text = plan(["%%step a\nx = 1", "%%step b --after a\ny = x"]).describe()
    assert "step a" in text and "step b" in text and "<- a: x" in text


def test_upstream_and_final_steps():
    p = plan(["%%step a\nx = 1", "%%step b\ny = x", "%%step c\nz = 1", "%%step d\nw = y"])
    assert p.upstream(["d"]) == ["a", "b", "d"]
    assert p.final_steps() == ["c", "d"]
    with pytest.raises(PlanError):
        p.upstream(["nope"])


def test_from_notebook_errors_are_plan_errors(tmp_path):
    with pytest.raises(PlanError):
        Pipeline.from_notebook(tmp_path / "missing.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(PlanError):
        Pipeline.from_notebook(bad)
    odd = tmp_path / "odd.ipynb"
    odd.write_text(json.dumps({"cells": [42, {"cell_type": "code", "source": 7}]}))
    with pytest.raises(PlanError):
        Pipeline.from_notebook(odd)
    odd.write_text(json.dumps({"cells": [{"cell_type": "code", "source": 7, "metadata": {"tags": "scratch"}}]}))
    assert Pipeline.from_notebook(odd).steps == {}


# ---------------------------------------------------------------------------
# caching: an edited notebook re-plans correctly

def test_replanning_after_an_edit_sees_the_edit():
    cells = ["%%step a\nx = 1\ny = 2", "%%step b\nz = x"]
    assert edges(cells) == {("a", "b", ("x",))}
    cells[1] = "%%step b\nz = y"
    assert edges(cells) == {("a", "b", ("y",))}
    clear_caches()
    assert edges(cells) == {("a", "b", ("y",))}


def test_same_step_code_in_two_notebooks_plans_independently():
    assert edges(["%%step a\nx = 1", "%%step b\nprint(x)"]) == {("a", "b", ("x",))}
    assert edges(["%%step a\nx = 1", "%%step c\nx = 2", "%%step b\nprint(x)"]) == {("c", "b", ("x",))}


def test_functions_that_change_their_arguments_in_place():
    cells = ["def fill_missing(df, value=0):\n    df.fillna(value, inplace=True)\n    return df",
             "def describe(df):\n    return df.describe()",
             "import pandas as pd",
             "%%step load\ntrain = pd.DataFrame({'a': [1.0, None]})\ntest = train.copy()",
             "%%step clean\nfill_missing(train)\nsummary = describe(test)",
             "%%step use\nprint(train, test)"]
    assert edges(cells) == {("load", "clean", ("test", "train")), ("clean", "use", ("train",)),
                            ("load", "use", ("test",))}


def test_argument_changed_in_place_through_a_keyword_and_an_alias():
    cells = ["def tag(frame=None):\n    frame['t'] = 1",
             "%%step load\na = {}\nb = {}",
             "%%step work\nboth = [a, b]\nfor d in both:\n    tag(frame=d)",
             "%%step use\nprint(a, b)"]
    assert ("work", "use", ("a", "b")) in edges(cells)


def test_parameter_rebound_before_the_change_is_not_the_argument():
    cells = ["def safe(df):\n    df = df.copy()\n    df['x'] = 1\n    return df",
             "%%step load\ntrain = {}", "%%step work\nout = safe(train)", "%%step use\nprint(train)"]
    assert ("load", "use", ("train",)) in edges(cells)


def _chain(n: int) -> list[str]:
    cells = ["import math", "def helper(v):\n    return v + 1"]
    for i in range(n):
        cells.append(f"%%step s{i}\nv{i} = helper({f'v{i - 1}' if i else 0})\n_t = {i}")
        cells.append(f"w{i} = math.sqrt(v{i})")
    return cells


@pytest.mark.parametrize("edit", [
    ("append", "\nnote = 1"),              # a new output that nobody reads: later steps unchanged
    ("append", "\nv0 = 99"),               # redefines a value read later
    ("append", "\nexec('z = 1')"),         # becomes opaque
    ("replace", "%%step renamed\nv{i} = 5\nw{i} = 6"),
    ("replace", "%%step s0\nv{i} = 5"),    # duplicate name
    ("replace", "x = (\n"),                # syntax error
])
def test_incremental_replanning_matches_a_cold_plan(edit):
    def outcome(cells):
        try:
            p = plan(cells)
        except PlanError as exc:
            return str(exc)
        return p.to_dict()

    cells = _chain(150)
    outcome(cells)
    i = 90
    kind, text = edit
    at = 2 + 2 * i + 1
    cells[at] = cells[at] + text if kind == "append" else text.format(i=i)
    warm = outcome(cells)
    clear_caches()
    assert warm == outcome(cells)
    # and again after a second edit further up, from the new trace
    cells[2 + 2 * 10] += "\nextra = 1"
    warm = outcome(cells)
    clear_caches()
    assert warm == outcome(cells)
