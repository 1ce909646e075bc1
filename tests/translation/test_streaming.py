"""POST /translate with "stream": true (and the router's, and the handle's translate_stream):
newline-delimited JSON events, one per sentence in order as batches finish, then `done`."""

import json
import time

import pytest
from ray import serve

from tests.translation.test_long_text import EXPECTED, TEXT

LONG_TEXT = "\n\n".join([TEXT] * 3)  # 150 sentences: ~10 batches of 16
LONG_EXPECTED = "\n\n".join([EXPECTED["de"]] * 3)


def read_stream(http, path: str, body: dict) -> tuple[list[dict], list[float], list[int]]:
    """Events, the time each network chunk arrived, and how many events each chunk completed."""
    events, arrivals, per_chunk, pending = [], [], [], b""
    with http.stream("POST", path, json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("application/x-ndjson")
        for chunk in response.iter_raw():
            arrivals.append(time.monotonic())
            pending += chunk
            *lines, pending = pending.split(b"\n")
            events.extend(json.loads(line) for line in lines if line)
            per_chunk.append(len(lines))
    assert pending == b""
    return events, arrivals, per_chunk


def check_events(events: list[dict], expected: str, sentences: int) -> None:
    *sentence_events, done = events
    assert [event["event"] for event in sentence_events] == ["sentence"] * sentences
    assert [event["index"] for event in sentence_events] == list(range(sentences))
    assert {event["total"] for event in sentence_events} == {sentences}
    # the sentence events alone rebuild the answer, and `done` carries the same
    assert "".join(e["translation"] + e["separator"] for e in sentence_events) == expected
    assert done == {
        "event": "done",
        "sentences": sentences,
        "translation": expected,
        "source_lang": "en",
        "target_lang": "de",
        "model": "demo:demo-translation",
    }


@pytest.mark.parametrize("path", ["/translate", "/"])
def test_stream_arrives_sentence_by_sentence_in_order(http, path):
    body = {"text": LONG_TEXT, "target_lang": "de", "stream": True}
    if path == "/":
        body["task"] = "translate"
    events, arrivals, per_chunk = read_stream(http, path, body)
    check_events(events, LONG_EXPECTED, 150)
    # incremental: the first sentences arrived on their own, before the rest were translated
    assert len(arrivals) >= 3, per_chunk
    assert per_chunk[0] < 150 and max(per_chunk) < 150, per_chunk
    first = next(i for i, n in enumerate(per_chunk) if n)
    assert arrivals[-1] > arrivals[first]


def test_stream_of_a_texts_list_says_which_text_each_sentence_is_from(http):
    body = {"texts": ["Hello world! How are you?", "Good morning."], "target_lang": "de", "stream": True}
    events, _, _ = read_stream(http, "/translate", body)
    assert [(e["text_index"], e["source"], e["translation"]) for e in events[:-1]] == [
        (0, "Hello world!", "Hallo Welt!"),
        (0, "How are you?", "Wie geht es Ihnen?"),
        (1, "Good morning.", "Guten Morgen."),
    ]
    assert events[-1]["translations"] == ["Hallo Welt! Wie geht es Ihnen?", "Guten Morgen."]


def test_handle_streams_the_same_events(apps):
    translator = serve.get_deployment_handle("Translator", app_name="translation")
    events = list(translator.options(stream=True).translate_stream.remote(TEXT, "de"))
    check_events(events, EXPECTED["de"], 50)


@pytest.mark.parametrize("path", ["/translate", "/"])
def test_a_request_that_cannot_be_served_is_a_plain_4xx_before_any_stream(http, path):
    response = http.post(path, json={"text": "Hello world!", "target_lang": "xx", "stream": True})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert "GET /translate/languages" in response.json()["error"]


def test_router_streams_one_apps_task_only(http):
    body = {"text": "Hello world!", "task": "summarize_then_translate", "stream": True}
    response = http.post("/", json=body)
    assert response.status_code == 422
    assert '"stream": true is for tasks "translate" and "summarize"' in response.json()["error"]
