"""textserve.client.TextServeClient against the session's real apps (demo models: exact answers
from textserve/demo_phrases.py), and, for what the apps cannot be made to do on demand (503 with
Retry-After, a stream that breaks off), against a tiny real HTTP server on 127.0.0.1."""

import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from textserve.client import TextServeClient, TextServeError, retry_wait
from textserve.demo_phrases import MARKED_UP, SUMMARIES, TRANSLATIONS

ENGLISH = list(TRANSLATIONS)


def long_document(words: int) -> str:
    """Demo documents, repeated to about `words` words: past the summarizer's window."""
    paragraphs = []
    for document in itertools.cycle(SUMMARIES):
        if sum(len(p.split()) for p in paragraphs) >= words:
            return "\n\n".join(paragraphs)
        paragraphs.append(document)


@pytest.fixture(scope="module")
def client(serve_url, apps) -> Iterator[TextServeClient]:
    with TextServeClient(serve_url) as client:
        yield client


# ---- against the apps ----------------------------------------------------------------------------


def test_translate_one_text_and_a_list(client):
    answer = client.translate("Hello world!", target_lang="de")
    assert answer == {
        "translation": "Hallo Welt!",
        "source_lang": "en",
        "target_lang": "de",
        "model": "demo:demo-translation",
    }
    assert client.translate("Hello world!")["translation"] == "Bonjour le monde !"  # the default, fr
    texts = ENGLISH[:3]
    answer = client.translate(texts, "ro")
    assert answer["translations"] == [TRANSLATIONS[en]["ro"] for en in texts]


def test_translate_an_html_document(client):
    html, by_lang = next(iter(MARKED_UP.items()))
    assert client.translate(html, "ro", text_format="html")["translation"] == by_lang["ro"]


def test_translate_stream_yields_sentences_in_order_then_done(client):
    text = " ".join(ENGLISH[:5]) + "\n\n" + " ".join(ENGLISH[5:8])
    events = list(client.translate_stream(text, "de"))
    *sentences, done = events
    assert [e["event"] for e in sentences] == ["sentence"] * 8
    assert [e["index"] for e in sentences] == list(range(8))
    assert [e["source"] for e in sentences] == ENGLISH[:8]
    assert [e["translation"] for e in sentences] == [TRANSLATIONS[en]["de"] for en in ENGLISH[:8]]
    assert {e.get("total", 8) for e in sentences} == {8}
    expected = " ".join(TRANSLATIONS[en]["de"] for en in ENGLISH[:5]) + "\n\n"
    expected += " ".join(TRANSLATIONS[en]["de"] for en in ENGLISH[5:8])
    assert "".join(e["translation"] + e["separator"] for e in sentences) == expected
    assert done == {
        "event": "done",
        "sentences": 8,
        "translation": expected,
        "source_lang": "en",
        "target_lang": "de",
        "model": "demo:demo-translation",
    }


def test_languages(client):
    answer = client.languages()
    assert answer["languages"][0] == {"code": "de", "name": "German", "targets": ["en", "es", "fr", "ro"]}
    assert (answer["default_source_lang"], answer["default_target_lang"]) == ("en", "fr")


def test_translate_from_another_language(client):
    answer = client.translate("Merci beaucoup.", target_lang="en", source_lang="fr")
    assert answer == {
        "translation": "Thank you very much.",
        "source_lang": "fr",
        "target_lang": "en",
        "model": "demo:demo-marian-fr-en",
    }


def test_summarize_a_demo_document_exactly(client):
    documents = list(SUMMARIES)
    assert client.summarize(documents[0]) == {
        "summary": SUMMARIES[documents[0]],
        "model": "demo:demo-bart-summarization",
    }
    assert client.summarize(documents[:2])["summaries"] == [SUMMARIES[d] for d in documents[:2]]


def test_summarize_stream_of_a_long_document_reports_progress(client):
    events = list(client.summarize_stream(long_document(8000), max_length=20))
    *progress, done = events
    assert done["event"] == "done" and done["summary"].strip()
    assert progress and {e["event"] for e in progress} == {"progress"}
    first = [e for e in progress if e["level"] == 1]
    assert first[-1]["done"] == first[-1]["total"] > 1


def test_summarize_stream_of_a_short_text_is_just_done(client):
    document, summary = next(iter(SUMMARIES.items()))
    assert list(client.summarize_stream(document)) == [
        {"event": "done", "summary": summary, "model": "demo:demo-bart-summarization"}
    ]


def test_a_4xx_is_a_textserve_error_with_the_servers_message(client):
    with pytest.raises(TextServeError) as raised:
        client.translate("Hello world!", target_lang="xx")
    assert raised.value.status == 422
    assert "no model translates en->xx" in raised.value.message
    assert raised.value.retry_after is None
    # a streamed request that cannot be served fails the same way, before any event
    with pytest.raises(TextServeError) as raised:
        next(client.translate_stream("Hello world!", target_lang="xx"))
    assert raised.value.status == 422 and "GET /translate/languages" in raised.value.message
    with pytest.raises(TextServeError) as raised:
        client.summarize("Hello world!", max_length=100_000)
    assert raised.value.status == 422 and "max_length" in raised.value.message


def test_base_url_from_the_environment(monkeypatch, serve_url, apps):
    monkeypatch.setenv("TEXTSERVE_URL", serve_url + "/")
    with TextServeClient() as client:
        assert client.translate("Good morning.", "de")["translation"] == "Guten Morgen."


def test_no_server_is_a_textserve_error_too():
    with TextServeClient("http://127.0.0.1:9", timeout=5) as client, pytest.raises(TextServeError) as raised:
        client.languages()
    assert raised.value.status is None and "cannot reach http://127.0.0.1:9" in str(raised.value)


