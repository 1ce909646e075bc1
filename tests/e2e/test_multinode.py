"""Multi-node on one machine: a Ray head and worker nodes started with
`ray start --block` (each in its own session, on its own ports and --temp-dir), the project's
config deployed with `serve deploy`, replicas on both nodes; then a worker node goes away while
clients keep sending requests to the head's proxy, and Serve brings every deployment back to 2
RUNNING replicas on the nodes that are left.

The sequence is a node replacement followed by a crash: worker A hosts replicas; worker B joins;
A is stopped (SIGTERM to its `ray start`, as Kubernetes stops a pod: Ray drains the node, Serve
moves its replicas, then the node's processes exit); then B is killed (SIGKILL to every process
of the node at once: a machine dying) and everything ends on the head.

Each worker's Serve proxy (proxy_location: EveryNode; HAProxy, as on the head) binds its own port
(RAY_SERVE_WORKER_PROXY_HTTP_PORT): on one machine they cannot all have the head's.
Measured figures are printed (`pytest -s`).
"""

import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import DEPLOYMENTS, cluster_env, deploy_demo_config, serve_details, serve_shutdown
from tests.e2e.load import Load, wait_for
from textserve import exposure
from textserve.haproxy import haproxy_env
from textserve.inprocess import free_port
from textserve.processes import session_pids, wait_for_exit
from textserve.ray_cluster import RayNode, alive_nodes, start_node, stop_node

pytestmark = pytest.mark.e2e

# Bounds, generous for a shared 2-core machine (measured on one: recovery 7-8 s after SIGTERM,
# 15-17 s after SIGKILL; no failed request; longest silence 0.6 s)
RECOVERY_AFTER_SIGTERM_S = 60
RECOVERY_AFTER_SIGKILL_S = 90  # the GCS declares a silent node dead after ~15 s of health checks
LONGEST_SILENCE_S = 15  # longest stretch without any successful answer during a failure
MAX_FAILED_REQUESTS = 6  # two per client: its request in flight, and one routed to a dead replica


def placement(head: RayNode) -> dict[str, list[tuple[str, str | None]]]:
    """Per app, (state, node_id) of each of its deployment's replicas, from Serve's REST API."""
    apps = serve_details(head)["applications"]
    return {
        app: sorted((r["state"], r.get("node_id")) for r in apps[app]["deployments"][name]["replicas"])
        for app, name in DEPLOYMENTS.items()
    }


def recovered(head: RayNode, allowed_nodes: set[str]) -> bool:
    """Every deployment has exactly 2 replicas, RUNNING, on allowed nodes."""
    return all(
        len(replicas) == 2 and all(s == "RUNNING" and n in allowed_nodes for s, n in replicas)
        for replicas in placement(head).values()
    )


@pytest.fixture(scope="module")
def cluster(demo_models) -> RayNode:
    """The head the workers join: on the machine's address (Ray lets no worker join a head on
    127.0.0.1), closed by the session's Ray token."""
    head = start_node(Path(tempfile.mkdtemp(prefix="ts-e2e-", dir="/tmp")), env=cluster_env(), loopback=False)
    try:
        yield head
    finally:
        serve_shutdown(head, timeout_s=120)
        stop_node(head)


@pytest.fixture(scope="module")
def workers(cluster):
    """Starts worker nodes joining the head (2 CPUs each, like the head); stops those still
    running at the end (only those)."""
    started: list[RayNode] = []

    def start() -> RayNode:
        temp_dir = Path(tempfile.mkdtemp(prefix="ts-e2e-worker-", dir="/tmp"))
        # its own HTTP port and HAProxy ports and state: on one machine they cannot share the head's
        env = {
            **cluster.env,
            **haproxy_env(temp_dir / "hap"),
            "RAY_SERVE_WORKER_PROXY_HTTP_PORT": str(free_port()),
        }
        node = start_node(temp_dir, join=cluster, env=env, num_cpus=2)
        started.append(node)
        return node

    yield start
    for node in started:
        if node.running() or session_pids(node.pid):
            stop_node(node)


@pytest.fixture(scope="module")
def deployed(cluster, workers, tmp_path_factory) -> dict:
    worker_a = workers()
    deployment = deploy_demo_config(cluster, tmp_path_factory.mktemp("multinode"))
    return {**deployment, "worker_a": worker_a}


def proxy_url(worker: RayNode) -> str:
    return f"http://127.0.0.1:{worker.env['RAY_SERVE_WORKER_PROXY_HTTP_PORT']}"


def test_every_ray_server_of_both_nodes_refuses_a_client_without_the_token(cluster, deployed):
    """Ray lets no worker join a head on 127.0.0.1, so these nodes listen on the machine's
    address: Ray's token auth is what closes them. Every gRPC server of Ray's on a wildcard
    address (GCS, raylets, workers, replicas) refuses a call without the token (tried on
    127.0.0.1); the dashboard and HAProxy stay on 127.0.0.1. What is left open is read-only:
    each node's Prometheus endpoints (SECURITY.md)."""
    worker_a = deployed["worker_a"]
    listeners = exposure.listening([*session_pids(cluster.pid), *session_pids(worker_a.pid)])
    names = {listener.process for listener in listeners}
    assert {"gcs_server", "raylet", "haproxy"} <= names, names
    ray_servers = [
        listener
        for listener in exposure.beyond_loopback(listeners)
        if listener.process in ("gcs_server", "raylet") or listener.process.startswith("ray::Serve")
    ]
    assert len(ray_servers) >= 10, listeners
    accepting = [listener for listener in ray_servers if not exposure.refuses_unauthenticated(listener)]
    assert not accepting, [
        (str(listener), [exposure.grpc_answer(listener.port, m) for m in exposure.RAY_GRPC_PROBES])
        for listener in accepting
    ]
    dashboard_port = int(cluster.dashboard_url.rsplit(":", 1)[1])
    on_loopback = {listener.port for listener in listeners if exposure.is_loopback(listener.host)}
    assert dashboard_port in on_loopback


