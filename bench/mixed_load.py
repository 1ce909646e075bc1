"""`make bench-mixed`: interactive requests beside a bulk stream on the same replicas, and the
sentence cache on a document whose sentences repeat.

    python -m bench.mixed_load [--quick] [--rounds N] [--alone-s S] [--mixed-s S] [--cache-runs N]
                               [--bulk-fill N]

1. builds the benchmark's t5-small-shaped model (bench/models.py, the variant whose greedy output is
   text) and the texts: interactive sentences (make bench's ~30-token translate sentences), bulk
   bodies (documents of 64 sentences, ~9,000 characters, which fan out in parts, alternating with
   lists of 64 texts) and documents of 40 distinct sentences x 4, a new sentence set each;
2. starts a local 2-CPU Ray cluster (its own, in its own temp dir; stopped at the end) and deploys
   serve_config.yaml's translation app (2 replicas x 0.2 CPU) in three designs, changing only the
   model, forced output lengths and: `fifo` (bulk_max_wait_s 0: one queue in arrival order),
   `classes` (the defaults) and `bulk_fill` (classes with interactive_batch_size --bulk-fill), all with
   cache_entries 0 (the bodies repeat);
3. per round (A B C, then C B A, ...): interactive clients alone, then the same clients beside bulk
   clients; p50/p95 and req/s of the interactive clients, bulk sentences answered per second, the
   replicas' queue wait per class (ray_textserve_queue_wait_seconds);
4. the cache: each repeated document to `classes` (cache_entries 0) and to `cache` (the default
   cache_entries), alternating, after one warm-up document each; the cache's hits and misses;
5. prints the tables, writes bench/results/mixed-load-<date>.json and ends with one line:
   `mixed_load: interactive_p95_x=... fifo_p95_x=... bulk_kept=... cache_x=... bulk_fill_p95_x=...
   bulk_fill_kept=... cpu=...`.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

import yaml

from apps.common.documents import split_sentences
from bench.cluster import exit_driver, own_cluster
from bench.documents import bulk_document, distinct_sentences, repeated_document
from bench.load import closed_loop, post
from bench.long_document import SENTENCE_TOKENS, TEXT_CHARS
from bench.metrics import class_delta, settled_class_counters
from bench.mixed_report import DESIGNS, derive, mean, round_order, summary_line, table
from bench.models import MODEL_NAME, ensure_writable_model, workloads
from bench.replicas import CpuMeter, replica_pids, wait_until_idle
from bench.report import machine
from textserve.inprocess import app_config
from textserve.run_config import with_model

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
APP, DEPLOYMENT = "translation", "Translator"
BULK_FILL = 16  # interactive_batch_size of the `bulk_fill` design: interactive calls that carry more bulk
# design -> what changes in serve_config.yaml's user_config (besides the model and forced lengths)
OVERRIDES = {
    "fifo": {"bulk_max_wait_s": 0, "cache_entries": 0},
    "classes": {"cache_entries": 0},
    "bulk_fill": {"cache_entries": 0, "interactive_batch_size": BULK_FILL},
    "cache": {},  # the defaults: classes and the cache on
}
KNOBS = (
    "interactive_max_chars",
    "interactive_max_texts",
    "bulk_max_wait_s",
    "interactive_batch_size",
    "cache_entries",
)
BULK_SENTENCES = 64  # every bulk request: a document of 64 sentences or a list of 64 texts
BULK_WORDS = (19, 25)  # words per bulk sentence: ~140 characters, a ~9,000-character document
BULK_BODIES = 8  # distinct bulk bodies the bulk clients cycle through (4 documents, 4 lists)
CACHE_DOCUMENT = {"distinct": 40, "repeats": 4, "words": (6, 10)}  # 160 sentences, ~8,300 characters
EDGE_S = 1.0  # the bulk window starts this much before the interactive one and ends this much after
ALONE_WARMUP_S = 2.0
FULL = {"rounds": 2, "alone_s": 20.0, "mixed_s": 45.0, "bulk_warmup_s": 10.0, "cache_runs": 4}
QUICK = {"rounds": 1, "alone_s": 10.0, "mixed_s": 20.0, "bulk_warmup_s": 6.0, "cache_runs": 2}


def app_name(design: str) -> str:
    return f"bench-mixed-{design}"


def design_config(config: dict, design: str, model: str, overrides: dict = OVERRIDES) -> tuple[dict, dict]:
    """serve_config.yaml's translation app under the design's own name and route, its user_config
    with the model, forced output lengths and the design's `overrides`. (app config, user_config)"""
    app_cfg = copy.deepcopy(app_config(config, APP))
    name = app_name(design)
    app_cfg.update(name=name, route_prefix=f"/{name}")
    [deployment] = app_cfg["deployments"]
    user_config = {**with_model(deployment["user_config"], model), **overrides[design]}
    user_config.update(max_new_tokens=SENTENCE_TOKENS, min_new_tokens=SENTENCE_TOKENS)
    return app_cfg, user_config


