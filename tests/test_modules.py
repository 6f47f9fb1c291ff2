"""Module steps (`%%step NAME --module SOURCE`): the expansion and its interface checks, names kept apart,
real Ray runs with reuse shared between two notebooks, published versions pinned, the kernel's cell as
the oracle, the module's code inline as the oracle, `mlpipe plan --expand`."""

from __future__ import annotations

import json
import pickle

import nbformat
import pytest

import jupyter_mlpipe
from jupyter_mlpipe.api import plan as plan_of
from jupyter_mlpipe.errors import ModuleError, PlanError, StepOptionError
from jupyter_mlpipe.plan.options import parse_step_line

from conftest import mlpipe_cli, write_notebook

LIB = [
    "%load_ext jupyter_mlpipe",
    "def norm(v, w):\n    return [x / w for x in v]",
    {"source": "raw = None\nwindow = 3\nscale = 2.0", "tags": ["parameters"]},
    "%%step clean\ndf = [x for x in raw if x is not None]",
    "%%step scale\nX = norm(df, window)\nX = [x * scale for x in X]\nn = len(X)",
    "%%step stats\nsummary = {'mean': sum(df) / len(df), 'n': len(df)}",
]


def _user(module: str = "lib/features.ipynb", binds: str = "raw = df\nwindow = 7", load: str = "df = [1, None, 2, 3, k]",
          extra: str = "", final: str = "model = sum(X) + n + len(df)\nmeans = summary") -> list:
    return [
        "%load_ext jupyter_mlpipe",
        {"source": "k = 4", "tags": ["parameters"]},
        f"%%step load\n{load}",
        f"%%step feats --module {module}{extra}\n{binds}",
        f"%%step train\n{final}",
    ]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "lib").mkdir()
    write_notebook(tmp_path / "lib" / "features.ipynb", LIB)
    return tmp_path


# -- the plan -------------------------------------------------------------------------------------

def test_the_module_step_line():
    o = parse_step_line("feats --module lib/features.ipynb --outputs X,n")
    assert (o.module, o.outputs) == ("lib/features.ipynb", ("X", "n"))
    assert "module" not in parse_step_line("plain").to_dict()  # a plain step's JSON is as before
    with pytest.raises(StepOptionError, match="--gpus does not apply to a module step"):
        parse_step_line("feats --module m.ipynb --gpus 1")
    with pytest.raises(StepOptionError, match="--foreach does not apply"):
        parse_step_line("feats --module m.ipynb --foreach b --as x")


def test_a_module_expands_into_its_steps_with_a_binding_node(project):
    plan = plan_of(write_notebook(project / "user.ipynb", _user()))
    assert list(plan.steps) == ["load", "feats", "feats.clean", "feats.scale", "feats.stats", "train"]
    node = plan.steps["feats"]
    # names and literals bound; `scale` keeps the module's default
    assert node.binding == {"raw": ("input", "df"), "window": ("literal", 7), "scale": ("literal", 2.0)}
    assert node.input_sources == {"df": "load"} and node.outputs == ["raw", "scale", "window"]
    assert plan.steps["feats.clean"].input_sources == {"raw": "feats"}
    assert plan.steps["feats.scale"].input_sources == {"df": "feats.clean", "scale": "feats", "window": "feats"}
    assert plan.steps["feats.scale"].params == []  # the module's parameters are its binding node's outputs
    group = plan.modules["feats"]
    assert group.outputs == ("X", "n", "summary")  # its final steps' results (`df` is read inside)
    assert group.steps == ("feats", "feats.clean", "feats.scale", "feats.stats")
    # the notebook's `df` is not the module's `df`
    assert plan.steps["train"].input_sources == {"X": "feats.scale", "n": "feats.scale", "df": "load",
                                                 "summary": "feats.stats"}
    # `mlpipe run NOTEBOOK feats`: a module step's name selects all its steps
    assert plan.upstream(["feats"]) == ["load", "feats", "feats.clean", "feats.scale", "feats.stats"]
    data = json.loads(plan.to_json())
    assert data["modules"]["feats"]["outputs"] == ["X", "n", "summary"]
    assert [s for s in data["steps"] if s["name"] == "feats.clean"][0]["scope"] == "feats"