def test_replicas_spread_over_both_nodes_and_each_node_proxies(cluster, deployed):
    worker_a = deployed["worker_a"]
    assert {n["node_id"] for n in alive_nodes(cluster.dashboard_url)} == {cluster.node_id, worker_a.node_id}
    for app, replicas in placement(cluster).items():
        assert [s for s, _ in replicas] == ["RUNNING", "RUNNING"], app
        # Serve's default replica scheduling is SPREAD (deployment_scheduler.py): one per node
        assert {n for _, n in replicas} == {cluster.node_id, worker_a.node_id}, app
    assert set(serve_details(cluster)["proxies"]) == {cluster.node_id, worker_a.node_id}
    # a node's proxy is listed while it starts; it takes traffic once Serve reports it HEALTHY
    # (a POST before that was once refused: CI, 2026-11-25)
    wait_for(
        lambda: {p["status"] for p in serve_details(cluster)["proxies"].values()} == {"HEALTHY"},
        60,
        "every node's proxy HEALTHY",
    )
    for url in (deployed["url"], proxy_url(worker_a)):
        answer = httpx.post(f"{url}/translate", json={"text": "Hello world!"}, timeout=60)
        assert answer.json()["translation"] == "Bonjour le monde !", url


def _fail_node_under_load(cluster, deployed, node: RayNode, *, abrupt: bool, bound_s: float) -> dict:
    """Clients on the head's proxy; stop `node` (SIGTERM to its `ray start`) or kill it (SIGKILL
    to every process of the node); the clients go on until every deployment has 2 RUNNING
    replicas on the other nodes (plus 3 s) and the node's processes are gone. Checks the
    bounds; returns the timings."""
    survivors = {n["node_id"] for n in alive_nodes(cluster.dashboard_url)} - {node.node_id}
    with Load(deployed["url"]) as load:
        time.sleep(2)  # load before the failure
        t_fail = time.monotonic()
        if abrupt:
            stop_node(node, kill=True)  # SIGKILL to all its processes at once (returns when they are gone)
        else:
            stop_node(node, wait=False)  # SIGTERM to its `ray start`: a graceful stop, waited for below
        wait_for(lambda: recovered(cluster, survivors), bound_s, "Serve replacing the lost replicas")
        t_recovered = time.monotonic()
        gone = wait_for_exit(node.pid, node.proc, timeout_s=60)
        t_gone = time.monotonic()
        time.sleep(max(0.0, t_recovered + 3 - t_gone))  # load after recovery
    in_window = load.between(t_fail, t_recovered)
    failures = load.failures()
    timings = {
        "signal": "SIGKILL" if abrupt else "SIGTERM",
        "recovered_s": round(t_recovered - t_fail, 1),
        "node_processes_gone_s": round(t_gone - t_fail, 1),
        "requests": len(load.results),
        "requests_in_failure_window": len(in_window),
        "failed": len(failures),
        "longest_silence_s": round(load.longest_silence(t_fail, t_recovered), 1),
        "slowest_s": round(max(r.end - r.start for r in load.results), 1),
    }
    print(f"\nworker node failure: {timings}; failures: {failures}")
    assert gone, f"processes of the failed node still running: {session_pids(node.pid)}"
    # Serve may replace the replicas (their actors died) before the GCS's health checks declare
    # a killed node dead (~15 s of missed checks)
    wait_for(
        lambda: node.node_id not in {n["node_id"] for n in alive_nodes(cluster.dashboard_url)},
        60,
        "the cluster marking the failed node dead",
    )
    # every failure belongs to the failure window; everything after recovery answered
    assert all(t_fail <= r.end and r.start <= t_recovered for r in failures), failures
    assert len(failures) <= MAX_FAILED_REQUESTS, failures
    after = load.started_after(t_recovered)
    assert after and all(r.ok for r in after)
    # and the head's proxy kept answering throughout
    assert timings["longest_silence_s"] <= LONGEST_SILENCE_S, timings
    return timings


def test_service_answers_while_a_worker_node_stops(cluster, deployed, workers):
    """Worker B joins, worker A is stopped (SIGTERM): its replicas are replaced on the head or B."""
    worker_b = workers()
    deployed["worker_b"] = worker_b
    _fail_node_under_load(
        cluster, deployed, deployed["worker_a"], abrupt=False, bound_s=RECOVERY_AFTER_SIGTERM_S
    )


def test_service_answers_while_a_worker_node_dies(cluster, deployed):
    """Worker B is killed (SIGKILL): Serve brings every deployment back to 2 replicas on the head."""
    worker_b = deployed.get("worker_b")
    if worker_b is None:
        pytest.skip("needs the previous test's worker B")
    on_b = [
        app for app, replicas in placement(cluster).items() if worker_b.node_id in {n for _, n in replicas}
    ]
    print(f"\nreplicas on worker B before it dies: {on_b}")
    assert on_b, "no replica was placed on worker B"
    _fail_node_under_load(cluster, deployed, worker_b, abrupt=True, bound_s=RECOVERY_AFTER_SIGKILL_S)
    assert recovered(cluster, {cluster.node_id})
