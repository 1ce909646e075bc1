"""Classes, deadlines and the sentence cache through the translation app's and the router's public
surfaces (HTTP, handles, Ray's metrics endpoint), on the session's cluster."""

import copy
import itertools
import time

import httpx
import pytest
from ray import serve

from apps.common.engines import GenerationParams, load_engine
from textserve.demo_phrases import TRANSLATIONS
from textserve.inprocess import app_config, deploy_app
from textserve.prometheus import scrape, totals_by
from textserve.run_config import with_model

ENGLISH = list(TRANSLATIONS)
SWAP_APP, SWAP_ROUTE = "cache-swap", "/cache-swap"
FRESH = itertools.count()


def fresh_text() -> str:
    """A text no request sent before, so never in a cache."""
    return f"Hello world, number {next(FRESH)} of {time.time_ns()}!"


def counters(metrics_url: str, name: str, label: str, app: str = "translation") -> dict[str, float]:
    return totals_by(scrape(metrics_url), name, label, application=app)


def settled(metrics_url: str, name: str, label: str, quiet_s: float = 2.5, within_s: float = 15) -> dict:
    """The counters once they have not moved for `quiet_s` (replicas report every second or so, so
    an earlier test's last requests may still be on their way)."""
    deadline, last = time.monotonic() + within_s, counters(metrics_url, name, label)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = counters(metrics_url, name, label)
        if now == last:
            break
        last = now
    return last


def grows(metrics_url: str, name: str, label: str, before: dict, by: dict[str, float], within_s: float = 15):
    """Wait until every `by` label's counter has grown by at least its amount (replicas report every
    second or so); the growth seen."""
    deadline = time.monotonic() + within_s
    while True:
        after = counters(metrics_url, name, label)
        grown = {key: after.get(key, 0) - before.get(key, 0) for key in set(after) | set(by)}
        if all(grown.get(key, 0) >= amount for key, amount in by.items()) or time.monotonic() > deadline:
            return grown
        time.sleep(0.5)


def test_a_request_past_its_deadline_gets_504_and_is_never_decoded(http, metrics_url):
    name = "ray_textserve_expired_texts_total"
    before = counters(metrics_url, name, "decoded")
    response = http.post("/translate", json={"text": fresh_text(), "timeout_s": 0.0001})
    assert response.status_code == 504, response.text
    assert "deadline (0.0001 s)" in response.json()["error"] and response.headers["Retry-After"] == "1"
    grown = grows(metrics_url, name, "decoded", before, {"false": 1})
    assert grown["false"] >= 1 and grown.get("true", 0) == 0


@pytest.mark.parametrize("path", ["/translate", "/"])
def test_the_timeout_header_is_serves_own_and_the_queues_deadline(http, path):
    """X-Request-Timeout-Seconds is Ray Serve's per-request timeout: past it Serve answers 408
    (and cancels the work, which the queue drops) or the queue's 504 comes first; 0 or less (no
    timeout) and unreadable values (the default) are Serve's rules too."""
    late = http.post(path, json={"text": fresh_text()}, headers={"X-Request-Timeout-Seconds": "0.0001"})
    assert late.status_code in (408, 504), late.text
    for value in ("30", "0", "-1", "soon"):
        response = http.post(
            path, json={"text": "Hello world!"}, headers={"X-Request-Timeout-Seconds": value}
        )
        assert response.status_code == 200, (value, response.text)
        assert response.json()["translation"] == "Bonjour le monde !"


def test_the_router_passes_the_deadline_and_the_class_on(http, metrics_url):
    late = http.post("/", json={"text": fresh_text(), "timeout_s": 0.0001})
    assert late.status_code == 504 and "deadline" in late.json()["error"], late.text
    name = "ray_textserve_queue_wait_seconds_count"
    before = counters(metrics_url, name, "priority")
    response = http.post("/", json={"text": fresh_text(), "priority": "bulk"})
    assert response.status_code == 200, response.text
    assert grows(metrics_url, name, "priority", before, {"bulk": 1})["bulk"] >= 1


def test_big_requests_are_bulk_and_sentences_interactive(http, metrics_url):
    name = "ray_textserve_queue_wait_seconds_count"
    before = counters(metrics_url, name, "priority")
    assert http.post("/translate", json={"text": fresh_text()}).status_code == 200
    many = [fresh_text() for _ in range(5)]  # past interactive_max_texts (4)
    assert http.post("/translate", json={"texts": many}).status_code == 200
    grown = grows(metrics_url, name, "priority", before, {"interactive": 1, "bulk": 1})
    assert grown["interactive"] >= 1 and grown["bulk"] >= 1


