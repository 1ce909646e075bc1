"""Calls from the router to a leaf app, through a DeploymentHandle only (fetched on first use).

A leaf's answers on purpose (4xx, a busy 503) pass through unchanged; anything else is a
LeafUnavailableError, answered 503 naming the app: "unavailable" (missing, dead, faulty),
"timeout" or "overloaded" (its queue full), each counted in `textserve_rejected_requests`. A call
whose replica died under it is sent once more within what is left of its timeout
(apps/common/replica_deaths.py). A call the router stops waiting for (its timeout, or its client
gone) is cancelled at the leaf, which drops the work it had queued for it. A stream's first item is
awaited like a call; each later item must come within the timeout of the one before; closing the
stream cancels the leaf's work.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError

from apps.common.errors import ServiceBusyError, ServingError, first_line, serving_error
from apps.common.metrics import RejectionMetrics, metrics_or_none
from apps.common.replica_deaths import replica_died, report_retry
from apps.common.scheduling import Ticket
from apps.common.tenants import current_tenant
from apps.router.config import LeafAppRef

logger = logging.getLogger("ray.serve")
Attempt = Callable[[str, tuple, dict, float], Awaitable[Any]]
ANSWER_GRACE_S = 1.0  # how much longer than the deadline it passed on the router waits for a leaf's answer


class LeafDeadline:
    """A client's deadline (`timeout_s`) across the router's leaf calls: each call passes what is
    left of it on, and waits for the leaf's own answer (a 504 when its work could not be decoded
    in time) a little longer, at most `leaf_timeout_s`. The leaf never gets more than
    `leaf_timeout_s`, also when the request has no deadline of its own: it drops what it could
    not decode by the time the router stops waiting for it."""

    def __init__(self, timeout_s: float | None, leaf_timeout_s: float):
        self.ticket, self.leaf_timeout_s = Ticket.start("interactive", timeout_s), leaf_timeout_s

    def next_call(self) -> tuple[float, float]:
        """(the leaf's timeout_s, how long to wait for it); DeadlineExceededError once it passed."""
        remaining = self.ticket.remaining_s()
        if remaining is None:
            return self.leaf_timeout_s, self.leaf_timeout_s
        if remaining <= 0:
            raise self.ticket.expired_error()
        return min(remaining, self.leaf_timeout_s), min(self.leaf_timeout_s, remaining + ANSWER_GRACE_S)


class LeafUnavailableError(ServiceBusyError):
    """A leaf app could not answer: a 503 (or the leaf's backpressure status) naming the app in
    its message and `details`; `reason` is the rejection metric's label."""

    def __init__(
        self,
        app: str,
        detail: str,
        reason: str = "unavailable",
        status_code: int = 503,
        *,
        retry_after_s: float,
    ):
        state = "overloaded" if reason == "overloaded" else "unavailable"
        super().__init__(f"the '{app}' app is {state} ({detail}); retry later", status_code, retry_after_s)
        self.app, self.detail, self.reason, self.details = app, detail, reason, (app,)

    def __reduce__(self):
        rebuild = functools.partial(type(self), retry_after_s=self.retry_after_s)
        return (rebuild, (self.app, self.detail, self.reason, self.status_code))


def _leaf_answer(exc: ServingError) -> ServingError:
    """A leaf's answer on purpose (a 4xx, a busy 503), as the router gives it: its status, message
    and Retry-After. Through a handle it arrives as RayTaskError(UserInputError) and the like."""
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else "invalid request")
    return serving_error(message, exc.status_code, getattr(exc, "retry_after_s", None))


@functools.cache
def rejection_metrics() -> RejectionMetrics | None:
    """This process's rejection counter, made on first use (inside the replica); None outside Ray."""
    return metrics_or_none(RejectionMetrics)


