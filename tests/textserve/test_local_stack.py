"""`make run` (textserve.local_stack up) serves on 127.0.0.1 only: the config it deploys binds Serve's
HTTP proxy to 127.0.0.1:8000, and the Ray head it starts puts its node and dashboard (port 8265,
which can run jobs: remote code execution) on 127.0.0.1 too. serve_config.yaml itself keeps
0.0.0.0 for production, as the seed's does.

Nothing is started: the Ray launcher, the `serve` CLI and the wait are replaced by recorders, and
the derived config is written to a temporary directory instead of .run/."""

import argparse
import subprocess
from types import SimpleNamespace

import yaml

from textserve import local_stack
from textserve.run_config import DEFAULT_CONFIG


def test_make_run_binds_http_and_the_dashboard_to_localhost(tmp_path, monkeypatch, demo_models):
    launched, commands = [], []
    monkeypatch.setattr(local_stack, "RUN_DIR", tmp_path)
    monkeypatch.setattr(local_stack, "PID_FILE", tmp_path / "ray.pid")
    monkeypatch.setattr(
        local_stack.ray_cluster, "launch", lambda args, **kw: launched.append(args) or SimpleNamespace(pid=0)
    )
    monkeypatch.setattr(local_stack.ray_cluster, "wait_for_dashboard", lambda *a, **kw: None)
    monkeypatch.setattr(local_stack, "serve_status_or_none", dict)
    monkeypatch.setattr(local_stack, "wait_until_running", lambda *a, **kw: None)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: commands.append(cmd))

    assert local_stack.up(argparse.Namespace(config=DEFAULT_CONFIG, demo="always")) == 0

    deployed = tmp_path / "serve_config.yaml"
    assert [local_stack.SERVE, "deploy", str(deployed), "-a", local_stack.DASHBOARD] in commands
    assert yaml.safe_load(deployed.read_text())["http_options"]["host"] == "127.0.0.1"
    assert yaml.safe_load(DEFAULT_CONFIG.read_text())["http_options"]["host"] == "0.0.0.0"

    [head] = launched
    assert "--node-ip-address=127.0.0.1" in head and "--dashboard-host=127.0.0.1" in head, head
    assert local_stack.DASHBOARD == "http://127.0.0.1:8265"
