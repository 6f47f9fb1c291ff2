"""mlpipe.toml: compute targets, environments, the store location and which Ray to use.

One place, documented in docs/configuration.md: the nearest `mlpipe.toml` in
the notebook's folder or one of its parents. Environment variables win over
the file (MLPIPE_RAY_ADDRESS, MLPIPE_STORE, MLPIPE_PRIVATE_RAY, MLPIPE_RAY_IDLE_MINUTES).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .env_config import EnvSpec, read_envs
from .errors import ConfigError

__all__ = ["Config", "load_config", "CONFIG_FILE"]

CONFIG_FILE = "mlpipe.toml"
_RESOURCE_KEYS = {"num_cpus", "num_gpus", "memory", "resources", "accelerator_type", "runtime_env", "env"}


@dataclass
class Config:
    """Settings for planning and running one notebook."""

    path: Path | None = None
    compute: dict[str, dict[str, Any]] = field(default_factory=dict)
    envs: dict[str, EnvSpec] = field(default_factory=dict)  # [env.NAME] tables (`env_config`)
    store: str | None = None
    ray_address: str | None = None
    ray_private: bool = False
    ray_token_file: str | None = None
    ray_idle_minutes: float | None = None
    ship_project: bool = False  # pack the notebook's folder into the store for nodes that do not share it

    def run_options(self, address: str | None = None, private: bool | None = None) -> dict[str, Any]:
        """The Ray part of `RunOptions`, with what the caller was told (flags) winning over config."""
        return {"address": address or self.ray_address,
                "private_ray": self.ray_private if private is None else private,
                "ray_token_file": self.ray_token_file, "ray_idle_minutes": self.ray_idle_minutes,
                "ship_project": self.ship_project}


def _find(folder: Path) -> Path | None:
    for candidate in [folder, *folder.parents]:
        path = candidate / CONFIG_FILE
        if path.is_file():
            return path
    return None


def load_config(folder: str | os.PathLike) -> Config:
    """Read the nearest mlpipe.toml above `folder` (none is fine)."""
    path = _find(Path(folder).resolve())
    config = Config(path=path)
    if path is not None:
        import tomllib

        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
        unknown = set(data) - {"compute", "env", "store", "ray"}
        if unknown:
            raise ConfigError(
                f"{path}: unknown section or key {sorted(unknown)[0]!r}.",
                hint="Known: [compute.NAME], [env.NAME], store = PATH_OR_URI, [ray] (address, token_file, "
                     "idle_minutes, private).",
            )
        config.envs = read_envs(path, data.get("env") or {})
        for name, spec in (data.get("compute") or {}).items():
            if not isinstance(spec, dict):
                raise ConfigError(f"{path}: [compute.{name}] must be a table of Ray options.")
            bad = set(spec) - _RESOURCE_KEYS
            if bad:
                raise ConfigError(
                    f"{path}: [compute.{name}] has unknown option {sorted(bad)[0]!r}.",
                    hint=f"Allowed: {', '.join(sorted(_RESOURCE_KEYS))}.",
                )
            if "env" in spec and spec["env"] not in config.envs:
                raise ConfigError(
                    f"{path}: [compute.{name}] env = {spec['env']!r} names no [env.{spec['env']}] table.",
                    hint=f"Environments in this file: {', '.join(sorted(config.envs)) or '(none)'}.")
            config.compute[name] = dict(spec)
        store = data.get("store")
        if store is not None:
            if not isinstance(store, str):
                raise ConfigError(f"{path}: store must be a path or URI string.")
            config.store = store if "://" in store or os.path.isabs(store) else str(path.parent / store)
        _read_ray(path, data.get("ray") or {}, config)
    config.store = os.environ.get("MLPIPE_STORE") or config.store
    config.ray_address = os.environ.get("MLPIPE_RAY_ADDRESS") or config.ray_address
    if os.environ.get("MLPIPE_PRIVATE_RAY"):
        config.ray_private = os.environ["MLPIPE_PRIVATE_RAY"].lower() not in ("0", "false", "no", "")
    if os.environ.get("MLPIPE_RAY_IDLE_MINUTES"):
        config.ray_idle_minutes = _minutes(os.environ["MLPIPE_RAY_IDLE_MINUTES"], "MLPIPE_RAY_IDLE_MINUTES")
    return config


_RAY_KEYS = {"address": str, "token_file": str, "idle_minutes": (int, float), "private": bool,
             "ship_project": bool}


def _read_ray(path: Path, ray: Any, config: Config) -> None:
    if not isinstance(ray, dict):
        raise ConfigError(f"{path}: [ray] must be a table.", hint="[ray]\naddress = \"host:6379\"")
    for key, value in ray.items():
        kind = _RAY_KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{path}: [ray] has unknown key {key!r}.",
                              hint=f"Allowed: {', '.join(sorted(_RAY_KEYS))}.")
        if not isinstance(value, kind) or (kind != bool and isinstance(value, bool)):
            raise ConfigError(f"{path}: [ray] {key} = {value!r} has the wrong type.",
                              hint='address and token_file are strings, idle_minutes a number, private and ship_project '
                                   'true/false.')
    config.ray_address = ray.get("address")
    config.ray_private = bool(ray.get("private", False))
    config.ship_project = bool(ray.get("ship_project", False))
    token = ray.get("token_file")
    config.ray_token_file = None if token is None else str(path.parent / Path(token).expanduser())
    if "idle_minutes" in ray:
        config.ray_idle_minutes = _minutes(ray["idle_minutes"], f"{path}: [ray] idle_minutes")


def _minutes(value: Any, where: str) -> float:
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        minutes = -1.0
    if minutes <= 0:
        raise ConfigError(f"{where} must be a positive number of minutes, not {value!r}.",
                          hint="For example 30 (the default), or 0.5 for thirty seconds.")
    return minutes