def bulk_bodies(seed: int = 18, count: int = BULK_BODIES) -> list[dict]:
    """Documents of BULK_SENTENCES sentences alternating with lists of as many one-sentence texts;
    no sentence twice."""
    rng, seen, bodies = random.Random(seed), set(), []
    for number in range(count):
        if number % 2 == 0:
            bodies.append({"text": bulk_document(rng, seen, BULK_SENTENCES, BULK_WORDS, TEXT_CHARS)})
        else:
            bodies.append({"texts": distinct_sentences(rng, BULK_SENTENCES, BULK_WORDS, seen)})
    return bodies


def cache_documents(count: int, seed: int = 44) -> list[tuple[str, list[str]]]:
    """`count` repeated-sentence documents, (text, its distinct sentences), no sentence shared."""
    rng, seen = random.Random(seed), set()
    return [repeated_document(rng, seen, max_chars=TEXT_CHARS, **CACHE_DOCUMENT) for _ in range(count)]


def sentences_in(body: dict) -> int:
    """Sentences the app translates for a body, split as the app splits them."""
    return sum(len(split_sentences(text).sentences) for text in body.get("texts") or [body["text"]])


def beside_bulk(port: int, path: str, plan: dict, interactive: list[dict], bulk: list[dict], pids) -> dict:
    """Bulk clients from now on; after `bulk_warmup_s` the interactive clients for `mixed_s`, inside
    the bulk clients' window (EDGE_S wider each side)."""
    out: dict = {}

    def run_bulk() -> None:
        window = plan["mixed_s"] + 2 * EDGE_S
        out["bulk"] = closed_loop(
            HOST, port, path, bulk, plan["bulk_clients"], window, plan["bulk_warmup_s"] - EDGE_S
        )

    thread = threading.Thread(target=run_bulk, daemon=True, name="bench-bulk")
    thread.start()
    time.sleep(plan["bulk_warmup_s"])
    with CpuMeter(pids) as meter:
        cell = closed_loop(
            HOST,
            port,
            path,
            interactive,
            plan["interactive_clients"],
            plan["mixed_s"],
            think_s=plan["think_s"],
        )
    thread.join()
    return {"interactive": cell.as_dict(), "bulk": out["bulk"].as_dict(), "cpu": meter.as_dict()}


def run_round(
    number: int, design: str, deployed: dict, plan: dict, bodies: dict, port: int, metrics_url: str
):
    app, pids, path = deployed[design]["app"], deployed[design]["pids"], deployed[design]["path"]
    out: dict = {"design": design, "round": number}
    if plan["alone_s"] > 0:
        before = settled_class_counters(metrics_url, app)
        with CpuMeter(pids) as meter:
            cell = closed_loop(
                HOST,
                port,
                path,
                bodies["interactive"],
                plan["interactive_clients"],
                plan["alone_s"],
                ALONE_WARMUP_S,
                think_s=plan["think_s"],
            )
        wait_until_idle(pids)
        out["alone"] = {
            "interactive": cell.as_dict(),
            "cpu": meter.as_dict(),
            **class_delta(settled_class_counters(metrics_url, app), before),
        }
    before = settled_class_counters(metrics_url, app)
    mixed = beside_bulk(port, path, plan, bodies["interactive"], bodies["bulk"], pids)
    mixed["drained_s"] = round(wait_until_idle(pids), 1)  # cut-off bulk work finishing
    out["mixed"] = {**mixed, **class_delta(settled_class_counters(metrics_url, app), before)}
    return out


