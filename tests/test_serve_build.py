"""`serve build` of our three apps writes what serve_config.yaml holds, apart from the fields we set
by hand in serve_config.yaml: application names, route prefixes, user_configs, logging configs and
the HTTP request timeout (serve build numbers the apps app1..., routes them /app1..., leaves
user_config empty) and the extras serve build adds (logging_config, gRPC reflection). So code and
config cannot drift apart: replicas, CPUs, max_ongoing_requests, queue bounds and import paths are
the same in both."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVE = str(Path(sys.executable).with_name("serve"))
IMPORT_PATHS = ["apps.translation.app:app", "apps.summarization.app:app", "apps.router.app:app"]
SET_BY_HAND = ("name", "route_prefix", "logging_config")


def _without_hand_set_fields(config: dict) -> dict:
    config = {k: v for k, v in config.items() if k != "logging_config"}
    config["grpc_options"] = {k: v for k, v in config["grpc_options"].items() if k != "enable_reflection"}
    config["http_options"] = {k: v for k, v in config["http_options"].items() if k != "request_timeout_s"}
    apps = []
    for app in config["applications"]:
        app = {k: v for k, v in app.items() if k not in SET_BY_HAND}
        # by name: serve build lists an app's deployments bound ones first, serve_config.yaml its
        # ingress first (textserve/inprocess.py binds the others to it in order)
        deployments = sorted(app["deployments"], key=lambda d: d["name"])
        app["deployments"] = [{k: v for k, v in d.items() if k != "user_config"} for d in deployments]
        apps.append(app)
    config["applications"] = sorted(apps, key=lambda app: app["import_path"])
    return config


def test_serve_build_matches_serve_config(tmp_path):
    built_path = tmp_path / "built.yaml"
    subprocess.run(
        [SERVE, "build", *IMPORT_PATHS, "-o", str(built_path)],
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    built = yaml.safe_load(built_path.read_text())
    ours = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    assert [app["name"] for app in built["applications"]] == ["app1", "app2", "app3"]  # what we rename
    assert _without_hand_set_fields(built) == _without_hand_set_fields(ours)