class LeafClient:
    def __init__(self, ref: LeafAppRef, retry_after_s: float):
        self.ref = ref
        self.retry_after_s = retry_after_s  # RouterSettings.unavailable_retry_after_s
        self._handle = None

    def _get_handle(self):
        if self._handle is None:
            self._handle = serve.get_deployment_handle(self.ref.deployment, app_name=self.ref.app)
        return self._handle

    async def call(self, method: str, *args: Any, wait_s: float, **kwargs: Any) -> Any:
        """The leaf method's answer (errors mapped as the module says), for the request being
        served: its tenant goes along (the leaf's cache scope, apps/common/tenants.py)."""
        kwargs.setdefault("tenant", current_tenant())
        return await self._counted(self._call(self._attempt, method, args, kwargs, wait_s))

    async def open_stream(
        self, method: str, *args: Any, wait_s: float, **kwargs: Any
    ) -> tuple[Any, AsyncIterator[Any]]:
        """A streaming leaf method (a generator): its first item, awaited like `call` (so a user
        error or an unavailable leaf is an answer of its own, before anything is streamed), and
        the rest, each item within `wait_s` of the one before. The tenant goes along as in `call`."""
        kwargs.setdefault("tenant", current_tenant())
        first, stream = await self._counted(self._call(self._attempt_stream, method, args, kwargs, wait_s))
        return first, self._rest(stream, wait_s)

    async def probe(self, wait_s: float) -> dict:
        """The leaf's health answer (a one-token decode); LeafUnavailableError if it cannot give one."""
        return await self.ask("health", wait_s=wait_s)

    async def ask(self, method: str, *args: Any, wait_s: float) -> Any:
        """`call` for the router's own needs (health, API documents): not counted as a rejection
        when it fails, as no user request was turned away."""
        return await self._call(self._attempt, method, args, {}, wait_s)

    async def _counted(self, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except LeafUnavailableError as exc:
            metrics = rejection_metrics()
            if metrics is not None:
                metrics.record(exc.app, exc.reason)
            raise

    async def _call(self, attempt: Attempt, method: str, args: tuple, kwargs: dict, timeout_s: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            try:
                return await attempt(method, args, kwargs, timeout_s)
            except RayActorError as exc:
                remaining = deadline - loop.time()
                if not replica_died(exc) or remaining <= 0:
                    raise
                report_retry(self.ref.app, f"{self.ref.app}.{method}", exc)
                return await attempt(method, args, kwargs, remaining)
        except ServingError as exc:
            raise _leaf_answer(exc) from None
        except BackPressureError as exc:
            queued, limit = exc.args[:2]  # BackPressureError keeps its arguments in args
            raise LeafUnavailableError(
                self.ref.app,
                f"its queue is full: {queued} of at most {limit} requests waiting",
                reason="overloaded",
                status_code=exc.status_code,
                retry_after_s=exc.retry_after_s or 1,
            ) from None
        except asyncio.TimeoutError:
            raise self._timed_out(timeout_s) from None
        except Exception as exc:
            logger.warning(
                "call to %s.%s failed: %s: %s",
                self.ref.app,
                method,
                type(exc).__name__,
                first_line(exc),
            )
            self._handle = None  # fetch a fresh handle next time (the app may have been redeployed)
            raise LeafUnavailableError(
                self.ref.app, type(exc).__name__, retry_after_s=self.retry_after_s
            ) from None

    async def _attempt(self, method: str, args: tuple, kwargs: dict, timeout_s: float) -> Any:
        response = getattr(self._get_handle(), method).remote(*args, **kwargs)
        try:
            return await asyncio.wait_for(_await(response), timeout=timeout_s)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            # The router gave up, or its client went away: a handle call is not cancelled with the
            # task awaiting it, so cancel it, and the leaf drops what it had queued for it.
            response.cancel()
            raise

    async def _attempt_stream(
        self, method: str, args: tuple, kwargs: dict, timeout_s: float
    ) -> tuple[Any, AsyncIterator[Any]]:
        stream = getattr(self._get_handle().options(stream=True), method).remote(*args, **kwargs)
        try:
            return await asyncio.wait_for(stream.__anext__(), timeout=timeout_s), stream
        except BaseException:
            stream.cancel()
            raise

    async def _rest(self, stream: AsyncIterator[Any], timeout_s: float) -> AsyncIterator[Any]:
        try:
            while True:
                try:
                    item = await asyncio.wait_for(stream.__anext__(), timeout=timeout_s)
                except StopAsyncIteration:
                    return
                except ServingError as exc:
                    raise _leaf_answer(exc) from None
                except asyncio.TimeoutError:
                    raise self._timed_out(timeout_s) from None
                yield item
        finally:
            stream.cancel()  # the client went away (or the leaf failed): stop the leaf's work too

    def _timed_out(self, timeout_s: float) -> LeafUnavailableError:
        return LeafUnavailableError(
            self.ref.app, f"no answer within {timeout_s:g} s", "timeout", retry_after_s=self.retry_after_s
        )


async def _await(response):
    return await response
