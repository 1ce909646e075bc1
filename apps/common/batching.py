"""Adaptive dynamic batching: many requests' texts in one model call, without taxing a lone request;
interactive work before bulk work; deadlines kept in the queue.

A batch closes only when the model is free to run it: then everything queued runs (a lone request
never waits); right after a call, it waits up to `max_wait_s` (at most a quarter of that call) for
the callers it answered to come back (not for one-shot callers, such as a fan-out's parts, which
never do). Past `max_batch_size`, the oldest request goes first with the requests closest to it in
length. A request's many texts run together; one call never mixes generation parameters. Why not
`@serve.batch`, with figures: docs/decisions.md.

Classes (apps/common/scheduling.py), when a bulk lane is configured: interactive work runs on the
interactive lane and bulk work on the bulk lane, whose thread has a lower OS priority
(apps/common/lanes.py), so a sentence never waits for a bulk call to end. Aging: when for
`bulk_max_wait_s` the interactive lane has run back to back and the bulk lane finished nothing,
with bulk work waiting that long, the interactive lane's next call takes the oldest bulk work
first. Without a bulk lane: one lane, oldest first, whatever the class.

Deadlines: a request past its deadline is answered DeadlineExceededError at once, queued or
running; one whose deadline would pass before even a call at its lane's last pace could end is
dropped when its turn comes. Neither is decoded (or its answer is discarded, counted as wasted).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from apps.common.scheduling import Priority, Ticket

logger = logging.getLogger("ray.serve")

ParamsT = TypeVar("ParamsT")
RunBatch = Callable[[list[str], ParamsT], Awaitable[list[str]]]
WAIT_SHARE = 0.25  # longest wait for returning callers, as a share of the call that just ran
NO_TICKET = Ticket()


class BatchObserver(Protocol):  # apps/common/metrics.py's SchedulingMetrics
    def record_batch(self, texts: int, seconds: float) -> None: ...
    def record_wait(self, priority: Priority, seconds: float) -> None: ...
    def record_expired(self, texts: int, decoded: bool) -> None: ...


@dataclass
class _Pending(Generic[ParamsT]):
    prompts: list[str]
    lengths: list[int]
    params: ParamsT
    future: asyncio.Future
    request_id: str = ""
    returns: bool = True  # the caller may send again right after its answer (see `submit`)
    ticket: Ticket = NO_TICKET
    enqueued_at: float = field(default_factory=time.monotonic)
    expiry: asyncio.TimerHandle | None = None

    @property
    def size(self) -> int:
        return len(self.prompts)

    @property
    def length(self) -> float:
        return sum(self.lengths) / len(self.lengths)

    @property
    def bulk(self) -> bool:
        return self.ticket.priority == "bulk"


@dataclass(eq=False)
class _Lane:
    name: str
    run_batch: RunBatch
    worker: asyncio.Task | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    last_returning: int = 0  # texts of returning callers in the call just finished; 0 when idle
    last_done_at: float = 0.0
    last_call_s: float = 0.0
    last_texts: int = 1  # texts in that call
    busy_since: float | None = None  # start of its run of back-to-back calls (aging)


class AdaptiveBatcher(Generic[ParamsT]):
    def __init__(
        self,
        run_batch: RunBatch,
        max_batch_size: int = 16,
        max_wait_s: float = 0.01,
        observer: BatchObserver | None = None,
    ):
        self._main = _Lane("interactive", run_batch)
        self._bulk: _Lane | None = None
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.bulk_max_wait_s = 0.0
        self._observer = observer
        self._queue: list[_Pending] = []

    def configure(
        self,
        max_batch_size: int,
        max_wait_s: float,
        run_bulk_batch: RunBatch | None = None,
        bulk_max_wait_s: float = 0.0,
    ) -> None:
        """Batch limits; `run_bulk_batch` is the bulk lane's model call (None: one lane for all)."""
        self.max_batch_size, self.max_wait_s = max_batch_size, max_wait_s
        self.bulk_max_wait_s = bulk_max_wait_s
        if run_bulk_batch is None:
            self._bulk = None  # a running bulk call finishes; the main lane takes the rest
        elif self._bulk is None or self._bulk.run_batch is not run_bulk_batch:
            self._bulk = _Lane("bulk", run_bulk_batch, last_done_at=time.monotonic())

    @property
    def queued_texts(self) -> int:
        return sum(item.size for item in self._queue)

    async def submit(
        self,
        prompts: list[str],
        params: ParamsT,
        lengths: list[int],
        request_id: str = "",
        returns: bool = True,
        ticket: Ticket = NO_TICKET,
    ) -> list[str]:
        """Queue `prompts` (with their token lengths) and wait for their outputs, in order.
        `request_id` names the caller's request in the batch's log line. `returns=False` says the
        caller will not send more right after (a part of a fanned-out request, whose siblings are
        all queued at once): the batcher does not hold the next call for it. `ticket`: the
        request's class and deadline."""
        runs = self.submit_runs(prompts, params, lengths, request_id, returns, ticket)
        outputs = await asyncio.gather(*(run for _, run in runs))
        return [text for run in outputs for text in run]

    def submit_runs(
        self,
        prompts: list[str],
        params: ParamsT,
        lengths: list[int],
        request_id: str = "",
        returns: bool = True,
        ticket: Ticket = NO_TICKET,
    ) -> list[tuple[int, asyncio.Future]]:
        """Queue `prompts` in runs of at most `max_batch_size`; (index of the run's first prompt,
        future of the run's outputs) for each, in order. Cancelling a future drops its run."""
        loop = asyncio.get_running_loop()
        runs = []
        for start in range(0, len(prompts), self.max_batch_size):
            end = start + self.max_batch_size
            item = _Pending(
                prompts[start:end],
                lengths[start:end],
                params,
                loop.create_future(),
                request_id,
                returns,
                ticket,
            )
            if ticket.deadline is not None:  # asyncio's clock is time.monotonic()
                item.expiry = loop.call_at(ticket.deadline, self._expire, item)
            self._queue.append(item)
            runs.append((start, item.future))
        if runs:
            self._wake()
        return runs

    def _wake(self) -> None:
        lanes = [self._main] if self._bulk is None else [self._main, self._bulk]
        for lane in lanes:
            lane.arrived.set()
            if lane.worker is None or lane.worker.done():
                # In a fresh context: the worker serves many requests, so it must not inherit (and
                # stamp on its log lines) the request context of the caller that happened to start it.
                lane.worker = contextvars.Context().run(
                    asyncio.get_running_loop().create_task, self._work(lane)
                )

    def _current(self, lane: _Lane) -> bool:
        return lane is self._main or lane is self._bulk

    async def _work(self, lane: _Lane) -> None:
        # Runs while the lane has work; `submit` starts it again. Not running forever lets a
        # replaced generator (a reconfigure to another model) finish its queue and be freed.
        # Back to back: calls with gaps shorter than the last call between them (a closed-loop
        # caller's next request restarts the worker within milliseconds).
        now = time.monotonic()
        if lane.busy_since is None or now - lane.last_done_at > lane.last_call_s:
            lane.busy_since = now
        try:
            while self._current(lane) and self._eligible(lane):
                await self._wait_for_returning_callers(lane)
                batch = self._take_batch(lane)
                if batch:
                    await self._run(lane, batch)
        finally:
            if not self._current(lane) and self._queue:  # a removed bulk lane: the main lane goes on
                self._wake()

    def _eligible(self, lane: _Lane) -> list[_Pending]:
        """What `lane` may take now, its head first: everything in arrival order without classes;
        else bulk work for the bulk lane and interactive work for the interactive lane, or, when
        aging is due, the oldest bulk work and then everything."""
        self._queue = [item for item in self._queue if not item.future.done()]
        if self._bulk is None:
            return self._queue
        if lane is self._bulk:
            return [item for item in self._queue if item.bulk]
        interactive = [item for item in self._queue if not item.bulk]
        if self._aging_due(lane):
            oldest_bulk = next(item for item in self._queue if item.bulk)
            return [oldest_bulk, *interactive, *(i for i in self._queue if i.bulk and i is not oldest_bulk)]
        return interactive

    def _aging_due(self, lane: _Lane) -> bool:  # bulk work is starved (see the module's doc)
        wait, now, bulk = self.bulk_max_wait_s, time.monotonic(), self._bulk
        if wait <= 0 or bulk is None or lane.busy_since is None or now - lane.busy_since < wait:
            return False
        if now - bulk.last_done_at < wait:  # the bulk lane progresses: nothing is starved
            return False
        oldest_bulk = next((item for item in self._queue if item.bulk), None)
        return oldest_bulk is not None and now - oldest_bulk.enqueued_at >= wait

    async def _wait_for_returning_callers(self, lane: _Lane) -> None:
        """Right after a call, wait (bounded) for the returning callers it answered to come back."""
        if lane.last_returning == 0:
            return

        def queued() -> int:
            return sum(item.size for item in self._eligible(lane))

        expected = min(self.max_batch_size, queued() + lane.last_returning)
        lane.last_returning = 0  # wait once per finished call
        # Bounded by the config and by a share of the call just run: a replica never idles longer
        # than WAIT_SHARE of its last call waiting for callers that may not come back.
        deadline = lane.last_done_at + min(self.max_wait_s, WAIT_SHARE * lane.last_call_s)
        while queued() < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            lane.arrived.clear()
            try:
                await asyncio.wait_for(lane.arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take_batch(self, lane: _Lane) -> list[_Pending]:
        """The lane's head, plus the same-params requests nearest to it in length that fit
        (interactive ones first). Requests whose caller has gone (cancelled, e.g. the client
        disconnected) are dropped; so are those whose deadline the call would pass."""
        now = time.monotonic()
        eligible = []
        for item in self._eligible(lane):
            # its own call at the last call's pace per text: a lower bound (a call costs less per
            # text the more it holds), so only work that surely cannot make it is dropped here
            quickest = lane.last_call_s * min(1.0, item.size / lane.last_texts)
            if item.ticket.deadline is not None and item.ticket.deadline <= now + quickest:
                self._expire(item)
            else:
                eligible.append(item)
        if not eligible:
            return []
        head = eligible[0]
        candidates = [item for item in eligible[1:] if item.params == head.params]
        candidates.sort(key=lambda item: (item.bulk, abs(item.length - head.length)))
        batch, size = [head], head.size
        for item in candidates:
            if size + item.size <= self.max_batch_size:
                batch.append(item)
                size += item.size
        taken = {id(item) for item in batch}
        self._queue = [item for item in self._queue if id(item) not in taken]
        if self._observer is not None:
            for item in batch:
                self._observer.record_wait(item.ticket.priority, now - item.enqueued_at)
        return batch

    def _expire(self, item: _Pending) -> None:
        """Answer `item` DeadlineExceededError now; a queued item leaves the queue undecoded."""
        if item.future.done():
            return
        item.future.set_exception(item.ticket.expired_error())
        queued = any(queued is item for queued in self._queue)
        if queued:
            self._queue = [other for other in self._queue if other is not item]
            self._observe(lambda o: o.record_expired(item.size, decoded=False))
        logger.info(
            "%d texts of request %s dropped: its deadline (%g s) %s",
            item.size,
            item.request_id or "-",
            item.ticket.timeout_s,
            "could not be met" if queued else "passed while they were decoded",
            extra={"expired_texts": item.size, "expired_decoding": not queued},
        )

    def _observe(self, record: Callable[[BatchObserver], None]) -> None:
        if self._observer is not None:
            try:
                record(self._observer)
            except Exception:
                logger.exception("batch metrics failed")

    async def _run(self, lane: _Lane, batch: list[_Pending]) -> None:
        prompts = [prompt for item in batch for prompt in item.prompts]
        started = time.monotonic()
        try:
            outputs = await lane.run_batch(prompts, batch[0].params)
        except Exception as exc:  # the callers get the error; the batcher keeps serving
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        finally:
            lane.last_done_at = time.monotonic()
            lane.last_call_s, lane.last_texts = lane.last_done_at - started, len(prompts)
            lane.last_returning = sum(item.size for item in batch if item.returns)
            if lane is self._main and any(item.bulk for item in batch):
                lane.busy_since = lane.last_done_at  # bulk was served here: aging starts again
            for item in batch:
                if item.expiry is not None:
                    item.expiry.cancel()
        seconds = lane.last_done_at - started
        logger.info(
            "batch of %d texts from %d requests decoded in %.3f s",
            len(prompts),
            len(batch),
            seconds,
            extra={
                "request_ids": [item.request_id for item in batch],
                "batch_texts": len(prompts),
                "batch_requests": len(batch),
                "batch_lane": lane.name if self._bulk is not None else "all",
                "decode_s": round(seconds, 4),
            },
        )
        self._observe(lambda o: o.record_batch(len(prompts), seconds))
        position, late = 0, 0
        for item in batch:
            if item.future.done():  # a caller that gave up (cancelled), or whose deadline passed
                expired = not item.future.cancelled() and item.future.exception() is not None
                late += item.size if expired else 0
            else:
                item.future.set_result(outputs[position : position + item.size])
            position += item.size
        if late:
            self._observe(lambda o: o.record_expired(late, decoded=True))
