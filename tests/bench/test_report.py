"""Every benchmark result names the machine that made it: the CPU's model, vendor, family and the
instruction sets that choose the kernels (figures differ about 2x between CPUs of one kind)."""

import importlib.util
import json
import re
import time
from pathlib import Path

from bench import report
from textserve.machine import KERNEL_FLAGS


def test_the_machine_record_names_the_cpu_and_its_kernel_flags():
    machine = report.machine()
    cpuinfo = Path("/proc/cpuinfo").read_text()  # not psutil: it gives no CPU model, family or flags
    first = cpuinfo.split("\n\n")[0]
    flags = next(line for line in first.splitlines() if line.startswith("flags")).split(":", 1)[1].split()
    assert machine["cpu_flags"] == [flag for flag in KERNEL_FLAGS if flag in flags]
    assert f"cpu family\t: {machine['cpu_family']}" in first
    assert f"vendor_id\t: {machine['cpu_vendor']}" in first
    assert machine["cpu"] in first and machine["cores"] >= 1
    json.dumps(machine)  # goes into the results' JSON as it is


def test_the_table_starts_with_the_machine():
    machine = report.machine()
    results = {
        "machine": machine,
        "plan": {"workloads": [], "clients": [], "systems": [], "raw_processes": 2},
        "workloads": {},
        "memory": [],
        "raw": [],
    }
    first = report.table(results).splitlines()[0]
    assert first.startswith(f"machine: {machine['cpu']} ({machine['cpu_vendor']} family ")
    assert " ".join(machine["cpu_flags"]) in first and f"{machine['cores']} cores" in first


def _cell(system, workload, clients, throughput, p95=1.0, backend="ctranslate2"):
    return {
        "system": system,
        "backend": backend,
        "workload": workload,
        "clients": clients,
        "throughput": throughput,
        "p50": p95 / 2,
        "p95": p95,
        "p99": p95,
        "avg_batch": None,
        "errors": 0,
        "latency_is_lower_bound": False,
    }


def _ladder(system, workload, sustained):
    steps = [{"rate": sustained or 1.0, "p99": 0.5, "dropped": 0}]
    return {
        "system": system,
        "workload": workload,
        "p99_bound_s": 2.0,
        "sustained_rate": sustained,
        "steps": steps,
    }


def results_with_peers() -> dict:
    """Ours against two peers: ours ahead at 8 and 32 clients, behind bentoml at 64 (0.9x)."""
    cells = [_cell("reference", "translate", c, 2.0, backend="transformers") for c in (1, 32)]
    for clients, ours, bento, triton in ((1, 4, 4, 3), (8, 20, 16, 15), (32, 40, 30, 35), (64, 45, 50, 40)):
        cells += [
            _cell("ours-ctranslate2", "translate", clients, ours),
            _cell("bentoml", "translate", clients, bento, p95=2.0),
            _cell("pytriton", "translate", clients, triton),
        ]
    return {
        "date": "2026-12-01",
        "machine": report.machine(),
        "configured_backend": "ctranslate2",
        "plan": {
            "workloads": ["translate"],
            "clients": [1, 8, 32, 64],
            "systems": ["bentoml", "pytriton", "reference", "ours-ctranslate2"],
            "backends": ["ctranslate2"],
            "raw_processes": 2,
        },
        "workloads": {"translate": {"input_tokens": 30, "output_tokens": 30, "texts": 64}},
        "peers": {
            "bentoml": {"version": "1.4.40", "settings": "x"},
            "pytriton": {"version": "0.7.0", "settings": "y"},
        },
        "raw": [
            {
                "backend": "ctranslate2",
                "workload": "translate",
                "batch": 16,
                "texts_per_s": 50.0,
                "max_rss_mib": 1,
            }
        ],
        "cells": cells,
        "memory": [],
        "open_loop": [
            _ladder("ours-ctranslate2", "translate", 36.0),
            _ladder("bentoml", "translate", 24.0),
            _ladder("pytriton", "translate", 30.0),
        ],
    }


