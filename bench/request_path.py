"""`make bench-path`: what the serving path costs per request, with models that cost almost nothing.

    python -m bench.request_path [--quick] [--variants configured,no-flags,...]

The demo T5s (a few milliseconds a batch) make the request path -- ingress, proxy, replica, the
router's extra hop through a DeploymentHandle -- most of each request's time. For each way of
running the cluster (VARIANTS: Serve's Python proxy or HAProxy, the dashboard on or off, Serve's
throughput flags) a fresh local cluster gets serve_config.yaml's three apps with the demo models,
and closed-loop clients post the seed's request to `/translate` and to the router's `/`, each a
sentence of the demo phrases' words no earlier request sent (a repeat would be a cache lookup, not
the path a new text takes). Writes bench/results/request-path-<date>.json and prints the table;
exits 1 where the guard (bench/guard.py) finds a cell answered from the cache.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from bench import report
from bench.bodies import Bodies
from bench.cluster import exit_driver, start_cluster, stop_cluster
from bench.cpu_split import CpuSplit, format_split
from bench.guard import decoding_reasons, exit_code
from bench.load import closed_loop
from bench.metrics import counters_delta, decoding_counters
from textserve.demo_phrases import TRANSLATIONS
from textserve.inprocess import deploy_app
from textserve.run_config import DEFAULT_CONFIG, derive_config

RESULTS_DIR = Path(__file__).resolve().parent / "results"
APPS = ("translation", "summarization", "router")  # the router reaches both leaves by handle
ROUTES = ("/translate", "/")  # the translation app itself, and through the router


@dataclass(frozen=True)
class Variant:
    name: str
    describe: str
    ingress: str = "haproxy"
    dashboard: bool = False
    env: dict[str, str] = field(default_factory=dict)


VARIANTS = {
    v.name: v
    for v in (
        Variant("configured", "as make run and the manifests run it: HAProxy, Serve's throughput flags"),
        Variant(
            "no-flags",
            "the same without Serve's throughput flags (RAY_SERVE_THROUGHPUT_OPTIMIZED=0)",
            env={"RAY_SERVE_THROUGHPUT_OPTIMIZED": "0"},
        ),
        Variant(
            "grpc-only",
            "no flags but handle calls over gRPC (RAY_SERVE_USE_GRPC_BY_DEFAULT=1)",
            env={"RAY_SERVE_THROUGHPUT_OPTIMIZED": "0", "RAY_SERVE_USE_GRPC_BY_DEFAULT": "1"},
        ),
        Variant(
            "log-buffer",
            "configured + Serve's request-path log buffer (RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE=1000)",
            env={"RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1000"},
        ),
        Variant("dashboard", "configured + Ray's dashboard, as make run starts it", dashboard=True),
        Variant("proxy", "Serve's Python proxy and defaults (the seed guide's stack)", ingress="proxy"),
    )
}
FULL = {"clients": [1, 32], "window_s": 6, "warmup_s": 2}
QUICK = {"clients": [32], "window_s": 3, "warmup_s": 1}
WARM_S = 1
MAX_RATE = 2000  # requests/s no variant reaches (820 seen at 32 clients): the texts prepared cover it


def distinct_sentences(count: int, seed: int = 5) -> list[str]:
    """`count` distinct sentences of 4-8 words drawn from the demo phrases: the demo model reads
    each (its vocabulary), and decodes each anew."""
    words = sorted({w.strip(".!?,").lower() for phrase in TRANSLATIONS for w in phrase.split()})
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < count:
        text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 8))).capitalize() + "."
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def texts_needed(plan: dict) -> int:
    per_route = WARM_S + len(plan["clients"]) * (plan["window_s"] + plan["warmup_s"])
    return MAX_RATE * len(ROUTES) * per_route


def deploy_demo_apps() -> None:
    """serve_config.yaml's three apps, with the demo models in place of the real ones."""
    config, _ = derive_config(yaml.safe_load(DEFAULT_CONFIG.read_text()), demo="always")
    for app in config["applications"]:
        if app["name"] in APPS:
            deploy_app(app)


