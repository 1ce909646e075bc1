"""`make bench`: the seed guide's design, our apps and the peers a user would pick instead
(BentoML, PyTriton), one after the other on this machine, over HTTP, on the same model.

    python -m bench [--quick] [--backends ctranslate2] [--peers bentoml,pytriton] [--clients 1,8,32,64]

1. builds the t5-small-shaped model (random weights), its CTranslate2 conversion and the two
   workloads (bench/models.py), and each peer's own venv (bench/peers/);
2. measures the raw engine ceiling of each backend without a server (bench/raw.py), then makes as
   many distinct texts as the run may send (bench/workload_texts.py): no request repeats a text;
3. runs each peer's server on the converted model (bench/peers/), then starts a local Ray cluster
   and deploys the reference and our apps in turn; each system gets closed-loop clients (1, 8, 32,
   64; the reference 1 and 32) and an open-loop Poisson ladder (bench/measure.py); batch sizes,
   decoded texts and cache hits come from our replicas' metrics, memory from psutil;
4. marks what did not measure decoding (bench/guard.py), prints the table, writes
   bench/results/<date>.json and a plot per workload, and ends with one line: `translate_x=..
   summarize_x=.. efficiency=.. vs_best_peer=.. open_loop_vs_best_peer=.. backend=..`. Exits 1 if
   the guard refused a figure (named on stderr), else 0.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from bench import guard, report
from bench.cluster import exit_driver, start_cluster, stop_cluster
from bench.endpoints import peer_endpoint, serve_endpoint
from bench.measure import measure_closed, measure_open, texts_needed, warm
from bench.models import Workload, ensure_model, workloads
from bench.peers.catalog import PEERS, peer_spec
from bench.raw import ceiling
from bench.systems import System, configured_backend, configured_batch_size, full_batch_size

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# measuring windows and warm-ups per cell, seconds; summarization requests take seconds each
FULL = {
    "clients": [1, 8, 32, 64],
    "reference_clients": [1, 32],  # the reference is slow: its ratios need only these
    "window": {"translate": 8, "summarize": 12},
    "warmup": {"translate": 2, "summarize": 3},
    "open_window": {"translate": 8, "summarize": 12},
    "open_steps": 8,  # at most; the ladder stops once it has bracketed and bisected the limit
    "raw_seconds": {"translate": 6, "summarize": 10},
}
QUICK = {
    "clients": [1, 32],
    "reference_clients": [1, 32],
    "window": {"translate": 2, "summarize": 4},
    "warmup": {"translate": 1, "summarize": 2},
    "open_window": {"translate": 3, "summarize": 4},
    "open_steps": 2,
    "raw_seconds": {"translate": 2, "summarize": 3},
}
RAW_PROCESSES = 2  # one per replica
# every largest batch a system here forms (PyTriton 16; BentoML and our translation 32): the raw
# engine's best over these is a rate no server can beat (bench/guard.py)
GUARD_BATCHES = (16, 32)
FALLBACK_RATE = {"translate": 500.0, "summarize": 50.0}  # texts/s to prepare for with no raw figure


def measure(endpoint, plan: dict, clients: list[int], results: dict, progress, open_loop: bool) -> None:
    """Closed-loop cells, memory and (unless the reference) the open-loop ladder of one endpoint."""
    warm(endpoint)
    cells, memory = measure_closed(endpoint, plan, clients, progress)
    results["cells"] += cells
    results["memory"].append(memory)
    if open_loop:
        closed = next((c for c in cells if c["clients"] == report.SUMMARY_CLIENTS), cells[-1])
        results["open_loop"].append(measure_open(endpoint, plan, closed["throughput"], progress))


def raw_batches(workload: str, clients: list[int]) -> dict[int, list[int]]:
    """Batch sizes to measure the raw engine at, each with the client counts (32 and up) whose
    serving efficiency it is the ceiling for: the batch our replicas can form with that many; and
    GUARD_BATCHES, whose best rate no server can beat (bench/guard.py)."""
    full = [n for n in clients if n >= report.SUMMARY_CLIENTS]
    batches: dict[int, list[int]] = {}
    for n in full:
        batches.setdefault(full_batch_size(workload, n), []).append(n)
    if not full:
        batches[configured_batch_size(workload)] = []
    for batch in GUARD_BATCHES:
        batches.setdefault(batch, [])
    return batches


def distinct_texts(model_dir: Path, loads: dict[str, Workload], plan: dict, results: dict) -> dict:
    """`loads` with as many distinct texts as any endpoint of this run may send (measure.texts_needed,
    from the raw engine's best rate): no request sends a text an earlier one sent."""
    counts = {}
    for name in loads:
        raws = [guard.highest_raw(results, backend, name) for backend in results["plan"]["backends"]]
        counts[name] = texts_needed(plan, name, max(filter(None, raws), default=FALLBACK_RATE[name]))
    made = workloads(model_dir, counts)
    for name in loads:
        results["workloads"][name]["texts"] = counts[name]
    return {name: made[name] for name in loads}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 and 32 clients, short windows: a smoke run (ratios not comparable)",
    )
    parser.add_argument("--backends", default="ctranslate2", help="ours: transformers,ctranslate2")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"of {','.join(PEERS)}; empty: none")
    parser.add_argument("--workloads", default="translate,summarize")
    parser.add_argument("--clients", help="comma-separated client counts (default 1,8,32,64)")
    parser.add_argument("--no-open-loop", action="store_true", help="closed-loop clients only")
    parser.add_argument(
        "--ingress",
        default="haproxy",
        help="our apps' ingress: haproxy (as make run) and/or proxy (Serve's Python proxy, as the "
        "reference always runs); the first is `ours-<backend>`, others `ours-<backend>-<ingress>`",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def new_results(argv, plan: dict, systems: list[str], backends: list[str], loads: dict) -> dict:
    return {
        "date": datetime.date.today().isoformat(),
        "machine": report.machine(),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "configured_backend": configured_backend(),
        "client": "closed loop, one thread and one kept-alive http.client connection per client; "
        "open loop, Poisson arrivals on a pool of kept-alive connections",
        "plan": {
            **plan,
            "systems": systems,
            "backends": backends,
            "workloads": list(loads),
            "raw_processes": RAW_PROCESSES,
        },
        "workloads": {
            name: {
                "input_tokens": load.input_tokens,
                "output_tokens": load.output_tokens,
                "texts": len(load.texts),
            }
            for name, load in loads.items()
        },
        "peers": {},
        "raw": [],
        "cells": [],
        "memory": [],
        "open_loop": [],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    if args.clients:
        plan["clients"] = [int(c) for c in args.clients.split(",")]
    backends = [b for b in args.backends.split(",") if b]
    peers = [peer_spec(name) for name in args.peers.split(",") if name]
    names = [w for w in args.workloads.split(",") if w]
    ingresses = [i for i in args.ingress.split(",") if i]
    # (ingress, systems on a cluster with it): the reference is the seed's stack, Serve's proxy
    clusters: dict[str, list[System]] = {"proxy": [System("reference", "transformers")]}
    for number, ingress in enumerate(ingresses):
        suffix = "" if number == 0 else f"-{ingress}"
        clusters.setdefault(ingress, []).extend(System(f"ours-{b}{suffix}", b) for b in backends)
    serve_systems = [system for systems in clusters.values() for system in systems]
    open_loop = not args.no_open_loop
    started = time.monotonic()

    model_dir = ensure_model()
    loads = {name: load for name, load in workloads(model_dir).items() if name in names}  # their shapes
    from apps.common.engines.ctranslate2_conversion import converted_model_dir

    converted = converted_model_dir(model_dir)  # once, before anything is timed (peers serve it too)
    for spec in peers:
        spec.python()  # each peer's own venv, installed before anything is timed

    systems = [s.name for s in serve_systems] + [p.name for p in peers]
    results = new_results(argv, plan, systems, backends, loads)
    results["peers"] = {p.name: {"version": p.version, "settings": p.describe} for p in peers}
    results["ingress"] = {s.name: ingress for ingress, systems in clusters.items() for s in systems}
    per_system = len(plan["clients"]) + int(open_loop)
    progress = tqdm(
        total=len(loads)
        * (
            len(backends)
            + (len(peers) + len(serve_systems) - 1) * per_system
            + len(plan["reference_clients"])
        ),
        desc="bench",
        unit="step",
        file=sys.stderr,
        dynamic_ncols=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as log_dir:
        try:
            for backend in backends:
                for name in loads:
                    progress.set_postfix_str(f"raw {backend} {name}")
                    for batch, clients in raw_batches(name, plan["clients"]).items():
                        raw = ceiling(
                            str(model_dir), backend, name, batch, plan["raw_seconds"][name], RAW_PROCESSES
                        )
                        results["raw"].append({**raw, "clients": clients})
                    progress.update()
            loads = distinct_texts(model_dir, loads, plan, results)
            # peers first, while no Ray cluster runs beside them
            for spec in peers:
                for name, load in loads.items():
                    progress.set_postfix_str(f"starting {spec.name} {name}")
                    with peer_endpoint(spec, model_dir, converted, load, Path(log_dir)) as endpoint:
                        measure(endpoint, plan, plan["clients"], results, progress, open_loop)
            for ingress, systems in clusters.items():
                port, metrics_url = start_cluster(ingress)
                try:
                    for system in systems:
                        progress.set_postfix_str(f"deploying {system.name}")
                        system.deploy(model_dir, loads)
                        reference = system.name == "reference"
                        clients = plan["reference_clients"] if reference else plan["clients"]
                        for name, load in loads.items():
                            endpoint = serve_endpoint(system, name, load, port, metrics_url)
                            measure(endpoint, plan, clients, results, progress, open_loop and not reference)
                        system.delete(loads)
                finally:
                    stop_cluster()
        finally:
            progress.close()

    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return conclude(results, args.out, results["date"] + ("-quick" if args.quick else ""))


def conclude(results: dict, out_dir: Path, stem: str) -> int:
    """The guard, the ratios and the summary; the JSON and plots written, the table and the summary
    line printed. Returns the exit code: 1 if the guard refused any figure (named on stderr)."""
    problems = guard.validate(results)
    report.derive(results)
    results["summary"] = report.summary(results)
    json_path, plots = report.write(results, out_dir, stem)
    print(report.table(results))
    print(f"\nwhole run {results.get('elapsed_s', 0):.0f} s")
    print(f"wrote {json_path}" + "".join(f", {p}" for p in plots))
    print(report.summary_line(results))
    return guard.exit_code(problems, "did not measure decoding, left out of the summary line")


if __name__ == "__main__":
    exit_driver(main())