def measure_cache(port: int, metrics_url: str, deployed: dict, runs: int, say) -> dict:
    """Each timed document to the cache-off and the cache-on app in turn (which goes first
    alternates); a new sentence set each, so each starts on an empty cache."""
    documents = cache_documents(runs + 1)
    (warm, _), timed = documents[0], documents[1:]
    systems = {"off": deployed["classes"], "on": deployed["cache"]}
    default = serving_knobs()["cache_entries"]
    out: dict = {
        name: {"cache_entries": s["user_config"].get("cache_entries", default)} for name, s in systems.items()
    }
    for name, s in systems.items():
        out[name]["warmup_s"] = round(post(port, s["path"], json.dumps({"text": warm}).encode())[0], 2)
        out[name]["runs_s"] = []
        wait_until_idle(s["pids"])
    before = settled_class_counters(metrics_url, systems["on"]["app"])
    same = 0
    for number, (text, _) in enumerate(timed):
        body, answers = json.dumps({"text": text}).encode(), {}
        for name in ("off", "on") if number % 2 == 0 else ("on", "off"):
            took, answer = post(port, systems[name]["path"], body)
            out[name]["runs_s"].append(round(took, 3))
            answers[name] = answer["translation"]
            say(f"cache {name}: document {number + 1}/{runs} {took:.2f} s")
        same += answers["off"] == answers["on"]
    delta = class_delta(settled_class_counters(metrics_url, systems["on"]["app"]), before)
    for name in systems:
        out[name]["mean_s"] = mean(out[name]["runs_s"])
    text, unique = timed[0] if timed else documents[0]
    out["document"] = {
        "chars": len(text),
        "sentences": len(split_sentences(text).sentences),
        "distinct": len(unique),
        "repeats": CACHE_DOCUMENT["repeats"],
    }
    out.update(lookups=delta["cache"], identical_answers=f"{same}/{len(timed)}")
    return out


def deploy(config: dict, design: str, model: Path, bodies: dict, port: int, say, overrides: dict) -> dict:
    """Deploy one design and warm it with an interactive and a bulk request of each kind."""
    from textserve.inprocess import deploy_app

    app_cfg, user_config = design_config(config, design, str(model), overrides)
    deploy_app(app_cfg, user_config=user_config)
    app, path = app_name(design), f"/{app_name(design)}"
    pids = replica_pids(app, DEPLOYMENT)
    warm = [
        post(port, path, json.dumps(b).encode())[0] for b in [bodies["interactive"][0], *bodies["bulk"][:2]]
    ]
    wait_until_idle(pids)
    say(f"deployed {design}: pids {pids}, warm-up {', '.join(f'{s:.1f}' for s in warm)} s")
    return {"app": app, "path": path, "pids": pids, "user_config": user_config, "warmup_s": warm}


