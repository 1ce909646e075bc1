"""`make run` / `make stop` (textserve.local_stack up / down), for real: a Ray head of its own on
free ports, the three apps deployed with the `serve` CLI, the seed guide's request answered on
127.0.0.1; after `down`, Ray's address file no longer names the stopped head, so `ray.init()`
starts a cluster of its own instead of waiting on a dead GCS. Ray's temp dir (RAY_TMPDIR) is the
test's own, so the address file it reads and writes is too."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
import yaml

from textserve import exposure, processes
from textserve.inprocess import free_port
from textserve.run_config import DEFAULT_CONFIG

# every replica the config asks for: each has a server beyond loopback (below)
REPLICAS = sum(
    deployment["num_replicas"]
    for app in yaml.safe_load(Path(DEFAULT_CONFIG).read_text())["applications"]
    for deployment in app["deployments"]
)
INIT_AND_LEAVE = (
    "import ray; ray.init(num_cpus=1, include_dashboard=False); "
    "print('resources', ray.cluster_resources().get('CPU')); ray.shutdown()"
)


@pytest.fixture
def ray_tmpdir():
    # short: Ray's socket paths under it must stay within the 107-character limit of Unix sockets
    path = Path(tempfile.mkdtemp(prefix="ts-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def stack_command(*args: str, env: dict, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "textserve.local_stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_make_run_serves_on_localhost_and_make_stop_leaves_no_trap(tmp_path, ray_tmpdir, demo_models):
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmpdir)}
    http_port, dashboard_port, gcs_port = free_port(), free_port(), free_port()
    run_dir = tmp_path / "run"
    up = [
        *("up", "--demo", "always", "--run-dir", str(run_dir), "--http-port", str(http_port)),
        *("--dashboard-port", str(dashboard_port), "--gcs-port", str(gcs_port), "--free-node-ports"),
    ]
    address_file = ray_tmpdir / "ray" / "ray_current_cluster"
    try:
        started = stack_command(*up, env=env)
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        assert f"All three apps are RUNNING on http://127.0.0.1:{http_port}" in started.stdout
        written = address_file.read_text().strip()
        assert written == f"127.0.0.1:{gcs_port}"  # the head's node IP: loopback
        # every socket of every process the stack started (Ray's GCS, raylet, agents, workers,
        # the Serve controller, proxy and replicas, HAProxy): on 127.0.0.1, none beyond
        head = json.loads((run_dir / "stack.json").read_text())
        stack_pids = processes.session_pids(head["pid"])
        listeners = exposure.listening(stack_pids)
        names = {listener.process for listener in listeners}
        assert {"gcs_server", "raylet", "haproxy"} <= names, names
        assert any(name.startswith("ray::ServeRepli") for name in names), names
        beyond = exposure.beyond_loopback(listeners)
        # beyond loopback: only the replicas' servers for calls from other deployments (Ray binds
        # them to [::]: one per replica), and each refuses a client without the stack's token
        # (tried on 127.0.0.1)
        assert len(listeners) > 20 and len(beyond) == REPLICAS, listeners
        assert all(b.process.startswith("ray::ServeRepli") for b in beyond), beyond
        assert not exposure.open_to_strangers(listeners)
        token_file = run_dir / "ray-auth-token"
        token = token_file.read_text()
        assert token_file.stat().st_mode & 0o777 == 0o600 and len(token) == 64
        assert token not in started.stdout + started.stderr
        probe = "/ray.serve.ASGIService/HandleRequest"
        assert {exposure.grpc_answer(b.port, probe) for b in beyond} == {"UNAUTHENTICATED"}
        # the same call with the token gets past the check (the empty request then fails)
        assert "UNAUTHENTICATED" not in {exposure.grpc_answer(b.port, probe, token) for b in beyond}
        on_loopback = len(listeners) - REPLICAS
        counts = f"{len(listeners)} sockets: {on_loopback} on 127.0.0.1, {REPLICAS} on every interface"
        assert counts in started.stdout
        # `make status`: the CLI with the stack's token; without it the dashboard refuses
        shown = stack_command("status", "--run-dir", str(run_dir), env=env, timeout=120)
        assert shown.returncode == 0 and "RUNNING" in shown.stdout, shown.stderr[-2000:]
        bare = {k: v for k, v in env.items() if not k.startswith("RAY_AUTH")}
        refused = subprocess.run(
            [
                str(Path(sys.executable).with_name("serve")),
                "status",
                "-a",
                f"http://127.0.0.1:{dashboard_port}",
            ],
            env={**bare, "RAY_AUTH_MODE": "disabled"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode != 0, refused.stdout

        answer = requests.post(f"http://127.0.0.1:{http_port}/", json={"text": "Hello world!"}, timeout=60)
        assert answer.json()["translation"] == "Bonjour le monde !"
        # the front door it prints: every app's routes in one document, and the playground
        base = f"http://127.0.0.1:{http_port}"
        assert f"API docs:   {base}/docs (every app)    Playground: {base}/playground" in started.stdout
        assert all(requests.get(f"{base}{page}", timeout=60).ok for page in ("/docs", "/playground"))
        paths = requests.get(f"{base}/openapi.json", timeout=60).json()["paths"]
        assert {
            "/",
            "/healthz",
            "/translate",
            "/translate/languages",
            "/summarize",
            "/hf/translation",
        } <= set(paths)
        deployed = yaml.safe_load((run_dir / "serve_config.yaml").read_text())
        assert deployed["http_options"]["host"] == "127.0.0.1"  # serve_config.yaml keeps 0.0.0.0
        assert yaml.safe_load(DEFAULT_CONFIG.read_text())["http_options"]["host"] == "0.0.0.0"
        assert head["gcs_address"] == written
        listening_on = {exposure.bound_host(dashboard_port), exposure.bound_host(http_port)}
        assert listening_on == {"127.0.0.1"}, listening_on  # the dashboard can run jobs
        # the ingress is Serve's HAProxy, and every port it listens on is on 127.0.0.1 only
        ingress = processes.listening_process(http_port)
        assert ingress.endswith(" haproxy"), ingress
        haproxy_pid = int(ingress.split()[1])
        sockets = exposure.listening([haproxy_pid])
        assert len(sockets) >= 3 and {s.host for s in sockets} == {"127.0.0.1"}, sockets  # + stats, metrics
    finally:
        stopped = stack_command("down", "--run-dir", str(run_dir), env=env, timeout=300)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not processes.is_alive(haproxy_pid) and exposure.bound_host(http_port) == "not listening"
    assert not any(exposure.bound_host(s.port) != "not listening" for s in sockets)
    assert "removed " in stopped.stdout and "it named the stopped head" in stopped.stdout
    assert not address_file.exists() and not (run_dir / "stack.json").exists()

    fresh = subprocess.run(
        [sys.executable, "-c", INIT_AND_LEAVE], env=env, capture_output=True, text=True, timeout=120
    )
    assert fresh.returncode == 0 and "resources 1.0" in fresh.stdout, fresh.stderr[-3000:]


def test_a_stale_address_file_is_removed_and_another_clusters_is_kept(tmp_path, ray_tmpdir):
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmpdir)}
    address_file = ray_tmpdir / "ray" / "ray_current_cluster"
    address_file.parent.mkdir(parents=True)
    check = (
        "from textserve import ray_address_file as f; "
        "print('removed', f.remove_if_stale()); print('file', f.read_address())"
    )

    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    address_file.write_text(dead)
    done = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True)
    assert done.stdout.split("\n")[:2] == [f"removed {dead}", "file None"], done.stderr

    with socket.socket() as live:  # another cluster's GCS, alive
        live.bind(("127.0.0.1", 0))
        live.listen()
        other = f"127.0.0.1:{live.getsockname()[1]}"
        address_file.write_text(other)
        done = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True)
        assert done.stdout.split("\n")[:2] == ["removed None", f"file {other}"], done.stderr

        # `make stop` with nothing of its own running leaves another cluster's file alone
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        (run_dir / "stack.json").write_text(json.dumps({"pid": None, "gcs_address": dead}))
        stopped = stack_command("down", "--run-dir", str(run_dir), env=env, timeout=60)
        assert stopped.returncode == 0 and "no Ray head started by `make run`" in stopped.stdout
        assert address_file.read_text() == other
