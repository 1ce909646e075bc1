"""The user's path, for real: `ray start --head`, `serve deploy` of the project's config (demo
models substituted by `python -m textserve.run_config`), `serve status` until RUNNING, HTTP to
every route, `serve shutdown`, then stop the cluster this test started (and only that one)."""

import asyncio
import datetime
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from apps.translation.config import TranslationSettings
from tests.common.raw_http import trickle_post
from tests.e2e.conftest import APPS, DEPLOYMENTS, deploy_demo_config, serve_cli, serve_details
from textserve.demo_phrases import SUMMARIES, TRANSLATIONS
from textserve.prometheus import metric_total
from textserve.serve_status import serve_status, wait_until_running

pytestmark = pytest.mark.e2e


def replicas(deployed: dict, app: str, deployment: str) -> set[tuple[str, int]]:
    """(replica id, pid) of each RUNNING replica, from Serve's REST API on the dashboard."""
    found = serve_details(deployed["cluster"])["applications"][app]["deployments"][deployment]["replicas"]
    return {(r["replica_id"], r["pid"]) for r in found if r["state"] == "RUNNING"}


@pytest.fixture(scope="module")
def deployed(cluster, tmp_path_factory) -> dict:
    deployment = deploy_demo_config(cluster, tmp_path_factory.mktemp("e2e"))
    return {
        **deployment,
        "cluster": cluster,
        "address": cluster.dashboard_url,
        "metrics_url": cluster.metrics_url,
    }


def test_serve_status_shows_three_apps_with_two_replicas(deployed):
    for app in APPS:
        deployment = deployed["status"]["applications"][app]["deployments"][DEPLOYMENTS[app]]
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


def test_a_request_past_its_timeout_gets_a_clear_408_through_haproxy(deployed):
    """The request timeout holds under Serve's HAProxy ingress as under its Python proxy
    (tests/translation/test_backpressure.py): cut to 1 ms for one request with Serve's
    `x-request-timeout-seconds` header, on a leaf app's route and through the router."""
    with httpx.Client(base_url=deployed["url"], timeout=60) as http:
        for path in ("/translate", "/"):
            response = http.post(
                path, json={"text": "Hello world!"}, headers={"x-request-timeout-seconds": "0.001"}
            )
            assert response.status_code == 408, (path, response.text)
            assert "Traceback" not in response.text
            # the stack answers normally right after
            assert http.post(path, json={"text": "Hello world!"}).status_code == 200


def _metric_total(metrics_url: str, name: str, app: str, **labels: str) -> float:
    """A counter summed over every replica of `app` (and series with `labels`)."""
    return metric_total(metrics_url, name, application=app, **labels)


def test_clients_trickling_bodies_get_408_and_hold_nothing_normal_clients_need(deployed):
    """100 clients that announce a body and send it a byte a second, and 20 more that also send
    `X-Request-Timeout-Seconds: 0` (which would turn Serve's request timeout off), beside 20
    normal clients: HAProxy answers every slow one 408 within its `timeout http-request` (10 s;
    it waits for the body before a replica sees the request), and the normal clients are all
    answered 200, about as fast as alone."""
    url = deployed["url"]
    body = json.dumps({"text": "Hello world, slowly!"}).encode()  # 32 bytes: 32 s at 1 byte/s
    texts = list(TRANSLATIONS)

    async def normal_client(http: httpx.AsyncClient, until: float, latencies: list, codes: list) -> None:
        index = 0
        while time.monotonic() < until:
            started = time.monotonic()
            response = await http.post("/translate", json={"text": texts[index % len(texts)]})
            latencies.append(time.monotonic() - started)
            codes.append(response.status_code)
            index += 1

    async def normal_clients(seconds: float) -> tuple[list, list]:
        latencies, codes = [], []
        until = time.monotonic() + seconds
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await asyncio.gather(*(normal_client(http, until, latencies, codes) for _ in range(20)))
        return latencies, codes

    async def attack() -> tuple[list, tuple[list, list]]:
        zero = {"X-Request-Timeout-Seconds": "0"}
        slow = asyncio.gather(
            *(trickle_post(url, "/translate", body) for _ in range(100)),
            *(trickle_post(url, "/translate", body, headers=zero) for _ in range(20)),
        )
        await asyncio.sleep(1)  # the slow ones connect first
        normal = await normal_clients(12)
        return await slow, normal

    alone, alone_codes = asyncio.run(normal_clients(5))
    slow_answers, (beside, beside_codes) = asyncio.run(attack())
    assert set(alone_codes) == {200} and set(beside_codes) == {200}, beside_codes
    late = [(status, round(seconds, 1)) for status, seconds in slow_answers if "408" not in status]
    assert not late and len(slow_answers) == 120, late
    assert max(seconds for _, seconds in slow_answers) < 14
    p95_alone, p95_beside = quantile(alone, 0.95), quantile(beside, 0.95)
    print(f"normal clients' p95: {p95_alone:.3f} s alone, {p95_beside:.3f} s beside 120 slow ones")
    assert p95_beside < 2 * p95_alone + 0.5, (p95_alone, p95_beside)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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
        lambda: (
            _metric_total(url, "ray_textserve_requests_total", "router", route="/healthz", status="200") >= 1
        )
    )
    _wait_for(lambda: _metric_total(url, "ray_textserve_output_tokens_total", app) > 0)
    tokens_in = _metric_total(url, "ray_textserve_input_tokens_total", app)
    tokens_out = _metric_total(url, "ray_textserve_output_tokens_total", app)
    # "translate English to French: Hello world!" is more tokens than "Bonjour le monde !"
    assert tokens_in > tokens_out > 0


