"""The catalog over HTTP and handles: GET /translate/languages lists every source with its
targets (LibreTranslate's entries), each pair is answered by the model the catalog names (MarianMT
de->en, NLLB fr->de, T5 en->fr) or pivoted through English, and a pair nothing serves is a 422
that lists what is served."""

import json

import pytest
from ray import serve

from textserve.inprocess import app_config


@pytest.fixture(scope="module")
def configured(apps) -> dict:
    [deployment] = app_config(apps, "translation")["deployments"]
    return deployment["user_config"]


def test_languages_lists_every_source_with_its_targets(http, configured):
    response = http.get("/translate/languages")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "languages": [
            {"code": "de", "name": "German", "targets": ["en", "es", "fr", "ro"]},  # ro: via en
            {"code": "en", "name": "English", "targets": ["de", "es", "fr", "ro"]},
            {"code": "es", "name": "Spanish", "targets": ["de", "en", "fr", "ro"]},
            {"code": "fr", "name": "French", "targets": ["de", "en", "es", "ro"]},
        ],
        "default_source_lang": configured["default_source_lang"],
        "default_target_lang": configured["default_target_lang"],
        "pivot_lang": "en",
        "models": [
            "demo:demo-translation",
            "demo:demo-marian-de-en",
            "demo:demo-marian-fr-en",
            "demo:demo-nllb",
        ],
        "max_input_chars": configured["max_input_chars"],
        "file_types": [".txt", ".html", ".htm", ".md", ".markdown", ".srt", ".docx"],
    }


def test_handle_gives_the_same_answer(http, apps):
    handle = serve.get_deployment_handle("Translator", app_name="translation")
    assert handle.languages.remote().result() == http.get("/translate/languages").json()


@pytest.mark.parametrize(
    ("source", "target", "text", "translation", "model"),
    [
        ("en", "de", "Hello world!", "Hallo Welt!", "demo:demo-translation"),
        (
            "de",
            "en",
            "Hallo Welt! Wo ist der Bahnhof?",
            "Hello world! Where is the train station?",
            "demo:demo-marian-de-en",
        ),
        ("fr", "en", "Merci beaucoup.", "Thank you very much.", "demo:demo-marian-fr-en"),
        ("fr", "de", "Bonjour le monde !", "Hallo Welt!", "demo:demo-nllb"),
        ("es", "fr", "¡Hola mundo!", "Bonjour le monde !", "demo:demo-nllb"),
    ],
)
def test_each_pair_is_answered_by_the_model_the_catalog_names(http, source, target, text, translation, model):
    response = http.post("/translate", json={"text": text, "source_lang": source, "target_lang": target})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "translation": translation,
        "source_lang": source,
        "target_lang": target,
        "model": model,
    }


def test_a_pair_no_model_serves_is_pivoted_through_english_and_says_so(http):
    body = {"texts": ["Hallo Welt!", "Guten Morgen."], "source_lang": "de", "target_lang": "ro"}
    response = http.post("/translate", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "translations": ["Salut lume!", "Bună dimineața."],
        "source_lang": "de",
        "target_lang": "ro",
        "via": "en",
        "model": "demo:demo-marian-de-en + demo:demo-translation",
    }


def test_a_pivoted_translation_streams_its_second_legs_sentences(http):
    body = {"text": "Hallo Welt! Guten Morgen.", "source_lang": "de", "target_lang": "ro", "stream": True}
    with http.stream("POST", "/translate", json=body) as response:
        assert response.status_code == 200
        events = [json.loads(line) for line in response.iter_lines() if line]
    assert [e["translation"] for e in events if e["event"] == "sentence"] == [
        "Salut lume!",
        "Bună dimineața.",
    ]
    assert events[-1]["translation"] == "Salut lume! Bună dimineața." and events[-1]["via"] == "en"


@pytest.mark.parametrize("path", ["/translate", "/"])
def test_a_pair_nothing_serves_is_422_listing_the_served_pairs(http, path):
    response = http.post(path, json={"text": "Salut lume!", "source_lang": "ro", "target_lang": "de"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "no model translates ro->de (not even through en)" in error
    assert "de->en,es,fr,ro" in error and "/translate/languages" in error


def test_an_unknown_language_is_422(http):
    response = http.post("/translate", json={"text": "Hello world!", "target_lang": "xx"})
    assert response.status_code == 422
    assert "no model translates en->xx" in response.json()["error"]


def test_the_router_passes_the_source_language_on(http):
    response = http.post("/", json={"text": "Merci beaucoup.", "source_lang": "fr", "target_lang": "en"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["translation"] == "Thank you very much." and answer["source_lang"] == "fr"
    assert answer["models"] == {"translation": "demo:demo-marian-fr-en"}


def test_languages_is_in_the_openapi_schema(http):
    assert "/languages" in http.get("/translate/openapi.json").json()["paths"]
