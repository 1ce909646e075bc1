"""The router at `/`: the seed guide's client, each task, errors, and leaf apps going away."""

import time

import pytest
import requests

from apps.router.config import RouterSettings
from textserve.demo_phrases import SUMMARIES, TRANSLATIONS
from textserve.inprocess import app_config, deploy_app

DOCUMENT, SUMMARY = next(iter(SUMMARIES.items()))
# how long the router may share a healthy /healthz or the apps' prefixes, and some slack
SHARED_ANSWER_S = max(RouterSettings().health_cache_s, RouterSettings().apps_refresh_s) + 2


def eventually(get, done, within_s: float = SHARED_ANSWER_S):
    """`get()` until `done` holds for it (the router shares anonymous answers a few seconds)."""
    deadline = time.monotonic() + within_s
    while True:
        value = get()
        if done(value) or time.monotonic() > deadline:
            assert done(value), value
            return value
        time.sleep(0.2)


def test_seed_client_request_works_unchanged(serve_url, apps):
    # The seed guide's client: POST {"text": "Hello world!"} to the root, with `requests`.
    response = requests.post(f"{serve_url}/", json={"text": "Hello world!"}, timeout=60)
    assert response.status_code == 200
    assert response.json() == {
        "task": "translate",
        "translation": "Bonjour le monde !",
        "source_lang": "en",
        "target_lang": "fr",
        "models": {"translation": "demo:demo-translation"},
    }


def test_translate_task_with_language(http):
    response = http.post("/", json={"text": "How are you?", "task": "translate", "target_lang": "de"})
    assert response.json()["translation"] == TRANSLATIONS["How are you?"]["de"]


def test_summarize_task(http):
    response = http.post("/", json={"text": DOCUMENT, "task": "summarize"})
    assert response.status_code == 200
    assert response.json() == {
        "task": "summarize",
        "summary": SUMMARY,
        "models": {"summarization": "demo:demo-bart-summarization"},
    }


@pytest.mark.parametrize("lang", ["fr", "de", "ro"])
def test_summarize_then_translate_chains_the_summary(http, lang):
    response = http.post(
        "/", json={"text": DOCUMENT, "task": "summarize_then_translate", "target_lang": lang}
    )
    assert response.status_code == 200
    assert response.json() == {
        "task": "summarize_then_translate",
        "summary": SUMMARY,
        "translation": TRANSLATIONS[SUMMARY][lang],
        "source_lang": "en",
        "target_lang": lang,
        "models": {"summarization": "demo:demo-bart-summarization", "translation": "demo:demo-translation"},
    }


def test_texts_list_goes_through_both_leaf_apps(http):
    documents = list(SUMMARIES)
    summaries = [SUMMARIES[doc] for doc in documents]
    response = http.post(
        "/", json={"texts": documents, "task": "summarize_then_translate", "target_lang": "de"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "task": "summarize_then_translate",
        "summaries": summaries,
        "translations": [TRANSLATIONS[summary]["de"] for summary in summaries],
        "source_lang": "en",
        "target_lang": "de",
        "models": {"summarization": "demo:demo-bart-summarization", "translation": "demo:demo-translation"},
    }


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"text": "Hello world!", "task": "poem"}, 422, "task: Input should be 'translate', 'summarize'"),
        ({"text": ""}, 422, "text is empty"),
        ({"txt": "Hello world!"}, 422, "txt: Extra inputs are not permitted"),
        ({"text": "Hello world!", "target_lang": "xx"}, 422, "no model translates en->xx"),
        ({"text": "word " * 40_001, "task": "summarize"}, 413, "at most 150000"),
        ({"text": "x", "task": "summarize", "max_length": 999}, 422, "above this service's limit"),
    ],
)
def test_user_errors_pass_through_as_4xx(http, body, status, says):
    response = http.post("/", json=body)
    assert response.status_code == status
    assert says in response.json()["error"]


def test_malformed_json_is_422(http):
    response = http.post("/", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize(("app", "task"), [("translation", "translate"), ("summarization", "summarize")])
def test_missing_leaf_app_is_503_naming_it_then_recovers(http, apps, app, task):
    from ray import serve

    serve.delete(app)
    try:
        response = http.post("/", json={"text": DOCUMENT, "task": task})
        assert response.status_code == 503
        body = response.json()
        assert f"the '{app}' app is unavailable" in body["error"]
        assert "Traceback" not in response.text
        assert response.headers.get("retry-after")
        # the other leaf app keeps serving through the router
        other = "summarize" if task == "translate" else "translate"
        assert http.post("/", json={"text": "Hello world!", "task": other}).status_code == 200
        # a healthy answer is shared for health_cache_s: the next check finds the app gone
        health = eventually(lambda: http.get("/healthz"), lambda r: r.status_code == 503)
        assert health.headers.get("retry-after")
        assert health.json()["error"] == f"not serving: {app}"
        assert health.json()["apps"][app]["status"] == "down"
        assert {a["status"] for name, a in health.json()["apps"].items() if name != app} == {"ok"}
        # the front door's document follows (the apps are read again every apps_refresh_s): the
        # app's routes are gone, and it says why
        prefix = app_config(apps, app)["route_prefix"]
        document = eventually(
            lambda: http.get("/openapi.json").json(),
            lambda d: not [path for path in d["paths"] if path.startswith(prefix)],
        )
        assert f"could not be had: {app} (" in document["info"]["description"]
    finally:
        deploy_app(app_config(apps, app))
    assert http.get("/healthz").status_code == 200  # a failed check is never reused
    eventually(
        lambda: http.get("/openapi.json").json()["paths"],
        lambda paths: app_config(apps, app)["route_prefix"] in paths,
    )
    response = http.post("/", json={"text": DOCUMENT, "task": "summarize_then_translate"})
    assert response.status_code == 200
    assert response.json()["translation"] == TRANSLATIONS[SUMMARY]["fr"]


def test_openapi_docs_are_served(http):
    assert http.get("/docs").status_code == 200
    assert "RouteRequest" in http.get("/openapi.json").json()["components"]["schemas"]
    assert http.get("/playground").status_code == 200


def test_healthz_reports_every_leaf_app_serving(http):
    response = http.get("/healthz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "apps": {
            "translation": {"status": "ok", "model": "demo:demo-translation", "backend": "ctranslate2"},
            "summarization": {
                "status": "ok",
                "model": "demo:demo-bart-summarization",
                "backend": "ctranslate2",
            },
        },
    }
