"""Read counters off Ray's Prometheus endpoint (`/metrics` on a node's metrics export port), as a
scraper would. The tests and the benchmarks use it; production scrapes with Prometheus itself."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

T = TypeVar("T")


def scrape(metrics_url: str) -> str:
    """The endpoint's text; "" when it does not answer."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=10) as response:
            return response.read().decode()
    except OSError:
        return ""


def _matching(metrics_text: str, name: str, labels: dict[str, str]) -> Iterator[Sample]:
    """Each sample named `name` (e.g. "ray_textserve_model_calls_total") whose labels include
    `labels`, read with prometheus_client's parser of the text format."""
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                yield sample


def totals_by(metrics_text: str, name: str, label: str, **labels: str) -> dict[str, float]:
    """The series of `name` whose labels include `labels`, summed per value of `label` (e.g. per
    replica: `totals_by(text, "ray_textserve_model_calls_total", "replica", application="x")`)."""
    totals: dict[str, float] = {}
    for sample in _matching(metrics_text, name, labels):
        key = sample.labels.get(label, "")
        totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def metric_total(metrics_url: str, name: str, **labels: str) -> float:
    """The sum of every series of `name` whose labels include `labels` (e.g. application="router");
    0 when there is none yet, or the endpoint does not answer."""
    return sum(sample.value for sample in _matching(scrape(metrics_url), name, labels))


def settled(read: Callable[[], T], timeout_s: float) -> T:
    """`read()` once two reads 1.5 s apart agree (replicas report their metrics every second), or
    the last read at `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    previous, current = None, read()
    while current != previous and time.monotonic() < deadline:
        time.sleep(1.5)
        previous, current = current, read()
    return current
