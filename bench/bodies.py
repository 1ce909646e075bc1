"""The request bodies one endpoint is sent over a run, handed out in order across its cells."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence


class Bodies:
    """Request bodies, JSON-encoded, handed out in order to any number of client threads.

    `distinct` (the default): each body at most once over the object's life, then none: a run sized
    too small says so (`spent`) instead of sending a text twice, which our replicas would answer
    from their cache. Otherwise round and round, for loads whose repeats are the point (the cache's
    own benchmark) or whose server caches nothing (the load generator's tests)."""

    def __init__(self, bodies: Sequence[dict], distinct: bool = True):
        if not bodies:
            raise ValueError("no request bodies")
        self._encoded = [json.dumps(body).encode() for body in bodies]
        self.distinct = distinct
        self._lock = threading.Lock()
        self._taken = 0
        self.spent = False  # a distinct body was asked for after the last one

    def __len__(self) -> int:
        return len(self._encoded)

    @property
    def taken(self) -> int:
        with self._lock:
            return self._taken

    def take(self) -> bytes | None:
        """The next body; None once every distinct body has been handed out."""
        taken = self.take_many(1)
        return taken[0] if taken else None

    def take_many(self, count: int) -> list[bytes]:
        """The next `count` bodies; fewer (and `spent`) once the distinct ones run out."""
        with self._lock:
            start = self._taken
            if self.distinct and start + count > len(self._encoded):
                self.spent = True
                count = len(self._encoded) - start
            self._taken += count
        return [self._encoded[(start + i) % len(self._encoded)] for i in range(count)]


def as_bodies(bodies: Sequence[dict] | Bodies) -> Bodies:
    """`bodies` as given, or a plain list of them sent round and round."""
    return bodies if isinstance(bodies, Bodies) else Bodies(bodies, distinct=False)
