"""The exceptions of jupyter-mlpipe: one base, specific subclasses that carry data.

Every error names what was wrong and how to fix it; the data (step, cell,
variable) is kept on attributes so that tools (CLI, REST, panel) can show it
without parsing the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MlpipeError",
    "PlanError",
    "StepOptionError",
    "ModuleError",
    "ConfigError",
    "UnstorableValue",
    "ArtifactError",
    "ArtifactWriteError",
    "ArtifactCorrupt",
    "ArtifactMissing",
    "InfeasibleRequest",
    "RayUnavailable",
    "StepFailed",
    "EnvBuildFailed",
    "RunNotFound",
    "PublishError",
    "ParamError",
    "ScheduleError",
    "SweepError",
]


_carries = dataclass(eq=False, repr=False, kw_only=True)
"""An error class as a dataclass of the data it carries: keyword-only fields after the message.
Identity equality and `Exception`'s repr are kept."""


@_carries
class MlpipeError(Exception):
    """Base of every error jupyter-mlpipe raises on purpose."""

    message: str = field(kw_only=False)
    hint: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} Hint: {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for the CLI's --json and the REST API."""
        data = {"error": type(self).__name__, "message": self.message, "hint": self.hint}
        for key in ("step", "cell", "variable"):
            if hasattr(self, key):
                data[key] = getattr(self, key)
        return data


@_carries
class PlanError(MlpipeError):
    """The notebook cannot be turned into a step graph."""

    step: str | None = None
    cell: int | None = None
    variable: str | None = None


class StepOptionError(PlanError):
    """A `%%step` line has a bad flag or value."""


@_carries
class ModuleError(PlanError):
    """A `%%step NAME --module SOURCE` step does not fit its module: `module` (the notebook path or published
    name), `version` (a published one's) and `variable` (the parameter or output) say where."""

    module: str | None = None
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "module": self.module, "version": self.version}


class ConfigError(MlpipeError):
    """The mlpipe configuration (mlpipe.toml, environment) is invalid."""


@_carries
class UnstorableValue(MlpipeError):
    """A step produced a value that cannot be written to the artifact store."""

    variable: str
    step: str | None = None
    type_name: str | None = None


@_carries
class ArtifactError(MlpipeError):
    """Base for problems reading an artifact back."""

    digest: str


@_carries
class ArtifactWriteError(MlpipeError):
    """A value could not be written to the artifact store (disk full, no permission, storage unreachable)."""

    variable: str
    step: str | None = None
    store: str | None = None


class ArtifactCorrupt(ArtifactError):
    """The bytes on disk do not hash to the artifact's address."""


class ArtifactMissing(ArtifactError):
    """No artifact is stored under that address."""


@_carries
class InfeasibleRequest(MlpipeError):
    """A step asks for resources that the Ray cluster can never provide."""

    step: str
    requested: dict
    available: dict


@_carries
class RayUnavailable(MlpipeError):
    """Ray could not be started or reached, or it stopped while a run needed it."""

    address: str | None = None


@_carries
class StepFailed(MlpipeError):
    """A step raised, timed out or its worker died."""

    step: str
    cell: int | None = None
    ename: str | None = None
    evalue: str | None = None
    traceback: str | None = None
    notebook_path: str | None = None


@_carries
class EnvBuildFailed(MlpipeError):
    """A step's environment (`[env.NAME]`) cannot be built: pip cannot resolve or install its requirements."""

    step: str | None = None
    env: str | None = None
    installer: str = ""  # the installer's own message


class RunNotFound(MlpipeError):
    """No run with that id is recorded in the store."""


@_carries
class PublishError(MlpipeError):
    """A published pipeline, version or API key that does not exist or cannot be used as asked."""

    pipeline: str | None = None
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "pipeline": self.pipeline, "version": self.version}


@_carries
class ParamError(MlpipeError):
    """A parameter value refused before a run: an unknown name, or a value of the wrong type."""

    param: str
    expected: str | None = None
    got: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "param": self.param, "expected": self.expected, "got": self.got}


@_carries
class ScheduleError(MlpipeError):
    """A schedule that cannot be made or found: a bad cron expression, interval or time zone."""

    schedule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "schedule": self.schedule}


@_carries
class SweepError(MlpipeError):
    """A sweep refused before its trials run: a bad space, metric, goal or search, an unknown parameter."""

    parameter: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "parameter": self.parameter}
