"""Custom metrics on Ray's Prometheus endpoint (ray.serve.metrics adds the application, deployment
and replica tags). Names are prefixed `textserve_`; Ray exports them as `ray_textserve_*`."""

from __future__ import annotations

import logging

logger = logging.getLogger("ray.serve")

BATCH_SIZE_BOUNDARIES = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256]
CALL_SECONDS_BOUNDARIES = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]


class BatchMetrics:
    """Texts per model call and the call's duration: what batching really achieves.

    Ray exports a histogram's sum from bucket midpoints, so the exact mean batch size is
    texts / calls from the two counters; the histogram shows the distribution."""

    def __init__(self) -> None:
        from ray.serve import metrics

        self.calls = metrics.Counter("textserve_model_calls", description="Batched model calls.")
        self.texts = metrics.Counter(
            "textserve_batched_texts", description="Texts decoded by batched model calls."
        )
        self.batch_size = metrics.Histogram(
            "textserve_batch_size",
            description="Texts decoded together in one model call.",
            boundaries=BATCH_SIZE_BOUNDARIES,
        )
        self.call_seconds = metrics.Histogram(
            "textserve_model_call_seconds",
            description="Duration of one batched model call, in seconds.",
            boundaries=CALL_SECONDS_BOUNDARIES,
        )

    def record(self, texts: int, seconds: float) -> None:
        self.calls.inc()
        self.texts.inc(texts)
        self.batch_size.observe(texts)
        self.call_seconds.observe(seconds)


def batch_metrics_or_none() -> BatchMetrics | None:
    """Metrics inside a Ray worker; None elsewhere (e.g. an engine used in a plain process)."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        return BatchMetrics()
    except Exception as exc:
        logger.warning("batch metrics unavailable: %s", exc)
        return None
