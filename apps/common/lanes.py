"""Model threads ("lanes") of a replica: one thread each, so the event loop keeps serving while the
model decodes. The bulk lane's thread runs at a lower OS priority (nice +BULK_NICE), and so do the
threads an engine makes on it (Linux threads inherit their creator's nice value): a model call
cannot be interrupted, but the kernel lets the interactive lane's call run whenever it has one,
and gives the bulk lane the CPU the interactive lane leaves (docs/decisions.md, "Classes").
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

logger = logging.getLogger("ray.serve")
ResultT = TypeVar("ResultT")

# nice +19, the lowest priority: a CPU-bound thread at nice 0 gets ~98.5% of a core it shares with
# one at +19 (Linux CFS weights 1024 and 15); raising one's own nice needs no privilege.
BULK_NICE = 19


def lower_thread_priority(nice: int) -> None:
    """Add `nice` to the calling thread's nice value (Linux: per thread). Logged, not raised,
    where the OS does not allow it: the lane then runs at normal priority."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except (AttributeError, OSError) as exc:
        logger.warning(
            "could not lower the bulk lane's thread priority (%s): it runs at normal priority", exc
        )


def thread_nice() -> int:
    """The calling thread's nice value."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class ModelLane:
    """One thread for model calls, `nice` above the process's priority (0: the same)."""

    def __init__(self, name: str, nice: int = 0):
        self.name = name
        initializer = (lambda: lower_thread_priority(nice)) if nice else None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"generate-{name}", initializer=initializer
        )

    def call_now(self, fn: Callable[..., ResultT], *args: Any) -> ResultT:
        """`fn(*args)` on the lane's thread, waited for here (e.g. to make an engine's threads there)."""
        return self._executor.submit(fn, *args).result()

    async def call(self, fn: Callable[..., ResultT], *args: Any) -> ResultT:
        """`fn(*args)` on the lane's thread, awaited without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        """No new calls; a running one finishes, then the thread ends."""
        self._executor.shutdown(wait=False)
