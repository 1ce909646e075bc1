"""What the batcher (apps/common/batching.py) queues and runs: a request's prompts waiting for the
model (`Pending`), the slice of them one model call takes (`Slice`), and a lane, the model calls of
one class (`Lane`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from apps.common.scheduling import Priority, Ticket

ParamsT = TypeVar("ParamsT")
RunBatch = Callable[[list[str], ParamsT], Awaitable[list[str]]]
NO_TICKET = Ticket()
logger = logging.getLogger("ray.serve")


class BatchObserver(Protocol):  # apps/common/metrics.py's SchedulingMetrics
    def record_batch(self, texts: int, seconds: float) -> None: ...
    def record_wait(self, priority: Priority, seconds: float) -> None: ...
    def record_expired(self, texts: int, decoded: bool) -> None: ...


@dataclass
class Pending(Generic[ParamsT]):
    prompts: list[str]
    lengths: list[int]
    params: ParamsT
    future: asyncio.Future
    request_id: str = ""
    caller_returns: bool = True  # the caller may send again right after its answer (see `submit`)
    ticket: Ticket = NO_TICKET
    enqueued_at: float = field(default_factory=time.monotonic)
    expiry: asyncio.TimerHandle | None = None
    # Prompts are handed to model calls in order, maybe in slices (an interactive call may take a
    # bulk run's first few; the rest stays queued, in its place); answered when all are decoded.
    taken: int = 0  # prompts handed to calls so far
    answered: int = 0  # prompts decoded so far
    outputs: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.outputs = [""] * len(self.prompts)

    @property
    def size(self) -> int:
        """Prompts not yet handed to a model call."""
        return len(self.prompts) - self.taken

    @property
    def length(self) -> float:
        rest = self.lengths[self.taken :] or self.lengths
        return sum(rest) / len(rest)

    @property
    def bulk(self) -> bool:
        return self.ticket.priority == "bulk"

    def log_expired(self, decoding: bool) -> None:
        """Log that the request's deadline passed with texts unanswered (`decoding`: in a call)."""
        unanswered = len(self.prompts) - self.answered
        logger.info(
            "%d texts of request %s dropped: its deadline (%g s) %s",
            unanswered,
            self.request_id or "-",
            self.ticket.timeout_s,
            "passed while they were decoded" if decoding else "could not be met",
            extra={"expired_texts": unanswered, "expired_decoding": decoding},
        )


class Slice:
    """The next `size` prompts of a request, for one model call."""

    def __init__(self, item: Pending, size: int):
        self.item, self.start, self.size = item, item.taken, size

    @property
    def prompts(self) -> list[str]:
        return self.item.prompts[self.start : self.start + self.size]


@dataclass(eq=False)
class Lane:
    name: str
    run_batch: RunBatch
    worker: asyncio.Task | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    last_returning: int = 0  # texts of returning callers in the call just finished; 0 when idle
    last_done_at: float = 0.0
    last_call_s: float = 0.0
    last_texts: int = 1  # texts in that call
    busy_since: float | None = None  # start of its run of back-to-back calls (aging)

    def record_call(self, batch: list[Slice], started: float, restarts_aging: bool) -> None:
        """Note the call of `batch` that `started` and has just ended, answered or failed."""
        self.last_done_at = time.monotonic()
        self.last_call_s = self.last_done_at - started
        self.last_texts = sum(part.size for part in batch)
        # callers answered by this call (a slice that leaves more of its request queued or
        # decoding elsewhere answers no one yet)
        self.last_returning = sum(
            part.size
            for part in batch
            if part.item.caller_returns and part.item.answered + part.size == len(part.item.prompts)
        )
        if restarts_aging and any(part.item.bulk for part in batch):
            self.busy_since = self.last_done_at  # bulk was served on the interactive lane


def deliver(batch: list[Slice], outputs: list[str]) -> int:
    """Give each slice of `batch` its outputs and answer the requests they complete; the number of
    texts decoded for callers whose deadline had passed (wasted)."""
    position, late = 0, 0
    for part in batch:
        item = part.item
        if item.future.done():  # a caller that gave up (cancelled), or whose deadline passed
            expired = not item.future.cancelled() and item.future.exception() is not None
            late += part.size if expired else 0
        else:
            item.outputs[part.start : part.start + part.size] = outputs[position : position + part.size]
            item.answered += part.size
            if item.answered == len(item.prompts):
                item.future.set_result(item.outputs)
        position += part.size
        if item.future.done() and item.expiry is not None:
            item.expiry.cancel()
    return late


def fail(batch: list[Slice], exc: Exception) -> None:
    """Answer every request with a slice in `batch` with the model call's error."""
    for part in batch:
        if not part.item.future.done():
            part.item.future.set_exception(exc)
        if part.item.expiry is not None:
            part.item.expiry.cancel()


def log_batch(batch: list[Slice], lane: str, seconds: float, model: str) -> None:
    texts = sum(part.size for part in batch)
    logger.info(
        "batch of %d texts from %d requests decoded in %.3f s",
        texts,
        len(batch),  # a request has at most one slice in a call
        seconds,
        extra={
            "request_ids": [part.item.request_id for part in batch],
            "batch_texts": texts,
            "batch_requests": len(batch),
            "batch_lane": lane,
            "batch_model": model,
            "decode_s": round(seconds, 4),
        },
    )