def test_ours_is_compared_with_the_best_peer_at_each_client_count_and_open_loop():
    results = results_with_peers()
    report.derive(results)
    results["summary"] = report.summary(results)
    versus = results["summary"]["ctranslate2"]["peers"]
    assert versus["worst"]["clients"] == 64 and versus["worst"]["best_peer"] == "bentoml"
    assert versus["vs_best_peer"] == 45 / 50
    assert {(e["clients"], e["best_peer"]) for e in versus["closed"]} == {
        (8, "bentoml"),
        (32, "pytriton"),
        (64, "bentoml"),
    }
    assert versus["open_loop"]["translate"] == {"best_peer": "pytriton", "x": 36 / 30}
    line = report.summary_line(results)
    # efficiency: the lowest of 32 and 64 clients over the raw ceiling (40/50, 45/50)
    assert line == (
        "translate_x=20.0 summarize_x=- efficiency=0.80 vs_best_peer=0.90 open_loop_vs_best_peer=1.20 "
        "backend=ctranslate2"
    )
    table = report.table(results)
    assert "bentoml 1.4.40: x" in table and "open loop" in table
    assert re.search(r"^ours-ctranslate2 +translate +2s +36\.00 +36\.0: 0\.50, 0$", table, re.M), table


def test_efficiency_divides_by_the_raw_ceiling_at_the_batch_those_clients_fill():
    results = results_with_peers()
    # 32 clients fill batches of 16 on two replicas, 64 fill 32: each has its own ceiling
    raw = results["raw"][0]
    results["raw"] = [{**raw, "clients": [32]}, {**raw, "batch": 32, "texts_per_s": 60.0, "clients": [64]}]
    report.derive(results)
    ours = {c["clients"]: c["efficiency"] for c in results["cells"] if c["system"] == "ours-ctranslate2"}
    assert ours == {1: None, 8: None, 32: 40 / 50, 64: 45 / 60}
    # a peer batches as it likes: its ceiling is the engine's best rate at any batch measured
    triton = {c["clients"]: c["efficiency"] for c in results["cells"] if c["system"] == "pytriton"}
    assert triton == {1: None, 8: None, 32: 35 / 60, 64: 40 / 60}
    table = report.table(results)
    assert re.search(r"batch 16 +50\.00 texts/s .* for 32 clients$", table, re.M), table
    assert re.search(r"batch 32 +60\.00 texts/s .* for 64 clients, the guard's ceiling$", table, re.M), table


def test_raw_ceilings_are_measured_at_each_batch_the_client_counts_fill():
    from bench.__main__ import GUARD_BATCHES, raw_batches
    from bench.systems import configured_batch_size

    largest = configured_batch_size("translate")
    batches = raw_batches("translate", [1, 8, 32, 64])
    fill = {min(16, largest): [32], min(32, largest): [64]}
    if len(fill) == 1:
        fill = {largest: [32, 64]}
    # and at every largest batch a system here forms: the best of all is the guard's ceiling
    assert batches == {**{b: [] for b in GUARD_BATCHES}, **fill}
    assert raw_batches("translate", [1, 8]) == {**{b: [] for b in GUARD_BATCHES}, largest: []}
    summaries = configured_batch_size("summarize")
    assert raw_batches("summarize", [1, 32, 64]) == {**{b: [] for b in GUARD_BATCHES}, summaries: [32, 64]}


def test_a_plot_per_workload(tmp_path):
    results = results_with_peers()
    report.derive(results)
    results["summary"] = report.summary(results)
    json_path, plots = report.write(results, tmp_path, "run")
    assert json.loads(json_path.read_text())["peers"]
    if importlib.util.find_spec("matplotlib") is None:  # a bench extra: `make test` runs without it
        assert plots == []
        return
    assert [p.name for p in plots] == ["run-translate.png"] and plots[0].stat().st_size > 10_000


