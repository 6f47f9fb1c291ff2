"""mlpipe.toml: compute targets, the store location and the Ray address.

One place, documented in docs/configuration.md: the nearest `mlpipe.toml` in
the notebook's folder or one of its parents. Environment variables win over
the file (MLPIPE_RAY_ADDRESS, MLPIPE_STORE).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["Config", "load_config", "CONFIG_FILE"]

CONFIG_FILE = "mlpipe.toml"
_RESOURCE_KEYS = {"num_cpus", "num_gpus", "memory", "resources", "accelerator_type", "runtime_env"}


@dataclass
class Config:
    """Settings for planning and running one notebook."""

    path: Path | None = None
    compute: dict[str, dict[str, Any]] = field(default_factory=dict)
    store: str | None = None
    ray_address: str | None = None


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
        unknown = set(data) - {"compute", "store", "ray"}
        if unknown:
            raise ConfigError(
                f"{path}: unknown section or key {sorted(unknown)[0]!r}.",
                hint="Known: [compute.NAME], store = PATH_OR_URI, [ray] address = ...",
            )
        for name, spec in (data.get("compute") or {}).items():
            if not isinstance(spec, dict):
                raise ConfigError(f"{path}: [compute.{name}] must be a table of Ray options.")
            bad = set(spec) - _RESOURCE_KEYS
            if bad:
                raise ConfigError(
                    f"{path}: [compute.{name}] has unknown option {sorted(bad)[0]!r}.",
                    hint=f"Allowed: {', '.join(sorted(_RESOURCE_KEYS))}.",
                )
            config.compute[name] = dict(spec)
        store = data.get("store")
        if store is not None:
            if not isinstance(store, str):
                raise ConfigError(f"{path}: store must be a path or URI string.")
            config.store = store if "://" in store or os.path.isabs(store) else str(path.parent / store)
        config.ray_address = (data.get("ray") or {}).get("address")
    config.store = os.environ.get("MLPIPE_STORE") or config.store
    config.ray_address = os.environ.get("MLPIPE_RAY_ADDRESS") or config.ray_address
    return config
