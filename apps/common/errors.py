"""Answers other than success: ServingError carries the HTTP status and a message that says what
to change or when to retry; it travels unchanged through DeploymentHandles, so the router can
pass a leaf app's answer on instead of mistaking it for an outage. error_response is the JSON every error
answer has; new_incident names a fault of ours, first_line shortens one for a log line."""

from __future__ import annotations

import uuid

from fastapi.responses import JSONResponse


class ServingError(Exception):
    """An answer other than success that the service gives on purpose: `status_code` and a
    `message` for the caller (with `retry_after_s`, a Retry-After header; `details`, the answer's
    `details` list). Subclasses say whose it is: UserInputError (4xx, the caller can fix it) or
    ServiceBusyError (503, retry later)."""

    status_code = 500
    retry_after_s: float | None = None
    details: tuple[str, ...] = ()

    def __init__(self, message: str, status_code: int | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s

    def __reduce__(self):  # keep status_code and retry_after_s when pickled through a handle
        return (type(self), (self.message, self.status_code, self.retry_after_s))


class UserInputError(ServingError, ValueError):
    """The request cannot be served as sent; `message` tells the caller what to change."""

    status_code = 422


class InputTooLargeError(UserInputError):
    status_code = 413


class ServiceBusyError(ServingError):
    """Not the caller's mistake: no room for this work right now (503, retry later)."""

    status_code = 503
    retry_after_s = 2


def serving_error(message: str, status_code: int, retry_after_s: float | None = None) -> ServingError:
    """The ServingError subclass for `status_code`: a leaf app's answer, rebuilt by the router."""
    cls = UserInputError if status_code < 500 else ServiceBusyError
    return cls(message, status_code, retry_after_s)


def new_incident() -> tuple[str, str]:
    """(incident id, the message a caller gets) for a fault of ours: the id goes on the log line
    that has the details, the message points there and carries no traceback."""
    incident = uuid.uuid4().hex[:12]
    return incident, f"internal error (incident {incident}); the server log has the details"


def first_line(exc: BaseException) -> str:
    """An exception's message, first line only (Ray's carry a whole remote traceback after it)."""
    return str(exc).splitlines()[0] if str(exc) else ""


def error_response(
    status: int, message: str, details: list[str] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON body of every error answer: {"error": what to change or what failed, "details"}."""
    return JSONResponse(
        status_code=status, content={"error": message, "details": details or []}, headers=headers
    )
