"""The e2e fixtures: a Ray head started with the CLI (`ray start --head --block`) on free ports in
its own process group, one per test module, and the user's deploy path (`python -m
textserve.run_config` then `serve deploy`). Teardown shuts Serve down and stops exactly the nodes
the module started (never `ray stop`)."""

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import REPO_ROOT
from textserve.haproxy import haproxy_env
from textserve.inprocess import free_port
from textserve.ray_auth import dashboard_headers
from textserve.ray_cluster import RayNode, start_node, stop_node
from textserve.serve_status import wait_until_running

BIN = Path(sys.executable).parent
APPS = ["translation", "summarization", "router"]
DEPLOYMENTS = {"translation": "Translator", "summarization": "Summarizer", "router": "Router"}  # ingresses
# every replica serve_config.yaml asks for (the ingresses' and the router's file store)
REPLICAS = sum(
    deployment["num_replicas"]
    for app in yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())["applications"]
    for deployment in app["deployments"]
)


def cluster_env() -> dict:
    """A node's environment as `make run` gives it: Serve's HAProxy ingress (its own ports and
    state directory per node), the session's Ray token (tests/conftest.py), no hub."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        # metrics reach Ray's Prometheus endpoint within a second or two instead of ~10 s
        "RAY_metrics_report_interval_ms": "1000",
        # a replica going away keeps answering for 5 s, not 30, before it stops: Serve's floor is
        # for load balancers outside the cluster; the node's HAProxy, updated by Serve, drops the
        # replica within a second (a harder test of a redeploy, and 25 s less per replica stopped)
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5",
        **haproxy_env(Path(tempfile.mkdtemp(prefix="ts-hap-", dir="/tmp"))),
    }


@pytest.fixture(scope="module")
def cluster(demo_models) -> RayNode:
    """A Ray head (2 CPUs, dashboard and metrics on free ports of 127.0.0.1) for this module. Its
    logs: `<cluster.temp_dir>/session_latest/logs/` (Serve's under `serve/`)."""
    head = start_node(Path(tempfile.mkdtemp(prefix="ts-e2e-", dir="/tmp")), env=cluster_env())
    try:
        yield head
    finally:
        serve_shutdown(head, timeout_s=120)
        stop_node(head)


def serve_shutdown(node: RayNode, timeout_s: float) -> None:
    """`serve shutdown -y` on the cluster, for a teardown: its failure or a timeout must not stop
    the teardown from stopping the nodes that follow."""
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            [str(BIN / "serve"), "shutdown", "-y", "-a", node.dashboard_url],
            env=node.env,
            check=False,
            capture_output=True,
            timeout=timeout_s,
        )


def serve_cli(cluster: RayNode, *args: str) -> None:
    subprocess.run(
        [str(BIN / "serve"), *args, "-a", cluster.dashboard_url], env=cluster.env, check=True, timeout=120
    )


def write_demo_config(cluster: RayNode, out: Path, http_port: int) -> Path:
    """The project's config with the demo models, bound to 127.0.0.1:http_port, as `make run`
    derives it (`python -m textserve.run_config --demo always`)."""
    prepared = subprocess.run(
        [
            sys.executable,
            "-m",
            "textserve.run_config",
            "--demo",
            "always",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(http_port),
            "--out",
            str(out),
        ],
        cwd=REPO_ROOT,
        env=cluster.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "DEMO MODE" in prepared.stdout
    return out


def deploy_demo_config(cluster: RayNode, directory: Path, timeout_s: float = 300) -> dict:
    """`serve deploy` the project's config (demo models) and wait until the three apps are RUNNING.
    Returns config_path, url (Serve's HTTP on the head) and status (`serve status`, parsed)."""
    http_port = free_port()
    config_path = write_demo_config(cluster, directory / "serve_config.yaml", http_port)
    serve_cli(cluster, "deploy", str(config_path))
    status = wait_until_running(cluster.dashboard_url, APPS, timeout_s=timeout_s)
    return {"config_path": config_path, "url": f"http://127.0.0.1:{http_port}", "status": status}


def serve_details(cluster: RayNode) -> dict:
    """Serve's REST API on the dashboard: applications, deployments, replicas (with node_id), proxies."""
    return httpx.get(
        f"{cluster.dashboard_url}/api/serve/applications/",
        headers=dashboard_headers(cluster.env),
        timeout=30,
    ).json()
