"""`make bench-long`: one ~20,000-word document summarized by map-reduce, with the Summarizer
fanning its chunks out to 2 replicas (as serve_config.yaml configures it) against 1 replica.

    python -m bench.long_document [--quick] [--documents N] [--concurrent K] [--words W]

1. builds the benchmark's t5-small-shaped model with random weights (bench/models.py), in a
   variant whose greedy output is text the bench tokenizer can write (see `ensure_writable_model`),
   and a ~20,000-word document of English-looking sentences;
2. starts a local 2-CPU Ray cluster (its own, in its own temp dir; stopped at the end) and deploys
   serve_config.yaml's `summarization` app twice, changing only the model and the replica count:
   `fanout` (2 replicas x 0.2 CPU, one thread each) and `single` (1 replica);
3. warms each up with one document, then, alternating between the two, times N documents sent one
   after the other, then K sent at once; every request asks for a 60-token summary
   (`min_length == max_length`), so both do identical work;
4. reads, per replica, the model calls and texts from Ray's metrics endpoint (did both replicas of
   `fanout` decode chunks?) and the chunks and levels from the line a replica logs after a
   map-reduce ("... C chunks over L levels in X s");
5. prints the table, writes bench/results/long-document-<date>.json, and ends with one line:
   `long_document: words=... tokens=... chunks=... fanout_s=... single_s=... speedup=...x ...`.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import http.client
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

from bench.models import BUILD_VERSION, MODEL_NAME, WORDS
from bench.report import machine
from textserve.inprocess import app_config
from textserve.prometheus import scrape, settled, totals_by

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
WORDS_PER_DOCUMENT = 20_000
SUMMARY_TOKENS = 60  # forced: min_length == max_length
PREFIX = "summarize: "  # what the app puts before a chunk for a T5 model
DEPLOYMENT = "Summarizer"
SYSTEMS = {"fanout": None, "single": 1}  # replicas; None: as serve_config.yaml configures them
FULL = {"documents": 3, "concurrent": 2}
QUICK = {"documents": 1, "concurrent": 0}
WRITABLE_VERSION = 1
# the replicas' line after a map-reduce (apps/summarization/map_reduce.py), in its two wordings
REDUCED = (
    re.compile(
        r"reduced a (?P<tokens>\d+)-token document to (?P<reduced_tokens>\d+) tokens: "
        r"(?P<chunks>\d+) chunks over (?P<levels>\d+) levels in (?P<map_s>[\d.]+) s"
    ),
    re.compile(
        r"map-reduce: a (?P<chars>\d+)-character text summarized in (?P<chunks>\d+) chunks "
        r"over (?P<levels>\d+) levels in (?P<map_s>[\d.]+) s"
    ),
)


# ---------------------------------------------------------------- pure parts (tested without Ray)


def build_document(words: int = WORDS_PER_DOCUMENT, seed: int = 20) -> str:
    """At least `words` words: paragraphs of 4-8 sentences of 10-28 words each, drawn from the ~180
    words the bench tokenizer was trained on (~1.1 tokens a word). Real English, e.g. the demo
    phrases' documents, costs this small tokenizer ~3.7 tokens a word (73k tokens for 20k words)."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    count = 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(4, 8)):
            length = rng.randint(10, 28)
            sentences.append(" ".join(rng.choice(WORDS) for _ in range(length)).capitalize() + ".")
            count += length
            if count >= words:
                break
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def unwritable_ids(vocab_size: int, tokenizer_size: int, special_ids: list[int]) -> list[int]:
    """Output ids whose text is empty: past the tokenizer's pieces (t5-small's 32128-id output
    layer against a few hundred pieces) or special (pad, </s>, <unk>, sentinels)."""
    special = set(special_ids)
    return [i for i in range(vocab_size) if i >= tokenizer_size or i in special]


def app_name(system: str) -> str:
    return f"bench-long-{system}"


