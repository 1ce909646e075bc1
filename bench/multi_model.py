"""`python -m bench.multi_model`: what multiplexing costs. The same traffic, spread over four
language pairs, served by one model, then by four models on 2 replicas that hold 2 each.

    python -m bench.multi_model [--quick] [--clients N] [--seconds S] [--out DIR]

1. builds the benchmark's t5-small-shaped model (bench/models.py) and three more model ids of it
   (hard-linked copies: each a model of its own to the replicas, converted once) and the translate
   workload's 30-token sentences;
2. starts a local 2-CPU Ray cluster of its own and deploys serve_config.yaml's translation app
   twice, 2 replicas x 0.2 CPU each, the cache off, output lengths forced to 30 tokens:
   `one_model`, a catalog of one model serving en->fr, de, ro, es; `four_models`, the four ids, one
   pair each, `max_models_per_replica: 2` (so no replica holds all four);
3. drives closed-loop clients at each, every request for a pair drawn at random (the same seeded
   sequence for both): requests per second, p50 and p95; and, from the cluster's metrics, the
   models loaded and unloaded while the clients ran;
4. prints the table, writes bench/results/multi-model-<date>.json and ends with one line:
   `multi_model: throughput_x=... p95_x=... loads=... unloads=... cpu=...` (four models over one).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import random
import sys
import time
from pathlib import Path

import yaml

from bench.cluster import exit_driver, own_cluster
from bench.load import closed_loop, post
from bench.long_document import SENTENCE_TOKENS
from bench.models import ensure_writable_model, workloads
from bench.report import machine, machine_cpu
from textserve.inprocess import app_config
from textserve.prometheus import scrape, totals_by

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
TARGETS = ("fr", "de", "ro", "es")  # the four pairs, from English
DESIGNS = ("one_model", "four_models")
FULL = {"clients": 16, "seconds": 40.0, "warmup_s": 5.0}
QUICK = {"clients": 8, "seconds": 12.0, "warmup_s": 3.0}
LOADS, UNLOADS = "ray_textserve_model_loads_total", "ray_serve_multiplexed_models_unload_counter_total"


def model_ids(model: Path) -> list[Path]:
    """Four model directories holding `model`'s files (hard links): four models to Serve."""
    ids = []
    for number in range(len(TARGETS)):
        target = model.parent / f"{model.name}-multi-{number}"
        if not target.is_dir():
            staging = model.parent / f"{target.name}.tmp-{os.getpid()}"
            staging.mkdir()
            for path in model.iterdir():
                if path.is_file():
                    os.link(path, staging / path.name)
            os.replace(staging, target)
        ids.append(target)
    return ids


def catalog(design: str, model: Path) -> list[dict]:
    if design == "one_model":
        return [{"model": str(model), "pairs": {"en": list(TARGETS)}}]
    paths = model_ids(model)
    return [
        {"model": str(path), "pairs": {"en": [target]}} for path, target in zip(paths, TARGETS, strict=True)
    ]


def deploy(config: dict, design: str, model: Path) -> str:
    """The translation app as `design`, under its own name; its route."""
    from textserve.inprocess import deploy_app

    app_cfg = copy.deepcopy(app_config(config, "translation"))
    name = f"bench-multi-{design.replace('_', '-')}"
    app_cfg.update(name=name, route_prefix=f"/{name}")
    [deployment] = app_cfg["deployments"]
    user_config = {
        **deployment["user_config"],
        "models": catalog(design, model),
        "max_models_per_replica": 2,
        "cache_entries": 0,
        "max_new_tokens": SENTENCE_TOKENS,
        "min_new_tokens": SENTENCE_TOKENS,
    }
    deploy_app(app_cfg, user_config=user_config)
    return name


def bodies(sentences: tuple[str, ...], count: int, seed: int = 23) -> list[dict]:
    """`count` requests, each a sentence into a target drawn at random."""
    rng = random.Random(seed)
    return [{"text": sentences[i % len(sentences)], "target_lang": rng.choice(TARGETS)} for i in range(count)]


def model_events(metrics_url: str, app: str) -> dict[str, float]:
    text = scrape(metrics_url)
    return {
        "loads": sum(totals_by(text, LOADS, "application", application=app).values()),
        "unloads": sum(totals_by(text, UNLOADS, "application", application=app).values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.multi_model", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK}")
    parser.add_argument("--clients", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    plan.update({k: v for k, v in (("clients", args.clients), ("seconds", args.seconds)) if v is not None})
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    from apps.common.engines.ctranslate2_conversion import converted_model_dir

    model = ensure_writable_model()
    for path in [model, *model_ids(model)]:
        converted_model_dir(path)  # convert before anything is timed
    sentences = workloads(model)["translate"].texts
    config = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    results: dict = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "command": "python -m bench.multi_model " + " ".join(argv if argv is not None else sys.argv[1:]),
        "plan": plan,
        "pairs": [f"en->{t}" for t in TARGETS],
        "sentence_tokens": SENTENCE_TOKENS,
        "designs": {},
    }
    with own_cluster("textserve-bench-multi-") as (port, metrics_url, _):
        from ray import serve

        for design in DESIGNS:
            app = deploy(config, design, model)
            path = f"/{app}"
            for target in TARGETS:  # every model loaded once, somewhere, before the clients
                post(port, path, json.dumps({"text": sentences[0], "target_lang": target}).encode())
            time.sleep(2)  # the replicas' models reach the handles' routers; metrics settle
            before = model_events(metrics_url, app)
            requests = bodies(sentences, 4096)  # sent round and round; the cache is off
            cell = closed_loop(HOST, port, path, requests, plan["clients"], plan["seconds"], plan["warmup_s"])
            time.sleep(3)  # the replicas report their counters every second or so
            after = model_events(metrics_url, app)
            events = {k: after[k] - before[k] for k in after}  # while the clients ran
            since_deploy = {f"{k}_since_deploy": v for k, v in after.items()}  # warm-up's loads too
            results["designs"][design] = {**cell.as_dict(), **events, **since_deploy}
            say(
                f"{design}: {cell.throughput:.1f} req/s, p50 {cell.p50:.3f} s, p95 {cell.p95:.3f} s, "
                f"{events['loads']:.0f} loads, {events['unloads']:.0f} unloads while measured "
                f"({after['loads']:.0f} and {after['unloads']:.0f} since deployed), {cell.errors} errors"
            )
            serve.delete(app)
    one, four = results["designs"]["one_model"], results["designs"]["four_models"]
    results["summary"] = (
        f"multi_model: throughput_x={four['throughput'] / one['throughput']:.2f} "
        f"p95_x={four['p95'] / one['p95']:.2f} loads={four['loads']:.0f} unloads={four['unloads']:.0f} "
        f"cpu={machine_cpu(results['machine'])!r}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"multi-model-{results['date']}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{'design':12} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} {'loads':>6} {'unloads':>8} {'errors':>7}")
    for design, cell in results["designs"].items():
        print(
            f"{design:12} {cell['throughput']:7.1f} {cell['p50']:7.3f} {cell['p95']:7.3f} "
            f"{cell['loads']:6.0f} {cell['unloads']:8.0f} {cell['errors']:7d}"
        )
    print(f"wrote {out}")
    print(results["summary"])
    return 0


if __name__ == "__main__":
    exit_driver(main())
