"""Model threads ("lanes") of a replica: one thread each, so the event loop keeps serving while the
model decodes. `run_at_lower_priority` makes threads of the lowest CPU priority Linux gives
without privilege (SCHED_IDLE; nice 19 where that is refused), and the threads they start inherit
it: the bulk lane's engine decodes on them. The lanes' own threads keep the process's priority
(they hold the GIL around a call). Why SCHED_IDLE, and why not lower the lanes' own threads:
docs/decisions.md, "Interactive before bulk".
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

logger = logging.getLogger("ray.serve")
ResultT = TypeVar("ResultT")

BULK_NICE = 19  # where SCHED_IDLE is refused: the lowest nice value instead


def lower_thread_priority() -> None:
    """Put the calling thread in SCHED_IDLE (Linux: per thread, no privilege needed); where that is
    refused, at nice 19. Logged, not raised, where neither is allowed: it then keeps its priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: the calling thread
        return
    except (AttributeError, OSError) as exc:
        reason = exc
    try:
        os.setpriority(os.PRIO_PROCESS, 0, BULK_NICE)  # on Linux, 0 is the calling thread here too
    except (AttributeError, OSError) as exc:
        logger.warning(
            "could not lower the bulk lane's priority (%s; %s): it runs at normal priority", reason, exc
        )


def thread_is_lowered(thread_id: int) -> bool:
    """Whether a thread of this process runs at the bulk lane's priority (SCHED_IDLE or nice 19)."""
    return (
        os.sched_getscheduler(thread_id) == os.SCHED_IDLE
        or os.getpriority(os.PRIO_PROCESS, thread_id) == BULK_NICE
    )


def run_at_lower_priority(fn: Callable[..., ResultT]) -> ResultT:
    """`fn()` on a new thread at the bulk lane's priority, waited for: the threads it starts (an
    engine's decoding threads) keep that priority after it ends."""
    with ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="lower-priority", initializer=lower_thread_priority
    ) as executor:
        return executor.submit(fn).result()


class ModelLane:
    """One thread for model calls."""

    def __init__(self, name: str):
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"generate-{name}")

    async def call(self, fn: Callable[..., ResultT], *args: Any) -> ResultT:
        """`fn(*args)` on the lane's thread, awaited without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        """No new calls; a running one finishes, then the thread ends."""
        self._executor.shutdown(wait=False)
