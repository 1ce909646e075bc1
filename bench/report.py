"""What a benchmark run shows: the table, the ratios to the reference, serving efficiency, the JSON
file, the plot, and the one-line summary `make bench` ends with."""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path

import psutil

from bench.cpu_split import format_split
from bench.guard import highest_raw, invalid_lines
from bench.open_loop import KEEPING_UP
from textserve.machine import cpu_line, describe_cpu

SUMMARY_CLIENTS = 32  # the targets compare throughput at 32 concurrent clients
PEER_CLIENTS = (8, 32, 64)  # where ours is compared with the best peer


def machine() -> dict:
    cpu = describe_cpu()
    return {
        "cpu": cpu["model"],
        "cpu_vendor": cpu["vendor"],
        "cpu_family": cpu["family"],
        "cpu_model_number": cpu["model_number"],
        "cpu_flags": cpu["flags"],
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
    }


def machine_cpu(machine: dict) -> str:
    """The CPU line of a result's `machine` record (as `machine()` writes it)."""
    return cpu_line(
        {
            "model": machine.get("cpu"),
            "vendor": machine.get("cpu_vendor"),
            "family": machine.get("cpu_family"),
            "model_number": machine.get("cpu_model_number"),
            "flags": machine.get("cpu_flags"),
        }
    )


def machine_line(results: dict) -> str:
    m = results.get("machine", {})
    return f"machine: {machine_cpu(m)}, {m.get('cores')} cores, {m.get('memory_gib')} GiB"


def cell(results: dict, system: str, workload: str, clients: int) -> dict | None:
    return next(
        (
            c
            for c in results["cells"]
            if (c["system"], c["workload"], c["clients"]) == (system, workload, clients)
        ),
        None,
    )


def valid_cell(results: dict, system: str, workload: str, clients: int) -> dict | None:
    """The cell, unless the guard refused it (bench/guard.py): what the summary compares."""
    found = cell(results, system, workload, clients)
    return None if found is None or found.get("invalid") else found


def raw_ceiling(results: dict, backend: str, workload: str, clients: int | None = None) -> dict | None:
    """The raw engine figure for `backend` and `workload`: the one measured at the batch `clients`
    closed-loop clients can fill (runs before 2026-12-02 measured one batch size for all)."""
    raws = [r for r in results["raw"] if (r["backend"], r["workload"]) == (backend, workload)]
    return next((r for r in raws if clients in r.get("clients", [])), raws[0] if raws else None)


def derive(results: dict) -> None:
    """Add ratios to the reference and serving efficiency to `results`, in place."""
    for c in results["cells"]:
        ref = valid_cell(results, "reference", c["workload"], c["clients"])
        c["x_reference"] = c["throughput"] / ref["throughput"] if ref and ref["throughput"] else None
        c["p50_vs_reference"] = c["p50"] / ref["p50"] if ref and ref["p50"] else None
        raw = None
        if c["system"] in peers(results):  # a peer batches as it likes: the engine's best rate
            raw = highest_raw(results, c["backend"], c["workload"])
        elif c["system"] != "reference":
            found = raw_ceiling(results, c["backend"], c["workload"], c["clients"])
            raw = found and found["texts_per_s"]
        # efficiency compares a full server with the engine at the batches it can fill: 32 clients
        # and up (at 32, our two replicas hold 16 each, whatever larger max_batch_size is configured)
        full = c["clients"] >= SUMMARY_CLIENTS
        c["efficiency"] = c["throughput"] / raw if raw and full else None
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


