"""How many model calls each replica of an app made, read from Prometheus-format metrics."""

import time

from textserve.prometheus import scrape, totals_by


def model_calls_per_replica(metrics_url: str, application: str) -> dict[str, float]:
    text = scrape(metrics_url)
    return totals_by(text, "ray_textserve_model_calls_total", "replica", application=application)


def replicas_called_since(
    metrics_url: str, application: str, before: dict[str, float], calls: int, within_s: float = 20
) -> list[str]:
    """The replicas that made at least `calls` model calls since `before`, waiting up to
    `within_s` for two of them (replicas report their metrics every second or so)."""
    deadline = time.monotonic() + within_s
    while True:
        after = model_calls_per_replica(metrics_url, application)
        busy = [r for r in after if after[r] - before.get(r, 0) >= calls]
        if len(busy) >= 2 or time.monotonic() > deadline:
            return busy
        time.sleep(0.5)
