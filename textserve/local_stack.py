"""The local stack behind `make run` / `make stop`.

    python -m textserve.local_stack up     # Ray head (if not running), deploy, wait, print examples
    python -m textserve.local_stack down   # serve shutdown, then stop the Ray head `up` started

`up` starts `ray start --head --block` in its own session and records its PID in .run/ray.pid;
`down` sends that process SIGTERM, which stops exactly that cluster's processes (never
`ray stop`, which would end every Ray cluster on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from textserve import ray_cluster
from textserve.demo_phrases import SUMMARIES
from textserve.run_config import DEFAULT_CONFIG, REPO_ROOT
from textserve.serve_status import SERVE, dashboard_up, serve_status, wait_until_running

RUN_DIR = REPO_ROOT / ".run"
PID_FILE = RUN_DIR / "ray.pid"
DASHBOARD = "http://127.0.0.1:8265"
APPS = ["translation", "summarization", "router"]


def cluster_env() -> dict:
    env = dict(os.environ)
    env.setdefault("RAY_AUTH_MODE", "disabled")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def _our_head_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start_head() -> None:
    if _our_head_pid() is not None and dashboard_up(DASHBOARD):
        print(f"Ray head already running (pid {_our_head_pid()})")
        return
    RUN_DIR.mkdir(exist_ok=True)
    log_path = RUN_DIR / "ray.log"
    args = ray_cluster.head_args(dashboard_port=8265)
    proc = ray_cluster.launch(args, env=cluster_env(), log_path=log_path)
    PID_FILE.write_text(str(proc.pid))
    try:
        ray_cluster.wait_for_dashboard(DASHBOARD, proc, log_path, timeout_s=90)
    except RuntimeError:
        PID_FILE.unlink(missing_ok=True)
        tail = log_path.read_text()[-2000:]
        raise SystemExit(f"Ray head did not start (is another cluster running?):\n{tail}") from None
    print(f"Ray head started (pid {proc.pid}); dashboard {DASHBOARD}")


def serve_status_or_none() -> dict:
    try:
        return serve_status(DASHBOARD).get("applications") or {}
    except subprocess.SubprocessError:
        return {}


def up(args: argparse.Namespace) -> int:
    from textserve import run_config

    run_config_path = RUN_DIR / "serve_config.yaml"
    run_config.main(
        [
            "--config",
            str(args.config),
            "--out",
            str(run_config_path),
            "--demo",
            args.demo,
            "--http-host",
            "127.0.0.1",
        ]
    )
    start_head()
    if serve_status_or_none():
        # Serve compares configs, not code: redeploying an unchanged config would keep old code.
        print("shutting down the running apps so the current code and config are deployed")
        subprocess.run([SERVE, "shutdown", "-y", "-a", DASHBOARD], check=True, env=cluster_env())
    subprocess.run([SERVE, "deploy", str(run_config_path), "-a", DASHBOARD], check=True, env=cluster_env())
    print("waiting for the three apps to be RUNNING ...")
    wait_until_running(DASHBOARD, APPS, timeout_s=600)
    subprocess.run([SERVE, "status", "-a", DASHBOARD], check=False)
    print(examples())
    return 0


def down(args: argparse.Namespace) -> int:
    pid = _our_head_pid()
    if pid is None:
        print("no Ray head started by `make run` is running")
        PID_FILE.unlink(missing_ok=True)
        return 0
    subprocess.run([SERVE, "shutdown", "-y", "-a", DASHBOARD], check=False, env=cluster_env())
    # SIGTERM to that `ray start --block`: it stops its cluster's processes (and only those)
    ray_cluster.stop_node_process(pid, timeout_s=60, kill_after_timeout=False)
    PID_FILE.unlink(missing_ok=True)
    print(f"stopped the Ray head (pid {pid})")
    return 0


def examples() -> str:
    text = next(iter(SUMMARIES))
    document = json.dumps({"text": text})
    chained = json.dumps({"text": text, "task": "summarize_then_translate", "target_lang": "de"})
    return f"""
All three apps are RUNNING on http://127.0.0.1:8000. Try:

  curl -s -X POST http://127.0.0.1:8000/translate -H 'Content-Type: application/json' \\
       -d '{{"text": "Hello world!", "target_lang": "fr"}}'
  curl -s -X POST http://127.0.0.1:8000/summarize -H 'Content-Type: application/json' \\
       -d '{document}'
  curl -s -X POST http://127.0.0.1:8000/ -H 'Content-Type: application/json' \\
       -d '{{"text": "Hello world!"}}'
  curl -s -X POST http://127.0.0.1:8000/ -H 'Content-Type: application/json' \\
       -d '{chained}'

API docs: http://127.0.0.1:8000/translate/docs  /summarize/docs  /docs
Status:   .venv/bin/serve status        Stop: make stop
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run textserve on a local Ray cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start Ray (if needed), deploy, wait until RUNNING")
    p_up.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p_up.add_argument("--demo", choices=["auto", "always", "never"], default="auto")
    sub.add_parser("down", help="shut Serve down and stop the Ray head `up` started")
    args = parser.parse_args(argv)
    return up(args) if args.command == "up" else down(args)


if __name__ == "__main__":
    sys.exit(main())
