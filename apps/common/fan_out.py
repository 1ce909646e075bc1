"""Work of one request spread over every replica of its own deployment, through the deployment's
own DeploymentHandle: the summarizer's map-reduce chunks, the translator's parts of a long text.

A request that fans out holds a slot of its replica's `max_ongoing_requests` while its parts need
slots on the replicas (its own included). Two bounds keep that from deadlocking: `FanOutAdmission`
(requests fanning out at once per replica) and `PeerCalls`' semaphore (part calls in flight per
replica, far below the handle's queue). A part call whose replica dies, or that gets no answer
within its timeout from a replica that is then gone, is sent once more
(apps/common/replica_deaths.py): parts are pure. One with no answer from a replica still RUNNING
(only slow) is cancelled there and not sent again: the request gets a 503 that says to retry.

Parts are placed one at a time: each is given a replica (`choose_replica`, which reserves a slot
there and reads back its true count of requests) before the next is placed. Sent all at once
through `.remote()`, a burst is routed on one stale reading of the replicas' queues, and a request's
parts went all to one replica (seen on Ray 2.60: 6 of 6 parts, 2 replicas; bench/README.md)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any

from ray import serve

from apps.common.errors import ServiceBusyError
from apps.common.replica_deaths import CallTimeoutError, retry_if_replica_died
from apps.common.serve_internals import serve_details

logger = logging.getLogger("ray.serve")


class FanOutAdmission:
    """How many requests one replica fans out at once; the 503's message says it is already
    `doing` `limit` `what` (e.g. "summarizing", "texts longer than the model's window")."""

    def __init__(self, doing: str, what: str, limit: int = 1):
        self.doing, self.what = doing, what
        self.limit = limit  # set again on reconfigure
        self.active = 0

    def has_room(self) -> bool:
        return self.active < self.limit

    def refuse(self) -> None:
        raise ServiceBusyError(
            f"this replica is already {self.doing} {self.limit} {self.what}; retry in a few seconds"
        )

    def hold_until_done(self, calls: list[asyncio.Future]) -> None:
        """Hold one slot until every one of `calls` is done (answered, failed or cancelled), not
        until a caller's code gets past a point: a stream its client abandoned may never resume.
        The caller has checked `has_room`."""
        self.active += 1
        remaining = len(calls)

        def one_done(_: asyncio.Future) -> None:
            nonlocal remaining
            remaining -= 1
            if remaining == 0:
                self.active -= 1

        if not calls:
            self.active -= 1
        for call in calls:
            call.add_done_callback(one_done)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `limit` slots for the block; ServiceBusyError if none is free."""
        if not self.has_room():
            self.refuse()
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


REPLICA_COUNT_TTL_S = 10.0


class PeerCalls:
    """Calls of `method` on whichever replica of this deployment Serve picks (this one included),
    at most `in_flight` at once from this replica, each within `timeout_s` (one retry)."""

    def __init__(self, method: str):
        self.method = method
        self._handle = None  # made on first use, inside the replica
        self._name = method  # "<app>.<method>" once known: its name in retry logs and metrics
        self._slots: asyncio.Semaphore | None = None
        self._placing = asyncio.Lock()  # one part given a replica at a time (see the module's doc)
        self._in_flight = 0
        self.timeout_s = 20.0
        self._replicas, self._counted_at = 1, -REPLICA_COUNT_TTL_S

    async def replica_count(self) -> int:
        """Running replicas of this deployment, as Serve's controller said at most
        REPLICA_COUNT_TTL_S ago (1 when it cannot say): a request cut into a multiple of it gives
        every replica as much work."""
        now = time.monotonic()
        if now - self._counted_at >= REPLICA_COUNT_TTL_S:
            self._counted_at = now
            try:
                context = serve.get_replica_context()
                details = await serve_details()
                app = details["applications"][context.app_name]
                replicas = app["deployments"][context.deployment]["replicas"]
                self._replicas = max(1, sum(replica.get("state") == "RUNNING" for replica in replicas))
            except Exception as exc:  # outside Serve, or the controller is away: keep the last count
                logger.warning("could not count the replicas (%s): %d assumed", exc, self._replicas)
        return self._replicas

    def configure(self, in_flight: int, timeout_s: float) -> None:
        if in_flight != self._in_flight:
            self._slots, self._in_flight = asyncio.Semaphore(in_flight), in_flight
        self.timeout_s = timeout_s

    async def call(self, *args: Any) -> Any:
        if self._handle is None:
            context = serve.get_replica_context()
            self._handle = serve.get_deployment_handle(context.deployment, app_name=context.app_name)
            self._name = f"{context.app_name}.{self.method}"
        placed: list[str] = []  # the replica each try was given
        async with self._slots:
            try:
                return await retry_if_replica_died(
                    lambda: self._place(args, placed),
                    self._name,
                    self.timeout_s,
                    still_serving=lambda: self._still_serving(placed),
                )
            except CallTimeoutError:
                logger.warning(
                    "%s got no answer within %g s (replica %s): the request fails",
                    self._name,
                    self.timeout_s,
                    placed[-1] if placed else "not yet chosen",
                )
                raise ServiceBusyError(
                    f"a part of the text got no answer within {self.timeout_s:g} s; retry later"
                ) from None

    async def _still_serving(self, placed: list[str]) -> bool:
        """Whether the replica the last try waited on is still RUNNING (a call never given one
        waited on a full deployment: busy, not gone). Unknown (the controller did not answer in
        time): counted as gone, so the call is sent once more, as before this check."""
        if not placed:
            return True
        try:
            context = serve.get_replica_context()
            app = (await serve_details())["applications"][context.app_name]
            replicas = app["deployments"][context.deployment]["replicas"]
        except Exception as exc:
            logger.warning("could not tell whether replica %s still serves (%s)", placed[-1], exc)
            return False
        return any(r.get("replica_id") == placed[-1] and r.get("state") == "RUNNING" for r in replicas)

    async def _place(self, args: tuple, placed: list[str]) -> Any:
        """Send one call to the replica Serve chooses once every earlier part has its replica,
        and wait for its answer (the reservation is held until then, as `dispatch` requires);
        the replica's id goes to `placed`."""
        method = getattr(self._handle, self.method)
        async with AsyncExitStack() as reservation:
            async with self._placing:
                selection = await reservation.enter_async_context(method.choose_replica(*args))
                placed.append(selection.replica_id)
                response = self._handle.dispatch(selection, *args)
            try:
                return await response
            except asyncio.CancelledError:  # e.g. its timeout passed: the replica drops it too
                response.cancel()
                raise