def format_figure(value, spec: str = ".2f", none: str = "-") -> str:
    """A figure as the tables print it: `none` where there is none (or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return none
    return format(value, spec)


def _name_width(results: dict) -> int:
    return max([19] + [len(name) + 2 for name in results["plan"]["systems"]])


def table(results: dict) -> str:
    lines = [machine_line(results)]
    w = _name_width(results)
    header = (
        f"{'system':<{w}}{'clients':>8}{'req/s':>9}{'p50 s':>8}{'p95 s':>8}{'p99 s':>8}"
        f"{'batch':>7}{'err':>5}{'hits':>6}{'dec.':>6}{'x ref':>8}{'eff.':>7}"
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
                decoded = c.get("decoded")
                hits = decoded and decoded.get("cache_hits")
                share = decoded["decoded_texts"] / c["answered"] if decoded and c.get("answered") else None
                lines.append(
                    f"{system:<{w}}{clients:>8}{c['throughput']:>9.2f}{format_figure(c['p50']):>8}"
                    f"{bound}{format_figure(c['p95']):>7}{bound}{format_figure(c['p99']):>7}"
                    f"{format_figure(c['avg_batch'], '.1f'):>7}"
                    f"{c['errors']:>5}{format_figure(hits, '.0f'):>6}{format_figure(share):>6}"
                    f"{format_figure(c['x_reference'], '.1f'):>8}{format_figure(c['efficiency']):>7}"
                    + ("  INVALID" if c.get("invalid") else "")
                )
    lines.append(
        "\n'>': requests still in flight when the window closed reach that percentile; it is a "
        "lower bound.\nbatch: texts per model call; hits: cache hits; dec.: texts decoded per request "
        "answered; all three from the replicas' textserve_* metrics (ours only).\n"
        "eff.: served / the raw engine: ours at the batch our replicas fill with that many clients, "
        "a peer's at its best batch (it batches as it likes).\n"
        "Every request sends a text no earlier request of the run sent (bench/workload_texts.py)."
    )
    invalid = invalid_lines(results)
    if invalid:
        lines.append("\nINVALID (not decoding, or above the raw engine: left out of the summary line):")
        lines += [f"  {line}" for line in invalid]
    lines.append("\nresident memory per replica (peak over the run, MiB):")
    for m in results["memory"]:
        lines.append(
            f"  {m['system']:<{w}}{m['workload']:<11}{m['rss_mib']:>8.0f}"
            f"   {format_figure(m['vs_reference'], '.2f')} x reference"
        )
    lines.append(
        f"\nraw engine ceiling (no Ray; {results['plan']['raw_processes']} processes x 1 thread, "
        "at the batch our replicas fill with that many clients, up to serve_config.yaml's max_batch_size):"
    )
    for r in results["raw"]:
        served = f"   for {', '.join(map(str, r['clients']))} clients" if r.get("clients") else ""
        if r["texts_per_s"] == highest_raw(results, r["backend"], r["workload"]):
            served += f"{',' if served else '  '} the guard's ceiling"
        lines.append(
            f"  {r['backend']:<13}{r['workload']:<11}batch {r['batch']:<4}{r['texts_per_s']:>8.2f} "
            f"texts/s   peak RSS {r['max_rss_mib']:.0f} MiB{served}"
        )
    if results.get("peers"):
        lines.append("\npeers (their own venvs, the same converted model, on the same machine):")
        for name, peer in results["peers"].items():
            lines.append(f"  {name} {peer['version']}: {peer['settings']}")
    if results.get("open_loop"):
        lines.append(open_loop_table(results))
    if any("cpu_cores" in c for c in results.get("cells", [])):
        lines.append(cpu_table(results))
    return "\n".join(lines)


def cpu_table(results: dict, clients: int = 64) -> str:
    """Cores each group of processes used during the `clients` cells (bench/cpu_split.py)."""
    w = _name_width(results)
    lines = [
        f"\nCPU during the {clients}-client cells, cores of {results['machine'].get('cores')} "
        "(workers: replicas or a peer's model processes; clients: the bench's own threads)"
    ]
    for c in results["cells"]:
        if c["clients"] == clients and c.get("cpu_cores"):
            split = format_split(c["cpu_cores"])
            lines.append(f"  {c['system']:<{w}}{c['workload']:<11}{split}")
    return "\n".join(lines)


def open_loop_table(results: dict) -> str:
    w = _name_width(results)
    lines = [
        "\nopen loop: Poisson arrivals; the highest rate sustained: p99 under the bound, nothing "
        f"dropped, answers keeping up with arrivals (>= {KEEPING_UP} of them; shown where not)"
    ]
    header = f"{'system':<{w}}{'workload':<11}{'p99 bound':>10}{'sustained/s':>13}"
    lines.append(header + "   ladder (rate/s: p99 s, dropped)")
    for o in results["open_loop"]:
        ladder = ", ".join(
            f"{s['rate']:.1f}: {s['p99']:.2f}, {s['dropped']}"
            + ("" if s.get("keeping_up", 1.0) >= KEEPING_UP else f", kept up {s['keeping_up']:.2f}")
            for s in o["steps"]
        )
        bound, rate = f"{o['p99_bound_s']:>9.0f}s", format_figure(o["sustained_rate"])
        rate += "" if o.get("bracketed", True) else ">"  # no step failed: a lower bound
        invalid = "  INVALID" if o.get("invalid") else ""
        lines.append(f"{o['system']:<{w}}{o['workload']:<11}{bound}{rate:>13}   {ladder}{invalid}")
    return "\n".join(lines)


def peers(results: dict) -> list[str]:
    return list(results.get("peers") or {})


def sustained(results: dict, system: str, workload: str) -> float | None:
    return next(
        (
            o["sustained_rate"]
            for o in results.get("open_loop", [])
            if (o["system"], o["workload"]) == (system, workload) and not o.get("invalid")
        ),
        None,
    )


def versus_best_peer(results: dict, system: str) -> dict:
    """Our throughput over the best peer's at each of PEER_CLIENTS, per workload (and p95 over that
    peer's); the lowest ratio; one client's p50 over the quickest peer's; and the open-loop
    sustained rates over the best peer's."""
    closed, worst, open_ratios, one_client = [], None, {}, {}
    for workload in results["plan"]["workloads"]:
        for clients in PEER_CLIENTS:
            ours = valid_cell(results, system, workload, clients)
            theirs = [c for p in peers(results) if (c := valid_cell(results, p, workload, clients))]
            if not ours or not theirs:
                continue
            best = max(theirs, key=lambda c: c["throughput"])
            entry = {
                "workload": workload,
                "clients": clients,
                "best_peer": best["system"],
                "throughput_x": ours["throughput"] / best["throughput"] if best["throughput"] else None,
                "p95_x": ours["p95"] / best["p95"] if best["p95"] else None,
            }
            closed.append(entry)
            if entry["throughput_x"] is not None and (
                worst is None or entry["throughput_x"] < worst["throughput_x"]
            ):
                worst = entry
        ours_one = valid_cell(results, system, workload, 1)
        theirs_one = [c for p in peers(results) if (c := valid_cell(results, p, workload, 1)) and c["p50"]]
        if ours_one and theirs_one:  # the quickest peer for a lone request
            quickest = min(theirs_one, key=lambda c: c["p50"])
            one_client[workload] = {
                "best_peer": quickest["system"],
                "p50_x": ours_one["p50"] / quickest["p50"],
            }
        rates = {p: sustained(results, p, workload) for p in peers(results)}
        rates = {p: r for p, r in rates.items() if r}
        ours_rate = sustained(results, system, workload)
        if rates and ours_rate is not None:
            best_peer = max(rates, key=rates.get)
            open_ratios[workload] = {"best_peer": best_peer, "x": ours_rate / rates[best_peer]}
    return {
        "closed": closed,
        "vs_best_peer": worst and worst["throughput_x"],
        "worst": worst,
        "one_client": one_client,
        "open_loop": open_ratios,
        "open_loop_vs_best_peer": min((o["x"] for o in open_ratios.values()), default=None),
    }


