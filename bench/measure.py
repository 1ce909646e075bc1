"""One endpoint measured: closed-loop cells over the plan's client counts (throughput, latency,
batch size, memory), then the open-loop ladder (the highest Poisson rate sustained with p99 under
the workload's bound and nothing dropped)."""

from __future__ import annotations

import math
from dataclasses import asdict

from bench.cpu_split import CpuSplit
from bench.endpoints import Endpoint
from bench.load import closed_loop
from bench.metrics import counters_delta
from bench.open_loop import bracketed, open_loop, sustained_rate
from bench.replicas import MemorySampler, wait_until_idle

P99_BOUND_S = {"translate": 2.0, "summarize": 10.0}  # what an interactive caller accepts
OPEN_LOOP_START = 0.8  # the ladder starts at this share of the 32-client closed-loop throughput
OPEN_LOOP_FACTOR = 1.15  # up (or down) this much a step until the limit is bracketed, then bisected
WARM_REQUESTS = 4  # sent to each endpoint before its cells
RATE_MARGIN = 1.5  # texts are prepared for answers at this many times the raw engine's best rate


def texts_needed(plan: dict, workload: str, raw_texts_per_s: float) -> int:
    """Distinct texts one endpoint may send over its warm-up, closed-loop cells and open-loop ladder
    if it answered at RATE_MARGIN x the raw engine's best rate (no server can, see bench/guard.py);
    a run that still runs out says so in its cells instead of sending a text twice."""
    rate = RATE_MARGIN * raw_texts_per_s
    closed_s = len(plan["clients"]) * (plan["warmup"][workload] + plan["window"][workload])
    ladder_s = plan["open_steps"] * plan["open_window"][workload]
    in_flight = sum(plan["clients"])  # sent, not yet answered, as each window closes
    return 1 + WARM_REQUESTS + in_flight + math.ceil(rate * (closed_s + ladder_s))


def warm(endpoint: Endpoint) -> None:
    closed_loop(
        "127.0.0.1",
        endpoint.port,
        endpoint.path,
        endpoint.bodies,
        clients=2,
        duration_s=1,
        max_requests=WARM_REQUESTS,
    )
    wait_until_idle(endpoint.pids)


def measure_closed(endpoint: Endpoint, plan: dict, clients: list[int], progress) -> tuple[list[dict], dict]:
    """Every client count against `endpoint`: its cells and its peak memory per worker process."""
    memory = MemorySampler(endpoint.pids)
    memory.start()
    cells = []
    for count in clients:
        progress.set_postfix_str(f"{endpoint.system} {endpoint.workload} {count} clients")
        before = endpoint.counters() if endpoint.counters else None
        cpu = CpuSplit(endpoint.pids)
        result = closed_loop(
            "127.0.0.1",
            endpoint.port,
            endpoint.path,
            endpoint.bodies,
            clients=count,
            duration_s=plan["window"][endpoint.workload],
            warmup_s=plan["warmup"][endpoint.workload],
        )
        cores = cpu.stop()  # warm-up and window: the same load
        settle_s = wait_until_idle(endpoint.pids)  # what the cut-off requests left running
        avg_batch = 1.0 if endpoint.system == "reference" else None  # one generate per request
        decoded = None  # what the replicas did for this cell, cut-off requests included
        if before is not None:
            decoded = counters_delta(endpoint.counters(), before)
            calls = decoded["model_calls"]
            avg_batch = decoded["decoded_texts"] / calls if calls else None
        cells.append(
            {
                "system": endpoint.system,
                "backend": endpoint.backend,
                "workload": endpoint.workload,
                **asdict(result),
                "avg_batch": avg_batch,
                "decoded": decoded,
                "settle_s": round(settle_s, 1),
                "cpu_cores": cores,
            }
        )
        progress.update()
    memory.stop()
    return cells, {
        "system": endpoint.system,
        "workload": endpoint.workload,
        "replicas": len(endpoint.pids),
        "rss_mib": memory.per_replica_mib,
    }


def measure_open(endpoint: Endpoint, plan: dict, closed_rate: float, progress) -> dict:
    """The open-loop ladder from OPEN_LOOP_START x `closed_rate` (the 32-client throughput)."""
    workload, bound = endpoint.workload, P99_BOUND_S[endpoint.workload]
    window = plan["open_window"][workload]

    def run_at(rate: float):
        progress.set_postfix_str(f"{endpoint.system} {workload} open loop {rate:.1f}/s")
        result = open_loop(
            "127.0.0.1", endpoint.port, endpoint.path, endpoint.bodies, rate, window, grace_s=2 * bound
        )
        wait_until_idle(endpoint.pids)
        return result

    before = endpoint.counters() if endpoint.counters else None
    best, steps = sustained_rate(
        run_at,
        max(OPEN_LOOP_START * closed_rate, 0.05),
        bound,
        factor=OPEN_LOOP_FACTOR,
        max_steps=plan["open_steps"],
    )
    progress.update()
    return {
        "system": endpoint.system,
        "workload": workload,
        "answered": sum(step.completed for step in steps),
        "decoded": counters_delta(endpoint.counters(), before) if before is not None else None,
        "p99_bound_s": bound,
        "sustained_rate": best,
        "bracketed": bracketed(steps, best, bound),  # False: no step failed, the rate is a lower bound
        "steps": [asdict(step) for step in steps],
    }
