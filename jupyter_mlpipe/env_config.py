"""`[env.NAME]` tables of mlpipe.toml: the software a step runs with, as Ray `runtime_env`s.

An environment is read and checked here, when the file is read, so that a
typo names the file, the table and the key before anything is planned. What
Ray is given (`runtime_env_of`) follows Ray's own names; `conda` and
`container` are passed through with their shape checked (they need conda or a
container runtime on the nodes, which the test machines do not have).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from .errors import ConfigError

__all__ = ["ENV_KEYS", "EnvSpec", "read_envs", "runtime_env_of"]

ENV_KEYS = ("pip", "pip_file", "conda", "container", "env_vars", "py_modules")
_CONTAINER_KEYS = ("image",)
_EXAMPLE = '[env.train]\npip = ["torch==2.3.1", "scikit-learn>=1.4"]\nenv_vars = {OMP_NUM_THREADS = "4"}'


class EnvSpec(TypedDict, total=False):
    """One environment as the file gives it, paths made absolute (relative to the mlpipe.toml)."""

    pip: list[str]  # requirement lines
    pip_file: str  # a requirements file (absolute path)
    conda: str | dict[str, Any]  # an environment name, a YAML file (absolute path) or its content as a table
    container: dict[str, str]  # {"image": "repo/image:tag"}
    env_vars: dict[str, str]
    py_modules: list[str]  # local folders/files (absolute paths) or remote URIs


def read_envs(path: Path, tables: Any) -> dict[str, EnvSpec]:
    """The `[env.NAME]` tables of the file at `path`, checked; raises ConfigError naming the table and key."""
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: [env] must hold tables, one per environment.", hint=_EXAMPLE)
    return {name: _read_env(path, name, table) for name, table in tables.items()}


def _read_env(path: Path, name: str, table: Any) -> EnvSpec:
    import re

    where = f"{path}: [env.{name}]"
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$", name):
        raise ConfigError(f"{path}: environment name {name!r} is not valid: use letters, digits, _ and -.")
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table.", hint=_EXAMPLE)
    unknown = [key for key in table if key not in ENV_KEYS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], ENV_KEYS, n=1)
        raise ConfigError(f"{where} has unknown key {unknown[0]!r}.",
                          hint=(f"Did you mean {close[0]!r}? " if close else "") + f"Allowed: {', '.join(ENV_KEYS)}.")
    if "pip" in table and "pip_file" in table:
        raise ConfigError(f"{where} has both pip and pip_file; give one of them.",
                          hint="Put every requirement in the file, or list them all under pip = [...].")
    if "conda" in table and ("pip" in table or "pip_file" in table):
        raise ConfigError(f"{where} has conda and pip: Ray installs one or the other.",
                          hint="List the pip packages inside the conda environment (its `pip:` section).")
    if "container" in table and set(table) - {"container", "env_vars"}:
        other = min(set(table) - {"container", "env_vars"})
        raise ConfigError(f"{where}: container cannot be combined with {other} (Ray runs the image as it is).",
                          hint="Install what the step needs in the image; only env_vars may go with it.")
    spec: EnvSpec = {}
    folder = path.parent
    if "pip" in table:
        spec["pip"] = _strings(table["pip"], f"{where} pip", 'pip = ["pyjokes==0.8.3"]')
    if "pip_file" in table:
        value = table["pip_file"]
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} pip_file must be a path string.", hint='pip_file = "requirements.txt"')
        file = (folder / Path(value).expanduser()).resolve()
        if not file.is_file():
            raise ConfigError(f"{where} pip_file = {value!r}: there is no such file ({file}).",
                              hint="The path is relative to the folder of mlpipe.toml.")
        spec["pip_file"] = str(file)
    if "conda" in table:
        spec["conda"] = _conda(table["conda"], where, folder)
    if "container" in table:
        spec["container"] = _container(table["container"], where)
    if "env_vars" in table:
        spec["env_vars"] = _env_vars(table["env_vars"], where)
    if "py_modules" in table:
        modules = _strings(table["py_modules"], f"{where} py_modules", 'py_modules = ["src/helpers"]')
        spec["py_modules"] = [m if "://" in m else str((folder / Path(m).expanduser()).resolve()) for m in modules]
        missing = [m for m in spec["py_modules"] if "://" not in m and not Path(m).exists()]
        if missing:
            raise ConfigError(f"{where} py_modules: {missing[0]} does not exist.",
                              hint="Local paths are relative to the folder of mlpipe.toml; URIs are passed to Ray.")
    return spec


def _strings(value: Any, where: str, example: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigError(f"{where} must be a list of non-empty strings, not {value!r}.", hint=example)
    return [item.strip() for item in value]


def _conda(value: Any, where: str, folder: Path) -> str | dict[str, Any]:
    if isinstance(value, dict):
        return value  # the environment.yml content as a table: Ray checks its keys
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} conda must be an environment name, a YAML file or a table, not {value!r}.",
                          hint='conda = "environment.yml", or conda = {dependencies = ["python=3.11", "numpy"]}')
    if value.endswith((".yml", ".yaml")):
        file = (folder / Path(value).expanduser()).resolve()
        if not file.is_file():
            raise ConfigError(f"{where} conda = {value!r}: there is no such file ({file}).",
                              hint="The path is relative to the folder of mlpipe.toml.")
        return str(file)
    return value


def _container(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or "image" not in value:
        raise ConfigError(f"{where} container must be a table with an image.",
                          hint='container = {image = "rayproject/ray:2.9.0-py311"}')
    bad = [key for key in value if key not in _CONTAINER_KEYS]
    if bad:
        raise ConfigError(f"{where} container has unknown key {bad[0]!r}.", hint="Allowed: image.")
    if not isinstance(value["image"], str) or not value["image"]:
        raise ConfigError(f"{where} container image must be a string, not {value['image']!r}.")
    return {"image": value["image"]}


def _env_vars(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} env_vars must be a table of strings.", hint='env_vars = {OMP_NUM_THREADS = "4"}')
    for key, item in value.items():
        if not isinstance(item, str):
            raise ConfigError(f"{where} env_vars: {key} = {item!r} is not a string.",
                              hint=f'Quote it: {key} = "{item}".')
    return dict(value)


def runtime_env_of(spec: EnvSpec) -> dict[str, Any]:
    """The Ray `runtime_env` of an environment, before its pip requirements are resolved (`execute.environments`)."""
    env: dict[str, Any] = {}
    if "pip" in spec:
        env["pip"] = list(spec["pip"])
    if "pip_file" in spec:
        env["pip"] = spec["pip_file"]  # Ray reads a requirements file's path too
    if "conda" in spec:
        env["conda"] = spec["conda"]
    if "container" in spec:
        env["image_uri"] = spec["container"]["image"]
    if "env_vars" in spec:
        env["env_vars"] = dict(spec["env_vars"])
    if "py_modules" in spec:
        env["py_modules"] = list(spec["py_modules"])
    return env
