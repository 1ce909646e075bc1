"""The user's path, for real: `ray start --head`, `serve deploy` of the project's config (demo
models substituted by `python -m textserve.run_config`), `serve status` until RUNNING, HTTP to
every route, `serve shutdown`, then stop the cluster this test started (and only that one)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import REPO_ROOT, free_port
from textserve.demo_phrases import SUMMARIES, TRANSLATIONS
from textserve.serve_status import dashboard_up, serve_status, wait_until_running

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(demo_models):
    """A Ray head started with the CLI on free ports, in its own process group."""
    # metrics reach Ray's Prometheus endpoint within a second or two instead of ~10 s
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",
        "HF_HUB_OFFLINE": "1",
        "RAY_metrics_report_interval_ms": "1000",
    }
    dashboard_port, metrics_port = free_port(), free_port()
    temp_dir = tempfile.mkdtemp(prefix="ts-e2e-", dir="/tmp")
    log = open(Path(temp_dir) / "ray-start.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(BIN / "ray"),
            "start",
            "--head",
            "--block",
            "--disable-usage-stats",
            "--num-cpus=2",
            "--node-ip-address=127.0.0.1",
            "--dashboard-host=127.0.0.1",
            f"--port={free_port()}",
            f"--dashboard-port={dashboard_port}",
            f"--ray-client-server-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={metrics_port}",
            f"--temp-dir={temp_dir}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{dashboard_port}"
    try:
        deadline = time.monotonic() + 90
        while not dashboard_up(address):
            assert proc.poll() is None, (Path(temp_dir) / "ray-start.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Ray head did not come up in 90 s"
            time.sleep(1)
        yield {"address": address, "env": env, "metrics_url": f"http://127.0.0.1:{metrics_port}/metrics"}
    finally:
        subprocess.run(
            [str(BIN / "serve"), "shutdown", "-y", "-a", address],
            env=env,
            check=False,
            capture_output=True,
            timeout=120,
        )
        os.killpg(proc.pid, signal.SIGTERM)  # `ray start --block` stops its own processes on SIGTERM
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


APPS = ["translation", "summarization", "router"]


def serve_cli(cluster: dict, *args: str) -> None:
    subprocess.run(
        [str(BIN / "serve"), *args, "-a", cluster["address"]], env=cluster["env"], check=True, timeout=120
    )


def replicas(cluster: dict, app: str, deployment: str) -> set[tuple[str, int]]:
    """(replica id, pid) of each RUNNING replica, from Serve's REST API on the dashboard."""
    details = httpx.get(f"{cluster['address']}/api/serve/applications/", timeout=30).json()
    found = details["applications"][app]["deployments"][deployment]["replicas"]
    return {(r["replica_id"], r["pid"]) for r in found if r["state"] == "RUNNING"}


