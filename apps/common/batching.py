"""Adaptive dynamic batching: many requests' texts in one model call, without taxing a lone request;
interactive work before bulk work; deadlines kept in the queue.

A batch closes when the model is free to run it (a lone request never waits); right after a call
it waits up to `batch_wait_timeout_s` (at most a quarter of that call) for the callers it answered
to come back. Past `max_batch_size`, the oldest request goes first with those closest to it in
length; one call never mixes generation parameters. With a bulk lane, each class has its lane and
bulk work ages onto the interactive lane after `bulk_max_wait_s`. Work past its deadline, or that
its lane's last pace says cannot meet it, is answered DeadlineExceededError, not decoded. Why this
design, with figures: docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any, Generic

from apps.common.batch_items import (
    NO_TICKET,
    BatchObserver,
    Lane,
    ParamsT,
    Pending,
    RunBatch,
    Slice,
    deliver,
    fail,
    log_batch,
)
from apps.common.scheduling import Ticket

logger = logging.getLogger("ray.serve")

WAIT_SHARE = 0.25  # longest wait for returning callers, as a share of the call that just ran
__all__ = ["NO_TICKET", "WAIT_SHARE", "AdaptiveBatcher", "BatchObserver"]


class AdaptiveBatcher(Generic[ParamsT]):
    """Batches of the prompts submitted, each run by `run_batch` (one lane for every class) until
    `configure` gives bulk work a lane of its own."""

    def __init__(
        self,
        run_batch: RunBatch,
        max_batch_size: int,
        batch_wait_timeout_s: float,
        observer: BatchObserver | None = None,
        label: str = "",
    ):
        self.label = label  # the model its calls decode with, in their log lines (batch_model)
        self._main = Lane("interactive", run_batch)
        self._bulk: Lane | None = None
        self.max_batch_size, self.batch_wait_timeout_s = max_batch_size, batch_wait_timeout_s
        self.bulk_max_wait_s: float = 0  # aging and bulk filling: with a bulk lane (`configure`)
        self.interactive_batch_size: int = 1
        self._observer = observer
        self._queue: list[Pending] = []

    def configure(
        self,
        max_batch_size: int,
        batch_wait_timeout_s: float,
        run_bulk_batch: RunBatch | None,
        bulk_max_wait_s: float,
        interactive_batch_size: int,
    ) -> None:
        """Batch limits; `run_bulk_batch` is the bulk lane's model call (None: one lane for all);
        an interactive call takes queued bulk prompts until it holds `interactive_batch_size`."""
        self.max_batch_size, self.batch_wait_timeout_s = max_batch_size, batch_wait_timeout_s
        self.bulk_max_wait_s = bulk_max_wait_s
        self.interactive_batch_size = interactive_batch_size
        if run_bulk_batch is None:
            self._bulk = None  # a running bulk call finishes; the main lane takes the rest
        elif self._bulk is None or self._bulk.run_batch is not run_bulk_batch:
            self._bulk = Lane("bulk", run_bulk_batch, last_done_at=time.monotonic())

    async def submit(self, *args: Any, **kwargs: Any) -> list[str]:
        """Queue prompts as `submit_runs` does and wait for all of their outputs, in order."""
        runs = self.submit_runs(*args, **kwargs)
        outputs = await asyncio.gather(*(run for _, run in runs))
        return [text for run in outputs for text in run]

    def submit_runs(
        self,
        prompts: list[str],
        params: ParamsT,
        lengths: list[int],
        request_id: str = "",
        caller_returns: bool = True,
        ticket: Ticket = NO_TICKET,
    ) -> list[tuple[int, asyncio.Future]]:
        """Queue `prompts` (with their token lengths) in runs of at most `max_batch_size`; (index
        of the run's first prompt, future of the run's outputs) for each, in order. Cancelling a
        future drops its run. `request_id` names the caller's request in the batch's log line.
        `caller_returns=False` says the caller will not send more right after (a part of a
        fanned-out request, whose siblings are all queued at once): the batcher does not hold
        the next call for it. `ticket`: the request's class and deadline."""
        loop = asyncio.get_running_loop()
        runs = []
        for start in range(0, len(prompts), self.max_batch_size):
            end = start + self.max_batch_size
            item = Pending(
                prompts[start:end],
                lengths[start:end],
                params,
                loop.create_future(),
                request_id,
                caller_returns,
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

    def _current(self, lane: Lane) -> bool:
        return lane is self._main or lane is self._bulk

    async def _work(self, lane: Lane) -> None:
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

    def _eligible(self, lane: Lane) -> list[Pending]:
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

    def _aging_due(self, lane: Lane) -> bool:  # bulk work is starved (see the module's doc)
        wait, now, bulk = self.bulk_max_wait_s, time.monotonic(), self._bulk
        if wait <= 0 or bulk is None or lane.busy_since is None or now - lane.busy_since < wait:
            return False
        if now - bulk.last_done_at < wait:  # the bulk lane progresses: nothing is starved
            return False
        oldest_bulk = next((item for item in self._queue if item.bulk), None)
        return oldest_bulk is not None and now - oldest_bulk.enqueued_at >= wait

    async def _wait_for_returning_callers(self, lane: Lane) -> None:
        """Right after a call, wait (bounded) for the returning callers it answered to come back."""
        if lane.last_returning == 0:
            return

        def queued() -> int:
            return sum(item.size for item in self._eligible(lane))

        expected = min(self.max_batch_size, queued() + lane.last_returning)
        lane.last_returning = 0  # wait once per finished call
        # Bounded by the config and by a share of the call just run: a replica never idles longer
        # than WAIT_SHARE of its last call waiting for callers that may not come back.
        deadline = lane.last_done_at + min(self.batch_wait_timeout_s, WAIT_SHARE * lane.last_call_s)
        while queued() < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            lane.arrived.clear()
            try:
                await asyncio.wait_for(lane.arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take_batch(self, lane: Lane) -> list[Slice]:
        """The lane's head, plus the same-params requests nearest to it in length that fit
        (interactive ones first). With classes, an interactive call then takes queued bulk prompts
        (the front of a bulk run, whose rest keeps its place) until it holds
        `interactive_batch_size`: bulk work progresses inside the calls interactive traffic makes.
        Requests whose caller has gone (cancelled, e.g. the client disconnected) are dropped; so
        are those whose deadline the call would pass."""
        now = time.monotonic()
        eligible = [item for item in self._eligible(lane) if self._can_meet_deadline(lane, item, now)]
        if not eligible:
            return []
        head = eligible[0]
        candidates = [item for item in eligible[1:] if item.params == head.params]
        candidates.sort(key=lambda item: (item.bulk, abs(item.length - head.length)))
        batch, size = [Slice(head, head.size)], head.size
        for item in candidates:
            if size + item.size <= self.max_batch_size:
                batch.append(Slice(item, item.size))
                size += item.size
        if self._bulk is not None and lane is self._main:
            self._fill_with_bulk(lane, batch, size, head.params, now)
        first = [part.item for part in batch if part.item.taken == 0]  # its wait ends now
        for part in batch:
            part.item.taken += part.size
        for item in first:
            self._observe(lambda o, item=item: o.record_wait(item.ticket.priority, now - item.enqueued_at))
        self._queue = [item for item in self._queue if item.size > 0]
        return batch

    def _can_meet_deadline(self, lane: Lane, item: Pending, now: float) -> bool:
        """False (and `item` expired) when even its own call at `lane`'s last pace per text would
        end past its deadline: a lower bound (a call costs less per text the more it holds), so
        only work that surely cannot make it is dropped."""
        quickest = lane.last_call_s * min(1.0, item.size / lane.last_texts)
        if item.ticket.deadline is not None and item.ticket.deadline <= now + quickest:
            self._expire(item)
            return False
        return True

    def _fill_with_bulk(self, lane: Lane, batch: list[Slice], size: int, params: ParamsT, now: float) -> None:
        """Add the oldest queued bulk prompts to an interactive call until it holds
        `interactive_batch_size` (never more than max_batch_size)."""
        room = min(self.interactive_batch_size, self.max_batch_size) - size
        chosen = {id(part.item) for part in batch}
        for item in list(self._queue):  # _can_meet_deadline may drop an item from the queue
            if room <= 0:
                break
            fits = item.bulk and id(item) not in chosen and item.params == params
            if fits and self._can_meet_deadline(lane, item, now):
                take = min(item.size, room)
                batch.append(Slice(item, take))
                room -= take

    def _expire(self, item: Pending) -> None:
        """Answer `item` DeadlineExceededError now; a queued item leaves the queue undecoded."""
        if item.future.done():
            return
        item.future.set_exception(item.ticket.expired_error())
        undecoded = item.size  # never handed to a call; the rest, in a call now, is wasted work
        if undecoded:
            self._queue = [other for other in self._queue if other is not item]
            self._observe(lambda o: o.record_expired(undecoded, decoded=False))
        item.log_expired(decoding=not undecoded)

    def _observe(self, record: Callable[[BatchObserver], None]) -> None:
        if self._observer is not None:
            try:
                record(self._observer)
            except Exception:
                logger.exception("batch metrics failed")

    async def _run(self, lane: Lane, batch: list[Slice]) -> None:
        prompts = [prompt for part in batch for prompt in part.prompts]
        started = time.monotonic()
        try:
            outputs = await lane.run_batch(prompts, batch[0].item.params)
        except Exception as exc:  # the callers get the error; the batcher keeps serving
            fail(batch, exc)
            self._queue = [item for item in self._queue if not item.future.done()]
            return
        finally:
            lane.record_call(batch, started, restarts_aging=lane is self._main)
        seconds = lane.last_call_s
        log_batch(batch, lane.name if self._bulk is not None else "all", seconds, self.label)
        self._observe(lambda o: o.record_batch(len(prompts), seconds))
        late = deliver(batch, outputs)
        if late:
            self._observe(lambda o: o.record_expired(late, decoded=True))
