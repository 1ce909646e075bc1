"""The local stack behind `make run` / `make stop`.

    python -m textserve.local_stack up     # Ray head (if not running), deploy, wait, print examples
    python -m textserve.local_stack down   # serve shutdown, then stop the Ray head `up` started

`up` starts `ray start --head --block` in its own session and records it in .run/stack.json (its
PID, GCS address and dashboard); `down` sends that process SIGTERM, which stops exactly that
cluster's processes (never `ray stop`, which would end every Ray cluster on the machine), and
removes Ray's address file when it names that head, so `ray.init()` and `serve run` start a
cluster of their own afterwards instead of waiting on a dead one. Ports default to Ray's and the
seed guide's (GCS 6379, dashboard 8265, HTTP 8000); the options move them. The HTTP ingress is
Serve's HAProxy (textserve/haproxy.py; `--ingress proxy`: Serve's Python proxy), and `down` checks
that nothing is left listening on the HTTP port.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from textserve import exposure, processes, ray_address_file, ray_auth, ray_cluster
from textserve.demo_phrases import SUMMARIES
from textserve.haproxy import haproxy_env
from textserve.run_config import DEFAULT_CONFIG, REPO_ROOT
from textserve.serve_status import SERVE, dashboard_up, serve_status, wait_until_running

RUN_DIR = REPO_ROOT / ".run"
APPS = ["translation", "summarization", "router"]


@dataclass
class Stack:
    """Where `up` puts things; written to <run_dir>/stack.json so `down` stops exactly that."""

    run_dir: str = str(RUN_DIR)
    http_port: int = 8000
    dashboard_port: int = 8265
    gcs_port: int = 6379
    free_node_ports: bool = False  # the head's other ports free ones, to run beside another cluster
    ingress: str = "haproxy"  # or "proxy": Serve's Python proxy
    pid: int | None = None
    gcs_address: str = ""
    haproxy_dir: str = ""  # HAProxy's config and admin socket (a short path: a Unix socket)

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def record(self) -> Path:
        return Path(self.run_dir) / "stack.json"

    def save(self) -> None:
        Path(self.run_dir).mkdir(parents=True, exist_ok=True)
        self.record.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, run_dir: Path) -> Stack | None:
        try:
            return cls(**json.loads((Path(run_dir) / "stack.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            pass
        try:  # what `up` recorded before stack.json: the PID alone, Ray's default ports
            return cls(run_dir=str(run_dir), pid=int((Path(run_dir) / "ray.pid").read_text()))
        except (OSError, ValueError):
            return None


def use_stack_env(run_dir: Path) -> None:
    """This process's environment, inherited by the head and every CLI call: the stack's Ray
    token (made once, in the run dir, mode 0600), every socket of the head on 127.0.0.1, no hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.update(exposure.LOOPBACK_HEAD_ENV)
    os.environ.update(ray_auth.token_env(ray_auth.ensure_token(Path(run_dir) / ray_auth.TOKEN_FILE)))


def _running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def start_head(stack: Stack) -> None:
    """Start the head `stack` describes, unless the one it recorded still runs."""
    previous = Stack.load(Path(stack.run_dir))
    if previous and _running(previous.pid) and dashboard_up(previous.dashboard):
        if previous.dashboard_port != stack.dashboard_port:
            raise SystemExit(f"a head started by `make run` already runs at {previous.dashboard}")
        print(f"Ray head already running (pid {previous.pid})")
        stack.pid, stack.gcs_address = previous.pid, previous.gcs_address
        return
    stale = ray_address_file.remove_if_stale()
    if stale:
        print(f"removed {ray_address_file.address_file()}: it named {stale}, where no Ray head runs")
    holder = listener(stack.http_port)
    if holder:
        raise SystemExit(f"port {stack.http_port} is taken ({holder}); stop it or use --http-port")
    log_path = Path(stack.run_dir) / "ray.log"
    extra = ray_cluster.free_node_port_flags() if stack.free_node_ports else []
    args = ray_cluster.head_args(port=stack.gcs_port, dashboard_port=stack.dashboard_port, extra=extra)
    env = dict(os.environ)
    if stack.ingress == "haproxy":
        stack.haproxy_dir = tempfile.mkdtemp(prefix="ts-haproxy-")
        env.update(haproxy_env(Path(stack.haproxy_dir)))
    proc = ray_cluster.launch(args, env=env, log_path=log_path)
    stack.pid = proc.pid
    stack.save()
    try:
        ray_cluster.wait_for_dashboard(stack.dashboard, proc, log_path, timeout_s=90, env=env)
    except RuntimeError:
        stack.record.unlink(missing_ok=True)
        tail = log_path.read_text()[-2000:]
        raise SystemExit(f"Ray head did not start (is another cluster running?):\n{tail}") from None
    stack.gcs_address = ray_address_file.wait_for_port(stack.gcs_port, timeout_s=60) or ""
    stack.save()
    print(f"Ray head started (pid {proc.pid}); dashboard {stack.dashboard}")


