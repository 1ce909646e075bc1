"""Start and stop Ray nodes with the CLI (`ray start --block`), each in its own process group, so
that exactly the nodes we started can be stopped (never `ray stop`, which ends every Ray cluster
on the machine). Used by `make run` (textserve/local_stack.py) and tests/e2e.

    head = start_head(temp_dir)             # free ports, dashboard on 127.0.0.1; waits until up
    worker = start_worker(head, temp_dir2)  # another node on this machine joining the head
    stop_node(worker); stop_node(head)      # SIGTERM, SIGKILL to its session after a timeout
    kill_node(worker)                       # SIGKILL to all its processes: a machine dying

`ray start --block` stops its node's processes (raylet, GCS, agents, workers) when it gets
SIGTERM. Ray gives worker processes (replicas, proxies) process groups of their own, but they
stay in the session of the `ray start` that started their node: a node's processes are exactly
its session's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textserve.inprocess import free_port
from textserve.serve_status import dashboard_up

RAY = str(Path(sys.executable).with_name("ray"))
# --node-ip-address: Ray replaces a loopback address by the machine's own (the state API then
# shows that as node_ip on every node); ports and the dashboard stay where we put them.
NODE_IP = "127.0.0.1"


@dataclass
class RayNode:
    """One node started by `ray start --block`: the leader of its own process group."""

    address: str  # the cluster's GCS address, host:port (what `ray start --address` takes)
    dashboard_url: str  # the head's dashboard (where `serve deploy -a` and the state API talk)
    metrics_url: str  # this node's Prometheus endpoint
    temp_dir: Path  # this node's --temp-dir: logs in <temp_dir>/session_latest/logs/
    env: dict = field(repr=False)  # the environment the node runs with (and the CLI should get)
    pid: int  # the `ray start --block` process, leader of the node's process group
    log_path: Path  # `ray start`'s own output
    proc: subprocess.Popen | None = field(default=None, repr=False)
    node_id: str = ""  # Ray's id of the node, once it is ALIVE

    def log_tail(self, chars: int = 3000) -> str:
        return _tail(self.log_path, chars)

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return _alive(self.pid)


def free_node_port_flags() -> list[str]:
    """`ray start` flags giving a node free ports for everything but its GCS, dashboard and HTTP."""
    return _node_ports()[0]


def _node_ports() -> tuple[list[str], int]:
    """Flags giving a node its own free ports (several nodes share this machine), and its
    metrics port."""
    # distinct: free_port never hands out the same port twice in a process
    manager, objects, agent_http, agent_grpc, runtime_env, metrics = (free_port() for _ in range(6))
    flags = [
        f"--node-manager-port={manager}",
        f"--object-manager-port={objects}",
        f"--dashboard-agent-listen-port={agent_http}",
        f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--runtime-env-agent-port={runtime_env}",
        f"--metrics-export-port={metrics}",
    ]
    return flags, metrics


def launch(args: list[str], *, env: dict, log_path: Path) -> subprocess.Popen:
    """`ray <args>` in a new session (its own process group), output to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        return subprocess.Popen(
            [RAY, *args], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def head_args(
    *,
    port: int | None = None,
    dashboard_port: int | None = None,
    num_cpus: int | None = None,
    temp_dir: Path | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """`ray start --head --block` on 127.0.0.1 (node and dashboard); unset ports are Ray's defaults."""
    args = [
        "start",
        "--head",
        "--block",
        "--disable-usage-stats",
        f"--node-ip-address={NODE_IP}",
        f"--dashboard-host={NODE_IP}",
    ]
    if num_cpus is not None:
        args.append(f"--num-cpus={num_cpus}")
    if port is not None:
        args.append(f"--port={port}")
    if dashboard_port is not None:
        args.append(f"--dashboard-port={dashboard_port}")
    if temp_dir is not None:
        args.append(f"--temp-dir={temp_dir}")
    return [*args, *extra]


def wait_for_dashboard(
    dashboard_url: str, proc: subprocess.Popen, log_path: Path, timeout_s: float = 90
) -> None:
    """Until the head's dashboard answers; RuntimeError (with the end of `ray start`'s output) if
    `ray start` exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while not dashboard_up(dashboard_url):
        if proc.poll() is not None:
            raise RuntimeError(f"`ray start` exited:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Ray head did not come up in {timeout_s:g} s:\n{_tail(log_path)}")
        time.sleep(1)


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _wait_for_node(node: RayNode, what: str, found, timeout_s: float) -> dict:
    """Poll the state API until `found(alive nodes)` returns a node; RuntimeError if `ray start`
    exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            match = found(alive_nodes(node.dashboard_url))
        except (OSError, ValueError, KeyError):  # the state API is still starting
            match = None
        if match is not None:
            return match
        if not node.running():
            raise RuntimeError(f"`ray start` exited before the {what} was ALIVE:\n{node.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {what} was not ALIVE in {timeout_s:g} s:\n{node.log_tail()}")
        time.sleep(1)


def launch_head(
    temp_dir: Path,
    *,
    env: dict | None = None,
    num_cpus: int = 2,
    block: bool = True,
    extra: Sequence[str] = (),
) -> RayNode:
    """`ray start --head` on free ports with its dashboard on 127.0.0.1, in its own session; does
    not wait for it. With block=False `ray start` exits once the node is up (its processes stay in
    its session)."""
    env = dict(os.environ if env is None else env)
    temp_dir = Path(temp_dir)
    gcs_port, dashboard_port, client_port = (free_port() for _ in range(3))
    ports, metrics_port = _node_ports()
    log_path = temp_dir / "ray-start.log"
    args = head_args(
        port=gcs_port,
        dashboard_port=dashboard_port,
        num_cpus=num_cpus,
        temp_dir=temp_dir,
        extra=[f"--ray-client-server-port={client_port}", *ports, *extra],
    )
    if not block:
        args.remove("--block")
    proc = launch(args, env=env, log_path=log_path)
    return RayNode(
        address=f"{NODE_IP}:{gcs_port}",
        dashboard_url=f"http://{NODE_IP}:{dashboard_port}",
        metrics_url=f"http://{NODE_IP}:{metrics_port}/metrics",
        temp_dir=temp_dir,
        env=env,
        pid=proc.pid,
        log_path=log_path,
        proc=proc,
    )


def start_head(
    temp_dir: Path,
    *,
    env: dict | None = None,
    num_cpus: int = 2,
    timeout_s: float = 90,
) -> RayNode:
    """A Ray head on free ports with its dashboard on 127.0.0.1, started with the CLI in its own
    process group; returns once the dashboard answers and the head node is ALIVE (stops the node
    and raises if not)."""
    node = launch_head(temp_dir, env=env, num_cpus=num_cpus)
    proc, log_path = node.proc, node.log_path
    try:
        start = time.monotonic()
        wait_for_dashboard(node.dashboard_url, proc, log_path, timeout_s)
        # the dashboard can answer before the head's raylet has registered
        head = _wait_for_node(
            node,
            "head node",
            lambda nodes: next((n for n in nodes if n["is_head_node"]), None),
            max(timeout_s - (time.monotonic() - start), 10),
        )
    except BaseException:
        stop_node(node)
        raise
    node.node_id = head["node_id"]
    return node


def start_worker(
    head: RayNode,
    temp_dir: Path,
    *,
    env: dict | None = None,
    num_cpus: int = 2,
    timeout_s: float = 90,
) -> RayNode:
    """Another node on this machine joining `head` (`ray start --address=<head> --block`), on its
    own free ports and its own --temp-dir (Ray allows one per node). Returns once the head lists
    it ALIVE (stops it and raises if it does not join)."""
    env = dict(head.env if env is None else env)
    temp_dir = Path(temp_dir)
    before = {n["node_id"] for n in alive_nodes(head.dashboard_url)}
    ports, metrics_port = _node_ports()
    log_path = temp_dir / "ray-start.log"
    args = [
        "start",
        f"--address={head.address}",
        "--block",
        "--disable-usage-stats",
        f"--node-ip-address={NODE_IP}",
        f"--num-cpus={num_cpus}",
        f"--temp-dir={temp_dir}",
        *ports,
    ]
    proc = launch(args, env=env, log_path=log_path)
    node = RayNode(
        address=head.address,
        dashboard_url=head.dashboard_url,
        metrics_url=f"http://{NODE_IP}:{metrics_port}/metrics",
        temp_dir=temp_dir,
        env=env,
        pid=proc.pid,
        log_path=log_path,
        proc=proc,
    )
    try:
        joined = _wait_for_node(
            node,
            "worker node",
            lambda nodes: next(
                (n for n in nodes if not n["is_head_node"] and n["node_id"] not in before), None
            ),
            timeout_s,
        )
    except BaseException:
        stop_node(node)
        raise
    node.node_id = joined["node_id"]
    return node


def alive_nodes(dashboard_url: str) -> list[dict]:
    """The cluster's ALIVE nodes (node_id, node_ip, is_head_node, resources_total, ...), from the
    Ray state API on the head's dashboard."""
    url = f"{dashboard_url}/api/v0/nodes?limit=1000&detail=true"
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.load(response)
    return [n for n in body["data"]["result"]["result"] if n["state"] == "ALIVE"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def session_pids(sid: int) -> list[int]:
    """Processes of session `sid` (the session `ray start` leads: start_new_session=True).
    Ray gives its worker processes (replicas, proxies) their own process groups, but they stay
    in the session of the node that started them. Linux /proc; empty where there is none."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def _wait_exit(pid: int, proc: subprocess.Popen | None, timeout_s: float) -> bool:
    """Wait until the leader `pid` has exited (reaped, if it is our child) and no process is left
    in its session. False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        leader_gone = proc.poll() is not None if proc is not None else not _alive(pid)
        if leader_gone and not session_pids(pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def stop_node_process(
    pid: int,
    *,
    proc: subprocess.Popen | None = None,
    timeout_s: float = 60,
    kill_after_timeout: bool = True,
) -> bool:
    """Stop the node of `ray start --block` process `pid` (leader of its own session): SIGTERM to
    it, as Kubernetes does to a pod's PID 1. Ray (2.60) then drains the node (Serve moves its
    replicas away and drains its proxy, up to RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S, 30 s) and
    stops the node's processes in order. If it is gone already, SIGTERM to its process group.
    Waits up to timeout_s until no process of the session is left, then (if kill_after_timeout)
    SIGKILLs the group and what is left of the session. True if SIGTERM sufficed.

    (SIGTERM to the whole group at once skips the drain, and was measured slower on a head: its
    GCS, signalled together with its raylet, took ~50 s to exit, against ~3 s in order.)"""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    if _wait_exit(pid, proc, timeout_s):
        return True
    if kill_after_timeout:
        kill_session(pid, proc=proc)
    return False


def kill_session(pid: int, *, proc: subprocess.Popen | None = None, timeout_s: float = 10) -> bool:
    """SIGKILL, at once, the process group led by `pid` and every other process of its session
    (the node's replicas and proxy have process groups of their own): the node dies as a machine
    does when it loses power. True once all are gone."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        for other in session_pids(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, signal.SIGKILL)
        if _wait_exit(pid, proc, 1):
            return True
        if time.monotonic() > deadline:
            return False


def stop_node(node: RayNode, timeout_s: float = 60) -> bool:
    """Stop a node we started: SIGTERM to its `ray start`, SIGKILL to its processes after
    timeout_s. True if SIGTERM sufficed."""
    return stop_node_process(node.pid, proc=node.proc, timeout_s=timeout_s)


def kill_node(node: RayNode, timeout_s: float = 10) -> bool:
    """SIGKILL every process of the node at once (a node crash); see kill_session."""
    return kill_session(node.pid, proc=node.proc, timeout_s=timeout_s)


def wait_until_gone(node: RayNode, timeout_s: float) -> bool:
    """Wait until the node's `ray start` has exited and no process of its session is left."""
    return _wait_exit(node.pid, node.proc, timeout_s)
