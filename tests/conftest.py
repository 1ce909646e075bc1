"""Shared fixtures: the demo models, one local Ray cluster with Serve for the whole session, and
the three apps deployed on it from serve_config.yaml (demo models substituted by the documented
mechanism, textserve.run_config). Tests talk to them over real HTTP and real handles."""

import os
from pathlib import Path

import httpx
import pytest
import yaml

from tests.serve_logs import ServeLogs
from textserve.exposure import LOOPBACK_HEAD_ENV
from textserve.haproxy import THROUGHPUT_ENV
from textserve.inprocess import app_config, deploy_app, free_port
from textserve.ray_auth import use_session_token

# Every cluster the tests start (this process's, the CLI's, the e2e heads) takes these before Ray
# is first used: token auth with a token of this session's, every socket of a head on 127.0.0.1
use_session_token()
os.environ.update(LOOPBACK_HEAD_ENV)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# metrics reach Ray's Prometheus endpoint within a second or two instead of ~10 s
os.environ.setdefault("RAY_metrics_report_interval_ms", "1000")
for _key, _value in THROUGHPUT_ENV.items():  # Serve's flags, as on every node we start
    os.environ.setdefault(_key, _value)

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / ".models"
SERVE_LOGS: list[ServeLogs] = []  # the session cluster's, once it runs
LOG_OFFSETS = pytest.StashKey[dict]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    item.stash[LOG_OFFSETS] = SERVE_LOGS[0].offsets() if SERVE_LOGS else {}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report shows what the session cluster's Serve logged while it ran."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and SERVE_LOGS:
        logged = SERVE_LOGS[0].since(item.stash.get(LOG_OFFSETS, {}))
        if logged:
            report.sections.append(("Serve logs (warnings, errors, access lines) while it ran", logged))


@pytest.fixture(scope="session")
def demo_models() -> dict[str, Path]:
    from textserve.demo_models import ensure_demo_models

    return ensure_demo_models(MODELS_DIR)


@pytest.fixture(scope="session")
def demo_config(demo_models) -> dict:
    """serve_config.yaml with the demo models in place of t5-small, as `make run` deploys it."""
    from textserve.run_config import derive_config

    config = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    derived, substitutions = derive_config(config, demo="always", models_dir=MODELS_DIR)
    assert len(substitutions) == 5  # four translation models, one summarizer
    return derived


@pytest.fixture(scope="session")
def ray_cluster() -> dict:
    """A local Ray cluster for the session; its Prometheus endpoint is `metrics_url`."""
    import ray

    metrics_port = free_port()
    context = ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _metrics_export_port=metrics_port,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}},
    )
    SERVE_LOGS.append(ServeLogs(context.address_info["session_dir"]))
    yield {"metrics_url": f"http://127.0.0.1:{metrics_port}/metrics"}
    SERVE_LOGS.clear()
    ray.shutdown()


@pytest.fixture(scope="session")
def metrics_url(ray_cluster) -> str:
    return ray_cluster["metrics_url"]


@pytest.fixture(scope="session")
def serve_url(ray_cluster):
    """Serve on the session's cluster, listening on a free port of 127.0.0.1, with
    serve_config.yaml's request timeout."""
    from ray import serve

    port = free_port()
    config = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    timeout_s = config["http_options"]["request_timeout_s"]
    serve.start(http_options={"host": "127.0.0.1", "port": port, "request_timeout_s": timeout_s})
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()


@pytest.fixture(scope="session")
def apps(serve_url, demo_config) -> dict:
    """All three apps deployed; returns the config they were deployed from."""
    for name in ("translation", "summarization", "router"):
        deploy_app(app_config(demo_config, name))
    return demo_config


@pytest.fixture(scope="session")
def http(serve_url, apps):
    with httpx.Client(base_url=serve_url, timeout=60, follow_redirects=False) as client:
        yield client
