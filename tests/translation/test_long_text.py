"""Long, multi-sentence texts: split into sentences, translated as one batch, put back in order
with their paragraph breaks; nothing dropped or truncated."""

import itertools
import json

import pytest
from ray import serve

from textserve.demo_phrases import TRANSLATIONS

ENGLISH = list(TRANSLATIONS)


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
