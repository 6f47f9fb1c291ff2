"""The package's shape: its public names, no private names across modules, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import jupyter_mlpipe

PACKAGE = Path(jupyter_mlpipe.__file__).resolve().parent
NAME = "jupyter_mlpipe"


def test_the_public_names_are_pinned():
    assert sorted(jupyter_mlpipe.__all__) == [
        "ArtifactCorrupt",
        "ArtifactMissing",
        "ConfigError",
        "InfeasibleRequest",
        "MlpipeError",
        "Pipeline",
        "PlanError",
        "RunNotFound",
        "StepFailed",
        "StepOptionError",
        "UnstorableValue",
        "__version__",
        "compare",
        "interactive_metrics",
        "load_ipython_extension",
        "load_run",
        "log_metric",
        "log_metrics",
        "run",
        "runs",
        "unload_ipython_extension",
    ]
    for name in jupyter_mlpipe.__all__:
        assert getattr(jupyter_mlpipe, name) is not None, name


# --------------------------------------------------------------------------- the import graph


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its `__init__.py`)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _base(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an `from X import ...` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    parts = module.split(".")
    package = parts if is_package else parts[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def _ours(name: str) -> str | None:
    """The package module `name` is, or the package module it is a name inside; None outside the package."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import anywhere in `module`, functions too."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, node)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in MODULES:  # `from . import commands`: the module itself
                    found.append((submodule, None, node.lineno))
                else:
                    found.append((base, alias.name, node.lineno))
    return found


def test_no_module_imports_a_private_name_of_another():
    offences = []
    for module in MODULES:
        for target, name, line in _imports(module):
            target = _ours(target)
            if target is None or target == module or name is None:
                continue
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                offences.append(f"{MODULES[module].relative_to(PACKAGE.parent)}:{line}: "
                                f"from {target} import {name}")
    assert not offences, "private names imported from another module:\n" + "\n".join(offences)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module in MODULES:
        for target, _, _ in _imports(module):
            target = _ours(target)
            if target is not None and target != module and target != NAME:
                graph[module].add(target)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_the_package_modules():
    """Imports inside functions count: a cycle hidden in a function is still a cycle.

    The package's `__init__` is left out as a target: it only re-exports names, lazily.
    """
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
