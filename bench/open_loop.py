"""An open-loop HTTP load: Poisson arrivals at a set rate, each sent as it arrives (what real
traffic does), timed from its arrival; and the ladder of rates that finds the highest one a server
sustains with p99 under a bound and nothing dropped."""

from __future__ import annotations

import http.client
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bench.bodies import Bodies, as_bodies

KEEPING_UP = 0.9  # a sustained rate is answered at >= this share of its arrivals


@dataclass
class OpenLoopResult:
    rate: float  # offered arrivals per second (Poisson)
    window_s: float
    offered: int  # arrivals scheduled in the window
    completed: int  # answered 200
    dropped: int  # anything else: an error status, a broken connection, no answer by the end
    throughput: float  # completed / window_s
    p50: float  # latency from the scheduled arrival (client-side waits included) to the answer
    p95: float
    p99: float
    statuses: dict[str, int]
    # answers over arrivals in the window's last three quarters: ~1 while the server keeps up,
    # its capacity over the rate when it does not (a queue can grow for a whole window with p99
    # still under a bound as long as the window)
    keeping_up: float = 1.0
    out_of_bodies: bool = False  # fewer distinct bodies were left than arrivals: not a measurement

    def sustained(self, p99_bound_s: float) -> bool:
        return (
            not self.out_of_bodies
            and self.dropped == 0
            and self.completed > 0
            and self.p99 <= p99_bound_s
            and self.keeping_up >= KEEPING_UP
        )


def open_loop(
    host: str,
    port: int,
    path: str,
    bodies: Sequence[dict] | Bodies,
    rate: float,
    duration_s: float,
    grace_s: float = 30.0,
    max_in_flight: int = 256,
    seed: int = 0,
) -> OpenLoopResult:
    """Poisson arrivals at `rate` per second for `duration_s`, each sent as it arrives on a free
    kept-alive connection (up to `max_in_flight` at once; a later arrival waits for one, and its
    wait counts in its latency: no coordinated omission). Requests still unanswered `grace_s` after
    the window are dropped. `bodies`: a list, sent round and round, or a Bodies (bench/bodies.py)
    whose next ones the arrivals take; where too few are left, the arrivals beyond are never sent
    and the result says `out_of_bodies`."""
    import queue
    import random

    rng = random.Random(seed)
    arrivals, t = [], rng.expovariate(rate)
    while t < duration_s:
        arrivals.append(t)
        t += rng.expovariate(rate)
    bodies = as_bodies(bodies)
    encoded = bodies.take_many(len(arrivals))
    out_of_bodies = len(encoded) < len(arrivals)
    arrivals = arrivals[: len(encoded)]
    jobs: queue.Queue = queue.Queue()
    results: list[tuple[float, float, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker() -> None:
        conn = None
        while True:
            job = jobs.get()
            if job is None:
                break
            scheduled, body = job
            status = 0
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=duration_s + grace_s)
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
            if not stop.is_set():
                with lock:
                    results.append((scheduled, time.perf_counter(), status))
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max_in_flight)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    for number, offset in enumerate(arrivals):
        delay = began + offset - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put((began + offset, encoded[number]))
    deadline = began + duration_s + grace_s
    while time.perf_counter() < deadline:
        with lock:
            if len(results) >= len(arrivals):
                break
        time.sleep(0.05)
    stop.set()
    for _ in threads:
        jobs.put(None)
    with lock:
        done = list(results)
    ok = [end - scheduled for scheduled, end, status in done if status == 200]
    steady = (began + duration_s / 4, began + duration_s)
    answered = sum(1 for _, end, status in done if status == 200 and steady[0] <= end <= steady[1])
    arrived = sum(1 for offset in arrivals if steady[0] <= began + offset <= steady[1])
    statuses: dict[str, int] = {}
    for _, _, status in done:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    unanswered = len(arrivals) - len(done)
    if unanswered:
        statuses["unanswered"] = unanswered
    # an unanswered request's latency is at least the time it was given: count it at that bound
    latencies = np.array(ok + [duration_s + grace_s] * unanswered) if ok or unanswered else np.array([np.nan])
    p50, p95, p99 = (float(np.percentile(latencies, q)) for q in (50, 95, 99))
    return OpenLoopResult(
        rate=rate,
        window_s=duration_s,
        offered=len(arrivals),
        completed=len(ok),
        dropped=len(arrivals) - len(ok),
        throughput=len(ok) / duration_s,
        p50=p50,
        p95=p95,
        p99=p99,
        statuses=statuses,
        keeping_up=round(answered / arrived, 3) if arrived else 1.0,
        out_of_bodies=out_of_bodies,
    )


def sustained_rate(
    run_at: Callable[[float], OpenLoopResult],
    start_rate: float,
    p99_bound_s: float,
    factor: float = 1.2,
    max_steps: int = 8,
    refine: int = 1,
) -> tuple[float | None, list[OpenLoopResult]]:
    """Step from `start_rate` (x`factor` up while sustained, /`factor` down while not: p99 over the
    bound or anything dropped) until a sustained rate and a higher unsustained one bracket the
    limit, then bisect the bracket `refine` times (geometric means); at most `max_steps` runs.
    Returns the highest sustained rate (None if none was) and every step; if no step failed, the
    rate is a lower bound (`bracketed` tells)."""
    steps: list[OpenLoopResult] = []
    low = high = None  # the highest rate sustained, the lowest not

    def step(rate: float) -> None:
        nonlocal low, high
        result = run_at(rate)
        steps.append(result)
        if result.sustained(p99_bound_s):
            low = rate if low is None else max(low, rate)
        else:
            high = rate if high is None else min(high, rate)

    rate = start_rate
    step(rate)
    while (low is None or high is None) and len(steps) < max_steps:
        rate = rate * factor if high is None else rate / factor
        step(rate)
    for _ in range(refine):
        if low is None or high is None or len(steps) >= max_steps:
            break
        step(math.sqrt(low * high))
    return low, steps


def bracketed(steps: list[OpenLoopResult], rate: float | None, p99_bound_s: float) -> bool:
    """Whether a step above `rate` failed: the ladder found the limit, not just ran out of steps."""
    return any(not s.sustained(p99_bound_s) and (rate is None or s.rate > rate) for s in steps)