def test_plan_text_collapsed_and_expanded(project):
    plan = plan_of(write_notebook(project / "user.ipynb", _user()))
    short, full = plan.describe(), plan.describe(expand=True)
    assert "module feats  (cell 4; lib/features.ipynb, 3 steps)" in short and "feats.clean" not in short
    assert "binds: raw = df, scale = 2.0, window = 7" in short and "<- feats: X, n, summary" in short
    assert "step feats.clean" in full and "<- feats: raw" in full


def test_chosen_outputs(project):
    plan = plan_of(write_notebook(project / "user.ipynb", _user(extra=" --outputs df,n", final="m = len(df) + n")))
    assert plan.modules["feats"].outputs == ("df", "n")
    assert plan.steps["train"].input_sources == {"df": "feats.clean", "n": "feats.scale"}  # the module's df now
    with pytest.raises(PlanError, match="'X'"):  # not an output any more
        plan_of(write_notebook(project / "user.ipynb", _user(extra=" --outputs n")))


def test_nested_modules_nest_their_names(project):
    write_notebook(project / "lib" / "wrap.ipynb", [
        {"source": "data = None", "tags": ["parameters"]},
        "%%step inner --module features.ipynb\nraw = data\nwindow = 2",
        "%%step total\nt = sum(X) + summary['n']",
    ])
    plan = plan_of(write_notebook(project / "user.ipynb", _user(
        module="lib/wrap.ipynb", binds="data = df", final="model = t")))
    assert "w" not in plan.modules
    assert [n for n in plan.steps if n.startswith("feats.")] == [
        "feats.inner", "feats.inner.clean", "feats.inner.scale", "feats.inner.stats", "feats.total"]
    assert plan.steps["feats.inner"].binding == {"raw": ("input", "data"), "window": ("literal", 2),
                                                 "scale": ("literal", 2.0)}
    assert plan.steps["feats.inner"].input_sources == {"data": "feats"}
    assert plan.steps["train"].input_sources == {"t": "feats.total"}
    assert set(plan.modules) == {"feats", "feats.inner"}


@pytest.mark.parametrize("cells_change, words", [
    (dict(binds="raw = df\nwindw = 7"), ["no parameter 'windw'", "Did you mean 'window'", "lib/features.ipynb"]),
    (dict(binds="raw = df\nwindow = len(df)"), ["'window'", "a name of this notebook or a literal"]),
    (dict(binds="raw = df\nprint(1)"), ["may only assign the module's parameters"]),
    (dict(extra=" --outputs summry"), ["does not define 'summry'", "Did you mean 'summary'"]),
    (dict(module="lib/feature.ipynb"), ["no module notebook 'lib/feature.ipynb'", "Did you mean lib/features.ipynb"]),
    (dict(module="features.ipynb"), ["no module notebook 'features.ipynb'", "Did you mean lib/features.ipynb"]),
    (dict(binds="raw = nowhere"), ["'nowhere'"]),
    (dict(module="features@1"), ["no published pipeline 'features'"]),
])
def test_interface_errors_name_the_module_and_the_name(project, cells_change, words):
    with pytest.raises(PlanError) as err:
        plan_of(write_notebook(project / "user.ipynb", _user(**cells_change)))
    for word in words:
        assert word in str(err.value), str(err.value)


def test_a_parameter_without_a_literal_default_must_be_bound(project):
    cells = [c if not (isinstance(c, dict)) else {"source": "raw = None\nwindow = 3\nscale = float('2')",
                                                   "tags": ["parameters"]} for c in LIB]
    write_notebook(project / "lib" / "features.ipynb", cells)
    with pytest.raises(ModuleError, match="'scale' of module lib/features.ipynb has no literal default") as err:
        plan_of(write_notebook(project / "user.ipynb", _user()))
    assert err.value.variable == "scale" and err.value.module == "lib/features.ipynb"
    assert plan_of(write_notebook(project / "user.ipynb", _user(binds="raw = df\nscale = 1.0"))).modules


