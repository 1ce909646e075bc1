"""A leaf app whose queue is full (Serve's backpressure, `max_queued_requests`) under the router:
the router answers at once with the leaf's 503 and a Retry-After naming the overloaded app, counts
each rejection on Ray's Prometheus endpoint, keeps /healthz green (busy is not down), and serves
normally once the burst is over."""

import copy
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from textserve.demo_phrases import TRANSLATIONS
from textserve.inprocess import app_config, deploy_app
from textserve.prometheus import metric_total

LEAF, ROUTER = "tight-translation", "tight-router"
CLIENTS = 40


@pytest.fixture(scope="module")
def tight_router(serve_url, apps):
    """The translation app with one replica that takes one request at a time and queues at most
    one more (per caller), and a router in front of it; removed afterwards."""
    from ray import serve

    leaf = copy.deepcopy(app_config(apps, "translation"))
    leaf.update(name=LEAF, route_prefix="/tight-translate")
    leaf["deployments"][0].update(num_replicas=1, max_ongoing_requests=1, max_queued_requests=1)
    router = copy.deepcopy(app_config(apps, "router"))
    router.update(name=ROUTER, route_prefix="/tight")
    router["deployments"][0]["num_replicas"] = 1
    router["deployments"][0]["user_config"]["translation"] = {"app": LEAF, "deployment": "Translator"}
    deploy_app(leaf)
    deploy_app(router)
    yield f"{serve_url}/tight"
    serve.delete(ROUTER)
    serve.delete(LEAF)


def _burst(url: str, body: dict, clients: int) -> list[httpx.Response]:
    """`clients` requests released at the same instant, each on its own connection."""
    start = threading.Barrier(clients)

    def one(_):
        with httpx.Client(timeout=60) as client:
            start.wait()
            return client.post(url, json=body)

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


def test_burst_past_a_full_leaf_queue_gets_fast_503s_counted_and_service_recovers(tight_router, metrics_url):
    english = "How are you?"
    responses = _burst(tight_router, {"text": english, "target_lang": "de"}, CLIENTS)
    ok = [r for r in responses if r.status_code == 200]
    rejected = [r for r in responses if r.status_code == 503]
    assert len(ok) + len(rejected) == CLIENTS, {r.status_code for r in responses}
    assert ok and rejected, f"{len(ok)} answered, {len(rejected)} rejected"
    assert {r.json()["translation"] for r in ok} == {TRANSLATIONS[english]["de"]}
    for response in rejected:
        body = response.json()
        assert body["error"].startswith(f"the '{LEAF}' app is overloaded (its queue is full"), body
        assert body["details"] == [LEAF]
        assert int(response.headers["retry-after"]) >= 1
        assert "Traceback" not in response.text

    with httpx.Client(timeout=60) as client:
        health = client.get(f"{tight_router}/healthz")
        assert health.status_code == 200 and health.json()["apps"][LEAF]["status"] == "ok"
        after = client.post(tight_router, json={"text": english, "target_lang": "de"})
        assert after.status_code == 200 and after.json()["translation"] == TRANSLATIONS[english]["de"]

    # each rejection counted once, by the app it was for and why
    labels = {"application": ROUTER, "target": LEAF, "reason": "overloaded"}
    deadline = time.monotonic() + 30
    while metric_total(metrics_url, "ray_textserve_rejected_requests_total", **labels) < len(rejected):
        assert time.monotonic() < deadline, "rejections did not reach Prometheus in 30 s"
        time.sleep(0.5)
    time.sleep(2)  # one more report interval: nothing counted twice
    assert metric_total(metrics_url, "ray_textserve_rejected_requests_total", **labels) == len(rejected)
