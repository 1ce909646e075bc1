"""Read counters off Ray's Prometheus endpoint (`/metrics` on a node's metrics export port), as a
scraper would. The tests and the benchmarks use it; production scrapes with Prometheus itself."""

from __future__ import annotations

import re
import urllib.request


def scrape(metrics_url: str) -> str:
    """The endpoint's text; "" when it does not answer."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=10) as response:
            return response.read().decode()
    except OSError:
        return ""


def totals_by(metrics_text: str, name: str, label: str, **labels: str) -> dict[str, float]:
    """The series of `name` whose labels include `labels`, summed per value of `label` (e.g. per
    replica: `totals_by(text, "ray_textserve_model_calls_total", "replica", application="x")`)."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    by_label = re.compile(rf'[{{,]{re.escape(label)}="([^"]*)"')
    totals: dict[str, float] = {}
    for line in metrics_text.splitlines():
        if line.startswith(f"{name}{{") and all(item in line for item in wanted):
            match = by_label.search(line)
            key = match.group(1) if match else ""
            totals[key] = totals.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals


def metric_total(metrics_url: str, name: str, **labels: str) -> float:
    """The sum of every series of `name` whose labels include `labels` (e.g. application="router");
    0 when there is none yet, or the endpoint does not answer."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for line in scrape(metrics_url).splitlines():
        if line.startswith(f"{name}{{") and all(label in line for label in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total
