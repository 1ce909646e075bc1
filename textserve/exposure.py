"""What a stack we started listens on, and whether a stranger could reach it.

Ray binds its gRPC servers (GCS, raylet, every worker: replicas, the Serve controller, proxies)
to every interface of its node's IP, and its agents and metrics endpoints to that IP; `ray start
--node-ip-address=127.0.0.1` does not help, Ray swaps a loopback address for the machine's own.
On Linux, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes Ray take 127.0.0.1 as a head's node IP (as it
does on a laptop), and then every socket of the node is on loopback: `LOOPBACK_HEAD_ENV`. No
worker node can start under that flag, and one started without it turns the head's 127.0.0.1 into
the machine's address: a cluster of several nodes runs on the machine's address, under Ray's token
auth only (textserve/ray_cluster.start_node's `loopback=False`).

    exposed = beyond_loopback(listening(session_pids(head_pid)))   # [] when closed to strangers

(textserve.processes.session_pids: a node's processes; descendant_pids: a driver's.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import grpc
import psutil

# A head node whose every socket is on 127.0.0.1 (the variable's name is Ray's; on Linux its only
# effects are that node IP and a refusal to start worker nodes in the same environment).
LOOPBACK_HEAD_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
# What a worker node needs instead (Ray's default on Linux), and a head that workers will join.
WORKER_NODE_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"}
# A method of each gRPC service of Ray's that a node runs (Serve's replicas' calls from other
# deployments, the GCS, raylets, workers). Under token auth a call without the token is refused
# UNAUTHENTICATED before the method runs; a method the port does not serve is UNIMPLEMENTED.
RAY_GRPC_PROBES = (
    "/ray.serve.ASGIService/HandleRequest",
    "/ray.rpc.NodeInfoGcsService/GetAllNodeInfo",
    "/ray.rpc.NodeManagerService/GetNodeStats",
    "/ray.rpc.ObjectManagerService/Pull",
    "/ray.rpc.CoreWorkerService/NumPendingTasks",
)


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket and the process that holds it."""

    pid: int
    process: str  # the process's name (Ray's workers name themselves: ray::ServeReplica:...)
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.process} (pid {self.pid}) on {self.host}:{self.port}"


def descendant_pids(pid: int) -> list[int]:
    """`pid` and every process below it (what a driver's `ray.init(address="local")` started)."""
    try:
        root = psutil.Process(pid)
        return [pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def listening(pids: Iterable[int]) -> list[Listener]:
    """The listening TCP sockets (IPv4 and IPv6) of these processes."""
    found = []
    for pid in set(pids):
        try:
            process = psutil.Process(pid)
            name = process.name()
            for conn in process.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN:
                    found.append(Listener(pid, name, conn.laddr.ip, conn.laddr.port))
        except psutil.Error:  # gone meanwhile, or another user's
            continue
    return sorted(found, key=lambda listener: (listener.port, listener.host))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.0.0.1); never a wildcard."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def beyond_loopback(listeners: Iterable[Listener]) -> list[Listener]:
    """The listeners a client on another machine could reach."""
    return [listener for listener in listeners if not is_loopback(listener.host)]


def grpc_answer(port: int, method: str, token: str | None = None, timeout_s: float = 5) -> str:
    """The status code name (OK, UNAUTHENTICATED, UNIMPLEMENTED, ...) of an empty unary call of
    `method` to 127.0.0.1:`port`, with Ray's token or without one. Never leaves this machine."""
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            channel.unary_unary(method)(b"", timeout=timeout_s, metadata=metadata)
        except grpc.RpcError as error:
            return error.code().name
    return "OK"


def refuses_unauthenticated(listener: Listener) -> bool:
    """True if the socket, reached over 127.0.0.1, refuses a Ray client without the token: one of
    Ray's services answers UNAUTHENTICATED there. A socket bound to one address other than
    loopback cannot be tried from here (we send nothing beyond 127.0.0.1) and counts as open."""
    if listener.host not in ("0.0.0.0", "::") and not is_loopback(listener.host):
        return False
    return any(grpc_answer(listener.port, method) == "UNAUTHENTICATED" for method in RAY_GRPC_PROBES)


def open_to_strangers(listeners: Iterable[Listener]) -> list[Listener]:
    """The listeners beyond loopback not proven to refuse a client without Ray's token."""
    return [listener for listener in beyond_loopback(listeners) if not refuses_unauthenticated(listener)]


def bound_host(port: int) -> str:
    """The address a listening TCP port of this machine is bound to ("not listening" if none)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port:
            return conn.laddr.ip
    return "not listening"
