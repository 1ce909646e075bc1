"""Steady load for the fault tests: closed-loop HTTP clients, each a thread on a kept-alive
connection, recording every request's start, end, route and outcome; and the accounting of a
failure window (which requests failed, which started after a point, the longest time without a
successful answer)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import httpx

from textserve.demo_phrases import SUMMARIES

HELLO = {"text": "Hello world!"}
# One client per route: the two leaf apps directly and the router
EVERY_ROUTE = (
    ("/translate", HELLO),
    ("/summarize", {"text": next(iter(SUMMARIES))}),
    ("/", {"text": "Hello world!", "task": "translate", "target_lang": "de"}),
)


def long_document(chars: int) -> str:
    """The demo documents, repeated to about `chars` characters: ~1 chunk of the window per 1,000."""
    paragraphs: list[str] = []
    while sum(len(p) + 2 for p in paragraphs) < chars:
        paragraphs.extend(SUMMARIES)
    return "\n\n".join(paragraphs)[:chars]


class Outcome(NamedTuple):
    start: float  # time.monotonic() when the request was sent
    end: float  # ... and when its answer (or error) came
    route: str
    status: int | str  # the HTTP status, or the name of the httpx error (no answer)
    body: str = ""  # the body of an answer other than 200
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.5) -> float:
    """Poll until predicate() is true (HTTP errors and missing keys count as not yet); the time it
    took. AssertionError after timeout_s."""
    start = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - start
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        assert time.monotonic() - start < timeout_s, f"{what}: not within {timeout_s} s"
        time.sleep(poll_s)


class Load:
    """Closed-loop clients against `url`, one per (route, body) in `requests`, each pausing
    `pause_s` between requests; a context manager (the clients stop and are joined on exit)."""

    def __init__(
        self,
        url: str,
        requests: Sequence[tuple[str, dict]] = EVERY_ROUTE,
        *,
        pause_s: float = 0.05,
        timeout_s: float = 30,
    ):
        self.url, self.requests, self.pause_s, self.timeout_s = url, requests, pause_s, timeout_s
        self.results: list[Outcome] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _client(self, route: str, body: dict) -> None:
        with httpx.Client(base_url=self.url, timeout=self.timeout_s) as http:
            while not self._stop.is_set():
                start = time.monotonic()
                try:
                    response = http.post(route, json=body)
                    ok = response.status_code == 200
                    outcome = Outcome(
                        start,
                        time.monotonic(),
                        route,
                        response.status_code,
                        "" if ok else response.text[:4000],
                        response.headers.get("content-type", ""),
                    )
                except httpx.HTTPError as exc:
                    outcome = Outcome(start, time.monotonic(), route, type(exc).__name__, str(exc))
                self.results.append(outcome)
                time.sleep(self.pause_s)

    def __enter__(self) -> Load:
        for route, body in self.requests:
            thread = threading.Thread(target=self._client, args=(route, body), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def failures(self, route: str | None = None) -> list[Outcome]:
        return [r for r in self.results if not r.ok and route in (None, r.route)]

    def between(self, start: float, end: float) -> list[Outcome]:
        """Requests in flight at some moment of [start, end]."""
        return [r for r in self.results if r.end >= start and r.start <= end]

    def started_after(self, moment: float) -> list[Outcome]:
        return [r for r in self.results if r.start > moment]

    def longest_silence(self, start: float, end: float) -> float:
        """Longest time within [start, end] with no successful answer arriving."""
        answers = sorted(r.end for r in self.results if r.ok and start <= r.end <= end)
        points = [start, *answers, end]
        return max(b - a for a, b in itertools.pairwise(points))
