"""The REST API's own error: an HTTP status with a message a person can act on."""

from __future__ import annotations

from typing import Any

from ..errors import MlpipeError, PlanError, RunNotFound

__all__ = ["ApiError", "status_of", "error_body"]


class ApiError(Exception):
    """A refused request: `status` (400, 403, 404, 409, ...) and the JSON body's fields."""

    def __init__(self, status: int, message: str, *, hint: str | None = None, error: str = "BadRequest",
                 **extra: Any) -> None:
        self.status = status
        self.message = message
        self.hint = hint
        self.error = error
        self.extra = extra
        super().__init__(message)

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "hint": self.hint, **self.extra}


def status_of(exc: MlpipeError) -> int:
    """The HTTP status for one of the package's errors."""
    if isinstance(exc, RunNotFound):
        return 404
    return 400  # plan errors, bad parameters, bad mlpipe.toml: all fixable by the client


def error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON body for an error: always error, message and hint; plan errors add step, cell, variable."""
    if isinstance(exc, (ApiError, MlpipeError)):
        body = exc.to_dict()
    else:
        body = {"error": type(exc).__name__, "message": str(exc) or type(exc).__name__, "hint": None}
    if isinstance(exc, PlanError):
        for key in ("step", "cell", "variable"):
            body.setdefault(key, None)
    return body
