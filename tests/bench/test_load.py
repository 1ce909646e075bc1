"""The benchmark's load generator against a local HTTP server whose service time we set: it counts
what finished in the window, stops on time however slow the server is, and reports requests cut off
in flight as lower bounds instead of dropping them."""

import threading
import time

import pytest

from bench.load import closed_loop
from bench.open_loop import OpenLoopResult, bracketed, open_loop, sustained_rate
from bench.stub_server import StubAnswer, StubServer


@pytest.fixture
def server():
    httpd = StubServer(("127.0.0.1", 0), StubAnswer)
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


class _OneAtATime(StubAnswer):
    """Serves one request at a time: capacity 1 / delay_s requests per second."""

    def do_POST(self):
        with self.server.lock:
            super().do_POST()


@pytest.fixture
def serial_server(server):
    server.RequestHandlerClass = _OneAtATime
    server.lock = threading.Lock()
    return server


def test_open_loop_below_capacity_answers_every_arrival_at_the_service_time(server):
    server.delay_s = 0.05
    result = open_loop("127.0.0.1", server.server_port, "/", [{"text": "x"}], rate=20, duration_s=2)
    assert 25 <= result.offered <= 60  # Poisson: about 40
    assert result.dropped == 0 and result.completed == result.offered
    assert 0.05 <= result.p50 < 0.1
    assert result.sustained(p99_bound_s=0.5)


def test_open_loop_above_capacity_counts_the_wait_for_the_server_in_latency(serial_server):
    """Arrivals at twice what the server can do: the queue grows, and latencies measured from each
    arrival (not from when it was sent) grow with it."""
    serial_server.delay_s = 0.05  # 20 per second at most
    result = open_loop("127.0.0.1", serial_server.server_port, "/", [{"text": "x"}], rate=40, duration_s=2)
    assert result.p99 > 0.5
    assert not result.sustained(p99_bound_s=0.5)
    # answers come at the server's 20/s against 40 arrivals/s: it is not keeping up, and a bound
    # as long as the window would not have caught it
    assert result.keeping_up < 0.75 and not result.sustained(p99_bound_s=100)


def test_open_loop_drops_what_is_unanswered_after_the_grace(serial_server):
    serial_server.delay_s = 0.3
    result = open_loop(
        "127.0.0.1", serial_server.server_port, "/", [{"text": "x"}], rate=20, duration_s=1, grace_s=0.5
    )
    assert result.dropped > 0 and result.statuses.get("unanswered", 0) > 0
    assert not result.sustained(p99_bound_s=100)


def test_the_sustained_rate_is_found_below_the_servers_capacity(serial_server):
    serial_server.delay_s = 0.05  # capacity 20 per second

    def run_at(rate):
        return open_loop("127.0.0.1", serial_server.server_port, "/", [{"text": "x"}], rate, duration_s=2)

    best, steps = sustained_rate(run_at, start_rate=6, p99_bound_s=0.5, factor=1.5)
    # near capacity a 2 s window barely builds a queue (up to ~1.25x it passes); 1.5x past it,
    # latencies climb
    assert best is not None and 6 <= best <= 26, [(s.rate, s.p99) for s in steps]
    assert bracketed(steps, best, 0.5) and max(s.rate for s in steps) > 20


def fake_step(rate: float, capacity: float) -> OpenLoopResult:
    """An open-loop step of a server that keeps p99 at 0.1 s up to `capacity`, 9 s past it."""
    p99 = 0.1 if rate <= capacity else 9.0
    return OpenLoopResult(rate, 1.0, int(rate) + 1, int(rate) + 1, 0, rate, 0.1, p99, p99, {"200": 1})


@pytest.mark.parametrize("start", [2.0, 10.0, 40.0])
def test_the_ladder_brackets_the_limit_from_above_or_below_then_bisects(start):
    best, steps = sustained_rate(lambda r: fake_step(r, 12.0), start, p99_bound_s=2, factor=1.5, max_steps=12)
    rates = [s.rate for s in steps]
    assert best is not None and 12.0 / 1.5**0.5 <= best <= 12.0, rates
    assert bracketed(steps, best, 2) and any(r > 12.0 for r in rates)
    assert rates[-1] != rates[-2]  # the last step bisected the bracket


def test_a_ladder_that_never_fails_says_its_rate_is_a_lower_bound():
    best, steps = sustained_rate(lambda r: fake_step(r, 1e9), 1.0, p99_bound_s=2, factor=2, max_steps=4)
    assert best == 8.0 and len(steps) == 4 and not bracketed(steps, best, 2)
