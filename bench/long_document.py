"""`make bench-long`: long texts on every replica. One ~20,000-word document summarized by
map-reduce, the Summarizer fanning its chunks out to 2 replicas (as serve_config.yaml configures
it) against 1 replica; and one ~10,000-character text translated, the Translator sending its parts
to 2 replicas against 1.

    python -m bench.long_document [--quick] [--documents N] [--concurrent K] [--words W]
                                  [--workloads summarize,translate]

1. builds the benchmark's t5-small-shaped model with random weights (bench/models.py), in a
   variant whose greedy output is text the bench tokenizer can write (see `ensure_writable_model`),
   and the texts, English-looking sentences of the words the bench tokenizer knows;
2. starts a local 2-CPU Ray cluster (its own, in its own temp dir; stopped at the end) and deploys
   serve_config.yaml's app twice per workload, changing only the model, forced output lengths and
   the replica count: `fanout` (2 replicas x 0.2 CPU, one thread each) and `single` (1 replica);
3. warms each up with one text, then, alternating between the two, times N texts sent one after
   the other, then K sent at once; every summary is forced to 60 tokens, every sentence's
   translation to 30, so both systems do identical work;
4. reads, per replica, the model calls and texts from Ray's metrics endpoint (did both replicas of
   `fanout` decode?) and the chunks, levels and model-thread seconds from the replicas' structured
   JSON log fields (bench/serve_logs.py);
5. prints the tables, writes bench/results/long-document-<date>.json, and ends with one line:
   `long_document: words=... speedup=...x ... translate_speedup=...x ...`.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from apps.common.documents import split_sentences
from bench.cluster import exit_driver, start_cluster, stop_cluster
from bench.documents import WORDS_PER_DOCUMENT, build_document, describe_document
from bench.guard import decoding_reasons, exit_code
from bench.load import post, post_at_once
from bench.long_report import mean, result_line, speedup, table
from bench.metrics import delta, settled_counters
from bench.models import MODEL_NAME, ensure_writable_model
from bench.replicas import CpuMeter, cpu_share
from bench.report import machine
from bench.serve_logs import decode_totals, map_reduces, replica_logs
from textserve.inprocess import app_config
from textserve.run_config import with_model

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SUMMARY_TOKENS = 60  # forced: min_length == max_length
SENTENCE_TOKENS = 30  # a sentence's translation, forced: min_new_tokens == max_new_tokens
TEXT_CHARS = 9_900  # the long translation: just within translation's max_input_chars (10,000)
# workload -> (application in serve_config.yaml, its deployment)
APPS = {"summarize": ("summarization", "Summarizer"), "translate": ("translation", "Translator")}
SYSTEMS = {"fanout": None, "single": 1}  # replicas; None: as serve_config.yaml configures them
FULL = {"documents": 3, "concurrent": 2}
FIRST_SEED = 1000  # of the documents sent (bench/documents.build_document), one more each
QUICK = {"documents": 1, "concurrent": 0}


def app_name(system: str, workload: str = "summarize") -> str:
    return f"bench-long-{system}" if workload == "summarize" else f"bench-long-{workload}-{system}"


def system_config(config: dict, system: str, model: str, workload: str = "summarize") -> tuple[dict, dict]:
    """serve_config.yaml's app for `workload` and `system`, under its own name and route: the
    replica count changed for `single`, the model for both (and a translation's forced length; a
    summary's cache off: the random-weight model writes nearly one summary for every chunk, so the
    reduce level's texts repeat from one document to the next, which a real model's would not, and
    the cache would answer them); everything else as configured. Returns (app config, user_config)."""
    app_cfg = copy.deepcopy(app_config(config, APPS[workload][0]))
    name = app_name(system, workload)
    app_cfg.update(name=name, route_prefix=f"/{name}")
    [deployment] = app_cfg["deployments"]
    if SYSTEMS[system] is not None:
        deployment["num_replicas"] = SYSTEMS[system]
    user_config = with_model(deployment["user_config"], model)
    if workload == "translate":
        user_config.update(max_new_tokens=SENTENCE_TOKENS, min_new_tokens=SENTENCE_TOKENS)
    else:
        user_config["cache_entries"] = 0
    return app_cfg, user_config


def request_body(document: str, tokens: int = SUMMARY_TOKENS) -> dict:
    return {"text": document, "max_length": tokens, "min_length": tokens}


def long_text(chars: int = TEXT_CHARS, seed: int = 20) -> str:
    """The long translation: a document of the benchmark's (`seed`) cut at the last sentence within
    `chars`."""
    text = build_document(chars // 4, seed)[:chars]
    return text[: text.rfind(".") + 1]


def request_bodies(workload: str, words: int) -> Iterator[bytes]:
    """Each request's body, none like an earlier one (the replicas would answer a repeat from their
    cache): the same `words`-word shape, sentences drawn anew from a seed of its own."""
    for seed in itertools.count(FIRST_SEED):
        if workload == "summarize":
            yield json.dumps(request_body(build_document(words, seed))).encode()
        else:
            yield json.dumps({"text": long_text(seed=seed)}).encode()


def measure(
    plan: dict,
    workload: str,
    words: int,
    tokenizer,
    model: Path,
    config: dict,
    port: int,
    metrics_url: str,
    ray_tmp: Path,
    say,
) -> dict:
    """Deploy both systems of `workload` on the running cluster and time them; their results by
    name. Both systems are sent the same documents, each a document neither was sent before; the
    guard (bench/guard.py) marks a system `invalid` where its replicas answered from their cache.
    The systems are deleted afterwards."""
    from ray import serve

    from bench.replicas import replica_pids
    from textserve.inprocess import deploy_app

    out: dict = {}
    systems = {}
    for name in SYSTEMS:
        app_cfg, user_config = system_config(config, name, str(model), workload)
        deploy_app(app_cfg, user_config=user_config)
        app = app_name(name, workload)
        pids = replica_pids(app, APPS[workload][1])
        replicas = app_cfg["deployments"][0]["num_replicas"]
        systems[name] = {"app": app, "path": f"/{app}", "pids": pids}
        out[name] = {"replicas": replicas, "replica_pids": pids, "sequential_s": [], "sequential_cpu": {}}
        say(f"deployed {workload} {name}: {replicas} replica(s), pids {pids}")
    bodies = request_bodies(workload, words)
    documents = [next(bodies) for _ in range(1 + plan["documents"])]  # a warm-up, the timed ones
    at_once = [next(bodies) for _ in range(max(plan["concurrent"], 0))]
    for name, s in systems.items():
        took, answer = post(port, s["path"], documents[0])
        out[name]["warmup_s"] = round(took, 2)
        if workload == "summarize":
            out[name]["summary_tokens"] = tokenizer.count_tokens(answer["summary"])
        else:
            out[name]["translation_chars"] = len(answer["translation"])
        say(f"{workload} {name}: warm-up document {took:.1f} s")
    before = {name: settled_counters(metrics_url, s["app"]) for name, s in systems.items()}
    timed_since = time.time()
    meters: dict[str, list[CpuMeter]] = {name: [] for name in systems}
    for number in range(plan["documents"]):
        for name, s in systems.items():  # alternating: both see the same background load
            with CpuMeter(s["pids"]) as meter:
                took, _ = post(port, s["path"], documents[1 + number])
            meters[name].append(meter)
            out[name]["sequential_s"].append(round(took, 2))
            say(f"{workload} {name}: document {number + 1}/{plan['documents']} {took:.1f} s")
    if plan["concurrent"] > 1:
        for name, s in systems.items():
            with CpuMeter(s["pids"]) as meter:
                wall, times = post_at_once(port, s["path"], at_once)
            out[name]["concurrent"] = {
                "documents": plan["concurrent"],
                "wall_s": round(wall, 2),
                "each_s": sorted(times),
                "s_per_doc": wall / plan["concurrent"],
                "cpu": meter.as_dict(),
            }
            say(f"{workload} {name}: {plan['concurrent']} documents at once {wall:.1f} s")
    for name, s in systems.items():  # what the replicas report
        r = out[name]
        after = settled_counters(metrics_url, s["app"])
        calls = delta(after["calls"], before[name]["calls"])
        texts = delta(after["texts"], before[name]["texts"])
        r["calls_per_replica"], r["texts_per_replica"] = calls, texts
        lookups = delta(after["cache"], before[name]["cache"])
        r["cache_lookups"] = lookups
        r["avg_batch"] = sum(texts.values()) / sum(calls.values()) if sum(calls.values()) else None
        # a replica "used": it decoded at least a tenth of its fair share of the chunks
        fair = sum(texts.values()) / max(len(texts), 1)
        r["replicas_used"] = sum(1 for t in texts.values() if t >= 0.1 * fair and t > 0)
        r["sequential_mean_s"] = mean(r["sequential_s"])
        r["sequential_cpu"] = cpu_share(meters[name])
        logs = replica_logs(ray_tmp, s["app"])
        r["reduce_log"] = map_reduces([record for records in logs.values() for record in records])
        # time on the model thread per chunk: what one chunk costs a replica
        r["decode_per_replica"] = {
            replica: decode_totals(records, timed_since) for replica, records in logs.items()
        }
        decoded = sum(d["texts"] for d in r["decode_per_replica"].values())
        seconds = sum(d["seconds"] for d in r["decode_per_replica"].values())
        r["decode_s_per_text"] = seconds / decoded if decoded else None
        if r["reduce_log"]:
            r["chunks"], r["levels"] = r["reduce_log"][-1]["chunks"], r["reduce_log"][-1]["levels"]
        # what the timed requests asked the model for: each sentence (translation: its lookups),
        # each chunk of every level (summaries, whose cache is off: their map-reduce records)
        asked = sum(lookups.values())
        if workload == "summarize":
            asked = sum(m["chunks"] for m in r["reduce_log"] if m["at"] >= timed_since)
        used = {"decoded_texts": sum(texts.values()), "cache_hits": lookups.get("hit", 0.0)}
        r["invalid"] = decoding_reasons(used, round(asked))
    for s in systems.values():
        serve.delete(s["app"])
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.long_document", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK['documents']} timed document per system, none sent at once",
    )
    parser.add_argument(
        "--documents", type=int, help=f"documents timed one after the other (default {FULL['documents']})"
    )
    parser.add_argument(
        "--concurrent",
        type=int,
        help=f"documents sent at once after those, 0: none (default {FULL['concurrent']})",
    )
    parser.add_argument("--words", type=int, default=WORDS_PER_DOCUMENT)
    parser.add_argument(
        "--workloads", default="summarize,translate", help="summarize (the long document), translate"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep-logs", action="store_true", help="keep the Ray cluster's temp dir (logs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    if args.documents is not None:
        plan["documents"] = args.documents
    if args.concurrent is not None:
        plan["concurrent"] = args.concurrent
    workloads = [w for w in args.workloads.split(",") if w]
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    model = ensure_writable_model()
    from apps.common.engines.ctranslate2_conversion import converted_model_dir

    converted_model_dir(model)  # convert once, before anything is timed
    document = build_document(args.words, FIRST_SEED)  # the first sent; the others are alike
    from apps.common.engines.families import family_for

    tokenizer = family_for(model)  # counts tokens as the replicas do
    doc = describe_document(document, tokenizer)
    say(f"document: {doc['words']} words, {doc['tokens']} tokens, {doc['level1_chunks']} first-level chunks")

    config = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    results: dict = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "loadavg_at_start": os.getloadavg(),
        "command": "python -m bench.long_document " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": f"{MODEL_NAME}-writable (bench/models.py's t5-small shape, random weights; "
        "unwritable output rows scaled by 1e-3)",
        "backend": app_config(config, "summarization")["deployments"][0]["user_config"].get("backend"),
        "summary_tokens": SUMMARY_TOKENS,
        "plan": plan,
        "document": doc,
    }

    # Ray in its own temp dir: its replica logs are ours alone (others may run Ray here too)
    ray_tmp = Path(tempfile.mkdtemp(prefix="textserve-bench-long-"))
    previous_tmp = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = str(ray_tmp)
    try:
        port, metrics_url = start_cluster()
        say(f"Ray cluster up, Serve on 127.0.0.1:{port}")
        try:
            if "summarize" in workloads:
                results["systems"] = measure(
                    plan, "summarize", args.words, tokenizer, model, config, port, metrics_url, ray_tmp, say
                )
            if "translate" in workloads:
                text = long_text(seed=FIRST_SEED)  # the first sent; the others are alike
                sentences = len(split_sentences(text).sentences)
                say(f"long translation: {len(text)} characters, {sentences} sentences")
                results["translation"] = {
                    "document": {"chars": len(text), "words": len(text.split()), "sentences": sentences},
                    "sentence_tokens": SENTENCE_TOKENS,
                    "systems": measure(
                        plan,
                        "translate",
                        args.words,
                        tokenizer,
                        model,
                        config,
                        port,
                        metrics_url,
                        ray_tmp,
                        say,
                    ),
                }
        finally:
            stop_cluster()
    finally:
        if previous_tmp is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = previous_tmp
        if args.keep_logs:
            say(f"Ray's logs: {ray_tmp}")
        else:
            shutil.rmtree(ray_tmp, ignore_errors=True)

    for case in (results, results.get("translation")):
        if not case or "systems" not in case:
            continue
        fan, single = case["systems"]["fanout"], case["systems"]["single"]
        case["speedup"] = speedup(fan["sequential_mean_s"], single["sequential_mean_s"])
        case["concurrent_speedup"] = speedup(
            fan.get("concurrent", {}).get("s_per_doc"), single.get("concurrent", {}).get("s_per_doc")
        )
    results["loadavg_at_end"] = os.getloadavg()
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    results["summary"] = result_line(results)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"long-document-{results['date']}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(
        f"\nmachine: {results['machine']}; load average at start {results['loadavg_at_start'][0]:.2f}, "
        f"at end {results['loadavg_at_end'][0]:.2f}; whole run {results['elapsed_s']:.0f} s"
    )
    print(f"wrote {path}")
    print(results["summary"])
    problems = [
        f"{workload} {name}: {'; '.join(system['invalid'])}"
        for workload, case in (("summarize", results), ("translate", results.get("translation")))
        if case and "systems" in case
        for name, system in case["systems"].items()
        if system.get("invalid")
    ]
    return exit_code(problems, "did not measure decoding (cache hits, or texts not decoded)")


if __name__ == "__main__":
    exit_driver(main())
