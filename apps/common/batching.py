"""Adaptive dynamic batching: many requests' texts in one model call, without taxing a lone request.

A batch closes only when the model is free to run it: then everything queued runs (a lone request
never waits); right after a call, it waits up to `max_wait_s` (at most a quarter of that call) for
the callers it answered to come back (not for one-shot callers, such as a fan-out's parts, which
never do). Past `max_batch_size`, the oldest request goes first with the
requests closest to it in length. A request's many texts run together; one call never mixes
generation parameters. Why not `@serve.batch`, with figures: docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

logger = logging.getLogger("ray.serve")

ParamsT = TypeVar("ParamsT")
RunBatch = Callable[[list[str], ParamsT], Awaitable[list[str]]]
OnBatch = Callable[[int, float], None]  # (texts in the call, seconds it took)
WAIT_SHARE = 0.25  # longest wait for returning callers, as a share of the call that just ran


@dataclass
class _Pending(Generic[ParamsT]):
    prompts: list[str]
    lengths: list[int]
    params: ParamsT
    future: asyncio.Future
    request_id: str = ""
    returns: bool = True  # the caller may send again right after its answer (see `submit`)
    enqueued_at: float = field(default_factory=time.monotonic)

    @property
    def size(self) -> int:
        return len(self.prompts)

    @property
    def length(self) -> float:
        return sum(self.lengths) / len(self.lengths)


class AdaptiveBatcher(Generic[ParamsT]):
    def __init__(
        self,
        run_batch: RunBatch,
        max_batch_size: int = 16,
        max_wait_s: float = 0.01,
        on_batch: OnBatch | None = None,
    ):
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._queue: list[_Pending] = []
        self._arrived = asyncio.Event()
        self._worker: asyncio.Task | None = None
        self._last_returning = 0  # texts of returning callers in the call just finished; 0 when idle
        self._last_done_at = 0.0
        self._last_call_s = 0.0

    def configure(self, max_batch_size: int, max_wait_s: float) -> None:
        self.max_batch_size, self.max_wait_s = max_batch_size, max_wait_s

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
    ) -> list[str]:
        """Queue `prompts` (with their token lengths) and wait for their outputs, in order.
        `request_id` names the caller's request in the batch's log line. `returns=False` says the
        caller will not send more right after (a part of a fanned-out request, whose siblings are
        all queued at once): the batcher does not hold the next call for it."""
        runs = self.submit_runs(prompts, params, lengths, request_id, returns)
        outputs = await asyncio.gather(*(run for _, run in runs))
        return [text for run in outputs for text in run]

    def submit_runs(
        self,
        prompts: list[str],
        params: ParamsT,
        lengths: list[int],
        request_id: str = "",
        returns: bool = True,
    ) -> list[tuple[int, asyncio.Future]]:
        """Queue `prompts` in runs of at most `max_batch_size`; (index of the run's first prompt,
        future of the run's outputs) for each, in order. Cancelling a future drops its run."""
        loop = asyncio.get_running_loop()
        runs = []
        for start in range(0, len(prompts), self.max_batch_size):
            end = start + self.max_batch_size
            future = loop.create_future()
            item = _Pending(prompts[start:end], lengths[start:end], params, future, request_id, returns)
            self._queue.append(item)
            runs.append((start, item.future))
        if not runs:
            return runs
        self._arrived.set()
        if self._worker is None or self._worker.done():
            # In a fresh context: the worker serves many requests, so it must not inherit (and
            # stamp on its log lines) the request context of the caller that happened to start it.
            self._worker = contextvars.Context().run(loop.create_task, self._work())
        return runs

    async def _work(self) -> None:
        # Runs while anything is queued; `submit` starts it again. Not running forever lets a
        # replaced generator (a reconfigure to another model) finish its queue and be freed.
        while self._queue:
            await self._wait_for_returning_callers()
            batch = self._take_batch()
            if batch:
                await self._run(batch)

    async def _wait_for_returning_callers(self) -> None:
        """Right after a call, wait (bounded) for the returning callers it answered to come back."""
        if self._last_returning == 0:
            return
        expected = min(self.max_batch_size, self.queued_texts + self._last_returning)
        self._last_returning = 0  # wait once per finished call
        # Bounded by the config and by a share of the call just run: a replica never idles longer
        # than WAIT_SHARE of its last call waiting for callers that may not come back.
        deadline = self._last_done_at + min(self.max_wait_s, WAIT_SHARE * self._last_call_s)
        while self.queued_texts < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take_batch(self) -> list[_Pending]:
        """The oldest request, plus the same-params requests nearest to it in length that fit.
        Requests whose caller has gone (cancelled, e.g. the client disconnected) are dropped."""
        self._queue = [item for item in self._queue if not item.future.done()]
        if not self._queue:
            return []
        oldest = self._queue[0]
        candidates = [item for item in self._queue[1:] if item.params == oldest.params]
        candidates.sort(key=lambda item: abs(item.length - oldest.length))
        batch, size = [oldest], oldest.size
        for item in candidates:
            if size + item.size <= self.max_batch_size:
                batch.append(item)
                size += item.size
        taken = {id(item) for item in batch}
        self._queue = [item for item in self._queue if id(item) not in taken]
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        prompts = [prompt for item in batch for prompt in item.prompts]
        started = time.monotonic()
        try:
            outputs = await self._run_batch(prompts, batch[0].params)
        except Exception as exc:  # the callers get the error; the batcher keeps serving
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        finally:
            self._last_done_at = time.monotonic()
            self._last_call_s = self._last_done_at - started
            self._last_returning = sum(item.size for item in batch if item.returns)
        seconds = self._last_done_at - started
        logger.info(
            "batch of %d texts from %d requests decoded in %.3f s",
            len(prompts),
            len(batch),
            seconds,
            extra={
                "request_ids": [item.request_id for item in batch],
                "batch_texts": len(prompts),
                "batch_requests": len(batch),
                "decode_s": round(seconds, 4),
            },
        )
        if self._on_batch is not None:
            try:
                self._on_batch(len(prompts), seconds)
            except Exception:
                logger.exception("batch metrics callback failed")
        position = 0
        for item in batch:
            if not item.future.done():  # a caller that gave up (cancelled) is skipped
                item.future.set_result(outputs[position : position + item.size])
            position += item.size
