"""textserve.ray_cluster and textserve.processes without Ray: the `ray start` command lines, and
stopping exactly the processes of one session (a node's `ray start` and everything it started)."""

import subprocess
import sys
import time

from textserve.processes import kill_session, session_pids, stop_session
from textserve.ray_cluster import head_args

# a stand-in for `ray start --block`: a session leader with two children, one of them in a process
# group of its own (as Ray puts its workers); unlike `ray start`, SIGTERM ends only the leader
LEADER = """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
subprocess.Popen([sys.executable, "-c", "import os, time; os.setpgid(0, 0); time.sleep(120)"])
print("ready", flush=True)
time.sleep(120)
"""


def _start_leader() -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", LEADER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 10
    while len(session_pids(proc.pid)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def test_head_args_as_make_run_starts_the_head():
    assert head_args(dashboard_port=8265) == [
        "start",
        "--head",
        "--block",
        "--disable-usage-stats",
        "--node-ip-address=127.0.0.1",
        "--dashboard-host=127.0.0.1",
        "--dashboard-port=8265",
    ]


def test_stop_sigterms_the_leader_then_kills_what_is_left_of_its_session():
    proc = _start_leader()
    children = set(session_pids(proc.pid)) - {proc.pid}
    assert len(children) == 2
    assert stop_session(proc.pid, proc=proc, timeout_s=1) is False  # the children stayed
    assert proc.returncode is not None
    assert session_pids(proc.pid) == []
    proc.stdout.close()


def test_kill_session_kills_every_process_of_the_session_at_once():
    proc = _start_leader()
    assert kill_session(proc.pid, proc=proc, timeout_s=10)
    assert proc.returncode == -9
    assert session_pids(proc.pid) == []
    proc.stdout.close()
