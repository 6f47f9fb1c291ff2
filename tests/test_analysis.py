"""analyze_cell: what one cell defines, reads and changes (PRODUCT.md section 3, rules 1, 2, 6, 7)."""

from __future__ import annotations

import pytest

from jupyter_mlpipe.plan.cells import analyze_cell
from jupyter_mlpipe.plan.source import CellSyntaxError, to_python


def facts(source: str):
    return analyze_cell(source)


def shared(source: str) -> dict[str, str]:
    return {s.name: s.kind for s in analyze_cell(source).shared}


# -- rule 1: refs and defs ------------------------------------------------------

@pytest.mark.parametrize("source, defs", [
    ("x = 1", {"x"}),
    ("a, (b, *c) = f()", {"a", "b", "c"}),
    ("a = b = g()", {"a", "b"}),
    ("x: int = 3", {"x"}),
    ("for i, row in rows:\n    pass", {"i", "row"}),
    ("with open(p) as fh, open(q) as (g, h):\n    pass", {"fh", "g", "h"}),
    ("ys = [(y := v) for v in vs]", {"ys", "y"}),
    ("if (n := len(xs)) > 3:\n    pass", {"n"}),
    ("match cmd:\n    case [first, *rest]:\n        pass\n    case {'k': v, **others}:\n        pass",
     {"first", "rest", "v", "others"}),
])
def test_defs(source, defs):
    assert set(facts(source).defs) == defs


@pytest.mark.parametrize("source, not_defs", [
    ("sq = [x * x for x in range(3)]", {"x"}),
    ("d = {k: v for k, v in items}", {"k", "v"}),
    ("g = (i for i in it)", {"i"}),
    ("f = lambda a, b=1: a + b", {"a", "b"}),
    ("def f(p, *args, q=1, **kw):\n    local = p\n    return local", {"p", "args", "q", "kw", "local"}),
    ("try:\n    pass\nexcept ValueError as e:\n    print(e)", {"e"}),
    ("x: int", {"x"}),
])
def test_not_defs(source, not_defs):
    assert not set(facts(source).defs) & not_defs


def test_refs_are_names_read_before_binding():
    f = facts("y = x + 1\nx = 2\nz = x + y")
    assert f.refs == ("x",)
    assert set(f.defs) == {"x", "y", "z"}


def test_comprehension_reads_its_outer_iterable_and_free_names():
    f = facts("r = [a * k for a in items if a > lo]")
    assert set(f.refs) == {"items", "k", "lo"}


def test_lambda_and_nested_function_free_names_are_refs():
    assert set(facts("f = lambda v: v * scale").refs) == {"scale"}


def test_attribute_reads_only_the_root_name():
    assert set(facts("n = df.shape[0] + cfg.a.b").refs) == {"df", "cfg"}


def test_fstrings_are_code():
    assert set(facts("msg = f'{name}: {score:.{digits}f}'").refs) == {"name", "score", "digits"}


def test_strings_are_not_code():
    assert facts("s = 'x + y'\nprint(\"undefined_name\")").refs == ("print",)


# -- shared code -----------------------------------------------------------------

def test_imports_defs_and_classes_are_shared_not_values():
    f = facts("import numpy as np\nfrom os import path as p\nimport a.b.c\ndef g():\n    pass\nclass K:\n    pass")
    assert f.defs == ()
    assert shared("import numpy as np\nfrom os import path as p\nimport a.b.c\ndef g():\n    pass\n"
                  "class K:\n    pass") == {"np": "import", "p": "import", "a": "import", "g": "def", "K": "class"}


def test_literal_constants_are_shared_consts_and_computed_values_are_not():
    f = facts("A = 1\nB = 'x'\nC = [1, (2, 3)]\nD = {'k': -1.5}\nE = f()\nF = A * 2\nG = f'{B}/y'")
    kinds = {s.name: s for s in f.shared}
    assert {n for n, s in kinds.items() if s.kind == "const"} == {"A", "B", "C", "D", "F", "G"}
    assert "E" in f.computed and "A" not in f.computed
    assert kinds["F"].free == {"A"} and kinds["G"].free == {"B"}
    assert kinds["C"].source == "C = [1, (2, 3)]"


