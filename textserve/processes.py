"""Processes by session: a program started with `start_new_session=True` leads a session, and
everything it starts stays in that session even in process groups of their own (as Ray puts its
workers). So exactly one program's processes can be found, stopped or killed, and nothing else
on the machine."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import psutil


def is_alive(pid: int) -> bool:
    """Whether process `pid` still runs. A zombie does not: it has exited and waits to be reaped,
    which a container's PID 1 may do late or never (session_pids leaves zombies out too; counting
    them alive made a stopped server's processes look alive for a while)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def session_pids(sid: int) -> list[int]:
    """Processes of session `sid` (the session `ray start` leads: start_new_session=True).
    Ray gives its worker processes (replicas, proxies) their own process groups, but they stay
    in the session of the node that started them. Zombies are left out."""
    pids = []
    for pid in psutil.pids():
        # os.getsid, not psutil: psutil gives no session id
        with contextlib.suppress(OSError, psutil.Error):
            if os.getsid(pid) == sid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                pids.append(pid)
    return pids


def wait_for_exit(pid: int, proc: subprocess.Popen | None, timeout_s: float) -> bool:
    """Wait until the leader `pid` has exited (reaped, if it is our child) and no process is left
    in its session. False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        leader_gone = proc.poll() is not None if proc is not None else not is_alive(pid)
        if leader_gone and not session_pids(pid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def stop_session(
    pid: int,
    *,
    proc: subprocess.Popen | None = None,
    timeout_s: float = 60,
    kill_after_timeout: bool = True,
) -> bool:
    """SIGTERM to the session leader `pid` alone (if it is gone, to its process group); wait up to
    timeout_s until no process of its session is left, then (if kill_after_timeout) kill_session.
    True if SIGTERM sufficed. For `ray start --block` that is the graceful stop: Ray drains the
    node and stops its processes in order (SIGTERM to the whole group skips the drain, and a
    head's GCS then took ~50 s to exit, against ~3 s in order)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    if wait_for_exit(pid, proc, timeout_s):
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
        if wait_for_exit(pid, proc, 1):
            return True
        if time.monotonic() > deadline:
            return False


def listening_process(port: int) -> str:
    """'pid N name' of a process listening on TCP `port`; '' if none of this user's is (psutil:
    another user's socket shows no pid)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            try:
                return f"pid {conn.pid} {psutil.Process(conn.pid).name()}"
            except psutil.Error:
                continue
    return ""