def test_one_client_is_compared_with_the_quickest_peer_and_the_targets_render():
    from bench.doc_figures import render_peer_targets

    results = results_with_peers()
    results["open_loop"][0]["bracketed"] = False  # ours' ladder never failed: a lower bound
    report.derive(results)
    results["summary"] = report.summary(results)
    one = results["summary"]["ctranslate2"]["peers"]["one_client"]["translate"]
    # p50 is half of p95: 0.5 s for ours and pytriton, 1.0 s for bentoml
    assert one == {"best_peer": "pytriton", "p50_x": 1.0}
    targets = render_peer_targets(results)
    assert (
        "| translate, 64 clients: throughput ≥ 1.0x the best peer's, p95 ≤ 1.0x "
        "| 0.90x, p95 0.50x (bentoml) |" in targets
    )
    assert "| translate, open loop: sustained rate ≥ 1.25x the best peer's | 1.20x (pytriton) |" in targets
    assert "| translate, 64 clients: efficiency (served / raw) ≥ 0.85 | 0.90 |" in targets
    assert re.search(r"^ours-ctranslate2 +translate +2s +36\.00> ", report.table(results), re.M)


def test_the_request_path_table_has_a_row_per_variant_route_and_client_count():
    from bench.request_path import VARIANTS, table

    cells = [
        {"variant": v, "route": r, "clients": 32, "throughput": 100.0, "p50": 0.05, "p95": 0.09, "errors": 0}
        | {"decoded": {"cache_hits": 0}, "invalid": []}
        for v in ("configured", "proxy")
        for r in ("/translate", "/")
    ]
    cells.append({**cells[0], "route": "/x", "decoded": {"cache_hits": 600}, "invalid": ["600 cache hits"]})
    results = {
        "machine": report.machine(),
        "cells": cells,
        "variants": {v: VARIANTS[v].describe for v in ("configured", "proxy")},
    }
    lines = table(results).splitlines()
    assert (
        sum(
            1
            for line in lines
            if re.match(r"^(configured|proxy) +/(translate)? +32 +100\.0 +50\.0 +90\.0 +0 +0$", line)
        )
        == 4
    )
    assert any(re.match(r"^configured +/x +32 .* 600  INVALID$", line) for line in lines)
    assert any(line.startswith("proxy: Serve's Python proxy") for line in lines)
    assert VARIANTS["configured"].env == {} and VARIANTS["configured"].ingress == "haproxy"


def test_the_cpu_split_names_the_workers_the_clients_and_every_other_process(tmp_path):
    import subprocess
    import sys

    from bench.cpu_split import CpuSplit
    from bench.replicas import cpu_seconds

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # past the interpreter's start-up
        began, worker_before, own_before = time.monotonic(), cpu_seconds([busy.pid]), time.process_time()
        split = CpuSplit([busy.pid])
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # the "clients": this process, busy too
            pass
        cores = split.stop()
        elapsed = time.monotonic() - began
        worker = (cpu_seconds([busy.pid]) - worker_before) / elapsed
        own = (time.process_time() - own_before) / elapsed
    finally:
        busy.kill()
        busy.wait()
    # each process's share goes to its group, whatever else the machine runs meanwhile
    assert worker > 0.1 and own > 0.1, (worker, own)
    assert abs(cores["workers"] - worker) < 0.1 and abs(cores["clients"] - own) < 0.1, (cores, worker, own)
    assert cores["total"] >= cores["workers"] + cores["clients"] - 0.01
    results = results_with_peers()
    results["cells"][-1]["cpu_cores"] = cores
    report.derive(results)
    line = next(
        row
        for row in report.table(results).splitlines()
        if row.startswith("  pytriton ") and "workers" in row
    )
    assert re.search(r"\bworkers \d\.\d\d\b", line) and re.search(r"\bclients \d\.\d\d\b", line), line
