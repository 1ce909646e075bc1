"""The translation app deployed with the other backend, `backend: transformers` (fp32, torch), in
its user_config (serve_config.yaml configures ctranslate2): the same exact answers, through a
handle and over HTTP."""

import pytest
from ray import serve

from textserve.demo_phrases import TRANSLATIONS
from textserve.inprocess import app_config, deploy_app

APP = "translation-hf"


@pytest.fixture(scope="module")
def hf_translator(apps):
    cfg = dict(app_config(apps, "translation"), name=APP, route_prefix="/translate-hf")
    [deployment] = cfg["deployments"]
    assert deployment["user_config"]["backend"] == "ctranslate2"  # the other one is tested here
    deploy_app(cfg, user_config={**deployment["user_config"], "backend": "transformers"})
    yield serve.get_deployment_handle("Translator", app_name=APP)
    serve.delete(APP)


def test_every_demo_sentence_translates_exactly(hf_translator):
    for lang in ("fr", "de", "ro"):
        english = list(TRANSLATIONS)
        result = hf_translator.translate.remote(english, lang).result()
        assert result["translations"] == [TRANSLATIONS[en][lang] for en in english]
        assert result["model"] == "demo:demo-translation"


def test_http_answers_the_seed_request(http, hf_translator):
    response = http.post("/translate-hf", json={"text": "Hello world!"})
    assert response.status_code == 200, response.text
    assert response.json()["translation"] == "Bonjour le monde !"
