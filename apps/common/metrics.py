"""Custom metrics on Ray's Prometheus endpoint (ray.serve.metrics adds the application, deployment
and replica tags). Names are prefixed `textserve_`; Ray exports them as `ray_textserve_*`."""

from __future__ import annotations

import logging
from typing import TypeVar

logger = logging.getLogger("ray.serve")
MetricsT = TypeVar("MetricsT")

BATCH_SIZE_BOUNDARIES = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256]
CALL_SECONDS_BOUNDARIES = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
QUEUE_WAIT_BOUNDARIES = [0.001, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]


class SchedulingMetrics:
    """What the batcher and the sentence cache do (apps/common/batching.py, sentence_cache.py).

    Texts per model call and the call's duration: what batching really achieves. Ray exports a
    histogram's sum from bucket midpoints, so the exact mean batch size is texts / calls from the
    two counters; the histogram shows the distribution. Queue wait per class (`priority`);
    texts dropped for their deadline, undecoded (`decoded="false"`) or decoded for nobody
    (`decoded="true"`: the deadline passed during the call); cache lookups by `result`."""

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
        self.queue_wait = metrics.Histogram(
            "textserve_queue_wait_seconds",
            description="Time a request's texts waited in the replica's queue for a model call, by class.",
            boundaries=QUEUE_WAIT_BOUNDARIES,
            tag_keys=("priority",),
        )
        self.expired = metrics.Counter(
            "textserve_expired_texts",
            description="Texts dropped because their request's deadline passed: before decoding "
            '(decoded="false") or during it (decoded="true", work wasted).',
            tag_keys=("decoded",),
        )
        self.lookups = metrics.Counter(
            "textserve_cache_lookups",
            description="Prompts looked up in the sentence cache: hit (cached, or repeated in the "
            "request) or miss (decoded).",
            tag_keys=("result",),
        )

    def record_batch(self, texts: int, seconds: float) -> None:
        self.calls.inc()
        self.texts.inc(texts)
        self.batch_size.observe(texts)
        self.call_seconds.observe(seconds)

    def record_wait(self, priority: str, seconds: float) -> None:
        self.queue_wait.observe(seconds, tags={"priority": priority})

    def record_expired(self, texts: int, decoded: bool) -> None:
        self.expired.inc(texts, tags={"decoded": "true" if decoded else "false"})

    def record_lookups(self, hits: int, misses: int) -> None:
        if hits:
            self.lookups.inc(hits, tags={"result": "hit"})
        if misses:
            self.lookups.inc(misses, tags={"result": "miss"})


class TokenMetrics:
    """Tokens read and written by the model, per app (Ray adds the application tag)."""

    def __init__(self) -> None:
        from ray.serve import metrics

        self.input_tokens = metrics.Counter("textserve_input_tokens", description="Prompt tokens read.")
        self.output_tokens = metrics.Counter(
            "textserve_output_tokens", description="Tokens generated (counted on the decoded text)."
        )

    def record(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens.inc(input_tokens)
        self.output_tokens.inc(output_tokens)


LOAD_SECONDS_BOUNDARIES = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]


class ModelMetrics:
    """Models loaded on demand (apps/common/model_set.py): loads by result and their seconds, and
    the requests that waited for their model to load, with the wait. The models each replica
    holds and the unloads (evictions) are Serve's own multiplexing metrics
    (`serve_num_multiplexed_models`, `serve_multiplexed_models_unload_counter`)."""

    def __init__(self) -> None:
        from ray.serve import metrics

        self.loads = metrics.Counter(
            "textserve_model_loads", description="Models loaded on demand, by result.", tag_keys=("result",)
        )
        self.load_seconds = metrics.Histogram(
            "textserve_model_load_seconds",
            description="Time to load a model (its engine, converted if need be), in seconds.",
            boundaries=LOAD_SECONDS_BOUNDARIES,
        )
        self.waits = metrics.Counter(
            "textserve_model_load_waits",
            description="Requests (or parts) that waited for their model to load.",
        )
        self.wait_seconds = metrics.Histogram(
            "textserve_model_load_wait_seconds",
            description="Time a request waited for its model to load, in seconds.",
            boundaries=LOAD_SECONDS_BOUNDARIES,
        )

    def record_load(self, seconds: float, failed: bool) -> None:
        self.loads.inc(tags={"result": "failed" if failed else "ok"})
        if not failed:
            self.load_seconds.observe(seconds)

    def record_wait(self, seconds: float) -> None:
        self.waits.inc()
        self.wait_seconds.observe(seconds)


REQUEST_SECONDS_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]


class RequestMetrics:
    """HTTP requests by route, method and status, and their latency. 4xx and 5xx answers (our
    rejections: bad input, too large, leaf app down) are the requests with those statuses."""

    def __init__(self) -> None:
        from ray.serve import metrics

        tags = ("route", "method", "status")
        self.requests = metrics.Counter(
            "textserve_requests", description="HTTP requests answered.", tag_keys=tags
        )
        self.seconds = metrics.Histogram(
            "textserve_request_seconds",
            description="Time to answer an HTTP request, in seconds.",
            boundaries=REQUEST_SECONDS_BOUNDARIES,
            tag_keys=("route", "method"),
        )

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.inc(tags={"route": route, "method": method, "status": str(status)})
        self.seconds.observe(seconds, tags={"route": route, "method": method})


class _Counter:
    """One counter of Serve's metrics: `record(*values)` counts one, tagged with `tag_keys` in order."""

    name: str
    description: str
    tag_keys: tuple[str, ...]

    def __init__(self) -> None:
        from ray.serve import metrics

        self.counter = metrics.Counter(self.name, description=self.description, tag_keys=self.tag_keys)

    def record(self, *values: str) -> None:
        self.counter.inc(tags=dict(zip(self.tag_keys, values, strict=True)))


class RejectionMetrics(_Counter):
    """Requests turned away because the app they needed could not take them: `target` is that app,
    `reason` one of overloaded (its queue is full: Serve's backpressure), unavailable (missing or
    failing), timeout. Rejections by the Serve proxy itself, before any replica, are Serve's own
    `ray_serve_num_http_error_requests{error_code="503"}`."""

    name = "textserve_rejected_requests"
    description = "Requests turned away: the app they needed was overloaded, unavailable or slow."
    tag_keys = ("target", "reason")


class RetryMetrics(_Counter):
    """Leaf calls sent a second time because the replica serving them died (`target`: the app,
    `error`: ActorDiedError or ActorUnavailableError)."""

    name = "textserve_leaf_retries"
    description = "Calls to a leaf app retried once because the replica serving them died."
    tag_keys = ("target", "error")


def metrics_or_none(factory: type[MetricsT]) -> MetricsT | None:
    """Metrics inside a Ray worker; None elsewhere (e.g. an engine used in a plain process)."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        return factory()
    except Exception as exc:
        logger.warning("%s unavailable: %s", factory.__name__, exc)
        return None
