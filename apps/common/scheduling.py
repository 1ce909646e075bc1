"""How a request's work waits for the model: its class (interactive or bulk) and its deadline.

- **Class**: a request is `bulk` when it is big: more than `interactive_max_texts` texts, or more
  than `interactive_max_chars` characters in all (a long document, a big list, a stream of many
  sentences); else `interactive`. A request may ask for `"priority": "bulk"`, never for more than
  its class. How the batcher serves the classes: apps/common/batching.py.
- **Deadline**: the soonest of the client's `timeout_s` (body), its `X-Request-Timeout-Seconds`
  (header: Ray Serve's own per-request timeout) and Serve's HTTP `request_timeout_s`, from the
  request's arrival; the router passes what is left of it on to the leaf apps, and a long request
  passes it on to its parts. Work that cannot be decoded before its deadline is dropped, never
  decoded, and answered 504 (DeadlineExceededError). Serve's own timeouts (the header's, its
  request_timeout_s) answer 408 at the deadline itself and cancel the request, whose queued work
  is then dropped the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from apps.common.errors import ServingError

Priority = Literal["interactive", "bulk"]
PRIORITIES: tuple[Priority, ...] = ("interactive", "bulk")
TIMEOUT_HEADER = "X-Request-Timeout-Seconds"


class DeadlineExceededError(ServingError):
    """The request's deadline passed, or would pass before its turn with the model could end:
    its work was dropped (not decoded, or its answer discarded)."""

    status_code = 504
    retry_after_s = 1


@dataclass(frozen=True)
class Ticket:
    """A request's place in the queue: its class and its deadline (time.monotonic(); None: none).
    It crosses processes as `to_wire()`: see `from_wall`."""

    priority: Priority = "interactive"
    deadline: float | None = None
    timeout_s: float | None = None  # the timeout it was given, for the 504's message
    tenant: str | None = None  # whose request (apps/common/tenants.py): the cache's scope

    @classmethod
    def start(
        cls,
        priority: Priority,
        timeout_s: float | None,
        since: float | None = None,
        tenant: str | None = None,
    ) -> Ticket:
        """A ticket for a request of `tenant` that arrived at `since` (time.monotonic(); None:
        now) with `timeout_s` (None: no deadline)."""
        if timeout_s is None:
            return cls(priority, None, None, tenant)
        return cls(priority, (time.monotonic() if since is None else since) + timeout_s, timeout_s, tenant)

    @classmethod
    def from_wall(
        cls,
        priority: Priority,
        wall_deadline: float | None,
        timeout_s: float | None,
        tenant: str | None = None,
    ) -> Ticket:
        """The ticket another process sent as `wall_deadline()` (time.time(): nodes' clocks agree
        to well within a deadline's precision, while monotonic clocks are per machine)."""
        if wall_deadline is None:
            return cls(priority, None, timeout_s, tenant)
        return cls(priority, time.monotonic() + (wall_deadline - time.time()), timeout_s, tenant)

    def to_wire(self) -> tuple[Priority, float | None, float | None, str | None]:
        """What another process needs to make this ticket again with `from_wall`."""
        return self.priority, self.wall_deadline(), self.timeout_s, self.tenant

    def wall_deadline(self) -> float | None:
        return None if self.deadline is None else time.time() + (self.deadline - time.monotonic())

    def remaining_s(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired_error(self) -> DeadlineExceededError:
        return DeadlineExceededError(
            f"the request's deadline ({self.timeout_s:g} s) passed before the model could answer it, "
            "so its work was dropped: send a longer timeout_s (or X-Request-Timeout-Seconds), less "
            "text, or retry later"
        )


def request_class(texts: list[str], max_texts: int, max_chars: int, asked: Priority | None) -> Priority:
    """`bulk` for a request past either bound, or one that asks for it; else `interactive`."""
    if asked == "bulk" or len(texts) > max_texts or sum(len(text) for text in texts) > max_chars:
        return "bulk"
    return "interactive"