def system_config(config: dict, system: str, model: str) -> tuple[dict, dict]:
    """serve_config.yaml's summarization app for `system`, under its own name and route: the
    replica count changed for `single`, the model for both; everything else as configured.
    Returns (app config, user_config)."""
    app_cfg = copy.deepcopy(app_config(config, "summarization"))
    name = app_name(system)
    app_cfg.update(name=name, route_prefix=f"/{name}")
    [deployment] = app_cfg["deployments"]
    if SYSTEMS[system] is not None:
        deployment["num_replicas"] = SYSTEMS[system]
    user_config = {**deployment["user_config"], "model": model}
    return app_cfg, user_config


def request_body(document: str, tokens: int = SUMMARY_TOKENS) -> dict:
    return {"text": document, "max_length": tokens, "min_length": tokens}


def per_replica(metrics_text: str, metric: str, application: str) -> dict[str, float]:
    """One counter of one application, summed per `replica` label, from Prometheus text."""
    return totals_by(metrics_text, metric, "replica", application=application)


BATCH_LINE = re.compile(r"batch of (\d+) texts from \d+ requests decoded in ([\d.]+) s")
ASCTIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def reduce_lines(lines: list[str]) -> list[dict]:
    """The map-reduce log lines of replica logs (JSON or plain), parsed: chunks, levels, map_s, and
    the text's tokens or characters (whichever the line gives)."""
    found = []
    for line in lines:
        for pattern in REDUCED:
            match = pattern.search(line)
            if match:
                found.append(
                    {
                        key: float(value) if key == "map_s" else int(value)
                        for key, value in match.groupdict().items()
                    }
                )
                break
    return found


def decode_totals(lines: list[str], since: float | None = None) -> dict:
    """Model calls, texts and seconds on the model thread from a replica's "batch of N texts from M
    requests decoded in X s" lines (apps/common/batching.py), those logged at or after `since`
    (epoch seconds; the log's local-time asctime) only."""
    calls, texts, seconds = 0, 0, 0.0
    for line in lines:
        match = BATCH_LINE.search(line)
        if not match:
            continue
        stamp = ASCTIME.search(line)
        if since is not None and stamp:
            logged = datetime.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if logged < since:
                continue
        calls, texts, seconds = calls + 1, texts + int(match.group(1)), seconds + float(match.group(2))
    return {"calls": calls, "texts": texts, "seconds": round(seconds, 3)}


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def speedup(fanout_s: float | None, single_s: float | None) -> float | None:
    return single_s / fanout_s if fanout_s and single_s else None


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def result_line(results: dict) -> str:
    doc, systems = results["document"], results["systems"]
    fan, single = systems.get("fanout", {}), systems.get("single", {})
    fields = [
        f"words={doc['words']}",
        f"tokens={doc['tokens']}",
        f"chunks={fan.get('chunks', '-')}",
        f"levels={fan.get('levels', '-')}",
        f"fanout_s={_fmt(fan.get('sequential_mean_s'), '.2f')}",
        f"single_s={_fmt(single.get('sequential_mean_s'), '.2f')}",
        f"speedup={_fmt(results.get('speedup'), '.2f')}x",
    ]
    if results.get("concurrent_speedup") is not None:
        fields.append(f"concurrent_speedup={results['concurrent_speedup']:.2f}x")
    fields.append(f"fanout_replicas_used={fan.get('replicas_used', '-')}/{fan.get('replicas', '-')}")
    return "long_document: " + " ".join(fields)