def serving_knobs() -> dict:
    """The class and cache settings' defaults, as the translation app's settings declare them."""
    from apps.translation.config import TranslationSettings

    fields = TranslationSettings.model_fields
    return {k: fields[k].default if k in fields else "not declared" for k in KNOBS}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mixed_load", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK}")
    parser.add_argument("--rounds", type=int, help=f"rounds of both designs (default {FULL['rounds']})")
    parser.add_argument("--alone-s", type=float, help="interactive clients alone, per round (0: none)")
    parser.add_argument("--mixed-s", type=float, help="interactive clients beside bulk, per round")
    parser.add_argument("--cache-runs", type=int, help="timed repeated documents per cache setting")
    parser.add_argument("--interactive-clients", type=int, default=8)
    parser.add_argument(
        "--think-s",
        type=float,
        default=1.0,
        help="an interactive client's pause after each answer (a person)",
    )
    parser.add_argument("--bulk-clients", type=int, default=2)
    parser.add_argument(
        "--bulk-fill",
        type=int,
        default=BULK_FILL,
        help="interactive_batch_size of the bulk_fill design (a point on the trade that knob makes)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep-logs", action="store_true", help="keep the Ray cluster's temp dir (logs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    for key in ("rounds", "alone_s", "mixed_s", "cache_runs"):
        if getattr(args, key) is not None:
            plan[key] = getattr(args, key)
    plan.update(
        interactive_clients=args.interactive_clients, bulk_clients=args.bulk_clients, think_s=args.think_s
    )
    overrides = {
        **OVERRIDES,
        "bulk_fill": {**OVERRIDES["bulk_fill"], "interactive_batch_size": args.bulk_fill},
    }
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    model = ensure_writable_model()
    from apps.common.engines.ctranslate2_conversion import converted_model_dir

    converted_model_dir(model)  # convert once, before anything is timed
    sentences = workloads(model)["translate"]
    bodies = {"interactive": [{"text": t} for t in sentences.texts], "bulk": bulk_bodies()}
    counts = {sentences_in(b) for b in bodies["bulk"]}
    if counts != {BULK_SENTENCES}:
        raise RuntimeError(f"bulk bodies of {sorted(counts)} sentences, not {BULK_SENTENCES} each")
    config = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    [configured] = app_config(config, APP)["deployments"]
    results: dict = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "loadavg_at_start": os.getloadavg(),
        "command": "python -m bench.mixed_load " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": f"{MODEL_NAME}-writable (bench/models.py's t5-small shape, random weights)",
        "backend": configured["user_config"].get("backend"),
        "replicas": configured["num_replicas"],
        "replica_cpus": configured["ray_actor_options"]["num_cpus"],
        "sentence_tokens": SENTENCE_TOKENS,
        "plan": plan,
        "serving_defaults": serving_knobs(),
        "bulk_fill_batch_size": args.bulk_fill,
        "texts": {
            "interactive": {
                "sentences": len(sentences.texts),
                "input_tokens": sentences.input_tokens,
                "mean_chars": mean(len(t) for t in sentences.texts),
            },
            "bulk": {
                "sentences_per_request": BULK_SENTENCES,
                "bodies": len(bodies["bulk"]),
                "document_chars": mean(len(b["text"]) for b in bodies["bulk"] if "text" in b),
                "list_chars": mean(sum(map(len, b["texts"])) for b in bodies["bulk"] if "texts" in b),
            },
        },
        "rounds": [],
    }
    say(f"bulk bodies: {BULK_SENTENCES} sentences each; {results['texts']['bulk']}")
    with own_cluster("textserve-bench-mixed-", args.keep_logs) as (port, metrics_url, ray_tmp):
        from ray import serve

        say(f"Ray cluster up, Serve on {HOST}:{port}")
        deployed = {design: deploy(config, design, model, bodies, port, say, overrides) for design in DESIGNS}
        results["designs"] = {d: {k: v for k, v in s.items() if k != "path"} for d, s in deployed.items()}
        for number, design in round_order(DESIGNS, plan["rounds"]):
            result = run_round(number, design, deployed, plan, bodies, port, metrics_url)
            results["rounds"].append(result)
            alone, mixed = result.get("alone", {}).get("interactive", {}), result["mixed"]
            say(
                f"{design} round {number}: interactive p95 {alone.get('p95', float('nan')):.2f} s alone, "
                f"{mixed['interactive']['p95']:.2f} s beside bulk; {mixed['bulk']['completed']} bulk answered"
            )
        serve.delete(deployed.pop("fifo")["app"])
        if plan["cache_runs"] > 0:
            deployed["cache"] = deploy(config, "cache", model, bodies, port, say, overrides)
            results["designs"]["cache"] = {k: v for k, v in deployed["cache"].items() if k != "path"}
            results["cache"] = measure_cache(port, metrics_url, deployed, plan["cache_runs"], say)
        for s in deployed.values():
            serve.delete(s["app"])
        if args.keep_logs:
            say(f"Ray's logs: {ray_tmp}")
    derive(results)
    results["loadavg_at_end"] = os.getloadavg()
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["summary"] = summary_line(results)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"mixed-load-{results['date']}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    load = results["loadavg_at_start"][0], results["loadavg_at_end"][0]
    print(
        f"\nload average at start {load[0]:.2f}, at end {load[1]:.2f}; whole run {results['elapsed_s']:.0f} s"
    )
    print(f"wrote {path}")
    print(results["summary"])
    return 0


if __name__ == "__main__":
    exit_driver(main())
