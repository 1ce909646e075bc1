"""The benchmark sends every system texts no earlier request of the run sent, each of its workload's
exact token length: our replicas' cache never answers for the model."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.bodies import Bodies
from bench.load import closed_loop
from bench.measure import texts_needed
from bench.models import SHAPES, WORDS
from bench.open_loop import open_loop
from bench.workload_texts import fitted_texts
from textserve.demo_models import train_t5_tokenizer


@pytest.fixture(scope="module")
def count_batch(tmp_path_factory):
    """Token counts from a tokenizer trained as the bench's is (on text of its own words)."""
    import random

    rng = random.Random(7)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(20)).capitalize() + "." for _ in range(2000)]
    tokenizer = train_t5_tokenizer(corpus, tmp_path_factory.mktemp("tok"), 600, extra_ids=100)

    def count(batch):
        return [len(ids) for ids in tokenizer(batch).input_ids]

    return count


@pytest.mark.parametrize("workload", ["translate", "summarize"])
def test_texts_are_distinct_and_each_exactly_the_workloads_token_length(count_batch, workload):
    prefix, tokens, _ = SHAPES[workload]
    texts = fitted_texts(count_batch, WORDS, prefix, tokens, range(300), workload)
    assert len(set(texts)) == len(texts) == 300
    assert set(count_batch([prefix + text for text in texts])) == {tokens}
    # one sentence each: the translation app's cache and splitter see one text per request
    assert all(text.count(".") == 1 and text.endswith(".") for text in texts)


def test_a_longer_run_begins_with_a_shorter_runs_texts(count_batch):
    prefix, tokens, _ = SHAPES["translate"]
    short = fitted_texts(count_batch, WORDS, prefix, tokens, range(20), "translate")
    longer = fitted_texts(count_batch, WORDS, prefix, tokens, range(50), "translate")
    rest = fitted_texts(count_batch, WORDS, prefix, tokens, range(20, 50), "translate")
    assert longer[:20] == short and longer[20:] == rest
    assert fitted_texts(count_batch, WORDS, prefix, tokens, range(20), "summarize") != short


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            first = body["text"] not in self.server.received
            self.server.received.append(body["text"])
        self.send_response(503 if first and self.server.shed_first else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


class _RecorderServer(ThreadingHTTPServer):
    # the open loop connects up to 256 clients at once: socketserver's backlog of 5 refused some
    # while the accepting thread waited for the CPU, and a refused arrival is never sent again
    request_queue_size = 1024


@pytest.fixture
def recorder():
    httpd = _RecorderServer(("127.0.0.1", 0), _Recorder)
    httpd.daemon_threads = True
    httpd.handle_error = lambda request, address: None  # clients cut off at a window's end
    httpd.received, httpd.lock, httpd.shed_first = [], threading.Lock(), False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_cells_and_ladders_of_one_endpoint_never_send_a_body_twice(recorder):
    bodies = Bodies([{"text": f"text {i}"} for i in range(100_000)])
    port = recorder.server_port
    first = closed_loop("127.0.0.1", port, "/", bodies, clients=4, duration_s=0.5, warmup_s=0.2)
    second = closed_loop("127.0.0.1", port, "/", bodies, clients=8, duration_s=0.5)
    third = open_loop("127.0.0.1", port, "/", bodies, rate=200, duration_s=0.5)
    received, sent = recorder.received, first.sent + second.sent + third.offered
    assert len(received) == len(set(received))
    # a request cut off as a window closes may not arrive (one per closed-loop client); an open-loop
    # arrival whose connection failed is not sent again (dropped)
    assert sent - 4 - 8 - third.dropped <= len(received) <= sent
    assert third.dropped <= third.offered // 10, third.statuses
    assert first.sent - 4 <= first.answered <= first.sent and first.answered > first.completed > 0
    assert not (first.out_of_bodies or second.out_of_bodies or third.out_of_bodies)


def test_a_run_that_runs_out_of_distinct_bodies_says_so_instead_of_repeating_one(recorder):
    bodies = Bodies([{"text": f"text {i}"} for i in range(30)])
    cell = closed_loop("127.0.0.1", recorder.server_port, "/", bodies, clients=4, duration_s=0.5)
    assert cell.out_of_bodies and cell.sent == 30
    step = open_loop("127.0.0.1", recorder.server_port, "/", bodies, rate=100, duration_s=0.3)
    assert step.out_of_bodies and step.offered == 0 and not step.sustained(2.0)
    assert sorted(recorder.received) == sorted(f"text {i}" for i in range(30))


def test_a_text_answered_with_an_error_is_sent_again_not_replaced(recorder):
    """A server that sheds load answers fast: were each retry a new text, it would use up a run's
    texts at its rejection rate (BentoML's 503s did, in a full run)."""
    recorder.shed_first = True  # 503 the first time a text comes, 200 the second
    bodies = Bodies([{"text": f"text {i}"} for i in range(100_000)])
    cell = closed_loop("127.0.0.1", recorder.server_port, "/", bodies, clients=4, duration_s=0.5)
    counts = {}
    for text in recorder.received:
        counts[text] = counts.get(text, 0) + 1
    assert cell.errors > 0 and cell.sent - 4 <= cell.answered <= cell.sent
    assert sum(1 for n in counts.values() if n == 2) >= cell.answered and max(counts.values()) == 2


def test_a_list_of_bodies_is_still_sent_round_and_round(recorder):
    cell = closed_loop("127.0.0.1", recorder.server_port, "/", [{"text": "x"}], clients=2, duration_s=0.3)
    assert cell.sent > 1 and not cell.out_of_bodies and set(recorder.received) == {"x"}


def test_the_texts_prepared_cover_a_run_at_more_than_the_raw_engines_rate():
    from bench.__main__ import FULL

    need = texts_needed(FULL, "translate", 100.0)
    seconds = 4 * (2 + 8) + 8 * 8  # the closed cells' warm-ups and windows, the ladder's windows
    assert need >= 1.5 * 100.0 * seconds


def test_the_request_path_bench_sends_new_sentences_of_the_demo_words_enough_for_its_run():
    from bench.request_path import FULL, MAX_RATE, ROUTES, distinct_sentences, texts_needed
    from textserve.demo_phrases import TRANSLATIONS

    words = {w.strip(".!?,").lower() for phrase in TRANSLATIONS for w in phrase.split()}
    texts = distinct_sentences(5000)
    assert len(set(texts)) == 5000 and distinct_sentences(100) == texts[:100]
    assert all(text.endswith(".") and text.count(".") == 1 for text in texts)
    assert all({w.strip(".").lower() for w in text.split()} <= words for text in texts)
    seconds = len(ROUTES) * (1 + len(FULL["clients"]) * (FULL["window_s"] + FULL["warmup_s"]))
    assert texts_needed(FULL) >= MAX_RATE * seconds
