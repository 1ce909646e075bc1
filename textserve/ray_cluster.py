"""Start and stop Ray nodes with the CLI (`ray start --block`), each in its own process group, so
that exactly the nodes we started can be stopped (never `ray stop`, which ends every Ray cluster
on the machine). Used by `make run` (textserve/local_stack.py) and tests/e2e.

    head = start_node(temp_dir)                 # free ports, dashboard on 127.0.0.1; waits until up
    worker = start_node(temp_dir2, join=head)   # another node on this machine joining the head
    stop_node(worker); stop_node(head)          # SIGTERM, SIGKILL to its session after a timeout
    stop_node(worker, kill=True)                # SIGKILL to all its processes: a machine dying

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

from textserve.exposure import LOOPBACK_HEAD_ENV, WORKER_NODE_ENV
from textserve.inprocess import free_port
from textserve.processes import is_alive, kill_session, stop_session
from textserve.ray_auth import dashboard_headers
from textserve.serve_status import dashboard_up

RAY = str(Path(sys.executable).with_name("ray"))
# A head's node IP, given the environment that keeps it (LOOPBACK_HEAD_ENV: without it Ray swaps
# 127.0.0.1 for the machine's own address and listens there, as it does for every worker node).
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
    blocking: bool = True  # `ray start --block` still runs (False: it exited once the node was up)

    def log_tail(self, chars: int = 3000) -> str:
        return _tail(self.log_path, chars)

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return is_alive(self.pid)


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
    """`ray start --head --block` on 127.0.0.1 (node and dashboard) when run with
    LOOPBACK_HEAD_ENV; unset ports are Ray's defaults."""
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
    dashboard_url: str,
    proc: subprocess.Popen | None,
    log_path: Path,
    timeout_s: float = 90,
    env: dict | None = None,
) -> None:
    """Until the head's dashboard answers; RuntimeError (with the end of `ray start`'s output) if
    `ray start --block` (`proc`) exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while not dashboard_up(dashboard_url, env):
        if proc is not None and proc.poll() is not None:
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
            match = found(alive_nodes(node.dashboard_url, node.env))
        except (OSError, ValueError, KeyError):  # the state API is still starting
            match = None
        if match is not None:
            return match
        if node.blocking and not node.running():
            raise RuntimeError(f"`ray start` exited before the {what} was ALIVE:\n{node.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {what} was not ALIVE in {timeout_s:g} s:\n{node.log_tail()}")
        time.sleep(1)


def start_node(
    temp_dir: Path,
    *,
    join: RayNode | None = None,
    env: dict | None = None,
    num_cpus: int = 2,
    block: bool = True,
    extra: Sequence[str] = (),
    timeout_s: float = 90,
    loopback: bool = True,
) -> RayNode:
    """A Ray node on free ports, started with `ray start` in its own session: a head (dashboard on
    127.0.0.1) or, with `join`, a worker joining that head (its own --temp-dir: Ray allows one per
    node). Returns once the head lists it ALIVE; stops it and raises if not. With block=False
    `ray start` exits once the node is up, and the node's processes stay in its session.

    A head keeps every socket on 127.0.0.1 (textserve/exposure.py says how) unless
    loopback=False: Ray lets no worker node join a head whose node IP is loopback, so a head that
    workers will join, and they, run on the machine's address (under the token auth of `env`)."""
    env = dict((join.env if join else os.environ) if env is None else env)
    env.update(LOOPBACK_HEAD_ENV if loopback and join is None else WORKER_NODE_ENV)
    temp_dir = Path(temp_dir)
    ports, metrics_port = _node_ports()
    log_path = temp_dir / "ray-start.log"
    if join is None:
        gcs_port, dashboard_port, client_port = (free_port() for _ in range(3))
        address, dashboard_url = f"{NODE_IP}:{gcs_port}", f"http://{NODE_IP}:{dashboard_port}"
        args = head_args(
            port=gcs_port,
            dashboard_port=dashboard_port,
            num_cpus=num_cpus,
            temp_dir=temp_dir,
            extra=[f"--ray-client-server-port={client_port}", *ports, *extra],
        )
        before: set[str] = set()
    else:
        address, dashboard_url = join.address, join.dashboard_url
        args = [
            *("start", f"--address={address}", "--block", "--disable-usage-stats"),
            *(f"--node-ip-address={NODE_IP}", f"--num-cpus={num_cpus}", f"--temp-dir={temp_dir}"),
            *ports,
            *extra,
        ]
        before = {n["node_id"] for n in alive_nodes(dashboard_url, env)}
    if not block:
        args.remove("--block")
    proc = launch(args, env=env, log_path=log_path)
    node = RayNode(
        address=address,
        dashboard_url=dashboard_url,
        metrics_url=f"http://{NODE_IP}:{metrics_port}/metrics",
        temp_dir=temp_dir,
        env=env,
        pid=proc.pid,
        log_path=log_path,
        proc=proc,
        blocking=block,
    )
    try:
        started = time.monotonic()
        if not block:  # `ray start` returns once the node is up
            code = proc.wait(timeout=timeout_s)
            if code != 0:
                raise RuntimeError(f"`ray start` failed ({code}):\n{node.log_tail()}")
        if join is None:
            wait_for_dashboard(dashboard_url, proc if block else None, log_path, timeout_s, env)
        found = _wait_for_node(
            node,
            "head node" if join is None else "worker node",
            lambda nodes: next(
                (n for n in nodes if n["is_head_node"] == (join is None) and n["node_id"] not in before),
                None,
            ),
            max(timeout_s - (time.monotonic() - started), 10),
        )
    except BaseException:
        stop_node(node, kill=not block)
        raise
    node.node_id = found["node_id"]
    return node


def stop_node(node: RayNode, *, kill: bool = False, wait: bool = True, timeout_s: float = 60) -> bool:
    """Stop a node we started, and nothing else: SIGTERM to its `ray start`, which drains the node
    and stops its processes, SIGKILL to what is left of its session after timeout_s (True if
    SIGTERM sufficed); with kill=True, SIGKILL to every process of the node at once, as a machine
    dies (True once they are gone); with wait=False, only the SIGTERM (wait with
    processes.wait_for_exit). A node started with block=False has no `ray start` left to signal:
    it is killed."""
    if kill or not node.blocking:
        return kill_session(node.pid, proc=node.proc, timeout_s=min(timeout_s, 20))
    if not wait:
        with contextlib.suppress(ProcessLookupError):
            os.kill(node.pid, signal.SIGTERM)
        return False
    return stop_session(node.pid, proc=node.proc, timeout_s=timeout_s)


def alive_nodes(dashboard_url: str, env: dict | None = None) -> list[dict]:
    """The cluster's ALIVE nodes (node_id, node_ip, is_head_node, resources_total, ...), from the
    Ray state API on the head's dashboard (its token from `env`, else this process's)."""
    url = f"{dashboard_url}/api/v0/nodes?limit=1000&detail=true"
    request = urllib.request.Request(url, headers=dashboard_headers(env))
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    return [n for n in body["data"]["result"]["result"] if n["state"] == "ALIVE"]