def test_function_free_names_exclude_parameters_and_locals():
    f = facts("def fit(X, y=None, *, lr=base_lr):\n    model = make(X)\n    return model, scale * y")
    (g,) = [s for s in f.shared if s.name == "fit"]
    assert g.free == {"make", "scale", "base_lr"}


def test_functions_transitive_and_recursive_names():
    f = facts("def fact(n):\n    return 1 if n < 2 else n * fact(n - 1) * k")
    (g,) = f.shared
    assert g.free == {"k"}


def test_class_body_names_are_not_visible_in_methods():
    f = facts("class C(Base, metaclass=Meta):\n    x = 1\n    def m(self):\n        return x + y")
    (c,) = f.shared
    assert {"Base", "Meta", "x", "y"} <= c.free


def test_global_writes_and_mutations_of_globals_in_functions():
    f = facts("def reset():\n    global counter, seen\n    counter = 0\n    seen += 1\n"
              "def add(v):\n    results.append(v)\n    cache[v] = 1\n    local = []\n    local.append(v)")
    by = {s.name: s for s in f.shared}
    assert by["reset"].global_writes == {"counter", "seen"}
    assert "seen" in by["reset"].free and "counter" not in by["reset"].free
    assert by["add"].global_writes == {"results", "cache"}


def test_decorators_defaults_and_bases_run_when_the_cell_runs():
    f = facts("@register(registry)\ndef f(a=default_a):\n    return a\nclass K(base_cls):\n    pass")
    assert {"register", "registry", "default_a", "base_cls"} <= set(f.refs)


def test_import_blocks_are_shared():
    f = facts("try:\n    import ujson as json\nexcept ImportError:\n    import json\n")
    assert shared("try:\n    import ujson as json\nexcept ImportError:\n    import json\n") == {"json": "import"}
    assert f.defs == ()


def test_star_import_is_recorded_with_its_module():
    (star,) = facts("from math import *").shared
    assert star.name == "*" and star.module == "math"


# -- rule 2: mutation --------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "x += 1",
    "x.attr = 1",
    "x[k] = v",
    "x.a.b[k] = v",
    "x[0].c = 1",
    "del x[k]",
    "del x.attr",
    "x.fit(X, y)",
    "x.append(1)",
    "x.drop('a', axis=1, inplace=True)",
    "y = x.fillna(0, inplace=True)",
    "x.a.b.update({})",
    "x[k] += 1",
])
def test_mutation_is_a_ref_and_a_def(source):
    f = facts(source)
    assert "x" in f.defs, source
    assert "x" in f.refs or source.startswith("x +="), source


@pytest.mark.parametrize("source", ["x.head()", "x.describe()", "print(x.shape)", "x.plot()", "x.to_csv('f')",
                                    "y = x.drop('a', axis=1)", "x.predict(X)", "len(x)"])
def test_read_only_uses_do_not_mutate(source):
    f = facts(source)
    assert "x" not in f.defs and "x" not in f.mutated


def test_mutation_after_binding_in_the_same_cell_is_not_a_ref():
    f = facts("df = load()\ndf['x'] = 1\ndf.dropna(inplace=True)")
    assert "df" not in f.refs and "df" in f.defs and "df" in f.bound


def test_aliases_from_assignments_and_loops():
    f = facts("data = [train, test]\nfor d in data:\n    d['x'] = 1\nfor i in range(3):\n    pass")
    assert ("data", "train") in f.aliases and ("data", "test") in f.aliases and ("d", "data") in f.aliases
    assert not any(a == "i" for a, _ in f.aliases)  # range() makes new values


def test_an_element_taken_out_of_a_container_aliases_the_container():
    f = facts("first = frames[0]\nfirst['d'] = 4\nlast = frames[-1][0]\nn = len(frames[1])")
    assert ("first", "frames") in f.aliases and ("last", "frames") in f.aliases
    assert not any(a == "n" for a, _ in f.aliases)  # len() makes a new value