def table(results: dict) -> str:
    doc = results["document"]
    lines = [
        f"long document: {doc['words']} words, {doc['chars']} characters, {doc['tokens']} tokens as the "
        f"model reads it (with {PREFIX.strip()!r});",
        f"  {doc['level1_chunks']} chunks of <= {doc['window']} tokens at the first level; every summary "
        f"forced to {results['summary_tokens']} tokens",
        f"{'system':<8} {'replicas':>8}  {'run':<12} {'docs':>4} {'s/doc':>7} {'docs/min':>8} "
        f"{'replica cores':>13} {'machine busy':>12}",
    ]
    for name, s in results["systems"].items():
        runs = [("one by one", len(s["sequential_s"]), s.get("sequential_mean_s"), s["sequential_cpu"])]
        if s.get("concurrent"):
            c = s["concurrent"]
            runs.append((f"{c['documents']} at once", c["documents"], c["s_per_doc"], c["cpu"]))
        for run, docs, per_doc, cpu in runs:
            lines.append(
                f"{name:<8} {s['replicas']:>8}  {run:<12} {docs:>4} {_fmt(per_doc, '.2f'):>7} "
                f"{_fmt(60 / per_doc if per_doc else None, '.2f'):>8} "
                f"{_fmt(cpu.get('replica_cores'), '.2f'):>13} "
                f"{_fmt(cpu.get('machine_busy_cores'), '.2f'):>12}"
            )
    lines.append(
        f"speed-up of fanout over single: {_fmt(results.get('speedup'), '.2f')}x one by one, "
        f"{_fmt(results.get('concurrent_speedup'), '.2f')}x with documents sent at once"
    )
    for name, s in results["systems"].items():
        logged = s.get("reduce_log") or []
        maps = [r["map_s"] for r in logged]
        fastest, slowest = _fmt(min(maps, default=None)), _fmt(max(maps, default=None))
        calls = " + ".join(f"{int(c)}" for c in sorted(s.get("calls_per_replica", {}).values(), reverse=True))
        lines.append(
            f"{name}: {s.get('chunks', '-')} chunks over {s.get('levels', '-')} levels per document, "
            f"map phase {fastest}-{slowest} s ({len(logged)} documents); "
            f"answer: {s.get('summary_tokens', '-')} tokens"
        )
        lines.append(
            f"  timed runs: model calls per replica {calls or '-'}, {_fmt(s.get('avg_batch'))} chunks per "
            f"call, {_fmt(s.get('decode_s_per_text'), '.2f')} s on a model thread per chunk"
        )
    lines.append(
        "(replica cores: the system's replica processes' CPU time / wall time; machine busy: all of\n"
        " the machine's busy cores over the same time, other users included; 2 cores in all; chunks,\n"
        " levels, map phase: the replicas' map-reduce log line; answer: the summary re-tokenized, </s> in)"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------- model and measurement


def writable_model_dir() -> Path:
    from apps.common.engines.ctranslate2_conversion import cache_root

    return cache_root() / "bench" / f"{MODEL_NAME}-writable"


def ensure_writable_model() -> Path:
    """bench/models.py's model with the output embedding rows of `unwritable_ids` scaled by 1e-3.

    Same architecture, size and work per token. With the stock random weights greedy decoding
    picks ids the small bench tokenizer has no piece for, so every chunk's 60-token summary decodes
    to "" and map-reduce ends after one level on an empty text; t5-small's summaries are text,
    whose joined summaries are summarized again. With these rows near zero the argmax falls on a
    piece the tokenizer writes (and never on </s>): each chunk becomes ~60 tokens of text, as it
    would with real weights. T5 ties its input and output embeddings, so the special tokens' input
    embeddings (</s> ends every input, <pad> starts decoding) shrink too: other values, same work."""
    from bench.models import ensure_model

    source = ensure_model()
    target = writable_model_dir()
    stamp = target / "bench_model.json"
    wanted = {"writable_version": WRITABLE_VERSION, "source_build_version": BUILD_VERSION}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return target
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    model = T5ForConditionalGeneration.from_pretrained(str(source))
    rows = unwritable_ids(model.config.vocab_size, len(tokenizer), list(tokenizer.all_special_ids))
    with torch.no_grad():
        model.get_output_embeddings().weight[rows] *= 1e-3
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    stamp.write_text(json.dumps(wanted) + "\n")
    print(f"built {target}: {len(rows)} of {model.config.vocab_size} output rows scaled", file=sys.stderr)
    return target


def describe_document(document: str, tokenizer) -> dict:
    """Words, characters, tokens as the replicas count them (`tokenizer`: the model's TokenizerJson),
    and the first level's chunks."""
    from apps.summarization.map_reduce import MapReduce

    def count(text: str) -> int:
        return tokenizer.count_tokens(PREFIX + text)

    window = tokenizer.model_max_length
    chunks = MapReduce(count, window, None).chunks(document)  # type: ignore[arg-type]
    return {
        "words": len(document.split()),
        "chars": len(document),
        "tokens": count(document),
        "window": window,
        "level1_chunks": len(chunks),
    }


class CpuMeter:
    """CPU seconds of some processes and of the whole machine over a `with` block."""

    def __init__(self, pids: list[int]):
        self.pids = pids

    @staticmethod
    def machine_busy_s() -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> CpuMeter:
        from bench.replicas import cpu_seconds

        self.started = time.perf_counter()
        self.replicas0, self.machine0 = cpu_seconds(self.pids), self.machine_busy_s()
        return self

    def __exit__(self, *exc) -> None:
        from bench.replicas import cpu_seconds

        self.wall = time.perf_counter() - self.started
        self.replica_s = cpu_seconds(self.pids) - self.replicas0
        self.machine_s = self.machine_busy_s() - self.machine0

    def as_dict(self) -> dict:
        return {
            "wall_s": round(self.wall, 2),
            "replica_cpu_s": round(self.replica_s, 1),
            "machine_busy_s": round(self.machine_s, 1),
            "replica_cores": round(self.replica_s / self.wall, 2),
            "machine_busy_cores": round(self.machine_s / self.wall, 2),
        }


def cpu_share(meters: list[CpuMeter]) -> dict:
    """Cores used on average over several measured runs."""
    wall = sum(m.wall for m in meters)
    if not wall:
        return {}
    return {
        "replica_cores": round(sum(m.replica_s for m in meters) / wall, 2),
        "machine_busy_cores": round(sum(m.machine_s for m in meters) / wall, 2),
    }


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


def post_at_once(port: int, path: str, body: bytes, count: int) -> tuple[float, list[float]]:
    """`count` documents sent together; (wall seconds until the last answer, each one's seconds)."""
    barrier = threading.Barrier(count)
    times: list[float] = []
    errors: list[BaseException] = []

    def one() -> None:
        barrier.wait()
        try:
            times.append(post(port, path, body)[0])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return wall, times


def replica_counters(metrics_url: str, app: str) -> dict[str, dict[str, float]]:
    text = scrape(metrics_url)
    return {
        "calls": per_replica(text, "ray_textserve_model_calls_total", app),
        "texts": per_replica(text, "ray_textserve_batched_texts_total", app),
    }


def settled_counters(metrics_url: str, app: str, timeout_s: float = 10) -> dict[str, dict[str, float]]:
    """The counters once they stop moving (replicas report every second)."""
    return settled(lambda: replica_counters(metrics_url, app), timeout_s)


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {replica: after[replica] - before.get(replica, 0.0) for replica in after}


def serve_log_dir(ray_tmp: Path) -> Path | None:
    """Serve's logs of the one session in `ray_tmp` (RAY_TMPDIR: Ray uses <it>/ray/session_*)."""
    found = sorted(p for p in ray_tmp.glob("ray/session_*/logs/serve") if "session_latest" not in str(p))
    return found[-1] if found else None


def replica_logs(ray_tmp: Path, app: str) -> dict[str, list[str]]:
    """The lines of each replica log of `app` (Serve names them replica_<app>_<deployment>_<id>.log)."""
    log_dir = serve_log_dir(ray_tmp)
    if log_dir is None:
        return {}
    return {
        path.stem.rsplit("_", 1)[-1]: path.read_text(errors="replace").splitlines()
        for path in sorted(log_dir.glob(f"replica_{app}_*.log"))
    }


def measure(
    plan: dict,
    body: bytes,
    tokenizer,
    model: Path,
    config: dict,
    port: int,
    metrics_url: str,
    ray_tmp: Path,
    say,
) -> dict:
    """Deploy both systems on the running cluster and time them; their results by name."""
    from bench.replicas import replica_pids
    from textserve.inprocess import deploy_app

    out: dict = {}
    systems = {}
    for name in SYSTEMS:
        app_cfg, user_config = system_config(config, name, str(model))
        deploy_app(app_cfg, user_config=user_config)
        pids = replica_pids(app_name(name), DEPLOYMENT)
        replicas = app_cfg["deployments"][0]["num_replicas"]
        systems[name] = {"app": app_name(name), "path": f"/{app_name(name)}", "pids": pids}
        out[name] = {"replicas": replicas, "replica_pids": pids, "sequential_s": [], "sequential_cpu": {}}
        say(f"deployed {name}: {replicas} replica(s), pids {pids}")
    for name, s in systems.items():
        took, answer = post(port, s["path"], body)
        out[name]["warmup_s"] = round(took, 2)
        out[name]["summary_tokens"] = tokenizer.count_tokens(answer["summary"])
        say(f"{name}: warm-up document {took:.1f} s")
    before = {name: settled_counters(metrics_url, s["app"]) for name, s in systems.items()}
    timed_since = time.time()
    meters: dict[str, list[CpuMeter]] = {name: [] for name in systems}
    for number in range(plan["documents"]):
        for name, s in systems.items():  # alternating: both see the same background load
            with CpuMeter(s["pids"]) as meter:
                took, _ = post(port, s["path"], body)
            meters[name].append(meter)
            out[name]["sequential_s"].append(round(took, 2))
            say(f"{name}: document {number + 1}/{plan['documents']} {took:.1f} s")
    if plan["concurrent"] > 1:
        for name, s in systems.items():
            with CpuMeter(s["pids"]) as meter:
                wall, times = post_at_once(port, s["path"], body, plan["concurrent"])
            out[name]["concurrent"] = {
                "documents": plan["concurrent"],
                "wall_s": round(wall, 2),
                "each_s": sorted(times),
                "s_per_doc": wall / plan["concurrent"],
                "cpu": meter.as_dict(),
            }
            say(f"{name}: {plan['concurrent']} documents at once {wall:.1f} s")
    for name, s in systems.items():  # what the replicas report
        r = out[name]
        after = settled_counters(metrics_url, s["app"])
        calls = delta(after["calls"], before[name]["calls"])
        texts = delta(after["texts"], before[name]["texts"])
        r["calls_per_replica"], r["texts_per_replica"] = calls, texts
        r["avg_batch"] = sum(texts.values()) / sum(calls.values()) if sum(calls.values()) else None
        # a replica "used": it decoded at least a tenth of its fair share of the chunks
        fair = sum(texts.values()) / max(len(texts), 1)
        r["replicas_used"] = sum(1 for t in texts.values() if t >= 0.1 * fair and t > 0)
        r["sequential_mean_s"] = mean(r["sequential_s"])
        r["sequential_cpu"] = cpu_share(meters[name])
        logs = replica_logs(ray_tmp, s["app"])
        r["reduce_log"] = reduce_lines([line for lines in logs.values() for line in lines])
        # time on the model thread per chunk: what one chunk costs a replica
        r["decode_per_replica"] = {
            replica: decode_totals(lines, timed_since) for replica, lines in logs.items()
        }
        decoded = sum(d["texts"] for d in r["decode_per_replica"].values())
        seconds = sum(d["seconds"] for d in r["decode_per_replica"].values())
        r["decode_s_per_text"] = seconds / decoded if decoded else None
        if r["reduce_log"]:
            r["chunks"], r["levels"] = r["reduce_log"][-1]["chunks"], r["reduce_log"][-1]["levels"]
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
    started = time.monotonic()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    model = ensure_writable_model()
    from apps.common.engines.ctranslate2_conversion import converted_model_dir

    converted_model_dir(model)  # convert once, before anything is timed
    document = build_document(args.words)
    from apps.common.engines.tokenizer_files import TokenizerJson

    tokenizer = TokenizerJson(model)
    doc = describe_document(document, tokenizer)
    body = json.dumps(request_body(document)).encode()
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

    from bench.__main__ import start_cluster, stop_cluster

    # Ray in its own temp dir: its replica logs are ours alone (others may run Ray here too)
    ray_tmp = Path(tempfile.mkdtemp(prefix="textserve-bench-long-"))
    previous_tmp = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = str(ray_tmp)
    try:
        port, metrics_url = start_cluster()
        say(f"Ray cluster up, Serve on 127.0.0.1:{port}")
        try:
            results["systems"] = measure(
                plan, body, tokenizer, model, config, port, metrics_url, ray_tmp, say
            )
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

    fan, single = results["systems"]["fanout"], results["systems"]["single"]
    results["speedup"] = speedup(fan["sequential_mean_s"], single["sequential_mean_s"])
    results["concurrent_speedup"] = speedup(
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
