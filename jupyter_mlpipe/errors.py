"""The exceptions of jupyter-mlpipe: one base, specific subclasses that carry data.

Every error names what was wrong and how to fix it; the data (step, cell,
variable) is kept on attributes so that tools (CLI, REST, panel) can show it
without parsing the message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MlpipeError",
    "PlanError",
    "StepOptionError",
    "ConfigError",
    "UnstorableValue",
    "ArtifactError",
    "ArtifactCorrupt",
    "ArtifactMissing",
    "InfeasibleRequest",
    "StepFailed",
    "RunNotFound",
]


class MlpipeError(Exception):
    """Base of every error jupyter-mlpipe raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
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


class PlanError(MlpipeError):
    """The notebook cannot be turned into a step graph."""

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        cell: int | None = None,
        variable: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.step = step
        self.cell = cell
        self.variable = variable
        super().__init__(message, hint=hint)


class StepOptionError(PlanError):
    """A `%%step` line has a bad flag or value."""


class ConfigError(MlpipeError):
    """The mlpipe configuration (mlpipe.toml, environment) is invalid."""


class UnstorableValue(MlpipeError):
    """A step produced a value that cannot be written to the artifact store."""

    def __init__(
        self,
        message: str,
        *,
        variable: str,
        step: str | None = None,
        type_name: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.variable = variable
        self.step = step
        self.type_name = type_name
        super().__init__(message, hint=hint)


class ArtifactError(MlpipeError):
    """Base for problems reading an artifact back."""

    def __init__(self, message: str, *, digest: str, hint: str | None = None) -> None:
        self.digest = digest
        super().__init__(message, hint=hint)


class ArtifactCorrupt(ArtifactError):
    """The bytes on disk do not hash to the artifact's address."""


class ArtifactMissing(ArtifactError):
    """No artifact is stored under that address."""


class InfeasibleRequest(MlpipeError):
    """A step asks for resources that the Ray cluster can never provide."""

    def __init__(
        self, message: str, *, step: str, requested: dict, available: dict, hint: str | None = None
    ) -> None:
        self.step = step
        self.requested = requested
        self.available = available
        super().__init__(message, hint=hint)


class StepFailed(MlpipeError):
    """A step raised, timed out or its worker died."""

    def __init__(
        self,
        message: str,
        *,
        step: str,
        cell: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
        traceback: str | None = None,
        notebook_path: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.step = step
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback
        self.notebook_path = notebook_path
        super().__init__(message, hint=hint)


class RunNotFound(MlpipeError):
    """No run with that id is recorded in the store."""