# -- rule 6: magics and shell ------------------------------------------------------

def test_time_line_magic_defines():
    f = facts("%time r = x * 2")
    assert f.defs == ("r",) and f.refs == ("x",)


def test_timeit_reads_but_keeps_nothing():
    f = facts("%timeit -n 10 -r 3 y = x + 1")
    assert f.defs == () and f.refs == ("x",)


def test_prun_options_are_not_code():
    f = facts("%prun -s cumulative -l 5 z = f(a)")
    assert f.defs == ("z",) and set(f.refs) == {"f", "a"}


def test_capture_cell_magic_defines_its_variable_and_runs_its_body():
    f = facts("%%capture out --no-stderr\nres = model.score(X, y)\n")
    assert set(f.defs) == {"out", "res"} and set(f.refs) == {"model", "X", "y"}


def test_time_cell_magic():
    assert facts("%%time\nz = w + 1").defs == ("z",)


def test_shell_capture_defines_and_shell_vars_are_soft_refs():
    f = facts("files = !ls $data_dir\n!echo {path} $HOME")
    assert f.defs == ("files",)
    assert set(f.soft_refs) == {"data_dir", "path", "HOME"}
    assert f.refs == ()


def test_bash_cell_body_is_not_python_and_not_expanded():
    f = facts("%%bash\necho $HOME {x}\nfor i in 1 2; do echo $i; done")
    assert f.refs == () and f.soft_refs == () and f.defs == ()


def test_other_magics_do_not_crash():
    f = facts("%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n%env A=1\n%pip install x\nx = 1")
    assert f.defs == ("x",)


def test_help_syntax_does_not_crash():
    assert facts("x?").defs == ()
    assert facts("len??").defs == ()


def test_pipeline_control_lines_are_removed():
    f = facts("%load_ext jupyter_mlpipe\n%pipeline plan\nx = 1")
    assert f.defs == ("x",)


def test_fast_transform_matches_ipython():
    from IPython.core.inputtransformer2 import TransformerManager

    for source in ["%time x = f()\ny = 1", "files = !ls -la\n!echo hi", "    %time z = 1",
                   "for i in r:\n    %time z = i", "a = %env HOME", "%%capture out\nprint(1)\n",
                   "!!ls", "%timeit -n 3 y = x"]:
        expected = TransformerManager().transform_cell(source)
        assert to_python(source).strip() == expected.strip(), source


# -- rule 7: strings, query, opaque ----------------------------------------------------

def test_query_and_eval_strings_ref_at_names():
    assert set(facts("r = df.query('a > @thr and b < @hi')").refs) == {"df", "thr", "hi"}
    assert set(facts('r = df.eval("c = a * @k")').refs) == {"df", "k"}


@pytest.mark.parametrize("source", ["exec(code)", "x = eval('1 + 1')", "globals()['a'] = 1",
                                    "d = locals()", "v = vars()", "%run script.py",
                                    "y = get_ipython().user_ns['z']", "x = [eval(s) for s in items]"])
def test_opaque(source):
    assert facts(source).opaque


def test_vars_of_an_object_is_not_opaque():
    assert facts("d = vars(obj)").opaque is None


def test_shadowed_eval_is_not_opaque():
    assert facts("eval = my_eval\nr = eval('x')").opaque is None


# -- errors and caching ------------------------------------------------------------

def test_syntax_error_carries_the_line():
    with pytest.raises(CellSyntaxError) as info:
        analyze_cell("x = 1\ny = (\n")
    assert info.value.lineno == 2


def test_indented_cell_is_dedented_like_ipython():
    assert facts("  x = 1\n  y = x").defs == ("x", "y")


def test_results_are_cached_by_source():
    assert analyze_cell("q = 1") is analyze_cell("q = 1")


def test_top_level_await_parses():
    assert facts("import asyncio\nawait asyncio.sleep(0)\nx = 1").defs == ("x",)
