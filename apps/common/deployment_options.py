"""The `@serve.deployment` options of our apps, in one place."""

from __future__ import annotations


def deployment_options(
    *, replicas: int, max_ongoing: int, max_queued: int, retry_after_s: int, cpus: float
) -> dict:
    """`@serve.deployment`'s options for one of our apps (serve_config.yaml says the same:
    tests/test_defaults.py): a full queue answers 503 with Retry-After; a replica being replaced
    answers what it holds (graceful_shutdown_timeout_s above the HTTP request_timeout_s) and stops
    at most graceful_shutdown_wait_loop_s after (Serve's default, 2 s, kept a drained replica up
    to 2 s longer: every redeploy, scale-down and app deletion waited for it); settings
    come in `user_config`, their defaults from the settings classes."""
    return {
        "num_replicas": replicas,
        "graceful_shutdown_timeout_s": 35,
        "graceful_shutdown_wait_loop_s": 0.5,
        "max_ongoing_requests": max_ongoing,
        "max_queued_requests": max_queued,
        "backpressure_config": {"status_code": 503, "retry_after_s": retry_after_s},
        "ray_actor_options": {"num_cpus": cpus, "num_gpus": 0},
        "user_config": {},
    }
