"""The benchmark's load generator against a local HTTP server whose service time we set: it counts
what finished in the window, stops on time however slow the server is, and reports requests cut off
in flight as lower bounds instead of dropping them."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import closed_loop


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients use
    wbufsize = 1 << 16  # one write per response (else Nagle + delayed ACK add 40 ms)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.server.delay_s)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    httpd.handle_error = lambda request, address: None  # clients cut off at the window's end
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_a_fast_server_is_measured_at_its_rate(server):
    server.delay_s = 0.05
    result = closed_loop("127.0.0.1", server.server_port, "/", [{"text": "x"}], clients=4, duration_s=2)
    # 4 clients x 1 request per ~50 ms: about 80 requests per second, none lost
    assert 50 < result.throughput < 85, result
    assert result.errors == 0 and result.statuses == {"200": result.completed}
    assert 0.05 <= result.p50 < 0.1 and not result.latency_is_lower_bound


def test_a_stuck_server_is_cut_off_at_the_window_and_reported_as_a_lower_bound(server):
    server.delay_s = 30
    started = time.monotonic()
    result = closed_loop("127.0.0.1", server.server_port, "/", [{"text": "x"}], clients=3, duration_s=1)
    assert time.monotonic() - started < 5  # bounded in time, whatever the server does
    assert result.completed == 0 and result.throughput == 0
    assert result.censored == 3 and result.latency_is_lower_bound
    assert result.p99 >= 0.9  # each in-flight request counted at the time it had waited


def test_the_request_count_bounds_a_run(server):
    server.delay_s = 0.0
    started = time.monotonic()
    result = closed_loop(
        "127.0.0.1", server.server_port, "/", [{"text": "x"}], clients=2, duration_s=30, max_requests=10
    )
    assert time.monotonic() - started < 10
    assert result.completed + result.errors <= 10
