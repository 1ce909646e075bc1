"""The translation app through its public surfaces: DeploymentHandle calls and POST /translate."""

import pytest
from ray import serve

from apps.common.errors import UserInputError
from textserve.demo_phrases import TRANSLATIONS

CASES = [(en, lang, out) for en, by_lang in list(TRANSLATIONS.items())[:6] for lang, out in by_lang.items()]


@pytest.fixture(scope="module")
def translator(apps):
    return serve.get_deployment_handle("Translator", app_name="translation")


@pytest.mark.parametrize(("english", "lang", "expected"), CASES)
def test_handle_translates_exactly(translator, english, lang, expected):
    result = translator.translate.remote(english, lang).result()
    assert result == {
        "translation": expected,
        "source_lang": "en",
        "target_lang": lang,
        "model": "demo:demo-translation",
    }


def test_handle_defaults_to_french(translator):
    assert translator.translate.remote("Hello world!").result()["translation"] == "Bonjour le monde !"


def test_handle_rejects_bad_input_with_user_error(translator):
    with pytest.raises(UserInputError) as info:
        translator.translate.remote("   ", "fr").result()
    assert info.value.status_code == 422
    assert "text is empty" in info.value.message
    with pytest.raises(UserInputError, match="no model translates en->it"):
        translator.translate.remote("Hello world!", "it").result()


@pytest.mark.parametrize("path", ["/translate", "/translate/"])
def test_http_translate_answers_directly(http, path):
    response = http.post(path, json={"text": "Hello world!", "target_lang": "de"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "translation": "Hallo Welt!",
        "source_lang": "en",
        "target_lang": "de",
        "model": "demo:demo-translation",
    }


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "send `text` (a string) or `texts` (a list of strings)"),
        ({"text": ""}, "text is empty"),
        ({"text": " \n\t "}, "text is empty"),
        ({"text": 42}, "text: Input should be a valid string"),
        ({"text": None}, "`text` is null: send `text` as a string or `texts` as a list"),
        ({"text": "Hello", "texts": None}, "`texts` is null: send `text` as a string or `texts`"),
        ({"text": ["Hello"]}, "text: Input should be a valid string"),
        ({"text": "Hello world!", "target_lang": "it"}, "no model translates en->it"),
        (
            {"text": "Hello world!", "target_language": "de"},
            "target_language: Extra inputs are not permitted",
        ),
        ([1, 2], "body must be a JSON object"),
        ("Hello world!", "body must be a JSON object"),
    ],
)
def test_http_bad_input_is_422_with_a_clear_message(http, body, says):
    response = http.post("/translate", json=body)
    assert response.status_code == 422
    assert says in response.json()["error"]


def test_http_malformed_json_is_422(http):
    response = http.post(
        "/translate", content=b'{"text": "Hello', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["error"]


def test_http_missing_body_is_422(http):
    response = http.post("/translate")
    assert response.status_code == 422
    assert "body is missing" in response.json()["error"]


def test_http_text_over_the_limit_is_413(http, apps):
    from textserve.inprocess import app_config

    limit = app_config(apps, "translation")["deployments"][0]["user_config"]["max_input_chars"]
    response = http.post("/translate", json={"text": "Hello world! " * (limit // 13 + 1)})
    assert response.status_code == 413
    assert f"at most {limit}" in response.json()["error"]


def test_http_a_word_longer_than_the_model_window_is_413_naming_it(http):
    # within max_input_chars, but one "word" of far more tokens than the model reads: it cannot be
    # cut at a space, and is never silently truncated
    response = http.post("/translate", json={"text": "Hello world! " + "abcxyz" * 200})
    assert response.status_code == 413
    assert "longer than the model reads at once: break it up" in response.json()["error"]


def test_service_keeps_answering_after_bad_input(http):
    for body in ({"text": 1}, {"text": ""}, [None]):
        assert http.post("/translate", json=body).status_code == 422
    assert http.post("/translate", json={"text": "Good morning."}).json()["translation"] == "Bonjour."


def test_openapi_docs_are_served(http):
    assert http.get("/translate/docs").status_code == 200
    schema = http.get("/translate/openapi.json").json()
    assert "/" in schema["paths"]
    assert "TranslateRequest" in schema["components"]["schemas"]


def test_concurrent_requests_each_get_their_own_exact_answer(translator):
    """Requests arriving together are batched; every caller still gets its own translation."""
    cases = [(en, lang, out) for en, by_lang in TRANSLATIONS.items() for lang, out in by_lang.items()][:32]
    responses = [translator.translate.remote(en, lang) for en, lang, _ in cases]
    assert [r.result()["translation"] for r in responses] == [out for _, _, out in cases]


def test_handle_translates_a_list_in_order(translator):
    english = list(TRANSLATIONS)[:20]
    result = translator.translate.remote(english, "de").result()
    assert result == {
        "translations": [TRANSLATIONS[en]["de"] for en in english],
        "source_lang": "en",
        "target_lang": "de",
        "model": "demo:demo-translation",
    }


def test_http_texts_list_is_translated_in_order(http):
    english = list(TRANSLATIONS)[:5]
    response = http.post("/translate", json={"texts": english, "target_lang": "ro"})
    assert response.status_code == 200, response.text
    assert response.json()["translations"] == [TRANSLATIONS[en]["ro"] for en in english]
    assert "translation" not in response.json()


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"text": "Hello world!", "texts": ["Hello world!"]}, 422, "send `text` or `texts`, not both"),
        ({"texts": []}, 422, "texts: List should have at least 1 item"),
        ({"texts": ["Hello world!", " "]}, 422, "texts.1: text is empty"),
        ({"texts": ["Hello world!", 7]}, 422, "texts.1: Input should be a valid string"),
        ({"texts": ["Hello world!"] * 65}, 413, "65 texts in one request; this service accepts at most 64"),
        ({"texts": ["Hello world!", "x" * 10001]}, 413, "text 2 of 2 is 10001 characters"),
        (
            {"texts": ["Hello world! " * 700] * 3},
            413,
            "the texts total 27300 characters; this service "
            "accepts at most 20000 per request: send fewer or shorter texts",
        ),
    ],
)
def test_http_bad_texts_lists_say_what_to_change(http, body, status, says):
    response = http.post("/translate", json=body)
    assert response.status_code == status
    assert says in response.json()["error"]


def test_health_check_decodes_with_the_loaded_model(translator):
    """Serve's periodic check_health passes on a replica whose model generates."""
    assert translator.check_health.remote().result() is None
    assert translator.health.remote().result() == {
        "status": "ok",
        "model": "demo:demo-translation",
        "backend": "ctranslate2",
    }
