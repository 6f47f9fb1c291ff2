"""The side panel's designer (#18): what the server gives it.

`GET plan` carries `flows` (each variable on an edge: the cell that defines it, the cells that
read it), and `GET stepline?line=TEXT` checks a `%%step` line with the planner's own parser, so
the form writes only lines the planner accepts and shows the parser's message otherwise.
The form, the commands and the highlighting are tested in the browser
(labextension/ui-tests/tests/designer.spec.ts) and in Jest (labextension/src/__tests__).
"""

from __future__ import annotations

import json

import pytest

from conftest import write_notebook

# pytest-jupyter's fixtures, for this module only (as tests/test_server.py)
from pytest_jupyter.jupyter_server import *  # noqa: E402, F403

from jupyter_mlpipe.plan import Pipeline
from jupyter_mlpipe.plan.flows import variable_flows

CELLS = [
    "import numpy as np",
    "%%step load\nxs = list(range(4))",
    "ys = [x * 2 for x in xs]\nprint(len(ys))",
    "# a note",
    "%%step total\nprint(len(ys))",
    "total = sum(ys) + len(xs)\nys = None",
    "print(ys)",
    "%%step last\nprint(total)",
]


def test_each_variable_on_an_edge_has_its_defining_cell_and_its_readers():
    flows = variable_flows(Pipeline.from_sources(CELLS))
    assert flows == [
        {"variable": "xs", "from": "load", "to": "total", "defined_in": [1], "read_in": [5]},
        # read in cell 4 and 5; cell 5 binds it again, so cell 6 reads total's own ys
        {"variable": "ys", "from": "load", "to": "total", "defined_in": [2], "read_in": [4, 5]},
        {"variable": "total", "from": "total", "to": "last", "defined_in": [5], "read_in": [7]},
    ]


def test_the_last_definition_in_the_step_is_the_one_that_flows():
    flows = variable_flows(Pipeline.from_sources(["%%step a\nx = 1", "x = x + 1", "%%step b\nprint(x)"]))
    assert flows == [{"variable": "x", "from": "a", "to": "b", "defined_in": [1], "read_in": [2]}]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlpipe.server": True}}}


@pytest.fixture
def api(jp_fetch, jp_asyncio_loop):
    def call(method, *parts, params=None):
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("mlpipe", "api", *parts, params=params, method=method, raise_error=False))
        return response.code, json.loads(response.body.decode())

    return call


def test_the_plan_carries_the_flows(api, jp_root_dir):
    write_notebook(jp_root_dir / "pipe.ipynb", CELLS)
    status, plan = api("GET", "plan", params={"path": "pipe.ipynb"})
    assert status == 200, plan
    assert plan["flows"] == variable_flows(Pipeline.from_sources(CELLS))


@pytest.mark.parametrize("line, words", [
    ("train --gpus two", ["--gpus must be a number (got 'two')"]),
    ("train --gpus 1.5", ["--gpus above 1 must be a whole number"]),
    ("train --memory lots", ["--memory must be a size such as 4GB"]),
    ("train --retries -1", ["--retries must be 0 or more"]),
    ("train --timeout 0", ["--timeout must be greater than 0"]),
    ("train --gpu 1", ["unknown option --gpu", "Did you mean --gpus?"]),
    ("sub --module lib.ipynb --gpus 1", ["--gpus does not apply to a module step"]),
    ("train --compute 'my gpu'", ["Invalid --compute target 'my gpu'"]),
])
def test_a_bad_step_line_is_refused_with_the_parsers_message(api, line, words):
    status, body = api("GET", "stepline", params={"line": line})
    assert status == 400, body
    said = body["message"] + " " + (body["hint"] or "")
    for word in words:
        assert word in said, body


def test_a_good_step_line_gives_its_options(api):
    status, body = api("GET", "stepline", params={"line": "train --gpus 2 --memory 4GB --no-cache --env torch"})
    assert status == 200, body
    options = body["options"]
    assert (options["gpus"], options["memory"], options["no_cache"], options["env"]) == (2.0, 4 * 10**9, True, "torch")
    status, body = api("GET", "stepline")
    assert status == 400 and "?line=" in body["message"]
