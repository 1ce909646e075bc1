"""A request's deadline and class, one way for every route and handle entry point.

A route takes `caller: HttpCaller` (a FastAPI dependency: the request's arrival, its
X-Request-Timeout-Seconds header, Serve's HTTP `request_timeout_s` and its tenant); a handle entry
point makes `Caller.from_handle(tenant)`. Either gives the request's `Ticket` (its class and
deadline: apps/common/scheduling.py) from its body's `priority` and `timeout_s`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends

from apps.common.http import RequestTimeoutHeader
from apps.common.ray_adapter import http_request_timeout_s
from apps.common.scheduling import Priority, Ticket, request_class
from apps.common.tenants import current_tenant

logger = logging.getLogger("ray.serve")


class ClassBounds(Protocol):  # apps/common/settings.py's ModelAppSettings
    interactive_max_texts: int
    interactive_max_chars: int


class Asks(Protocol):  # apps/common/schemas.py's TextOrTexts
    inputs: list[str]
    priority: Priority | None
    timeout_s: float | None


@dataclass(frozen=True)
class Caller:
    """Who sent a request, when it arrived (time.monotonic()) and the soonest timeout its
    transport set (None: none): what a route knows of a request before its body is read."""

    arrived: float
    limit_s: float | None
    tenant: str | None

    @classmethod
    def from_handle(cls, tenant: str | None) -> Caller:
        """A handle call: it arrives now; its caller passes its deadline as `timeout_s`."""
        return cls(time.monotonic(), None, tenant)

    def timeout_s(self, asked_s: float | None) -> float | None:
        """The request's timeout: the sooner of the one its body asks and its transport's."""
        return sooner(asked_s, self.limit_s)

    def ticket(self, request: Asks, bounds: ClassBounds) -> Ticket:
        """The request's class (by `bounds`, or bulk if it asks) and deadline, from its arrival."""
        priority = request_class(
            request.inputs, bounds.interactive_max_texts, bounds.interactive_max_chars, request.priority
        )
        return Ticket.start(priority, self.timeout_s(request.timeout_s), self.arrived, self.tenant)


async def http_caller(timeout_header: RequestTimeoutHeader = None) -> Caller:
    """The FastAPI dependency behind `HttpCaller`."""
    arrived = time.monotonic()
    return Caller(
        arrived, sooner(header_timeout_s(timeout_header), await serve_timeout_s()), current_tenant()
    )


HttpCaller = Annotated[Caller, Depends(http_caller)]


def header_timeout_s(value: str | None) -> float | None:
    """The X-Request-Timeout-Seconds header's seconds as Ray Serve reads it: a positive finite
    number; anything else (absent, 0 or less: no timeout, unreadable: the default) gives no
    deadline of the client's own."""
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def sooner(*timeouts: float | None) -> float | None:
    """The smallest of the timeouts given; None when none is."""
    given = [timeout for timeout in timeouts if timeout is not None]
    return min(given) if given else None


async def serve_timeout_s() -> float | None:
    """Serve's HTTP `request_timeout_s`; None when Serve sets none or cannot say (then only the
    client's timeout counts, and it is asked again next time)."""
    try:
        return await http_request_timeout_s()
    except Exception as exc:  # outside Serve, or the controller is away
        logger.warning("Serve's request_timeout_s is unknown (%s): deadlines are the client's", exc)
        return None