def test_batch_sizes_reach_prometheus(deployed):
    """A list of part_sentences texts (the most one replica translates alone, without fanning out
    in parts) runs as one model call, counted with its texts on Ray's Prometheus endpoint. (How
    longer lists split into calls: tests/common/test_batching.py.)"""
    size = TranslationSettings().part_sentences  # serve_config.yaml's too (tests/test_defaults.py)
    run = uuid.uuid4().hex[:8]  # texts no request sent before: decoded, none from the sentence cache
    english = [f"Hello world, text {number} of batch {run}!" for number in range(size)]
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
    assert (calls - calls_before, texts - texts_before) == (1, len(english))


def _serve_log_records(cluster) -> list[dict]:
    """Every JSON line of Serve's log files on the cluster, with the name of its file."""
    records = []
    for path in sorted((cluster.temp_dir / "session_latest/logs/serve").glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                records.append({**json.loads(line), "file": path.name})
    return records


def _of_request(record: dict, request_id: str) -> bool:
    return record.get("request_id") == request_id or request_id in record.get("request_ids", [])


def _logged_at(record: dict) -> float:
    return datetime.datetime.strptime(record["asctime"], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def haproxy_access_lines(cluster) -> list[str]:
    """HAProxy's access log (textserve/haproxy.py puts it on HAProxy's stdout, which Ray writes
    under the node's HAProxy state directory)."""
    state_dir = Path(cluster.env["RAY_SERVE_HAPROXY_SERVER_STATE_BASE"])
    return [
        line
        for path in sorted(state_dir.glob("*/*.stdout.log"))
        for line in path.read_text(errors="replace").splitlines()
        if " http_frontend " in line
    ]


# (log file prefix, message start): the lines a request through the router writes in Serve's
# logs. Its ingress, Serve's HAProxy, writes its access line to its own log (haproxy_access_lines).
ROUTER_REQUEST_LINES = [
    ("replica_router_", "POST / 200"),  # the router's replica: access line
    ("replica_translation_", "CALL"),  # the leaf replica: the handle call (access line)
    ("replica_translation_", "batch of"),  # the leaf replica: the model call that served it
]


def test_request_id_comes_back_and_is_on_every_log_line_of_the_request(deployed):
    """X-Request-ID, sent or generated, is returned; every line the router's replica and the
    translation replica write for the request carries it (JSON logs: serve_config.yaml's
    logging_config), and HAProxy logs its access line; a caller's 413 from the leaf app through
    the router is one INFO line there, not an ERROR with a traceback."""
    request_id, too_long_id = (f"e2e-{uuid.uuid4().hex[:12]}" for _ in range(2))
    with httpx.Client(base_url=deployed["url"], timeout=60) as http:
        for _ in range(6):  # both router replicas have made their first leaf call (one-time lines)
            assert http.post("/", json={"text": "How are you?"}).status_code == 200
        time.sleep(1)  # so every line of those requests is written before the window opens
        window_opened = time.time()
        # a text no request sent before: decoded, not answered from the replica's sentence cache
        fresh = f"Hello world, request {request_id}!"
        answer = http.post("/", json={"text": fresh}, headers={"X-Request-ID": request_id})
        time.sleep(1)
        window_closed = time.time()
        assert answer.status_code == 200 and answer.headers["x-request-id"] == request_id
        generated = http.post("/translate", json={"text": "Hello world!"}).headers["x-request-id"]
        assert generated and generated != request_id
        too_long = http.post("/", json={"text": "word " * 2001}, headers={"X-Request-ID": too_long_id})
        assert too_long.status_code == 413 and too_long.headers["x-request-id"] == too_long_id

    def lines_of(request: str) -> list[dict]:
        return [r for r in _serve_log_records(deployed["cluster"]) if _of_request(r, request)]

    def wrote(records: list[dict], prefix: str, message: str) -> bool:
        return any(r["file"].startswith(prefix) and r["message"].startswith(message) for r in records)

    _wait_for(lambda: all(wrote(lines_of(request_id), *line) for line in ROUTER_REQUEST_LINES), 30)
    _wait_for(
        lambda: any(
            " 200 " in line and '"POST / HTTP/1.1"' in line
            for line in haproxy_access_lines(deployed["cluster"])
        ),
        30,
    )
    # and nothing else: every line the router and translation replicas wrote meanwhile is its own
    during = [
        r
        for r in _serve_log_records(deployed["cluster"])
        if r["file"].startswith(("replica_router_", "replica_translation_"))
        and window_opened - 0.01 <= _logged_at(r) <= window_closed
    ]
    assert len(during) >= 3 and all(_of_request(r, request_id) for r in during), during

    _wait_for(lambda: wrote(lines_of(too_long_id), "replica_translation_", "request rejected: 413"), 30)
    leaf_lines = [r for r in lines_of(too_long_id) if r["file"].startswith("replica_translation_")]
    assert [r for r in leaf_lines if r["levelname"] == "ERROR" or "exc_text" in r] == [], leaf_lines


def _redeploy_translation_user_config(deployed: dict, user_config: dict) -> None:
    config = yaml.safe_load(deployed["config_path"].read_text())
    app = next(a for a in config["applications"] if a["name"] == "translation")
    app["deployments"][0]["user_config"] = user_config
    changed = deployed["config_path"].with_name("changed.yaml")
    changed.write_text(yaml.safe_dump(config, sort_keys=False))
    serve_cli(deployed["cluster"], "deploy", str(changed))


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

    without_romanian = [
        {**entry, "pairs": {"en": ["fr", "de"]}} if entry.get("pairs", {}).get("en") else entry
        for entry in original["models"]
    ]
    _redeploy_translation_user_config(deployed, {**original, "models": without_romanian, "max_new_tokens": 2})
    _wait_for(lambda: httpx.post(url, json=romanian, timeout=60).status_code == 422)
    wait_until_running(deployed["address"], APPS, timeout_s=120)
    assert "no model translates en->ro" in httpx.post(url, json=romanian, timeout=60).json()["error"]
    short = httpx.post(url, json={"text": "Hello world!"}, timeout=60).json()["translation"]
    assert short != "Bonjour le monde !" and "Bonjour le monde !".startswith(short)
    assert replicas(deployed, "translation", "Translator") == before

    _redeploy_translation_user_config(deployed, original)
    _wait_for(lambda: httpx.post(url, json=romanian, timeout=60).status_code == 200)
    wait_until_running(deployed["address"], APPS, timeout_s=120)  # both replicas reconfigured
    assert httpx.post(url, json=romanian, timeout=60).json()["translation"] == "Salut lume!"
    assert replicas(deployed, "translation", "Translator") == before


def test_serve_shutdown_removes_the_apps(deployed):
    serve_cli(deployed["cluster"], "shutdown", "-y")
    _wait_for(lambda: not serve_status(deployed["address"]).get("applications"))