def test_a_module_cycle_is_refused(project):
    write_notebook(project / "lib" / "a.ipynb", ["%%step x --module b.ipynb\n", "%%step y\nv = 1"])
    write_notebook(project / "lib" / "b.ipynb", ["%%step x --module a.ipynb\n", "%%step y\nv = 1"])
    with pytest.raises(ModuleError, match=r"uses itself: user.ipynb -> a.ipynb -> b.ipynb -> a.ipynb"):
        plan_of(write_notebook(project / "user.ipynb", ["%%step m --module lib/a.ipynb\n"]))
    with pytest.raises(ModuleError, match="uses itself"):
        plan_of(write_notebook(project / "self.ipynb", ["%%step m --module self.ipynb\n", "%%step y\nv = 1"]))


# -- runs on Ray ------------------------------------------------------------------------------------

def _statuses(run, path) -> dict[str, str]:
    """Step statuses as the run record keeps them."""
    record = jupyter_mlpipe.load_run(run.id, path)
    return {name: step.status for name, step in record.steps.items()}


def _counts(statuses: dict[str, str], prefix: str = "feats.") -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, status in statuses.items():
        if name.startswith(prefix):
            counts[status] = counts.get(status, 0) + 1
    return counts


def test_two_notebooks_share_a_modules_cached_steps(project, ray_address):
    a = write_notebook(project / "a.ipynb", _user())
    # another notebook: other step names, another name for the data, the same values
    b = write_notebook(project / "b.ipynb", [
        "%load_ext jupyter_mlpipe",
        "%%step fetch\nrows = [1, None, 2, 3, 4]",
        "%%step prep --module lib/features.ipynb\nwindow = 7\nraw = rows",
        "%%step fit\nscore = sum(X)",
    ])
    run_a = jupyter_mlpipe.run(a)
    assert run_a.status == "succeeded", run_a.summary()
    assert _counts(_statuses(run_a, a)) == {"succeeded": 3}
    run_b = jupyter_mlpipe.run(b)
    assert run_b.status == "succeeded", run_b.summary()
    assert _counts(_statuses(run_b, b), "prep.") == {"reused": 3}  # content keys: no names, no notebook
    assert run_b["score"] == sum(run_a["X"])
    # the notebook's df and the module's df are kept apart
    assert run_a["df"] == [1, None, 2, 3, 4] and run_a["model"] == sum(run_a["X"]) + 4 + 5
    assert jupyter_mlpipe.load_run(run_a.id, a)["df"] == [1, None, 2, 3, 4]  # from the record too
    # a literal changed: the steps that read it run, the others are reused
    c = write_notebook(project / "c.ipynb", _user(binds="raw = df\nwindow = 8"))
    statuses = _statuses(jupyter_mlpipe.run(c), c)
    assert (statuses["feats.clean"], statuses["feats.scale"], statuses["feats.stats"]) == (
        "reused", "succeeded", "reused")


def test_a_pinned_version_does_not_follow_its_source_and_a_path_does(project, ray_address):
    from jupyter_mlpipe.publish import Registry, workspace_of

    (project / "mlpipe.toml").write_text("")  # one workspace for lib/ and the notebooks that use it
    lib = project / "lib" / "features.ipynb"
    registry = Registry(workspace_of(lib))
    registry.publish(lib, "features")
    pinned = write_notebook(project / "pinned.ipynb", _user(module="features@1"))
    latest = write_notebook(project / "latest.ipynb", _user(module="features@latest"))
    by_path = write_notebook(project / "path.ipynb", _user())
    before = jupyter_mlpipe.run(pinned)
    assert before.status == "succeeded", before.summary()
    assert plan_of(pinned).modules["feats"].label == "features@1"
    edited = list(LIB)
    edited[4] = "%%step scale\nX = norm(df, window)\nX = [x * scale * 10 for x in X]\nn = len(X)"
    write_notebook(lib, edited)
    after, path_run = jupyter_mlpipe.run(pinned), jupyter_mlpipe.run(by_path)
    assert after["X"] == before["X"] and _counts(_statuses(after, pinned)) == {"reused": 3}
    assert path_run["X"] == [x * 10 for x in before["X"]]
    assert "* 10" not in plan_of(latest).steps["feats.scale"].code[0][1]
    registry.publish(lib, "features")  # version 2; the default stays 1 until set
    registry.set_default("features", 2)
    assert "* 10" in plan_of(latest).steps["feats.scale"].code[0][1]
    assert "* 10" not in plan_of(pinned).steps["feats.scale"].code[0][1]
    with pytest.raises(ModuleError, match="has no version 5") as err:
        plan_of(write_notebook(project / "v5.ipynb", _user(module="features@5")))
    assert err.value.version == 5 and err.value.module == "features"
    registry.set_enabled("features", False)
    with pytest.raises(ModuleError, match="'features' \\(version 1\\) is disabled"):
        plan_of(pinned)


