"""One answer shared by the callers of an anonymous route (health, the API document, the apps'
prefixes): made by one call at a time, reused while it is fresh.

Anyone may call `/healthz` or `/openapi.json`; each made leaf calls (a one-token decode on every
leaf app, two API documents) and a controller call. A burst of them now costs one of each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedAnswer(Generic[T]):
    """The answer of `make(key)`, shared.

    `get(key)` returns the last answer while it is younger than `max_age_s` and was made for the
    same `key` (e.g. the apps' deploy times: a changed key makes it anew); otherwise one call of
    `make(key)`, which every caller arriving meanwhile awaits too (single flight). An answer that
    `keep` refuses (a failed health check) and an exception reach the callers of that call and
    are not reused, so a recovery shows at the next call. `forget()` drops the kept answer.
    """

    def __init__(
        self,
        make: Callable[[Hashable], Awaitable[T]],
        max_age_s: float,
        keep: Callable[[T], bool] = lambda answer: True,
    ):
        self.make, self.max_age_s, self.keep = make, max_age_s, keep
        self._answer: tuple[Hashable, float, T] | None = None  # (key, made at, answer)
        self._pending: tuple[Hashable, asyncio.Future[T]] | None = None

    async def get(self, key: Hashable = None) -> T:
        loop = asyncio.get_running_loop()
        if self._answer is not None:
            made_for, made_at, answer = self._answer
            if made_for == key and loop.time() - made_at < self.max_age_s:
                return answer
        if self._pending is None or self._pending[0] != key:
            task = asyncio.ensure_future(self._make(key))
            self._pending = (key, task)
            task.add_done_callback(self._done)
        # shielded: a caller that goes away does not cancel the others' answer
        return await asyncio.shield(self._pending[1])

    def forget(self) -> None:
        self._answer = None

    async def _make(self, key: Hashable) -> T:
        answer = await self.make(key)
        if self.keep(answer):
            self._answer = (key, asyncio.get_running_loop().time(), answer)
        return answer

    def _done(self, task: asyncio.Future[T]) -> None:
        if self._pending is not None and self._pending[1] is task:
            self._pending = None
        if not task.cancelled():
            task.exception()  # retrieved here, so no "never retrieved" warning when all callers left
