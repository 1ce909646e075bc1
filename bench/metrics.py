"""The replicas' own counters, read from Ray's Prometheus endpoint: per replica, and per request class
(queue wait) and cache result (`make bench-mixed`)."""

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
        "cache": totals_by(text, "ray_textserve_cache_lookups_total", "result", application=app),
    }


def settled_counters(metrics_url: str, app: str, timeout_s: float = 10) -> dict[str, dict[str, float]]:
    """The counters once they stop moving (replicas report every second)."""
    return settled(lambda: replica_counters(metrics_url, app), timeout_s)


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {replica: after[replica] - before.get(replica, 0.0) for replica in after}


def class_counters(metrics_text: str, app: str) -> dict:
    """One app's queue wait per class (`priority`: count, seconds), cache lookups per `result`
    (hit, miss), and its model calls and texts in them, summed over replicas."""

    def by(name: str, label: str) -> dict[str, float]:
        return totals_by(metrics_text, name, label, application=app)

    seconds = by("ray_textserve_queue_wait_seconds_sum", "priority")
    return {
        "queue_wait": {
            p: {"count": n, "sum_s": seconds.get(p, 0.0)}
            for p, n in by("ray_textserve_queue_wait_seconds_count", "priority").items()
        },
        "cache": by("ray_textserve_cache_lookups_total", "result"),
        "calls": sum(by("ray_textserve_model_calls_total", "replica").values()),
        "texts": sum(by("ray_textserve_batched_texts_total", "replica").values()),
    }


def settled_class_counters(metrics_url: str, app: str, timeout_s: float = 10) -> dict:
    return settled(lambda: class_counters(scrape(metrics_url), app), timeout_s)


def class_delta(after: dict, before: dict) -> dict:
    """What happened between two class_counters readings; avg_batch: texts per model call."""
    calls, texts = after["calls"] - before["calls"], after["texts"] - before["texts"]
    return {
        "queue_wait": {
            p: {key: value - before["queue_wait"].get(p, {}).get(key, 0.0) for key, value in w.items()}
            for p, w in after["queue_wait"].items()
        },
        "cache": {result: n - before["cache"].get(result, 0.0) for result, n in after["cache"].items()},
        "model_calls": calls,
        "avg_batch": texts / calls if calls else None,
    }


def decoding_counters(metrics_url: str, app: str, timeout_s: float = 8) -> dict[str, float]:
    """One app's model calls, the texts decoded in them and its cache lookups by result, summed over
    its replicas, once they stop moving: what `make bench`'s guard compares with the requests."""
    counters = settled_class_counters(metrics_url, app, timeout_s)
    return {
        "model_calls": counters["calls"],
        "decoded_texts": counters["texts"],
        "cache_hits": counters["cache"].get("hit", 0.0),
        "cache_misses": counters["cache"].get("miss", 0.0),
    }


def counters_delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: value - before.get(name, 0.0) for name, value in after.items()}
