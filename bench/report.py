"""What a benchmark run shows: the table, the ratios to the reference, serving efficiency, the JSON
file, the plot, and the one-line summary `make bench` ends with."""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path

from textserve.machine import cpu_line, describe_cpu

SUMMARY_CLIENTS = 32  # the targets compare throughput at 32 concurrent clients


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    cpu = describe_cpu()
    return {
        "cpu": model,
        "cpu_vendor": cpu["vendor"],
        "cpu_family": cpu["family"],
        "cpu_model_number": cpu["model_number"],
        "cpu_flags": cpu["flags"],
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
    }


def machine_line(results: dict) -> str:
    m = results.get("machine", {})
    cpu = {
        "model": m.get("cpu"),
        "vendor": m.get("cpu_vendor"),
        "family": m.get("cpu_family"),
        "model_number": m.get("cpu_model_number"),
        "flags": m.get("cpu_flags"),
    }
    return f"machine: {cpu_line(cpu)}, {m.get('cores')} cores, {m.get('memory_gib')} GiB"


def cell(results: dict, system: str, workload: str, clients: int) -> dict | None:
    return next(
        (
            c
            for c in results["cells"]
            if (c["system"], c["workload"], c["clients"]) == (system, workload, clients)
        ),
        None,
    )


def raw_ceiling(results: dict, backend: str, workload: str) -> dict | None:
    return next((r for r in results["raw"] if (r["backend"], r["workload"]) == (backend, workload)), None)


def derive(results: dict) -> None:
    """Add ratios to the reference and serving efficiency to `results`, in place."""
    for c in results["cells"]:
        ref = cell(results, "reference", c["workload"], c["clients"])
        c["x_reference"] = c["throughput"] / ref["throughput"] if ref and ref["throughput"] else None
        c["p50_vs_reference"] = c["p50"] / ref["p50"] if ref and ref["p50"] else None
        raw = raw_ceiling(results, c["backend"], c["workload"]) if c["system"] != "reference" else None
        # efficiency compares a full server with the engine at full batches: 32 clients and up
        full = c["clients"] >= SUMMARY_CLIENTS
        c["efficiency"] = c["throughput"] / raw["texts_per_s"] if raw and full else None
    for memory in results["memory"]:
        ref = next(
            (
                m
                for m in results["memory"]
                if m["system"] == "reference" and m["workload"] == memory["workload"]
            ),
            None,
        )
        memory["vs_reference"] = memory["rss_mib"] / ref["rss_mib"] if ref and ref["rss_mib"] else None


def _fmt(value, spec: str = ".2f", none: str = "-") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return none
    return format(value, spec)


def table(results: dict) -> str:
    lines = [machine_line(results)]
    header = (
        f"{'system':<19}{'clients':>8}{'req/s':>9}{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}"
        f"{'batch':>7}{'err':>5}{'x ref':>8}{'eff.':>7}"
    )
    for workload in results["plan"]["workloads"]:
        spec = results["workloads"][workload]
        lines.append(
            f"\n{workload}: ~{spec['input_tokens']} tokens in -> {spec['output_tokens']} out, "
            "closed-loop keep-alive HTTP clients"
        )
        lines.append(header)
        for clients in results["plan"]["clients"]:
            for system in results["plan"]["systems"]:
                c = cell(results, system, workload, clients)
                if c is None:
                    continue
                bound = ">" if c["latency_is_lower_bound"] else " "
                lines.append(
                    f"{system:<19}{clients:>8}{c['throughput']:>9.2f}{_fmt(c['p50']):>8}"
                    f"{bound}{_fmt(c['p95']):>7}{bound}{_fmt(c['p99']):>7}{_fmt(c['avg_batch'], '.1f'):>7}"
                    f"{c['errors']:>5}"
                    f"{_fmt(c['x_reference'], '.1f'):>8}{_fmt(c['efficiency']):>7}"
                )
    lines.append(
        "\n'>': requests still in flight when the window closed reach that percentile; it is a "
        "lower bound.\nbatch: texts per model call, from the replicas' textserve_* metrics."
    )
    lines.append("\nresident memory per replica (peak over the run, MiB):")
    for m in results["memory"]:
        lines.append(
            f"  {m['system']:<19}{m['workload']:<11}{m['rss_mib']:>8.0f}"
            f"   {_fmt(m['vs_reference'], '.2f')} x reference"
        )
    lines.append(
        f"\nraw engine ceiling (no Ray; {results['plan']['raw_processes']} processes x 1 thread, "
        "at the max_batch_size serve_config.yaml gives the app):"
    )
    for r in results["raw"]:
        lines.append(
            f"  {r['backend']:<13}{r['workload']:<11}batch {r['batch']:<4}{r['texts_per_s']:>8.2f} "
            f"texts/s   peak RSS {r['max_rss_mib']:.0f} MiB"
        )
    return "\n".join(lines)


def summary(results: dict) -> dict:
    """The figures the targets name, for the configured backend (and every backend measured)."""
    out = {}
    for backend in results["plan"]["backends"]:
        system = f"ours-{backend}"
        per = {}
        for workload in results["plan"]["workloads"]:
            c = cell(results, system, workload, SUMMARY_CLIENTS)
            one = cell(results, system, workload, 1)
            per[workload] = {
                "x_reference_32": c and c["x_reference"],
                "efficiency_32": c and c["efficiency"],
                "p50_1_vs_reference": one and one["p50_vs_reference"],
            }
        out[backend] = per
    return out


def summary_line(results: dict) -> str:
    backend = results["configured_backend"]
    per = results["summary"].get(backend, {})
    effs = [w["efficiency_32"] for w in per.values() if w.get("efficiency_32") is not None]
    return (
        f"translate_x={_fmt(per.get('translate', {}).get('x_reference_32'), '.1f')} "
        f"summarize_x={_fmt(per.get('summarize', {}).get('x_reference_32'), '.1f')} "
        f"efficiency={_fmt(min(effs) if effs else None)} backend={backend}"
    )


def write(results: dict, out_dir: Path, stem: str) -> tuple[Path, Path | None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    return json_path, plot(results, out_dir / f"{stem}.png")


def plot(results: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    workloads = results["plan"]["workloads"]
    fig, axes = plt.subplots(2, len(workloads), figsize=(6 * len(workloads), 8), squeeze=False)
    for col, workload in enumerate(workloads):
        for system in results["plan"]["systems"]:
            cells = [c for c in results["cells"] if c["system"] == system and c["workload"] == workload]
            clients = [c["clients"] for c in cells]
            axes[0][col].plot(clients, [c["throughput"] for c in cells], marker="o", label=system)
            line = axes[1][col].plot(clients, [c["p95"] for c in cells], marker="o", label=system)[0]
            bounds = [c for c in cells if c["latency_is_lower_bound"]]  # true p95 is higher
            axes[1][col].scatter(
                [c["clients"] for c in bounds],
                [c["p95"] for c in bounds],
                s=120,
                marker="^",
                facecolors="none",
                edgecolors=line.get_color(),
            )
        axes[0][col].set_title(f"{workload}: throughput")
        axes[0][col].set_ylabel("requests / s")
        axes[1][col].set_title(f"{workload}: p95 latency (^: lower bound, cut off at the window)")
        axes[1][col].set_ylabel("seconds")
        for row in (0, 1):
            axes[row][col].set_xscale("log", base=2)
            axes[row][col].set_xlabel("concurrent clients")
            axes[row][col].grid(True, alpha=0.3)
            axes[row][col].legend()
        axes[1][col].set_yscale("log")
    fig.suptitle(f"textserve vs the seed design, {results['machine']['cores']} cores, {results['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
