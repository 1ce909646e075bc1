"""The local Ray cluster both benchmarks run on: 2 CPUs, Serve on a free port of 127.0.0.1."""

from __future__ import annotations

import os

from textserve.inprocess import free_port


def start_cluster() -> tuple[int, str]:
    """A local Ray cluster of 2 CPUs with Serve on a free port; returns (HTTP port, metrics URL)."""
    import ray
    from ray import serve

    os.environ.update(RAY_AUTH_MODE="disabled", HF_HUB_OFFLINE="1")
    # batch metrics land within ~1 s (Ray reads this name as written: lower case)
    os.environ["RAY_metrics_report_interval_ms"] = "1000"  # noqa: SIM112
    metrics_port = free_port()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _metrics_export_port=metrics_port,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "RAY_AUTH_MODE": "disabled"}},
        logging_level="WARNING",
        log_to_driver=False,
    )
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    return port, f"http://127.0.0.1:{metrics_port}/metrics"


def stop_cluster() -> None:
    import ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()
