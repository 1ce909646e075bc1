"""Work of one request spread over every replica of its own deployment, through the deployment's
own DeploymentHandle: the translator's parts of a long text, the summarizer's map-reduce chunks.

- `FanOut`: one replica's fan-out, configured by the `max_fan_out_requests`,
  `part_calls_in_flight` and `part_timeout_s` settings; a job's parts in order (`parts_in_order`)
  or one call at a time (`call`).
- `FanOutAdmission`: requests fanning out at once per replica; `PeerCalls`: part calls in flight
  per replica, each placed on a replica before the next is sent, sent once more if its replica
  died, a 503 if it is only slow. Why these bounds and this placement: docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any

from ray import serve

from apps.common.engines import GenerationParams
from apps.common.errors import ServiceBusyError
from apps.common.generation import Seq2SeqGenerator
from apps.common.job import Job
from apps.common.ray_adapter import DETAILS_MAX_AGE_S, running_replicas
from apps.common.replica_deaths import CallTimeoutError, retry_if_replica_died
from apps.common.scheduling import Ticket
from apps.common.sentence_cache import Lookup
from apps.common.settings import ModelAppSettings

logger = logging.getLogger("ray.serve")
FORWARDS_IN_FLIGHT = 64  # whole jobs one replica sends at once to replicas holding their model


class FanOutAdmission:
    """How many requests one replica fans out at once; the 503's message says it is already
    `doing` `limit` `what` (e.g. "summarizing", "texts longer than the model's window")."""

    def __init__(self, doing: str, what: str, limit: int):
        self.doing, self.what = doing, what
        self.limit = limit
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


class PeerCalls:
    """Calls of `method` on whichever replica of this deployment Serve picks (this one included),
    at most `in_flight` at once from this replica, each within `timeout_s` (one retry)."""

    def __init__(self, method: str, in_flight: int, timeout_s: float):
        self.method = method
        self._handle = None  # made on first use, inside the replica
        self._name = method  # "<app>.<method>" once known: its name in retry logs and metrics
        self._own_id = ""  # this replica's id, once known
        self._placing = asyncio.Lock()  # one part given a replica at a time (see the module's doc)
        self._slots, self._in_flight, self.timeout_s = asyncio.Semaphore(in_flight), in_flight, timeout_s
        self._replicas, self._failed_at = 1, -DETAILS_MAX_AGE_S  # the last count read; when one failed

    async def replica_count(self) -> int:
        """Running replicas of this deployment, as Serve's controller said at most
        DETAILS_MAX_AGE_S ago (the last count when it cannot say, 1 at first, without asking
        again for DETAILS_MAX_AGE_S): a request cut into a multiple of it gives every replica as
        much work."""
        if time.monotonic() - self._failed_at < DETAILS_MAX_AGE_S:
            return self._replicas
        try:
            self._replicas = max(1, len(await running_replicas()))
        except Exception as exc:  # outside Serve, or the controller is away: keep the last count
            self._failed_at = time.monotonic()
            logger.warning("could not count the replicas (%s): %d assumed", exc, self._replicas)
        return self._replicas

    def configure(self, in_flight: int, timeout_s: float) -> None:
        if in_flight != self._in_flight:
            self._slots, self._in_flight = asyncio.Semaphore(in_flight), in_flight
        self.timeout_s = timeout_s

    async def call(
        self, *args: Any, model_id: str | None = None, here: Callable[[], Awaitable[Any]] | None = None
    ) -> Any:
        """`method(*args)` on the replica Serve picks, one that holds `model_id` if any does
        (Serve's model multiplexing); `here()` instead where Serve picks this replica (no hop
        through Serve to itself, which would take a second of its request slots)."""
        if self._handle is None:
            context = serve.get_replica_context()
            self._handle = serve.get_deployment_handle(context.deployment, app_name=context.app_name)
            self._name = f"{context.app_name}.{self.method}"
            self._own_id = context.replica_id.unique_id
        placed: list[str] = []  # the replica each try was given
        handle = self._handle if model_id is None else self._handle.options(multiplexed_model_id=model_id)
        async with self._slots:
            try:
                return await retry_if_replica_died(
                    lambda: self._place(handle, args, placed, here),
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
            return placed[-1] in await running_replicas(max_age_s=0)
        except Exception as exc:
            logger.warning("could not tell whether replica %s still serves (%s)", placed[-1], exc)
            return False

    async def _place(
        self, handle: Any, args: tuple, placed: list[str], here: Callable[[], Awaitable[Any]] | None
    ) -> Any:
        """Send one call to the replica Serve chooses once every earlier part has its replica,
        and wait for its answer (the reservation is held until then, as `dispatch` requires);
        the replica's id goes to `placed`. Where `here` is given and Serve chooses this replica,
        the reservation is released and `here()` answers."""
        method = getattr(handle, self.method)
        async with AsyncExitStack() as reservation:
            async with self._placing:
                selection = await reservation.enter_async_context(method.choose_replica(*args))
                placed.append(selection.replica_id)
                response = (
                    None
                    if here and selection.replica_id == self._own_id
                    else handle.dispatch(selection, *args)
                )
            if response is not None:
                try:
                    return await response
                except asyncio.CancelledError:  # e.g. its timeout passed: the replica drops it too
                    response.cancel()
                    raise
        return await here()


class FanOut:
    """One replica's fan-out of requests' work over every replica of its deployment, through the
    handle entry point `method` (which decodes `(model_id, prompts, params, *ticket.to_wire())`); a 503
    says this replica is already `doing` `max_fan_out_requests` `what`."""

    def __init__(self, method: str, doing: str, what: str, settings: ModelAppSettings):
        self.admission = FanOutAdmission(doing, what, settings.max_fan_out_requests)
        self.peers = PeerCalls(method, settings.part_calls_in_flight, settings.part_timeout_s)
        # whole jobs for a model this replica does not hold: as many as it may take requests
        self.forwards = PeerCalls(method, FORWARDS_IN_FLIGHT, settings.part_timeout_s)

    def configure(self, settings: ModelAppSettings) -> None:
        self.admission.limit = settings.max_fan_out_requests
        self.peers.configure(settings.part_calls_in_flight, settings.part_timeout_s)
        self.forwards.configure(FORWARDS_IN_FLIGHT, settings.part_timeout_s)

    def fans_out(self, job: Job, part_size: int) -> bool:
        """Whether `job` goes out in parts of `part_size` (0: never): it has more prompts, and
        this replica has room for one more request fanning out."""
        return 0 < part_size < len(job.prompts) and self.admission.has_room()

    async def call(
        self, model_id: str, prompts: list[str], params: GenerationParams, ticket: Ticket
    ) -> list[str]:
        """`prompts`' outputs, decoded by model `model_id` with `params` on the replica Serve picks
        (one holding the model if any), by `ticket`'s deadline."""
        return await self.peers.call(model_id, prompts, params, *ticket.to_wire(), model_id=model_id)

    async def forward(
        self,
        model_id: str,
        prompts: list[str],
        params: GenerationParams,
        ticket: Ticket,
        here: Callable[[], Awaitable[list[str]]],
    ) -> list[str]:
        """A whole job's outputs from the replica Serve routes `model_id` to (one that holds the
        model, else one that loads it); from `here()` when that is this replica, or when it is
        the only one (no slot to spare for a call to itself)."""
        if await self.forwards.replica_count() == 1:
            return await here()
        wire = ticket.to_wire()
        return await self.forwards.call(model_id, prompts, params, *wire, model_id=model_id, here=here)

    async def parts_in_order(
        self, job: Job, model: Seq2SeqGenerator | None, part_size: int, max_batch_size: int
    ) -> AsyncIterator[list[str]]:
        """The job's outputs in order, as the parts they are in finish: the first part on this
        replica when it holds the job's `model`, every other on the replica Serve picks (one that
        holds the model, if any); parts still running are cancelled if the caller stops first.
        Only what this replica's cache lacks is sent, each prompt once. The caller has checked
        `fans_out`."""
        ticket, model_id = job.ticket, job.model.model_id
        # the parts count the misses, where they are looked up again
        if model is not None:
            lookup = model.lookup(job.prompts, job.params, count_misses=False, tenant=ticket.tenant)
        else:
            lookup = Lookup.of_nothing(job.prompts)
        prompts = lookup.misses
        replicas = await self.peers.replica_count()
        size = part_length(len(prompts), part_size, replicas, max_batch_size)

        def send(start: int) -> asyncio.Future:
            part = prompts[start : start + size]
            if start == 0 and replicas > 1 and model is not None:
                # decoded here: routed, it could land on a replica already given another part
                # (this one counts the request itself as one in flight, so the two tie)
                return asyncio.ensure_future(
                    model.generate(part, job.params, caller_returns=False, ticket=ticket)
                )
            return asyncio.ensure_future(self.call(model_id, part, job.params, ticket))

        parts = [send(start) for start in range(0, len(prompts), size)]
        self.admission.hold_until_done(parts)
        logger.info(
            "%s %d texts (%d to decode) in %d parts on every replica",
            self.admission.doing,
            len(job.prompts),
            len(prompts),
            len(parts),
            extra={"fan_out_sentences": len(prompts), "fan_out_parts": len(parts)},
        )
        try:
            ready = lookup.take_ready()
            if ready:
                yield ready
            for start, part in zip(range(0, len(prompts), size), parts, strict=True):
                lookup.fill(start, await part)
                ready = lookup.take_ready()
                if ready:
                    yield ready
        finally:
            for part in parts:
                part.cancel()


def part_length(prompts: int, part_size: int, replicas: int, max_batch_size: int) -> int:
    """How many prompts each part holds, so that replicas given as many parts get as much work:
    one part for each replica when each fits one model call (parts arrive one by one, and each
    would start a call of its own), else parts of at most `part_size`, as many for every replica."""
    count = math.ceil(prompts / part_size)
    if count > 1:
        count = replicas if prompts <= replicas * max_batch_size else math.ceil(count / replicas) * replicas
    return math.ceil(prompts / count) if count else 1