def measure_variant(variant: Variant, plan: dict) -> list[dict]:
    """Every route and client count on a fresh cluster run the variant's way; each cell with what
    the translation app's replicas decoded for it (both routes end there)."""
    bodies = Bodies([{"text": text} for text in distinct_sentences(texts_needed(plan))])
    port, metrics_url = start_cluster(variant.ingress, dashboard=variant.dashboard, env=variant.env)
    try:
        deploy_demo_apps()
        cells = []
        for route in ROUTES:
            closed_loop("127.0.0.1", port, route, bodies, clients=4, duration_s=WARM_S)
            for clients in plan["clients"]:
                before = decoding_counters(metrics_url, "translation")
                cpu = CpuSplit([])  # every process by its name: replicas, HAProxy, Ray's own
                result = closed_loop(
                    "127.0.0.1",
                    port,
                    route,
                    bodies,
                    clients=clients,
                    duration_s=plan["window_s"],
                    warmup_s=plan["warmup_s"],
                )
                cores = cpu.stop()
                decoded = counters_delta(decoding_counters(metrics_url, "translation"), before)
                cell = {"variant": variant.name, "route": route, **asdict(result), "cpu_cores": cores}
                cell["decoded"] = decoded
                reasons = ["ran out of distinct texts"] if result.out_of_bodies else []
                cell["invalid"] = reasons + decoding_reasons(decoded, result.answered)
                cells.append(cell)
        return cells
    finally:
        stop_cluster()


def table(results: dict) -> str:
    lines = [report.machine_line(results), ""]
    header = f"{'variant':<12}{'route':<12}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}"
    lines.append(header + f"{'hits':>6}")
    for c in results["cells"]:
        hits = c["decoded"]["cache_hits"] if c.get("decoded") else None
        lines.append(
            f"{c['variant']:<12}{c['route']:<12}{c['clients']:>8}{c['throughput']:>9.1f}"
            f"{c['p50'] * 1000:>9.1f}{c['p95'] * 1000:>9.1f}{c['errors']:>8}"
            f"{report.format_figure(hits, '.0f'):>6}" + ("  INVALID" if c.get("invalid") else "")
        )
    lines.append(
        "\nCPU during the 32-client cells, cores (clients: the bench's process, its client threads "
        "and Ray driver):"
    )
    for c in results["cells"]:
        if c["clients"] == 32 and c.get("cpu_cores"):
            split = format_split(c["cpu_cores"])
            lines.append(f"  {c['variant']:<12}{c['route']:<12}{split}")
    lines.append("")
    lines += [f"{name}: {describe}" for name, describe in results["variants"].items()]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.request_path", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 clients, short windows: a smoke run")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"of {','.join(VARIANTS)}")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    variants = [VARIANTS[name] for name in args.variants.split(",") if name]
    started = time.monotonic()
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": report.machine(),
        "command": "python -m bench.request_path " + " ".join(argv if argv is not None else sys.argv[1:]),
        "plan": plan,
        "variants": {v.name: v.describe for v in variants},
        "cells": [],
    }
    for variant in variants:
        print(f"{variant.name}: {variant.describe}", file=sys.stderr)
        results["cells"] += measure_variant(variant, plan)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"request-path-{results['date']}" + ("-quick" if args.quick else "")
    path = args.out / f"{stem}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwhole run {results['elapsed_s']:.0f} s; wrote {path}")
    problems = [
        f"{c['variant']} {c['route']} {c['clients']} clients: {'; '.join(c['invalid'])}"
        for c in results["cells"]
        if c.get("invalid")
    ]
    return exit_code(problems, "did not take a new text's path (answered from the cache)")


if __name__ == "__main__":
    exit_driver(main())
