"""The translation app deployed with `backend: ctranslate2` in its user_config: the same exact
answers as the transformers backend, through a handle and over HTTP."""

import pytest
from ray import serve

from tests.conftest import app_config, deploy_app
from textserve.demo_phrases import TRANSLATIONS

APP = "translation-ct2"


@pytest.fixture(scope="module")
def ct2_translator(apps, tmp_path_factory):
    cfg = dict(app_config(apps, "translation"), name=APP, route_prefix="/translate-ct2")
    [deployment] = cfg["deployments"]
    deploy_app(cfg, user_config={**deployment["user_config"], "backend": "ctranslate2"})
    yield serve.get_deployment_handle("Translator", app_name=APP)
    serve.delete(APP)


def test_every_demo_sentence_translates_exactly(ct2_translator):
    for lang in ("fr", "de", "ro"):
        english = list(TRANSLATIONS)
        result = ct2_translator.translate.remote(english, lang).result()
        assert result["translations"] == [TRANSLATIONS[en][lang] for en in english]
        assert result["model"] == "demo:demo-translation"


def test_http_answers_the_seed_request(http, ct2_translator):
    response = http.post("/translate-ct2", json={"text": "Hello world!"})
    assert response.status_code == 200, response.text
    assert response.json()["translation"] == "Bonjour le monde !"
