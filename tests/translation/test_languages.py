"""GET /translate/languages (and the handle's `languages`): the target languages of the configured
model, from the deployment's user_config; a language not among them is a 422 that lists them."""

import pytest
from ray import serve

from textserve.inprocess import app_config


@pytest.fixture(scope="module")
def configured(apps) -> dict:
    [deployment] = app_config(apps, "translation")["deployments"]
    return deployment["user_config"]


def test_languages_lists_the_configured_target_languages(http, configured):
    response = http.get("/translate/languages")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "languages": [{"code": c, "name": n} for c, n in sorted(configured["languages"].items())],
        "default": configured["default_target_lang"],
        "model": "demo:demo-translation",
    }
    assert [lang["code"] for lang in response.json()["languages"]] == ["de", "fr", "ro"]


def test_handle_gives_the_same_answer(http, apps):
    handle = serve.get_deployment_handle("Translator", app_name="translation")
    assert handle.languages.remote().result() == http.get("/translate/languages").json()


@pytest.mark.parametrize("path", ["/translate", "/"])
def test_an_unsupported_language_is_422_listing_the_supported_ones(http, path):
    response = http.post(path, json={"text": "Hello world!", "target_lang": "es"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "target_lang 'es' is not supported" in error
    assert "['de', 'fr', 'ro']" in error and "/translate/languages" in error


def test_languages_is_in_the_openapi_schema(http):
    assert "/languages" in http.get("/translate/openapi.json").json()["paths"]