def listener(port: int) -> str:
    """'' if nothing listens on 127.0.0.1:`port`, else what does ("pid 123 haproxy" when psutil says)."""
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", port)) != 0:
            return ""
    return processes.listening_process(port) or "a process of another user"


def serve_status_or_none(dashboard: str) -> dict:
    try:
        return serve_status(dashboard).get("applications") or {}
    except subprocess.SubprocessError:
        return {}


def up(args: argparse.Namespace) -> int:
    from textserve import run_config

    stack = Stack(
        run_dir=str(args.run_dir),
        http_port=args.http_port,
        dashboard_port=args.dashboard_port,
        gcs_port=args.gcs_port,
        free_node_ports=args.free_node_ports,
        ingress=args.ingress,
    )
    use_stack_env(Path(stack.run_dir))
    run_config_path = Path(stack.run_dir) / "serve_config.yaml"
    run_config.main(
        [
            *("--config", str(args.config), "--out", str(run_config_path), "--demo", args.demo),
            *("--http-host", "127.0.0.1", "--http-port", str(stack.http_port)),
        ]
    )
    start_head(stack)
    dashboard = stack.dashboard
    if serve_status_or_none(dashboard):
        # Serve compares configs, not code: redeploying an unchanged config would keep old code.
        print("shutting down the running apps so the current code and config are deployed")
        subprocess.run([SERVE, "shutdown", "-y", "-a", dashboard], check=True)
    subprocess.run([SERVE, "deploy", str(run_config_path), "-a", dashboard], check=True)
    print("waiting for the three apps to be RUNNING ...")
    wait_until_running(dashboard, APPS, timeout_s=600)
    subprocess.run([SERVE, "status", "-a", dashboard], check=False)
    if not report_exposure(stack):
        return 1
    print(examples(f"http://127.0.0.1:{stack.http_port}"))
    return 0


def stack_listeners(stack: Stack) -> list[exposure.Listener]:
    """Every socket the head's processes listen on (its session: raylet, GCS, agents, replicas,
    proxies and HAProxy, which Serve's proxy starts)."""
    return exposure.listening(processes.session_pids(stack.pid)) if stack.pid else []


def report_exposure(stack: Stack) -> bool:
    """Says what the stack listens on: every socket on 127.0.0.1 but those of Serve's replicas
    that Ray binds to every interface, which refuse a client without the stack's Ray token.
    False, naming them, if any socket beyond loopback accepts such a client (`up` then exits 1
    and leaves the stack for `make stop`)."""
    listeners = stack_listeners(stack)
    beyond = exposure.beyond_loopback(listeners)
    exposed = exposure.open_to_strangers(listeners)
    if exposed:
        print(f"error: {len(exposed)} socket(s) of the stack accept clients beyond 127.0.0.1:")
        for listener in exposed:
            print(f"  {listener}")
        print("run `make stop`; SECURITY.md says how the stack is closed to strangers")
        return False
    print(
        f"the stack listens on {len(listeners)} sockets: {len(listeners) - len(beyond)} on "
        f"127.0.0.1, {len(beyond)} on every interface that refuse clients without its Ray token"
    )
    return True


