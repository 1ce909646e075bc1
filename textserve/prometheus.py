"""Read counters off Ray's Prometheus endpoint (`/metrics` on a node's metrics export port), as a
scraper would. The tests and the benchmark use it; production scrapes with Prometheus itself."""

from __future__ import annotations

import urllib.request


def metric_total(metrics_url: str, name: str, **labels: str) -> float:
    """The sum of every series of `name` whose labels include `labels` (e.g. application="router");
    0 when there is none yet, or the endpoint does not answer."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=10) as response:
            body = response.read().decode()
    except OSError:
        return 0.0
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for line in body.splitlines():
        if line.startswith(f"{name}{{") and all(label in line for label in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total
