"""A closed-loop HTTP load: N clients, each sending its next request as soon as the previous one
is answered, over a kept-alive connection (as real clients do: http.client, one per thread).

Bounded in time and count. When the window closes, requests still in flight are cut off (their
sockets shut): their time so far is a lower bound of their latency, and they are counted as
`censored` and included in the percentiles at that bound, so a saturated system is never made to
look faster than it was by leaving its slowest requests out.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bench.bodies import Bodies, as_bodies


@dataclass
class CellResult:
    clients: int
    window_s: float
    completed: int  # 200s that finished inside the measuring window
    errors: int  # non-200 answers and broken connections (never expected)
    censored: int  # still in flight when the window closed
    throughput: float  # completed / window_s, requests per second
    sent: int  # bodies taken over warm-up and window (one per request answered, one per text sent again)
    answered: int  # 200s over warm-up and window: what the replicas' counters are compared with
    p50: float
    p95: float
    p99: float
    latency_is_lower_bound: bool  # a censored request reaches p99: the true percentiles are higher
    statuses: dict[str, int]
    out_of_bodies: bool = False  # the distinct bodies ran out before the window closed: not a measurement

    def as_dict(self) -> dict:
        return asdict(self)


class _Client(threading.Thread):
    def __init__(
        self,
        number: int,
        host: str,
        port: int,
        path: str,
        bodies: Bodies,
        state: _Run,
        think_s: float = 0.0,
    ):
        super().__init__(daemon=True, name=f"bench-client-{number}")
        self.number, self.host, self.port, self.path = number, host, port, path
        self.bodies, self.state, self.think_s = bodies, state, think_s
        self.conn: http.client.HTTPConnection | None = None
        self.in_flight_since: float | None = None

    def run(self) -> None:
        run, body = self.state, None
        while not run.stop.is_set() and run.take_ticket():
            # a new text after an answer; after an error the same one again, as a client retries
            # (nothing was decoded for it, and a server that sheds load fast does not use up texts)
            body = body or self.bodies.take()
            if body is None:
                break  # no distinct body left: the cell says so
            started = time.perf_counter()
            self.in_flight_since = started
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=run.timeout_s)
                self.conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                response = self.conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                self._close()
            finally:
                self.in_flight_since = None
            if run.stop.is_set() and status == 0:
                return  # cut off at the end of the window: counted as censored by the runner
            run.record(started, time.perf_counter(), status)
            if status == 200:
                body = None
            if self.think_s:
                run.stop.wait(self.think_s)  # a person reading the answer before the next request
        self._close()

    def cut_off(self) -> None:
        conn = self.conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _Run:
    def __init__(self, max_requests: int, timeout_s: float):
        self.stop = threading.Event()
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._tickets = max_requests
        self.records: list[tuple[float, float, int]] = []

    def take_ticket(self) -> bool:
        with self._lock:
            if self._tickets <= 0:
                return False
            self._tickets -= 1
            return True

    def record(self, started: float, ended: float, status: int) -> None:
        with self._lock:
            self.records.append((started, ended, status))

    def snapshot(self) -> list[tuple[float, float, int]]:
        with self._lock:
            return list(self.records)


def closed_loop(
    host: str,
    port: int,
    path: str,
    bodies: Sequence[dict] | Bodies,
    clients: int,
    duration_s: float,
    warmup_s: float = 0.0,
    max_requests: int = 20_000,
    think_s: float = 0.0,
) -> CellResult:
    """Drive `clients` closed-loop clients for `warmup_s + duration_s`; measure the last `duration_s`.
    Each waits `think_s` after an answer before its next request (0: at once). `bodies`: a list,
    sent round and round, or a Bodies (bench/bodies.py) whose next ones this run takes."""
    bodies = as_bodies(bodies)
    taken_before = bodies.taken
    run = _Run(max_requests, timeout_s=duration_s + warmup_s + 120)
    threads = [_Client(number, host, port, path, bodies, run, think_s) for number in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    window_start = began + warmup_s
    deadline = window_start + duration_s
    while time.perf_counter() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.05)
    window_end = min(time.perf_counter(), deadline)
    run.stop.set()
    in_flight = [t.in_flight_since for t in threads]
    censored = [window_end - since for since in in_flight if since is not None and since < window_end]
    for thread in threads:
        thread.cut_off()
    for thread in threads:
        thread.join(timeout=10)

    records = run.snapshot()
    in_window = [(s, e, st) for s, e, st in records if window_start <= e <= window_end]
    ok = [e - s for s, e, st in in_window if st == 200]
    statuses: dict[str, int] = {}
    for _, _, status in in_window:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    latencies = np.array(ok + censored) if ok or censored else np.array([float("nan")])
    p50, p95, p99 = (float(np.percentile(latencies, q)) for q in (50, 95, 99))
    window = max(window_end - window_start, 1e-9)
    return CellResult(
        clients=clients,
        window_s=round(window, 3),
        completed=len(ok),
        errors=sum(1 for *_, st in in_window if st != 200),
        censored=len(censored),
        throughput=len(ok) / window,
        sent=bodies.taken - taken_before,
        answered=sum(1 for *_, st in records if st == 200),
        p50=p50,
        p95=p95,
        p99=p99,
        latency_is_lower_bound=bool(censored) and max(censored) >= p99,
        statuses=statuses,
        out_of_bodies=bodies.spent,
    )


def post(port: int, path: str, body: bytes, timeout_s: float = 900) -> tuple[float, dict]:
    """One document over its own connection: (seconds, JSON answer); anything but 200 raises."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        started = time.perf_counter()
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        took = time.perf_counter() - started
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"POST {path}: HTTP {response.status}: {data[:500]!r}")
    return took, json.loads(data)


def post_at_once(port: int, path: str, bodies: list[bytes]) -> tuple[float, list[float]]:
    """`bodies` sent together, each on its own connection; (wall seconds until the last answer, each
    one's seconds)."""
    barrier = threading.Barrier(len(bodies))
    times: list[float] = []
    errors: list[BaseException] = []

    def one(body: bytes) -> None:
        barrier.wait()
        try:
            times.append(post(port, path, body)[0])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(body,), daemon=True) for body in bodies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return wall, times