def summary(results: dict) -> dict:
    """The figures the targets name, for the configured backend (and every backend measured)."""
    out = {}
    for backend in results["plan"]["backends"]:
        system = f"ours-{backend}"
        per = {}
        for workload in results["plan"]["workloads"]:
            c = valid_cell(results, system, workload, SUMMARY_CLIENTS)
            one = valid_cell(results, system, workload, 1)
            full = valid_cell(results, system, workload, 64)
            per[workload] = {
                "x_reference_32": c and c["x_reference"],
                "efficiency_32": c and c["efficiency"],
                "efficiency_64": full and full["efficiency"],
                "p50_1_vs_reference": one and one["p50_vs_reference"],
            }
        if peers(results):
            per["peers"] = versus_best_peer(results, system)
        out[backend] = per
    return out


def summary_line(results: dict) -> str:
    backend = results["configured_backend"]
    per = results["summary"].get(backend, {})
    effs = [
        w[key]
        for name, w in per.items()
        if name != "peers"
        for key in ("efficiency_32", "efficiency_64")
        if w.get(key) is not None
    ]
    line = (
        f"translate_x={format_figure(per.get('translate', {}).get('x_reference_32'), '.1f')} "
        f"summarize_x={format_figure(per.get('summarize', {}).get('x_reference_32'), '.1f')} "
        f"efficiency={format_figure(min(effs) if effs else None)} "
    )
    if "peers" in per:
        line += (
            f"vs_best_peer={format_figure(per['peers']['vs_best_peer'])} "
            f"open_loop_vs_best_peer={format_figure(per['peers']['open_loop_vs_best_peer'])} "
        )
    return line + f"backend={backend}"


def write(results: dict, out_dir: Path, stem: str) -> tuple[Path, list[Path]]:
    """The results' JSON and a plot per workload (none without matplotlib)."""
    from bench.plots import plot_workloads

    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    return json_path, plot_workloads(results, out_dir, stem)
