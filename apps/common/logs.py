"""Log hygiene for the model apps' replicas.

Serve logs every exception a handle call raises as `Request failed.` at ERROR with a traceback.
For a caller's mistake raised through a handle (the router passing on a text that is too long, a
language the model lacks) that is noise an on-call engineer would chase: the caller got its 4xx,
nothing failed. `quiet_user_errors()` turns those records into one INFO line that says what the
caller got; our own faults keep their ERROR and traceback.
"""

from __future__ import annotations

import logging

from apps.common.errors import ServingError

SERVE_LOGGER = "ray.serve"


class ServingErrorFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ServingError):  # also RayTaskError(UserInputError) and the like
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "request rejected: %d %s", (error.status_code, error.message)
            record.exc_info, record.exc_text = None, None
        return True


def quiet_user_errors() -> None:
    """Install the filter on Serve's logger in this process (once; Serve's handlers come and go,
    a logger's filters stay)."""
    logger = logging.getLogger(SERVE_LOGGER)
    if not any(isinstance(f, ServingErrorFilter) for f in logger.filters):
        logger.addFilter(ServingErrorFilter())
