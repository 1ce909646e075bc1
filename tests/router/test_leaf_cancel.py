"""Work nobody waits for is stopped: when the router gives up on a leaf call (its leaf_timeout_s),
or its client goes away, the leaf call is cancelled and the leaf drops the work it had queued for
it. A long document's map-reduce, summarized in full when asked directly, is left mostly undecoded
when a router that waits 0.1 s asks for it, or a client that waits 0.1 s: the summarization
replicas' own counters show it."""

import copy
import time

import httpx
import pytest

from bench.documents import build_document
from tests.conftest import SERVE_LOGS
from textserve.inprocess import app_config, deploy_app
from textserve.prometheus import metric_total, settled

ROUTER = "impatient-router"
WORDS = 21_000  # a long document within max_input_chars: ~176 chunks
SUMMARY_TOKENS = 20  # forced summary length of every chunk
# How long the impatient router and client wait. The whole document must take several times
# that, or most of it would be decoded before they give up: the BART demo summarizer (distilbart's
# stand-in) took 0.85-1.0 s for it on an AMD Zen 5 (2 cores), where a 0.3 s wait left too little.
WAIT_S = 0.1


@pytest.fixture(scope="module")
def impatient_router(serve_url, apps):
    """The router, under its own name and route, waiting at most WAIT_S for a leaf app."""
    from ray import serve

    router = copy.deepcopy(app_config(apps, "router"))
    router.update(name=ROUTER, route_prefix="/impatient")
    router["deployments"][0]["num_replicas"] = 1
    router["deployments"][0]["user_config"]["leaf_timeout_s"] = WAIT_S
    deploy_app(router)
    yield f"{serve_url}/impatient"
    serve.delete(ROUTER)


def cancelled_calls(offsets: dict) -> list[str]:
    """The calls the summarization replicas logged as cancelled after `offsets` (the leaf had the
    call, and Serve cancelled it)."""
    records = SERVE_LOGS[0].records("summarization", offsets)
    return [
        r["message"]
        for r in records
        if r.get("message", "").startswith("CALL ") and "CANCELLED" in r["message"]
    ]


def decoded_texts(metrics_url: str) -> float:
    """Texts the summarization app's replicas decoded so far, once the counters stop moving."""
    return settled(
        lambda: metric_total(metrics_url, "ray_textserve_batched_texts_total", application="summarization"),
        15,
    )


def whole_document(client: httpx.Client, serve_url: str, metrics_url: str, seed: int) -> tuple[float, float]:
    """(seconds, texts decoded) for a long document summarized in full, asked directly (each seed a
    document of its own: the cache would answer a repeat)."""
    body = {
        "text": build_document(WORDS, seed=seed),
        "max_length": SUMMARY_TOKENS,
        "min_length": SUMMARY_TOKENS,
    }
    before = decoded_texts(metrics_url)
    started = time.monotonic()
    full = client.post(f"{serve_url}/summarize", json=body)
    took = time.monotonic() - started
    assert full.status_code == 200, full.text
    whole = decoded_texts(metrics_url) - before
    assert took > 5 * WAIT_S and whole >= 8, (took, whole)  # much more than the wait below
    return took, whole


def test_a_call_the_router_gives_up_on_leaves_its_work_undecoded(impatient_router, serve_url, metrics_url):
    with httpx.Client(timeout=120) as client:
        took, whole = whole_document(client, serve_url, metrics_url, seed=31)
        # as much work again, another text, through the router
        body = {
            "text": build_document(WORDS, seed=32),
            "max_length": SUMMARY_TOKENS,
            "min_length": SUMMARY_TOKENS,
        }
        before, offsets = decoded_texts(metrics_url), SERVE_LOGS[0].offsets()
        answer = client.post(impatient_router, json={**body, "task": "summarize"})
        assert answer.status_code == 503, answer.text
        assert f"no answer within {WAIT_S:g} s" in answer.json()["error"], answer.text
        time.sleep(took + 2)  # long enough for the whole document, had it gone on
        left = decoded_texts(metrics_url) - before
    assert left < whole / 2, (left, whole)
    assert cancelled_calls(offsets)  # the leaf had it: the work was dropped, not never sent


def test_a_client_that_goes_away_leaves_the_leafs_work_undecoded(serve_url, apps, metrics_url):
    with httpx.Client(timeout=120) as client:
        took, whole = whole_document(client, serve_url, metrics_url, seed=33)
    body = {
        "text": build_document(WORDS, seed=34),
        "max_length": SUMMARY_TOKENS,
        "min_length": SUMMARY_TOKENS,
        "task": "summarize",
    }
    before, offsets = decoded_texts(metrics_url), SERVE_LOGS[0].offsets()
    with httpx.Client(timeout=WAIT_S) as impatient, pytest.raises(httpx.TimeoutException):
        impatient.post(f"{serve_url}/", json=body)  # gives up and closes its connection
    time.sleep(took + 2)
    left = decoded_texts(metrics_url) - before
    assert left < whole / 2, (left, whole)
    assert cancelled_calls(offsets)  # the leaf had it: the work was dropped, not never sent