@pytest.fixture(scope="module")
def deployed(cluster, tmp_path_factory) -> dict:
    config_path = tmp_path_factory.mktemp("e2e") / "serve_config.yaml"
    http_port = free_port()
    prepared = subprocess.run(
        [
            sys.executable,
            "-m",
            "textserve.run_config",
            "--demo",
            "always",
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(http_port),
            "--out",
            str(config_path),
        ],
        cwd=REPO_ROOT,
        env=cluster["env"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "DEMO MODE" in prepared.stdout
    serve_cli(cluster, "deploy", str(config_path))
    status = wait_until_running(cluster["address"], APPS, timeout_s=300)
    return {**cluster, "config_path": config_path, "status": status, "url": f"http://127.0.0.1:{http_port}"}


def test_serve_status_shows_three_apps_with_two_replicas(deployed):
    for app in APPS:
        [deployment] = deployed["status"]["applications"][app]["deployments"].values()
        assert deployment["replica_states"] == {"RUNNING": 2}


def test_every_route_answers_over_http(deployed):
    document, summary = next(iter(SUMMARIES.items()))
    with httpx.Client(base_url=deployed["url"], timeout=60) as http:
        assert (
            http.post("/translate", json={"text": "Hello world!"}).json()["translation"]
            == "Bonjour le monde !"
        )
        assert http.post("/summarize", json={"text": document}).json()["summary"] == summary
        seed = http.post("/", json={"text": "Hello world!"})
        assert seed.status_code == 200 and seed.json()["translation"] == "Bonjour le monde !"
        chained = http.post(
            "/", json={"text": document, "task": "summarize_then_translate", "target_lang": "de"}
        )
        assert chained.json()["translation"] == TRANSLATIONS[summary]["de"]
        assert http.post("/translate", json={"text": ""}).status_code == 422


def _metric_total(metrics_url: str, name: str, app: str, **labels: str) -> float:
    """A counter summed over every replica of `app` (and series with `labels`), from Ray's
    Prometheus endpoint."""
    wanted = [f'application="{app}"'] + [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for line in httpx.get(metrics_url, timeout=10).text.splitlines():
        if line.startswith(f"{name}{{") and all(w in line for w in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_requests_latency_and_tokens_reach_prometheus(deployed):
    """After the traffic of the tests above (200s and a 422 on /translate): requests by route,
    method and status, their latency histogram, and the model's tokens, per app."""
    url = deployed["metrics_url"]
    route = {"application": "translation", "route": "/translate/", "method": "POST"}
    app = route.pop("application")
    with httpx.Client(base_url=deployed["url"], timeout=60) as http:
        assert http.post("/translate", json={"text": "Hello world!"}).status_code == 200
        assert http.post("/translate", json={"text": ""}).status_code == 422
        assert http.get("/healthz").status_code == 200
    # each replica reports on its own every second: wait for each series, not just the first
    _wait_for(lambda: _metric_total(url, "ray_textserve_requests_total", app, status="422", **route) >= 1)
    _wait_for(lambda: _metric_total(url, "ray_textserve_requests_total", app, status="200", **route) >= 1)
    _wait_for(lambda: _metric_total(url, "ray_textserve_request_seconds_count", app, **route) >= 2)
    _wait_for(
        lambda: _metric_total(url, "ray_textserve_requests_total", "router", route="/healthz", status="200")
        >= 1
    )
    _wait_for(lambda: _metric_total(url, "ray_textserve_output_tokens_total", app) > 0)
    tokens_in = _metric_total(url, "ray_textserve_input_tokens_total", app)
    tokens_out = _metric_total(url, "ray_textserve_output_tokens_total", app)
    # "translate English to French: Hello world!" is more tokens than "Bonjour le monde !"
    assert tokens_in > tokens_out > 0


def test_batch_sizes_reach_prometheus(deployed):
    """A list of 20 texts runs as model calls of up to max_batch_size (16) texts, and the calls
    and texts are counted on Ray's Prometheus endpoint."""
    english = list(TRANSLATIONS)
    url = deployed["metrics_url"]

    def totals() -> tuple[float, float]:
        return (
            _metric_total(url, "ray_textserve_model_calls_total", "translation"),
            _metric_total(url, "ray_textserve_batched_texts_total", "translation"),
        )

    # earlier tests' calls reach the endpoint within a report interval (1 s here): let them land
    previous, current = None, totals()
    while current != previous:
        time.sleep(3)
        previous, current = current, totals()
    calls_before, texts_before = current
    with httpx.Client(base_url=deployed["url"], timeout=60) as http:
        assert http.post("/translate", json={"texts": english}).status_code == 200
    _wait_for(lambda: totals()[1] >= texts_before + len(english), timeout_s=60)
    calls, texts = totals()
    assert (calls - calls_before, texts - texts_before) == (2, 20)  # 16 + 4


def _redeploy_translation_user_config(deployed: dict, user_config: dict) -> None:
    config = yaml.safe_load(deployed["config_path"].read_text())
    app = next(a for a in config["applications"] if a["name"] == "translation")
    app["deployments"][0]["user_config"] = user_config
    changed = deployed["config_path"].with_name("changed.yaml")
    changed.write_text(yaml.safe_dump(config, sort_keys=False))
    serve_cli(deployed, "deploy", str(changed))


def _wait_for(predicate, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.5)


def test_user_config_change_applies_without_restarting_replicas(deployed):
    """Edit a user_config, `serve deploy` again: reconfigure() applies it in the running replicas."""
    original = next(
        a
        for a in yaml.safe_load(deployed["config_path"].read_text())["applications"]
        if a["name"] == "translation"
    )["deployments"][0]["user_config"]
    before = replicas(deployed, "translation", "Translator")
    assert len(before) == 2
    url = f"{deployed['url']}/translate"
    romanian = {"text": "Hello world!", "target_lang": "ro"}
    assert httpx.post(url, json=romanian, timeout=60).status_code == 200

    _redeploy_translation_user_config(
        deployed, {**original, "languages": {"fr": "French", "de": "German"}, "max_new_tokens": 2}
    )
    _wait_for(lambda: httpx.post(url, json=romanian, timeout=60).status_code == 422)
    wait_until_running(deployed["address"], APPS, timeout_s=120)
    assert "use one of ['de', 'fr']" in httpx.post(url, json=romanian, timeout=60).json()["error"]
    short = httpx.post(url, json={"text": "Hello world!"}, timeout=60).json()["translation"]
    assert short != "Bonjour le monde !" and "Bonjour le monde !".startswith(short)
    assert replicas(deployed, "translation", "Translator") == before

    _redeploy_translation_user_config(deployed, original)
    _wait_for(lambda: httpx.post(url, json=romanian, timeout=60).status_code == 200)
    assert httpx.post(url, json=romanian, timeout=60).json()["translation"] == "Salut lume!"
    assert replicas(deployed, "translation", "Translator") == before


def test_serve_shutdown_removes_the_apps(deployed):
    serve_cli(deployed, "shutdown", "-y")
    _wait_for(lambda: not serve_status(deployed["address"]).get("applications"))
