"""Documents longer than the model's window: summarized chunk by chunk on every replica
(map-reduce through the Summarizer's own DeploymentHandle), then the summaries summarized."""

import itertools
import json
import time

import pytest
from ray import serve
from transformers import AutoTokenizer

from tests.replica_calls import model_calls_per_replica, replicas_called_since
from textserve.demo_phrases import SUMMARIES
from textserve.inprocess import app_config, deploy_app


def twenty_thousand_words() -> str:
    paragraphs, words = [], 0
    for document in itertools.cycle(SUMMARIES):
        if words >= 20_000:
            return "\n\n".join(paragraphs)
        paragraphs.append(document)
        words += len(document.split())


DOCUMENT = twenty_thousand_words()


@pytest.fixture(scope="module")
def tokenizer(demo_models):
    return AutoTokenizer.from_pretrained(str(demo_models["demo-bart-summarization"]))


def test_a_20k_word_document_is_summarized_on_both_replicas(http, apps, metrics_url, tokenizer):
    assert len(DOCUMENT.split()) >= 20_000 and len(tokenizer(DOCUMENT).input_ids) > 40 * 512
    before = model_calls_per_replica(metrics_url, "summarization")
    response = http.post("/summarize", json={"text": DOCUMENT, "max_length": 30})
    assert response.status_code == 200, response.text
    summary = response.json()["summary"]
    assert summary.strip() and len(tokenizer(summary).input_ids) <= 30 + 2  # + <s> and </s>

    # every replica of the deployment decoded chunks (metrics reach Prometheus within ~2 s)
    replicas = serve.status().applications["summarization"].deployments["Summarizer"].replica_states
    assert replicas.get("RUNNING") == 2
    busy = replicas_called_since(metrics_url, "summarization", before, calls=3)
    assert len(busy) >= 2, (before, busy)


def test_through_the_router_and_in_a_list_with_short_texts(http, tokenizer):
    short = next(iter(SUMMARIES))
    response = http.post("/", json={"task": "summarize", "texts": [short, DOCUMENT[:40_000], short]})
    assert response.status_code == 200, response.text
    first, long_summary, last = response.json()["summaries"]
    assert first == last == SUMMARIES[short]  # short texts are summarized directly, as before
    assert long_summary.strip() and len(tokenizer(long_summary).input_ids) <= 60 + 2


def read_events(http, body: dict, path: str = "/summarize") -> list[dict]:
    with http.stream("POST", path, json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in response.iter_lines() if line]


def test_stream_reports_chunk_progress_then_the_summary(http, tokenizer):
    events = read_events(http, {"text": DOCUMENT[:60_000], "max_length": 20, "stream": True})
    *progress, done = events
    assert done["event"] == "done" and done["model"] == "demo:demo-bart-summarization"
    assert done["summary"].strip() and len(tokenizer(done["summary"]).input_ids) <= 20 + 1
    assert {event["event"] for event in progress} == {"progress"}
    first_level = [event for event in progress if event["level"] == 1]
    total = first_level[0]["total"]
    assert total > 10 and [event["done"] for event in first_level] == list(range(total + 1))


def test_the_router_streams_the_same_events(http):
    body = {"text": DOCUMENT[:30_000], "max_length": 20, "stream": True}
    direct = read_events(http, body)
    through_router = read_events(http, {**body, "task": "summarize"}, path="/")
    assert through_router == direct  # the same chunks, progress and (deterministic) summary
    assert through_router[0]["event"] == "progress" and through_router[-1]["event"] == "done"
    # a request the summarizer refuses is the router's plain 4xx, before anything streams
    response = http.post("/", json={**body, "task": "summarize", "max_length": 999})
    assert response.status_code == 422 and "above this service's limit" in response.json()["error"]


def test_stream_of_a_short_text_is_just_done(http):
    document, summary = next(iter(SUMMARIES.items()))
    events = read_events(http, {"texts": [document], "stream": True})
    assert events == [{"event": "done", "summaries": [summary], "model": "demo:demo-bart-summarization"}]


def test_handle_streams_the_same_events(apps):
    summarizer = serve.get_deployment_handle("Summarizer", app_name="summarization")
    events = list(summarizer.options(stream=True).summarize_stream.remote(DOCUMENT[:20_000], 10))
    assert events[0]["event"] == "progress" and events[-1]["event"] == "done"


def test_stream_refuses_bad_lengths_before_streaming(http):
    response = http.post("/summarize", json={"text": DOCUMENT, "max_length": 999, "stream": True})
    assert response.status_code == 422
    assert "above this service's limit" in response.json()["error"]


def test_more_long_documents_than_a_replica_takes_are_refused_at_once_not_deadlocked(serve_url, apps):
    """12 long documents at once over 2 replicas taking 4 each: the rest get an immediate 503 that
    says to retry; the ones accepted all finish (their chunks still find room on the replicas)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def post(_):
        with httpx.Client(base_url=serve_url, timeout=60) as client:
            started = time.monotonic()
            response = client.post("/summarize", json={"text": DOCUMENT[:30_000], "max_length": 10})
            return response, time.monotonic() - started

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(post, range(12)))
    statuses = sorted(response.status_code for response, _ in results)
    # Serve routes unevenly: at least one replica got 6 or more and took 4 of them
    assert set(statuses) == {200, 503} and statuses.count(200) >= 4, statuses
    for response, seconds in results:
        if response.status_code == 503:
            assert "already summarizing 4 texts longer than the model's window" in response.json()["error"]
            assert response.headers["retry-after"] == "2"
            assert seconds < 5
        else:
            assert response.json()["summary"].strip()


def test_chunk_calls_unanswered_in_time_by_a_running_replica_are_not_sent_again_the_request_is_a_503(
    http, apps
):
    """`part_timeout_s` (user_config) bounds each chunk call: a copy of the app whose deadline no
    chunk call can meet (1 ms) cancels each; its replica is RUNNING (only slow), so none is sent
    again, which would double its work: the request answers 503 saying to retry."""
    app = "summarization-deadline"
    cfg = dict(app_config(apps, "summarization"), name=app, route_prefix="/summarize-deadline")
    [deployment] = cfg["deployments"]
    cfg["deployments"] = [dict(deployment, num_replicas=1)]
    deploy_app(cfg, user_config={**deployment["user_config"], "part_timeout_s": 0.001})
    try:
        response = http.post("/summarize-deadline", json={"text": DOCUMENT[:20_000]})
        assert response.status_code == 503, response.text
        assert "a part of the text got no answer within 0.001 s; retry later" in response.json()["error"]
        assert response.headers["retry-after"] == "2"
        # a text that fits the window makes no chunk call: answered as before
        document, summary = next(iter(SUMMARIES.items()))
        assert http.post("/summarize-deadline", json={"text": document}).json()["summary"] == summary
    finally:
        serve.delete(app)
