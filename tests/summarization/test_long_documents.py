"""Documents longer than the model's window: summarized chunk by chunk on every replica
(map-reduce through the Summarizer's own DeploymentHandle), then the summaries summarized."""

import itertools
import time

import pytest
from ray import serve
from transformers import AutoTokenizer

from textserve.demo_phrases import SUMMARIES


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
    return AutoTokenizer.from_pretrained(str(demo_models["demo-summarization"]))


def model_calls_per_replica(metrics_url: str) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        lines = response.read().decode().splitlines()
    calls: dict[str, float] = {}
    for line in lines:
        if line.startswith("ray_textserve_model_calls_total{") and 'application="summarization"' in line:
            replica = line.split('replica="', 1)[1].split('"', 1)[0]
            calls[replica] = calls.get(replica, 0) + float(line.rsplit(" ", 1)[1])
    return calls


def test_a_20k_word_document_is_summarized_on_both_replicas(http, apps, metrics_url, tokenizer):
    assert len(DOCUMENT.split()) >= 20_000 and len(tokenizer(DOCUMENT).input_ids) > 40 * 512
    before = model_calls_per_replica(metrics_url)
    response = http.post("/summarize", json={"text": DOCUMENT, "max_length": 30})
    assert response.status_code == 200, response.text
    summary = response.json()["summary"]
    assert summary.strip() and len(tokenizer(summary).input_ids) <= 30 + 1  # + the end token

    # every replica of the deployment decoded chunks (metrics reach Prometheus within ~2 s)
    replicas = serve.status().applications["summarization"].deployments["Summarizer"].replica_states
    assert replicas.get("RUNNING") == 2
    deadline = time.monotonic() + 20
    while True:
        after = model_calls_per_replica(metrics_url)
        busy = [r for r in after if after[r] - before.get(r, 0) >= 3]
        if len(busy) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(busy) >= 2, (before, after)


def test_through_the_router_and_in_a_list_with_short_texts(http, tokenizer):
    short = next(iter(SUMMARIES))
    response = http.post("/", json={"task": "summarize", "texts": [short, DOCUMENT[:40_000], short]})
    assert response.status_code == 200, response.text
    first, long_summary, last = response.json()["summaries"]
    assert first == last == SUMMARIES[short]  # short texts are summarized directly, as before
    assert long_summary.strip() and len(tokenizer(long_summary).input_ids) <= 60 + 1