# -- the oracles: the kernel's cell, and the module's code inline -----------------------------------

def _inline() -> dict:
    """The notebook top to bottom with the module's code inline: its parameters cell, the cell's assignments,
    its cells in order, in a namespace of its own (as a function's body), its outputs then bound here."""
    from jupyter_mlpipe.plan.source import strip_control_lines

    ns: dict = {}
    exec("k = 4", ns)
    exec("df = [1, None, 2, 3, k]", ns)
    module: dict = {}
    for cell in LIB:
        source = cell["source"] if isinstance(cell, dict) else strip_control_lines(cell)
        exec(source.replace("%%step", "# step"), module)
        if isinstance(cell, dict):  # after the parameters cell: the module cell's assignments
            module.update(raw=ns["df"], window=7)
    ns.update({name: module[name] for name in ("X", "n", "summary")})
    exec("model = sum(X) + n + len(df)\nmeans = summary", ns)
    return ns


def test_the_pipeline_gives_the_modules_code_inline_and_the_kernels_values(project, ray_address, monkeypatch):
    from nbclient import NotebookClient

    cells = _user() + ["%%scratch\nimport pickle\npickle.dump({n: globals()[n] for n in "
                       "['X', 'n', 'summary', 'model', 'means', 'df']}, open('kernel.pkl', 'wb'))"]
    path = write_notebook(project / "user.ipynb", cells)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(project)}}).execute()
    kernel = pickle.loads((project / "kernel.pkl").read_bytes())
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "feats: module" in text and "bound X, n, summary" in text
    run = jupyter_mlpipe.run(path)
    assert run.status == "succeeded", run.summary()
    inline = _inline()
    for name in ("X", "n", "summary", "model", "means", "df"):
        assert run[name] == kernel[name] == inline[name], name
    # the kernel stored the same df: the pipeline reuses the steps the kernel's module run ran
    assert _counts(_statuses(run, path)) == {"reused": 3}


def test_mlpipe_plan_expand(project):
    path = write_notebook(project / "user.ipynb", _user())
    short = mlpipe_cli("plan", str(path), cwd=project)
    assert short.returncode == 0, short.stderr
    assert "module feats" in short.stdout and "feats.clean" not in short.stdout
    full = mlpipe_cli("plan", str(path), "--expand", cwd=project)
    assert full.returncode == 0 and "step feats.clean" in full.stdout and "step feats.stats" in full.stdout
    bad = mlpipe_cli("plan", str(write_notebook(project / "bad.ipynb", _user(binds="raw = df\nwindw = 7"))),
                     cwd=project)
    assert bad.returncode != 0 and "Did you mean 'window'" in bad.stderr


def test_a_module_cell_error_in_the_kernel_names_the_cell_a_person_sees(project, monkeypatch):
    """The kernel plans a module cell as a notebook of its own: its errors must still name this notebook's
    cell (found in the saved notebook), or none when the cell is not saved yet, and the module as written."""
    from nbclient import NotebookClient

    path = write_notebook(project / "user.ipynb", _user(binds="raw = df\nwndow = 7"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("%%step feats2 --module lib/features.ipynb\nraw = df\nwindw = 7"))
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(project)}}).execute()

    def error(cell):
        return "".join(o.get("text", "") + o.get("evalue", "") for o in cell.get("outputs", []))  # a UsageError

    saved, unsaved = error(nb.cells[3]), error(nb.cells[-1])
    assert "Step 'feats' (cell 4, module lib/features.ipynb)" in saved and "'wndow'" in saved, saved
    assert "Step 'feats2' (module lib/features.ipynb)" in unsaved and "'windw'" in unsaved, unsaved
    assert str(project) not in saved + unsaved
