"""How many requests one Summarizer replica map-reduces at once.

Each such request holds a slot of the replica's max_ongoing_requests while its chunks need slots
on the replicas: unbounded, a flood of long documents could fill every slot with requests waiting
for chunks that never start. Past the bound a request is refused at once (503, retry later)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from apps.common.errors import ServiceBusyError


class MapReduceAdmission:
    def __init__(self, limit: int = 1):
        self.limit = limit  # max_map_reduce_requests, set again on reconfigure
        self.active = 0

    def has_room(self) -> bool:
        return self.active < self.limit

    def refuse(self) -> None:
        raise ServiceBusyError(
            f"this replica is already summarizing {self.limit} texts longer than the model's "
            "window; retry in a few seconds"
        )

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
