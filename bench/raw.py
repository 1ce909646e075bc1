"""The raw engine ceiling: the same model and backend our replicas run, called in-process at a fixed
batch size, no Ray, no HTTP. One process per replica, one thread each, run side by side, as the
replicas share the machine.

    python -m bench.raw --model DIR --backend ctranslate2 --workload translate --batch 16 --seconds 8

prints one JSON line: texts per second and the process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from apps.common.engines import GenerationParams, load_engine
from bench.models import workloads

PREFIX = {"translate": "translate English to French: ", "summarize": "summarize: "}


def peak_rss_mib() -> float:
    """This process's peak resident memory. (Not getrusage's ru_maxrss: Linux carries it across
    exec from the parent, so a child of a big process reports the parent's peak.)"""
    # /proc, not psutil: psutil's memory_info() has no peak resident size (VmHWM) on Linux
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(model: str, backend: str, workload: str, batch: int, seconds: float) -> dict:
    load = workloads(model)[workload]
    engine = load_engine(model, backend, "cpu")
    params = GenerationParams(max_new_tokens=load.output_tokens, min_new_tokens=load.output_tokens)
    texts = [PREFIX[workload] + load.texts[i % len(load.texts)] for i in range(batch)]
    engine.generate(texts[:2], params)  # warm-up
    calls, started = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - started < seconds:
        engine.generate(texts, params)
        calls += 1
    elapsed = time.perf_counter() - started
    return {
        "texts_per_s": calls * batch / elapsed,
        "calls": calls,
        "seconds": elapsed,
        "max_rss_mib": peak_rss_mib(),
    }


def ceiling(model: str, backend: str, workload: str, batch: int, seconds: float, processes: int = 2) -> dict:
    """`processes` copies of `measure` at once, one thread each; their summed throughput."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "bench.raw", "--model", model, "--backend", backend]
    command += ["--workload", workload, "--batch", str(batch), "--seconds", str(seconds)]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(processes)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"raw engine run failed: {err.strip().splitlines()[-3:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "backend": backend,
        "workload": workload,
        "batch": batch,
        "processes": processes,
        "texts_per_s": sum(r["texts_per_s"] for r in results),
        "max_rss_mib": max(r["max_rss_mib"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--backend", required=True, choices=["transformers", "ctranslate2"])
    parser.add_argument("--workload", required=True, choices=list(PREFIX))
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    print(json.dumps(measure(args.model, args.backend, args.workload, args.batch, args.seconds)))


if __name__ == "__main__":
    main()