# ---- against a tiny scripted HTTP server -----------------------------------------------------------


@contextmanager
def scripted_server(answers: list[tuple[int, dict, bytes]]) -> Iterator[tuple[str, list[dict]]]:
    """An HTTP server on 127.0.0.1 that gives `answers` (status, headers, body) in turn, the last
    one for ever after; yields its URL and the requests it received (path, headers, body). An
    answer with a Transfer-Encoding header is sent as one chunk and then the connection is closed
    without the last chunk: a response cut off mid-stream."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, headers, payload = answers[min(len(received), len(answers)) - 1]
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Transfer-Encoding" in headers:
                self.end_headers()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


LANGUAGES = {"languages": [{"code": "de", "name": "German", "targets": ["en"]}], "default_source_lang": "de"}
OK = (200, {"Content-Type": "application/json"}, json.dumps(LANGUAGES).encode())
BUSY = (503, {"Retry-After": "0", "Content-Type": "text/plain"}, b"Service overloaded, retry later.")
NDJSON = {"Content-Type": "application/x-ndjson"}
SENTENCE = {"event": "sentence", "index": 0, "total": 2, "text_index": 0, "source": "a", "translation": "b"}


def ndjson(*events: dict) -> bytes:
    return b"".join(json.dumps(event).encode() + b"\n" for event in events)


def test_a_503_with_retry_after_is_retried():
    with scripted_server([BUSY, OK]) as (url, received), TextServeClient(url) as client:
        assert client.languages() == LANGUAGES
    assert len(received) == 2


def test_a_retry_waits_what_the_server_asked_and_up_to_half_as_long_again_at_random():
    rng = random.Random(20261207)
    waits = [retry_wait(2, 10, rng) for _ in range(50)]
    assert all(2 <= wait <= 3 for wait in waits) and len({round(w, 3) for w in waits}) > 40
    assert max(waits) - min(waits) > 0.4  # clients turned away together spread out
    assert 10 <= retry_wait(60, 10, rng) <= 15 and retry_wait(0, 10, rng) == 0
    busy = (503, {"Retry-After": "1", "Content-Type": "text/plain"}, b"busy")
    with scripted_server([busy, OK]) as (url, received), TextServeClient(url) as client:
        started = time.monotonic()
        assert client.languages() == LANGUAGES
        waited = time.monotonic() - started
    assert len(received) == 2 and 1 <= waited < 3


def test_retries_are_bounded_and_the_last_503_raises():
    with (
        scripted_server([BUSY]) as (url, received),
        TextServeClient(url, max_retries=2) as client,
        pytest.raises(TextServeError) as raised,
    ):
        client.translate("Hello world!")
    assert len(received) == 3  # the request and 2 retries
    assert raised.value.status == 503 and raised.value.retry_after == 0
    assert raised.value.message == "Service overloaded, retry later."  # Serve's plain-text body


def test_a_503_without_retry_after_is_not_retried_and_json_details_are_kept():
    body = json.dumps({"error": "not serving: translation", "details": ["translation: down"]}).encode()
    answers = [(503, {"Content-Type": "application/json"}, body), OK]
    with (
        scripted_server(answers) as (url, received),
        TextServeClient(url) as client,
        pytest.raises(TextServeError) as raised,
    ):
        client.languages()
    assert len(received) == 1
    assert (raised.value.status, raised.value.message) == (503, "not serving: translation")
    assert raised.value.details == ["translation: down"] and raised.value.retry_after is None


def test_the_api_key_is_sent_as_a_bearer_token(monkeypatch):
    monkeypatch.setenv("TEXTSERVE_API_KEY", "from-env")
    with scripted_server([OK]) as (url, received):
        with TextServeClient(url) as client:
            client.languages()
        with TextServeClient(url, api_key="explicit") as client:
            client.languages()
    assert [r["headers"]["Authorization"] for r in received] == ["Bearer from-env", "Bearer explicit"]
    assert received[0]["path"] == "/translate/languages"


def test_an_error_event_in_a_stream_raises_after_the_events_before_it():
    error = {"event": "error", "status": 500, "error": "internal error (incident 1a2b)"}
    with (
        scripted_server([(200, NDJSON, ndjson(SENTENCE, error))]) as (url, received),
        TextServeClient(url) as client,
    ):
        events = client.translate_stream(["a", "c"], "de")
        assert next(events) == SENTENCE
        with pytest.raises(TextServeError) as raised:
            next(events)
    assert (raised.value.status, raised.value.message) == (500, "internal error (incident 1a2b)")
    assert json.loads(received[0]["body"]) == {"texts": ["a", "c"], "target_lang": "de", "stream": True}


def test_a_stream_without_done_is_incomplete():
    with (
        scripted_server([(200, NDJSON, ndjson(SENTENCE))]) as (url, _),
        TextServeClient(url) as client,
        pytest.raises(TextServeError, match="ended without a 'done' event"),
    ):
        list(client.translate_stream("a"))


def test_a_stream_cut_off_mid_way_says_how_far_it_got():
    cut_off = (200, {**NDJSON, "Transfer-Encoding": "chunked"}, ndjson(SENTENCE))
    with scripted_server([cut_off]) as (url, _), TextServeClient(url) as client:
        events = client.translate_stream(["a", "c"])
        assert next(events) == SENTENCE
        with pytest.raises(TextServeError) as raised:
            next(events)
    assert raised.value.status is None
    assert raised.value.message.startswith(f"the stream from {url}/translate broke off (1 events received): ")