def _forget(stack: Stack, run_dir: Path) -> None:
    """Remove what `up` recorded of this head: stack.json, the legacy ray.pid, and Ray's address
    file when it names this head (or, for a head from before stack.json, a head that is gone)."""
    if ray_address_file.remove_if_it_names(stack.gcs_address):
        print(f"removed {ray_address_file.address_file()} (it named the stopped head)")
    elif not stack.gcs_address and ray_address_file.remove_if_stale():
        print(f"removed {ray_address_file.address_file()} (it named a head that is gone)")
    stack.record.unlink(missing_ok=True)
    (run_dir / "ray.pid").unlink(missing_ok=True)
    if stack.haproxy_dir:
        shutil.rmtree(stack.haproxy_dir, ignore_errors=True)


def down(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    stack = Stack.load(run_dir)
    if stack is None or not _running(stack.pid):
        print("no Ray head started by `make run` is running")
        if stack is not None:
            _forget(stack, run_dir)
        return 0
    use_stack_env(run_dir)
    subprocess.run([SERVE, "shutdown", "-y", "-a", stack.dashboard], check=False)
    # SIGTERM to that `ray start --block`: it stops its cluster's processes (and only those)
    processes.stop_session(stack.pid, timeout_s=60, kill_after_timeout=False)
    _forget(stack, run_dir)
    holder = listener(stack.http_port)
    if holder:
        print(f"warning: port {stack.http_port} is still taken ({holder}) after the head stopped")
        return 1
    print(f"stopped the Ray head (pid {stack.pid})")
    return 0


def examples(base: str = "http://127.0.0.1:8000") -> str:
    text = next(iter(SUMMARIES))
    document = json.dumps({"text": text})
    chained = json.dumps({"text": text, "task": "summarize_then_translate", "target_lang": "de"})
    return f"""
All three apps are RUNNING on {base}. Try:

  curl -s -X POST {base}/translate -H 'Content-Type: application/json' \\
       -d '{{"text": "Hello world!", "target_lang": "fr"}}'
  curl -s -X POST {base}/translate -H 'Content-Type: application/json' \\
       -d '{{"text": "Hallo Welt!", "source_lang": "de", "target_lang": "en"}}'
  curl -s -X POST {base}/translate -H 'Content-Type: application/json' \\
       -d '{{"text": "Merci beaucoup.", "source_lang": "auto", "target_lang": "en"}}'
  curl -s {base}/translate/languages
  curl -s -X POST {base}/summarize -H 'Content-Type: application/json' \\
       -d '{document}'
  curl -s -X POST {base}/ -H 'Content-Type: application/json' \\
       -d '{{"text": "Hello world!"}}'
  curl -s -X POST {base}/ -H 'Content-Type: application/json' \\
       -d '{chained}'

API docs:   {base}/docs (every app)    Playground: {base}/playground
Status:   make status        Stop: make stop
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run textserve on a local Ray cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start Ray (if needed), deploy, wait until RUNNING")
    p_up.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p_up.add_argument("--demo", choices=["auto", "always", "never"], default="auto")
    defaults = Stack()
    p_up.add_argument("--http-port", type=int, default=defaults.http_port)
    p_up.add_argument("--dashboard-port", type=int, default=defaults.dashboard_port)
    p_up.add_argument("--gcs-port", type=int, default=defaults.gcs_port)
    p_up.add_argument("--ingress", choices=["haproxy", "proxy"], default=defaults.ingress)
    p_up.add_argument(
        "--free-node-ports",
        action="store_true",
        help="free ports for the head's raylet, agents and metrics (beside another cluster)",
    )
    p_down = sub.add_parser("down", help="shut Serve down and stop the Ray head `up` started")
    p_status = sub.add_parser("status", help="`serve status` of the stack `up` started")
    for p in (p_up, p_down, p_status):
        p.add_argument("--run-dir", type=Path, default=RUN_DIR, help="where `up` keeps its state")
    args = parser.parse_args(argv)
    return {"up": up, "down": down, "status": status}[args.command](args)


def status(args: argparse.Namespace) -> int:
    """`serve status` with the stack's token (what `make status` runs)."""
    stack = Stack.load(Path(args.run_dir))
    if stack is None or not _running(stack.pid):
        print("no Ray head started by `make run` is running")
        return 1
    use_stack_env(Path(args.run_dir))
    return subprocess.run([SERVE, "status", "-a", stack.dashboard], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
