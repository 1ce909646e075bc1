"""The summarization app through its public surfaces: DeploymentHandle calls and POST /summarize."""

import pytest
from ray import serve

from apps.common.errors import UserInputError
from textserve.demo_phrases import SUMMARIES

DOCUMENTS = list(SUMMARIES.items())


@pytest.fixture(scope="module")
def summarizer(apps):
    return serve.get_deployment_handle("Summarizer", app_name="summarization")


@pytest.mark.parametrize(("document", "expected"), DOCUMENTS)
def test_handle_summarizes_exactly(summarizer, document, expected):
    assert summarizer.summarize.remote(document).result() == {
        "summary": expected,
        "model": "demo:demo-bart-summarization",
    }


def test_handle_max_length_bounds_the_summary(summarizer):
    document, full = DOCUMENTS[0]
    short = summarizer.summarize.remote(document, max_length=3).result()["summary"]
    assert short != full and full.startswith(short)


def test_handle_rejects_inverted_lengths(summarizer):
    with pytest.raises(UserInputError, match="min_length"):
        summarizer.summarize.remote(DOCUMENTS[0][0], max_length=5, min_length=10).result()


@pytest.mark.parametrize("path", ["/summarize", "/summarize/"])
def test_http_summarize_answers_directly(http, path):
    document, expected = DOCUMENTS[1]
    response = http.post(path, json={"text": document})
    assert response.status_code == 200, response.text
    assert response.json() == {"summary": expected, "model": "demo:demo-bart-summarization"}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "send `text` (a string) or `texts` (a list of strings)"),
        ({"text": "   "}, "text is empty"),
        ({"text": 3.5}, "text: Input should be a valid string"),
        ({"text": "x", "max_length": 0}, "max_length: Input should be greater than or equal to 1"),
        ({"text": "x", "max_length": "long"}, "max_length: Input should be a valid integer"),
        ({"text": "x", "max_length": 5000}, "above this service's limit of 200"),
        ({"text": "x", "min_length": 10, "max_length": 5}, "min_length (10) is above max_length (5)"),
        ({"text": "x", "min_length": 100}, "min_length 100 is above max_length 60"),
        ({"text": "x", "lang": "de"}, "lang: Extra inputs are not permitted"),
    ],
)
def test_http_bad_input_is_422_with_a_clear_message(http, body, says):
    response = http.post("/summarize", json=body)
    assert response.status_code == 422
    assert says in response.json()["error"]


def test_http_text_over_the_limit_is_413(http):
    response = http.post("/summarize", json={"text": "word " * 40_001})
    assert response.status_code == 413
    assert "is 200005 characters; this service accepts at most 150000" in response.json()["error"]


def test_http_a_word_longer_than_the_model_window_is_413(http):
    response = http.post("/summarize", json={"text": "Hello world. " + "abcxyz" * 200})
    assert response.status_code == 413
    assert "longer than the model reads at once: break it up" in response.json()["error"]


def test_openapi_docs_are_served(http):
    assert http.get("/summarize/docs").status_code == 200
    assert "SummarizeRequest" in http.get("/summarize/openapi.json").json()["components"]["schemas"]


def test_concurrent_requests_with_different_lengths_each_get_their_own_answer(summarizer):
    """A batch mixes generation settings; requests are grouped by them and answered in place."""
    calls = [(doc, None, full) for doc, full in DOCUMENTS] * 3
    calls += [(DOCUMENTS[0][0], 3, None)] * 4
    responses = [summarizer.summarize.remote(doc, max_length=n) for doc, n, _ in calls]
    summaries = [r.result()["summary"] for r in responses]
    for (_, n, full), summary in zip(calls, summaries, strict=True):
        if n is None:
            assert summary == full
        else:
            assert summary != DOCUMENTS[0][1] and DOCUMENTS[0][1].startswith(summary)


def test_texts_list_is_summarized_in_order(http, summarizer):
    documents = [doc for doc, _ in DOCUMENTS]
    expected = [summary for _, summary in DOCUMENTS]
    assert summarizer.summarize.remote(documents).result()["summaries"] == expected
    response = http.post("/summarize", json={"texts": documents[::-1]})
    assert response.status_code == 200, response.text
    assert response.json() == {"summaries": expected[::-1], "model": "demo:demo-bart-summarization"}


def test_health_check_decodes_with_the_loaded_model(summarizer):
    assert summarizer.check_health.remote().result() is None
    assert summarizer.health.remote().result()["model"] == "demo:demo-bart-summarization"
