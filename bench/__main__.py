"""`make bench`: the seed guide's design against our apps, on one local Ray cluster, over HTTP.

    python -m bench [--quick] [--backends transformers,ctranslate2] [--clients 1,8,32,64]

1. builds the t5-small-shaped model (random weights) and the two workloads (bench/models.py);
2. measures the raw engine ceiling of each backend without Ray (bench/raw.py);
3. starts a local Ray cluster (its own; stopped at the end), and for each system in turn --
   the reference, then our apps with each backend -- deploys it, drives each workload with 1, 8,
   32 and 64 closed-loop clients (bench/load.py), reads the batch sizes the replicas ran from
   their metrics and their peak resident memory, and deletes it;
4. prints the table and the ratios, writes bench/results/<date>.json and .png, and ends with one
   line: `translate_x=... summarize_x=... efficiency=... backend=...` (32 clients, the backend
   serve_config.yaml configures).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from bench import report
from bench.cluster import start_cluster, stop_cluster
from bench.load import closed_loop
from bench.models import Workload, ensure_model, workloads
from bench.raw import ceiling
from bench.replicas import MemorySampler, replica_pids, wait_until_idle
from bench.systems import System, configured_backend, configured_batch_size, request_bodies
from textserve.prometheus import metric_total, settled

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# measuring window and warm-up per cell, seconds; summarization requests take seconds each
FULL = {
    "clients": [1, 8, 32, 64],
    "window": {"translate": 10, "summarize": 16},
    "warmup": {"translate": 3, "summarize": 4},
    "raw_seconds": {"translate": 6, "summarize": 10},
}
QUICK = {
    "clients": [1, 32],
    "window": {"translate": 5, "summarize": 8},
    "warmup": {"translate": 1, "summarize": 2},
    "raw_seconds": {"translate": 3, "summarize": 4},
}
RAW_PROCESSES = 2  # one per replica


def batch_totals(metrics_url: str, app: str) -> tuple[float, float]:
    """(model calls, texts in them) summed over `app`'s replicas, from Ray's Prometheus endpoint."""
    return (
        metric_total(metrics_url, "ray_textserve_model_calls_total", application=app),
        metric_total(metrics_url, "ray_textserve_batched_texts_total", application=app),
    )


def settled_totals(metrics_url: str, app: str, timeout_s: float = 8) -> tuple[float, float]:
    """The totals once they stop moving (metrics are reported every second)."""
    return settled(lambda: batch_totals(metrics_url, app), timeout_s)


def measure_workload(
    system: System, name: str, load: Workload, plan: dict, port: int, metrics_url: str, progress
) -> tuple[list[dict], dict]:
    """Every client count against one deployed workload of `system`: its cells and its memory."""
    target = system.target(name)
    pids = replica_pids(target.app, target.deployment)
    bodies = request_bodies(load)
    closed_loop("127.0.0.1", port, target.path, bodies, clients=2, duration_s=1, max_requests=4)  # warm
    wait_until_idle(pids)
    memory = MemorySampler(pids)
    memory.start()
    cells = []
    for clients in plan["clients"]:
        progress.set_postfix_str(f"{system.name} {name} {clients} clients")
        before = settled_totals(metrics_url, target.app)
        result = closed_loop(
            "127.0.0.1",
            port,
            target.path,
            bodies,
            clients=clients,
            duration_s=plan["window"][name],
            warmup_s=plan["warmup"][name],
        )
        settle_s = wait_until_idle(pids)  # what the cut-off requests left running
        after = settled_totals(metrics_url, target.app)
        calls, texts = after[0] - before[0], after[1] - before[1]
        if system.name == "reference":  # one generate per request, one text each
            calls, texts = 1, 1
        cells.append(
            {
                "system": system.name,
                "backend": system.backend,
                "workload": name,
                **asdict(result),
                "avg_batch": texts / calls if calls else None,
                "settle_s": round(settle_s, 1),
            }
        )
        progress.update()
    memory.stop()
    return cells, {
        "system": system.name,
        "workload": name,
        "replicas": len(pids),
        "rss_mib": memory.per_replica_mib,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 and 32 clients, short windows: a smoke run (ratios not comparable)",
    )
    parser.add_argument("--backends", default="transformers,ctranslate2")
    parser.add_argument("--workloads", default="translate,summarize")
    parser.add_argument("--clients", help="comma-separated client counts (default 1,8,32,64)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    if args.clients:
        plan["clients"] = [int(c) for c in args.clients.split(",")]
    backends = [b for b in args.backends.split(",") if b]
    names = [w for w in args.workloads.split(",") if w]
    systems = [System("reference", "transformers")] + [System(f"ours-{b}", b) for b in backends]
    started = time.monotonic()

    model_dir = ensure_model()
    loads = {name: load for name, load in workloads(model_dir).items() if name in names}
    if "ctranslate2" in backends:  # convert once, before anything is timed
        from apps.common.engines.ctranslate2_conversion import converted_model_dir

        converted_model_dir(model_dir)

    cells_total = len(systems) * len(loads) * len(plan["clients"])
    progress = tqdm(
        total=len(backends) * len(loads) + cells_total,
        desc="bench",
        unit="step",
        file=sys.stderr,
        dynamic_ncols=True,
    )
    results: dict = {
        "date": datetime.date.today().isoformat(),
        "machine": report.machine(),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "configured_backend": configured_backend(),
        "client": "closed loop, one thread and one kept-alive http.client connection per client",
        "plan": {
            **plan,
            "systems": [s.name for s in systems],
            "backends": backends,
            "workloads": names,
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
        "raw": [],
        "cells": [],
        "memory": [],
    }

    for backend in backends:
        for name in loads:
            progress.set_postfix_str(f"raw {backend} {name}")
            batch = configured_batch_size(name)  # what our replicas run when full
            results["raw"].append(
                ceiling(str(model_dir), backend, name, batch, plan["raw_seconds"][name], RAW_PROCESSES)
            )
            progress.update()

    port, metrics_url = start_cluster()
    try:
        for system in systems:
            progress.set_postfix_str(f"deploying {system.name}")
            system.deploy(model_dir, loads)
            for name, load in loads.items():
                cells, memory = measure_workload(system, name, load, plan, port, metrics_url, progress)
                results["cells"] += cells
                results["memory"].append(memory)
            system.delete(loads)
    finally:
        progress.close()
        stop_cluster()

    report.derive(results)
    results["summary"] = report.summary(results)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    stem = results["date"] + ("-quick" if args.quick else "")
    json_path, png_path = report.write(results, args.out, stem)
    print(report.table(results))
    print(f"\nmachine: {results['machine']}; whole run {results['elapsed_s']:.0f} s")
    print(f"wrote {json_path}" + (f" and {png_path}" if png_path else ""))
    print(report.summary_line(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
