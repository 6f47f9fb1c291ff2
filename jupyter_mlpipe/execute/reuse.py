"""Cache keys of steps, and which parts of a key changed since a step's previous run.

A step is reused when nothing it depends on changed, so its key hashes content,
never names or timestamps: normalized code, the shared code used, the digests
of the input values, the parameter values read, the content of --deps files and
the environment (Python and imported packages; a step's own `[env.NAME]` as
`environments` resolves it). Resources are not part of it.
The parts are kept beside the key so that `explain` can say what changed; the
decision itself (reuse or run, and the reason) is made in `decision`.
"""

from __future__ import annotations

import ast
import difflib
import glob
import hashlib
import json
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..plan import Step

__all__ = ["key_components", "key_of", "explain", "normalize_code", "step_code", "code_digest"]

KEY_VERSION = 1


def normalize_code(source: str) -> str:
    """Code without comments and formatting: a comment or whitespace edit keeps the key."""
    from ..plan.source import strip_control_lines, to_python

    text = strip_control_lines(source)
    try:
        return ast.unparse(ast.parse(to_python(text)))
    except SyntaxError:
        return "\n".join(line.rstrip() for line in text.strip().splitlines())


def step_code(step: Step) -> str:
    """A step's code as its key sees it (`normalize_code` of each cell): what "the code changed" compares."""
    return "\n\n".join(normalize_code(body) for _, body in step.code)


def code_digest(code: str) -> str:
    """A short name for `step_code`'s text: front ends compare a step's code now with a run's without the code."""
    return _digest(code)[:16]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def deps_digests(patterns: tuple[str, ...], base: Path) -> dict[str, str]:
    """Content digests of the --deps files (globs expanded, relative to the notebook's folder)."""
    result: dict[str, str] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(str(base / pattern), recursive=True))
        if not matches:
            result[pattern] = "missing"
        for match in matches:
            path = Path(match)
            if path.is_file():
                result[os.path.relpath(path, base)] = _file_digest(path)
    return result


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


@lru_cache(maxsize=512)
def package_version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    if module in sys.stdlib_module_names or module in sys.builtin_module_names:
        return None
    for dist in _distributions().get(module, [module]):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return None


def imported_modules(step: Step) -> list[str]:
    """Top-level packages the step imports: in the shared code it uses and in its own cells."""
    from ..plan.source import to_python

    modules: set[str] = set()
    sources = [s.source for s in step.shared if s.kind == "import"]
    sources += [to_python(body) for _, body in step.code if "import" in body]
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    return sorted(modules)


def key_components(step: Step, *, input_digests: dict[str, str], params: dict[str, Any],
                   base: Path, runtime_env: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the key is made of, kept so that `why` can say which part changed.

    `runtime_env`: the step's environment as `environments.EnvResolver.component` gives it; a step
    without one has no such part, so that its key is what it was before environments existed."""
    packages = {m: v for m in imported_modules(step) if (v := package_version(m)) is not None}
    extra: dict[str, Any] = {}
    if runtime_env is not None:
        extra["runtime_env"] = runtime_env
    options = step.options
    if getattr(options, "foreach", None) or getattr(options, "files", None):  # a fan-out step (`fanout_driver`)
        extra["fanout"] = {"as": options.as_name, "batch_size": options.batch_size, "gather": options.gather,
                           "threshold": options.error_threshold, "foreach": options.foreach,
                           "files": deps_digests((options.files,), base) if options.files else None}
    return {**extra,
        "version": KEY_VERSION,
        "code": step_code(step),
        "shared": "\n".join(normalize_code(s.source) for s in step.shared),
        "inputs": dict(sorted(input_digests.items())),
        "params": {name: repr(params[name]) for name in sorted(step.params)},
        "deps": deps_digests(step.options.deps, base),
        "env": {"python": ".".join(map(str, sys.version_info[:3])), "packages": packages},
    }


def key_of(components: dict[str, Any]) -> str:
    return _digest(json.dumps(components, sort_keys=True))


def explain(components: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    """Which parts of the key differ from the previous run of the step (empty: nothing did)."""
    if previous is None:
        return ["this step never ran before"]
    changes: list[str] = []
    if components.get("version") != previous.get("version"):
        changes.append("jupyter-mlpipe's key format changed")
    if components["code"] != previous.get("code"):
        diff = difflib.unified_diff(previous.get("code", "").splitlines(), components["code"].splitlines(),
                                    "before", "now", lineterm="", n=1)
        lines = [line for line in diff][2:14]
        # the first line is the change's headline (run summaries join headlines); the diff follows it
        changes.append("\n".join(["the code changed", *("    " + line for line in lines)]))
    if components["shared"] != previous.get("shared"):
        changes.append("shared code it uses (imports, functions, classes, constants) changed")
    if components.get("fanout") != previous.get("fanout"):
        changes.append("its fan-out options or the files it fans out over changed")
    changes += _dict_changes("input", components["inputs"], previous.get("inputs", {}),
                             "its value changed")
    changes += _dict_changes("parameter", components["params"], previous.get("params", {}), None)
    changes += _dict_changes("file", components["deps"], previous.get("deps", {}), "its content changed")
    env, old_env = components["env"], previous.get("env", {})
    if env.get("python") != old_env.get("python"):
        changes.append(f"Python changed: {old_env.get('python')} -> {env.get('python')}")
    changes += _dict_changes("package", env.get("packages", {}), old_env.get("packages", {}), None)
    changes += _runtime_env_changes(components.get("runtime_env"), previous.get("runtime_env"))
    return changes


def _runtime_env_changes(now: dict[str, Any] | None, before: dict[str, Any] | None) -> list[str]:
    """What changed in the step's own environment: the pinned packages by name, variables by name."""
    if now == before:
        return []
    if before is None:
        return ["it now runs in its own environment (--env)"]
    if now is None:
        return ["it no longer runs in its own environment (--env): it uses the driver's"]
    changes = _dict_changes("environment package", now.get("pip", {}), before.get("pip", {}), None)
    changes += _dict_changes("environment variable", now.get("env_vars", {}), before.get("env_vars", {}),
                             "its value changed")
    for part, words in (("conda", "its conda environment"), ("image", "its container image"),
                        ("py_modules", "its py_modules"), ("other", "its runtime_env"),
                        ("pip_error", "whether its pip requirements resolve")):
        if now.get(part) != before.get(part):
            changes.append(f"{words} changed")
    return changes or ["its environment changed"]


def _dict_changes(kind: str, now: dict, before: dict, what: str | None) -> list[str]:
    out = []
    for name in sorted(set(now) | set(before)):
        if name not in before:
            out.append(f"{kind} {name!r} is new")
        elif name not in now:
            out.append(f"{kind} {name!r} is no longer used")
        elif now[name] != before[name]:
            detail = what or f"{before[name]} -> {now[name]}"
            out.append(f"{kind} {name!r} changed: {detail}")
    return out
