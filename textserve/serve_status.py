"""Read `serve status` (the CLI, as a user would) and wait until applications are RUNNING."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from textserve.ray_auth import dashboard_headers

SERVE = str(Path(sys.executable).with_name("serve"))


def dashboard_up(address: str, env: dict | None = None) -> bool:
    """True once the Ray dashboard at `address` (where `serve deploy` talks) answers (its token
    from `env`, else this process's)."""
    try:
        request = urllib.request.Request(f"{address}/api/version", headers=dashboard_headers(env))
        with urllib.request.urlopen(request, timeout=2):
            return True
    except OSError:
        return False


def serve_status(address: str) -> dict:
    """`serve status -a address`, parsed. Raises CalledProcessError if the cluster does not answer."""
    out = subprocess.run(
        [SERVE, "status", "-a", address], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return yaml.safe_load(out) or {}


def wait_until_running(address: str, app_names: list[str], timeout_s: float = 300) -> dict:
    """Poll until every app is RUNNING; raise RuntimeError at once if one failed to deploy."""
    deadline = time.monotonic() + timeout_s
    status: dict = {}
    while time.monotonic() < deadline:
        try:
            status = serve_status(address)
        except subprocess.SubprocessError:
            time.sleep(1)
            continue
        apps = status.get("applications") or {}
        failed = {
            n: apps[n].get("message", "")
            for n in app_names
            if apps.get(n, {}).get("status") == "DEPLOY_FAILED"
        }
        if failed:
            raise RuntimeError("deploy failed: " + "; ".join(f"{n}: {m}" for n, m in failed.items()))
        if all(apps.get(n, {}).get("status") == "RUNNING" for n in app_names):
            return status
        time.sleep(1)
    summary = {n: (status.get("applications") or {}).get(n, {}).get("status") for n in app_names}
    raise RuntimeError(f"apps not RUNNING after {timeout_s:g} s: {summary}")
