"""The local Ray cluster both benchmarks run on: 2 CPUs, Serve on a free port of 127.0.0.1, its
ingress Serve's HAProxy (as `make run` and the manifests run it) or, with ingress="proxy", Serve's
Python proxy (the seed guide's stack)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from textserve import exposure
from textserve.haproxy import haproxy_env
from textserve.inprocess import free_port

INGRESSES = ("haproxy", "proxy")
_haproxy: dict = {}  # the running cluster's HAProxy environment and state directory
_env: dict[str, str] = {}  # the running cluster's extra environment


def start_cluster(
    ingress: str = "haproxy", dashboard: bool = False, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """A local Ray cluster of 2 CPUs with Serve on a free port; returns (HTTP port, metrics URL).
    `dashboard` starts Ray's dashboard (as `make run` does); `env` goes to every process of the
    cluster (Serve's environment flags) until stop_cluster."""
    import ray
    from ray import serve

    if ingress not in INGRESSES:
        raise ValueError(f"ingress {ingress!r}: use one of {INGRESSES}")
    os.environ.update(HF_HUB_OFFLINE="1")  # Ray's token and loopback: bench/__init__.py
    # batch metrics land within ~1 s (Ray reads this name as written: lower case)
    os.environ["RAY_metrics_report_interval_ms"] = "1000"  # noqa: SIM112
    if ingress == "haproxy":  # the node's processes (Serve's proxy among them) inherit it
        state_dir = Path(tempfile.mkdtemp(prefix="ts-bench-hap-"))
        node_env = haproxy_env(state_dir)
        os.environ.update(node_env)
        _haproxy.update(env=node_env, dir=state_dir)
    _env.update(env or {})  # last: a variant's flags override the node's
    os.environ.update(_env)
    metrics_port = free_port()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=dashboard,
        dashboard_host="127.0.0.1",
        dashboard_port=free_port(),
        _metrics_export_port=metrics_port,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}},
        logging_level="WARNING",
        log_to_driver=False,
    )
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    exposed = exposure.open_to_strangers(exposure.listening(exposure.descendant_pids(os.getpid())))
    if exposed:  # bench/__init__.py sets what keeps them closed: something bypassed it
        stop_cluster()
        raise RuntimeError(f"the bench's cluster is open beyond 127.0.0.1: {[str(e) for e in exposed]}")
    return port, f"http://127.0.0.1:{metrics_port}/metrics"


def stop_cluster() -> None:
    import ray
    from ray import serve

    serve.shutdown()
    ray.shutdown()
    for key in [*_haproxy.pop("env", {}), *_env]:
        os.environ.pop(key, None)
    _env.clear()
    if "dir" in _haproxy:
        shutil.rmtree(_haproxy.pop("dir"), ignore_errors=True)


@contextlib.contextmanager
def own_cluster(prefix: str, keep_logs: bool = False, **options) -> Iterator[tuple[int, str, Path]]:
    """start_cluster (`options`) with Ray in a temp dir of its own, so its logs are ours alone (others
    may run Ray here too); yields (HTTP port, metrics URL, that dir). Stops exactly this cluster
    afterwards and removes the dir unless `keep_logs`."""
    ray_tmp = Path(tempfile.mkdtemp(prefix=prefix))
    previous_tmp = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = str(ray_tmp)
    try:
        port, metrics_url = start_cluster(**options)
        try:
            yield port, metrics_url, ray_tmp
        finally:
            stop_cluster()
    finally:
        if previous_tmp is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = previous_tmp
        if not keep_logs:
            shutil.rmtree(ray_tmp, ignore_errors=True)


def exit_driver(code: int) -> NoReturn:
    """End a benchmark process that ran a Ray driver with `code`, its output flushed, skipping the
    interpreter's teardown and the C++ static destructors.

    Ray 2.60's driver keeps an OpenTelemetry metrics reader thread (in `_raylet.so`) that goes on
    exporting every `RAY_metrics_report_interval_ms` after `ray.shutdown()`. When an export fails
    while `exit()` runs the static destructors, it logs through spdlog's registry, already destroyed,
    and the process dies with SIGSEGV after having done everything (a core of `python -m bench
    --quick`: the reader thread in `spdlog::details::registry::initialize_logger` from
    `RayLog::~RayLog` from `OpenTelemetryMetricExporter::Export`; the main thread in `exit`'s frees).
    There is no public API to stop that thread; every cluster is stopped and every file written
    before this is called, so nothing is left to the teardown."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
