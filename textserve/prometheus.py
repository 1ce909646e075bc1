"""Read counters off Ray's Prometheus endpoint (`/metrics` on a node's metrics export port), as a
scraper would. The tests and the benchmarks use it; production scrapes with Prometheus itself."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def scrape(metrics_url: str) -> str:
    """The endpoint's text; "" when it does not answer."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=10) as response:
            return response.read().decode()
    except OSError:
        return ""


def _matching(metrics_text: str, name: str, labels: dict[str, str]):
    """(line, value) of each series of `name` whose labels include `labels`."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for line in metrics_text.splitlines():
        if line.startswith(f"{name}{{") and all(item in line for item in wanted):
            yield line, float(line.rsplit(" ", 1)[1])


def totals_by(metrics_text: str, name: str, label: str, **labels: str) -> dict[str, float]:
    """The series of `name` whose labels include `labels`, summed per value of `label` (e.g. per
    replica: `totals_by(text, "ray_textserve_model_calls_total", "replica", application="x")`)."""
    by_label = re.compile(rf'[{{,]{re.escape(label)}="([^"]*)"')
    totals: dict[str, float] = {}
    for line, value in _matching(metrics_text, name, labels):
        match = by_label.search(line)
        key = match.group(1) if match else ""
        totals[key] = totals.get(key, 0.0) + value
    return totals


def metric_total(metrics_url: str, name: str, **labels: str) -> float:
    """The sum of every series of `name` whose labels include `labels` (e.g. application="router");
    0 when there is none yet, or the endpoint does not answer."""
    return sum(value for _, value in _matching(scrape(metrics_url), name, labels))


def settled(read: Callable[[], T], timeout_s: float) -> T:
    """`read()` once two reads 1.5 s apart agree (replicas report their metrics every second), or
    the last read at `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    previous, current = None, read()
    while current != previous and time.monotonic() < deadline:
        time.sleep(1.5)
        previous, current = current, read()
    return current
