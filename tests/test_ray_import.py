"""`import ray` without the IRI grammar that jsonschema would compile: same behaviour, paid on first use."""

import json
import subprocess
import sys

import pytest

PROBE = r"""
import json, sys, time
from jupyter_mlpipe.execute.ray_import import import_ray
t = time.perf_counter()
import_ray()
took = time.perf_counter() - t
deferred = type(sys.modules.get("rfc3987_syntax")).__name__
from jsonschema import Draft202012Validator, FormatChecker
v = Draft202012Validator({"type": "string", "format": "iri"}, format_checker=FormatChecker())
good = v.is_valid("https://example.org/a b")  # a space is not allowed in an IRI
ok = v.is_valid("https://example.org/\u00e4")
real = type(sys.modules.get("rfc3987_syntax")).__name__
print(json.dumps({"deferred": deferred, "real": real, "bad_rejected": not good, "good_accepted": ok}))
"""


def test_ray_imports_with_the_grammar_deferred_and_iri_checks_still_work():
    pytest.importorskip("rfc3987_syntax")
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"deferred": "_DeferredGrammar", "real": "module", "bad_rejected": True, "good_accepted": True}


def test_nothing_is_deferred_once_the_real_grammar_is_imported():
    pytest.importorskip("rfc3987_syntax")
    code = ("import rfc3987_syntax, sys\nfrom jupyter_mlpipe.execute.ray_import import defer_iri_grammar\n"
            "print(defer_iri_grammar(), type(sys.modules['rfc3987_syntax']).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "module"], out.stderr
