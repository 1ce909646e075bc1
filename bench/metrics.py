"""The replicas' own counters, read from Ray's Prometheus endpoint, per replica."""

from __future__ import annotations

from textserve.prometheus import scrape, settled, totals_by


def per_replica(metrics_text: str, metric: str, application: str) -> dict[str, float]:
    """One counter of one application, summed per `replica` label, from Prometheus text."""
    return totals_by(metrics_text, metric, "replica", application=application)


def replica_counters(metrics_url: str, app: str) -> dict[str, dict[str, float]]:
    text = scrape(metrics_url)
    return {
        "calls": per_replica(text, "ray_textserve_model_calls_total", app),
        "texts": per_replica(text, "ray_textserve_batched_texts_total", app),
    }


def settled_counters(metrics_url: str, app: str, timeout_s: float = 10) -> dict[str, dict[str, float]]:
    """The counters once they stop moving (replicas report every second)."""
    return settled(lambda: replica_counters(metrics_url, app), timeout_s)


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {replica: after[replica] - before.get(replica, 0.0) for replica in after}
