"""bench/serve_logs.py reads what real replicas log: a long document summarized by the session
cluster's Summarizer leaves JSON records with the map-reduce's and each model call's fields."""

import time

import pytest

from bench import serve_logs
from bench.documents import build_document
from tests.conftest import SERVE_LOGS


@pytest.fixture(scope="module")
def summarized(http):
    started = time.time()
    document = build_document(3000)
    answer = http.post("/summarize", json={"text": document, "max_length": 20})
    assert answer.status_code == 200, answer.text
    return started, len(document)


def records_of(app: str) -> list[dict]:
    found = []
    for path in sorted(SERVE_LOGS[0].directory.glob(f"replica_{app}_*.log")):
        found += serve_logs.parse_records(path.read_text(errors="replace").splitlines())
    return found


def test_a_map_reduce_is_read_from_the_replicas_structured_fields(summarized):
    _, chars = summarized
    deadline = time.monotonic() + 10  # log lines reach the files within moments
    while True:
        found = [m for m in serve_logs.map_reduces(records_of("summarization")) if m["chars"] == chars]
        if found:
            break
        assert time.monotonic() < deadline, "no map-reduce record for the document"
        time.sleep(0.2)
    [reduced] = found[-1:]
    assert reduced["chunks"] >= 2 and reduced["levels"] >= 1 and reduced["map_s"] > 0


def test_model_calls_are_summed_from_the_batch_records_since_a_moment(summarized):
    started, _ = summarized
    records = records_of("summarization")
    since = serve_logs.decode_totals(records, started)
    everything = serve_logs.decode_totals(records)
    assert since["calls"] >= 3 and since["texts"] >= since["calls"] and since["seconds"] > 0
    assert everything["calls"] >= since["calls"]
    assert serve_logs.decode_totals(records, time.time() + 60) == {"calls": 0, "texts": 0, "seconds": 0.0}
    assert serve_logs.parse_records(["not json", "[1, 2]", '{"message": "x"}']) == [{"message": "x"}]
