"""Long, multi-sentence texts: split into sentences, translated as one batch (in parts on every
replica past part_sentences), put back in order with their paragraph breaks; nothing dropped or
truncated."""

import copy
import itertools
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from ray import serve

from tests.replica_calls import model_calls_per_replica, replicas_called_since
from textserve.demo_phrases import TRANSLATIONS
from textserve.inprocess import app_config, deploy_app

ENGLISH = list(TRANSLATIONS)
UNCACHED, UNCACHED_ROUTE = "translation-uncached", "/translate-uncached"


def fifty_sentence_text() -> tuple[str, dict[str, str]]:
    """50 demo sentences in paragraphs of 1-9 sentences; (text, expected translation per language)."""
    sentences = list(itertools.islice(itertools.cycle(ENGLISH), 7, 57))
    sizes = itertools.cycle([3, 9, 1, 6, 4, 8, 2, 5])
    paragraphs, start = [], 0
    while start < len(sentences):
        end = start + next(sizes)
        paragraphs.append(sentences[start:end])
        start = end
    text = "\n\n".join(" ".join(paragraph) for paragraph in paragraphs)
    expected = {
        lang: "\n\n".join(" ".join(TRANSLATIONS[en][lang] for en in paragraph) for paragraph in paragraphs)
        for lang in ("fr", "de", "ro")
    }
    return text, expected


TEXT, EXPECTED = fifty_sentence_text()


@pytest.fixture(scope="module")
def translator(apps):
    return serve.get_deployment_handle("Translator", app_name="translation")


@pytest.fixture(scope="module")
def uncached(apps):
    """The translation app with `cache_entries: 0`: the demo sentences repeat, and fan-out must
    be seen decoding them (with the cache, a repeated sentence is decoded once, then cached)."""
    cfg = copy.deepcopy(app_config(apps, "translation"))
    cfg.update(name=UNCACHED, route_prefix=UNCACHED_ROUTE)
    [deployment] = cfg["deployments"]
    deploy_app(cfg, user_config={**deployment["user_config"], "cache_entries": 0})
    yield UNCACHED_ROUTE
    serve.delete(UNCACHED)


@pytest.mark.parametrize("lang", ["fr", "de"])
def test_fifty_sentences_come_back_translated_in_order_with_paragraph_breaks(http, lang):
    assert TEXT.count("\n\n") >= 8 and sum(TEXT.count(en) for en in ENGLISH) == 50
    response = http.post("/translate", json={"text": TEXT, "target_lang": lang})
    assert response.status_code == 200, response.text
    assert response.json()["translation"] == EXPECTED[lang]


def test_through_the_router_and_the_handle_too(http, translator):
    response = http.post("/", json={"text": TEXT, "task": "translate", "target_lang": "ro"})
    assert response.status_code == 200, response.text
    assert response.json()["translation"] == EXPECTED["ro"]
    assert translator.translate.remote(TEXT, "fr").result()["translation"] == EXPECTED["fr"]


def test_each_text_of_a_list_is_split_and_rejoined_on_its_own(http):
    texts = ["Hello world! How are you?", "Good morning.\nThank you very much."]
    response = http.post("/translate", json={"texts": texts, "target_lang": "de"})
    assert response.json()["translations"] == [
        "Hallo Welt! Wie geht es Ihnen?",
        "Guten Morgen.\nVielen Dank.",
    ]


def test_a_sentence_longer_than_the_model_window_is_cut_not_truncated(http):
    # one 'sentence' of ~1300 tokens for the demo tokenizer: no full stop anywhere
    words = ["\u00e6\u00f8\u00e5"] * 450
    response = http.post("/translate", json={"text": " ".join(words), "stream": True})
    assert response.status_code == 200, response.text
    events = [line for line in response.iter_lines() if line]
    sentences = [event for event in map(json.loads, events) if event["event"] == "sentence"]
    assert len(sentences) >= 2
    assert " ".join(event["source"] for event in sentences).split() == words  # every word sent, in order


def long_text(sentences: int) -> tuple[str, str]:
    """`sentences` demo sentences in paragraphs of 5; (text, its French translation)."""
    picked = list(itertools.islice(itertools.cycle(ENGLISH), sentences))
    paragraphs = [picked[start : start + 5] for start in range(0, len(picked), 5)]
    text = "\n\n".join(" ".join(p) for p in paragraphs)
    return text, "\n\n".join(" ".join(TRANSLATIONS[en]["fr"] for en in p) for p in paragraphs)


def test_a_long_text_is_translated_in_parts_on_every_replica_and_rejoined_in_order(
    http, metrics_url, uncached
):
    """200 sentences, more than part_sentences (16): the parts go through the deployment's own
    handle to both replicas, and the answer is the same as sentence by sentence; with the cache
    (each of the 20 sentences decoded once), the same answer."""
    text, expected = long_text(200)
    before = model_calls_per_replica(metrics_url, UNCACHED)
    response = http.post(uncached, json={"text": text, "target_lang": "fr"})
    assert response.status_code == 200, response.text
    assert response.json()["translation"] == expected
    busy = replicas_called_since(metrics_url, UNCACHED, before, calls=2)
    assert len(busy) >= 2, (before, busy)
    cached = http.post("/translate", json={"text": text, "target_lang": "fr"})
    assert cached.status_code == 200 and cached.json()["translation"] == expected


def test_more_long_texts_at_once_than_replicas_fan_out_all_finish_exactly(serve_url, uncached):
    """12 long texts at once over 2 replicas fanning out 4 each: the rest are translated on their
    own replica, none waits on parts that cannot start (no deadlock), every answer exact."""
    text, expected = long_text(120)

    def post(_):
        with httpx.Client(base_url=serve_url, timeout=120) as client:
            return client.post(uncached, json={"text": text})

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(post, range(12)))
    assert [a.status_code for a in answers] == [200] * 12
    assert all(a.json()["translation"] == expected for a in answers)