def test_a_sentence_repeated_in_a_request_is_decoded_once(http, metrics_url):
    unique = [fresh_text() for _ in range(3)]
    document = " ".join(unique * 4)  # 12 sentences, 3 distinct
    texts = "ray_textserve_batched_texts_total"
    before_texts = sum(counters(metrics_url, texts, "replica").values())
    before = counters(metrics_url, "ray_textserve_cache_lookups_total", "result")
    response = http.post("/translate", json={"text": document})
    assert response.status_code == 200, response.text
    lookups = grows(metrics_url, "ray_textserve_cache_lookups_total", "result", before, {"hit": 9, "miss": 3})
    assert lookups == {"hit": 9, "miss": 3}
    assert sum(counters(metrics_url, texts, "replica").values()) - before_texts == 3
    alone = http.post("/translate", json={"texts": unique})  # the same, sentence by sentence
    assert response.json()["translation"] == " ".join(alone.json()["translations"] * 4)


def test_a_text_fanned_out_in_parts_counts_each_sentence_once_in_the_cache_lookups(http, metrics_url):
    """40 sentences, 20 distinct, more than part_sentences: the replica that takes the request
    counts the 20 repeats as hits and sends the 20 others in parts, which count them where they are
    decoded (here: misses), so every sentence is counted once."""
    unique = [fresh_text() for _ in range(20)]
    document = " ".join(unique * 2)
    texts = "ray_textserve_batched_texts_total"
    before = settled(metrics_url, "ray_textserve_cache_lookups_total", "result")
    before_texts = sum(counters(metrics_url, texts, "replica").values())
    response = http.post("/translate", json={"text": document})
    assert response.status_code == 200, response.text
    want = {"hit": 20, "miss": 20}
    lookups = grows(metrics_url, "ray_textserve_cache_lookups_total", "result", before, want)
    assert lookups == want
    assert sum(counters(metrics_url, texts, "replica").values()) - before_texts == 20


@pytest.fixture(scope="module")
def swap_app(serve_url, apps, demo_models):
    cfg = copy.deepcopy(app_config(apps, "translation"))
    cfg.update(name=SWAP_APP, route_prefix=SWAP_ROUTE)
    [deployment] = cfg["deployments"]
    deployment["num_replicas"] = 1
    deploy_app(cfg)
    yield cfg
    serve.delete(SWAP_APP)


def test_the_cache_never_serves_across_a_model_or_parameter_change(
    serve_url, metrics_url, swap_app, demo_models
):
    [deployment] = swap_app["deployments"]
    sentence = ENGLISH[0]
    with httpx.Client(base_url=serve_url, timeout=60) as client:

        def translate() -> str:
            response = client.post(SWAP_ROUTE, json={"text": sentence})
            assert response.status_code == 200, response.text
            return response.json()["translation"]

        assert translate() == TRANSLATIONS[sentence]["fr"]
        before = counters(metrics_url, "ray_textserve_cache_lookups_total", "result", SWAP_APP)
        assert translate() == TRANSLATIONS[sentence]["fr"]  # now from the cache: one replica
        after = counters(metrics_url, "ray_textserve_cache_lookups_total", "result", SWAP_APP)
        deadline = time.monotonic() + 15
        while after.get("hit", 0) - before.get("hit", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
            after = counters(metrics_url, "ray_textserve_cache_lookups_total", "result", SWAP_APP)
        assert after.get("hit", 0) - before.get("hit", 0) == 1
        other = str(demo_models["demo-summarization"])  # another model, answering other text
        engine = load_engine(other, deployment["user_config"]["backend"], "cpu")
        prompt = f"translate English to French: {sentence}"
        expected = engine.generate([prompt], GenerationParams(max_new_tokens=128))[0]
        assert expected != TRANSLATIONS[sentence]["fr"]
        deploy_app(swap_app, user_config=with_model(deployment["user_config"], other))
        assert translate() == expected
        short = engine.generate([prompt], GenerationParams(max_new_tokens=2))[0]
        assert short != expected
        deploy_app(
            swap_app, user_config={**with_model(deployment["user_config"], other), "max_new_tokens": 2}
        )
        assert translate() == short
