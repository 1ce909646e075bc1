"""A handle call whose replica died under it, and the one retry it is worth.

A call in flight on a replica whose process is killed or crashes fails with Ray's ActorDiedError
(or ActorUnavailableError for a replica it can no longer reach); Serve itself retries only at
assignment. The calls we retry (the router's calls to a leaf app, the summarizer's chunk calls) are
pure functions of their arguments, so running one twice is harmless, and Serve's handle routes the
second try to another replica (it stops choosing a replica once a call to it has failed so).

Only that is retried, once: never a full queue or the callee's own error (a RayTaskError, even one
whose cause is an actor dying: Ray makes it an instance of its cause's class too), and a timeout
only where the caller says, and only when the replica it waited on is gone (the part and chunk
calls; see retry_if_replica_died): a replica that is only slow is not given the work twice.
Each retry is logged (WARNING, with the request's id) and counted in
`textserve_leaf_retries{target, error}`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import ReplicaUnavailableError

from apps.common.errors import first_line
from apps.common.metrics import RetryMetrics, metrics_or_none

logger = logging.getLogger("ray.serve")
T = TypeVar("T")


def replica_died(exc: BaseException) -> bool:
    """The replica serving the call died or cannot be reached (raised by the handle itself), as
    opposed to an exception raised inside the callee's code, which a second try would repeat."""
    if isinstance(exc, ReplicaUnavailableError):  # chosen for a call, gone before it was sent
        return True
    return isinstance(exc, RayActorError) and not isinstance(exc, RayTaskError)


@functools.cache
def retry_metrics() -> RetryMetrics | None:
    """This process's retry counter, made on first use (inside the replica); None outside Ray."""
    return metrics_or_none(RetryMetrics)


def report_retry(target: str, call: str, exc: BaseException) -> None:
    """Log and count the retry of `call` (e.g. "translation.translate"); `target` is the metric's
    label."""
    timed_out = isinstance(exc, CallTimeoutError)
    reason = "no answer in time" if timed_out else "the replica serving it died"
    logger.warning("retrying %s once: %s (%s: %s)", call, reason, type(exc).__name__, first_line(exc))
    metrics = retry_metrics()
    if metrics is not None:
        metrics.record(target, type(exc).__name__)


async def retry_if_replica_died(
    call: Callable[[], Awaitable[T]],
    name: str,
    timeout_s: float | None = None,
    still_serving: Callable[[], Awaitable[bool]] | None = None,
) -> T:
    """`call()`'s answer; if the replica serving it died, `call()` once more (reported as `name`,
    the metric's target too). Every other failure, and the second one, is raised.

    With `timeout_s`, a try with no answer by then is cancelled (its replica drops it) and raises
    CallTimeoutError, unless `still_serving()` says the replica it waited on is gone: then it
    counts as one whose replica died and is sent once more. Serve can leave a call to a replica
    killed under it unanswered (seen here on 2.60, rarely), and without a deadline the caller would
    wait for it until its own request timed out; a replica that is only slow (a long queue) keeps
    serving, and sending it the work again would only double it."""
    try:
        return await _within(call(), timeout_s)
    except (RayActorError, ReplicaUnavailableError, CallTimeoutError) as exc:
        if isinstance(exc, CallTimeoutError):
            if still_serving is None or await still_serving():
                raise
        elif not replica_died(exc):
            raise
        report_retry(name, name, exc)
    return await _within(call(), timeout_s)


class CallTimeoutError(asyncio.TimeoutError):
    """A handle call's deadline passed (and the call was cancelled)."""


async def _within(response: Awaitable[T], timeout_s: float | None) -> T:
    """The answer of a handle call; with a deadline, a late one is cancelled (Serve drops it from
    the replica's queue, or cancels it there) and raises CallTimeoutError."""
    if timeout_s is None:
        return await response
    try:
        return await asyncio.wait_for(_await(response), timeout_s)
    except asyncio.TimeoutError:
        cancel = getattr(response, "cancel", None)
        if cancel is not None:
            cancel()
        raise CallTimeoutError(f"no answer within {timeout_s:g} s") from None


async def _await(response: Awaitable[T]) -> T:
    return await response
