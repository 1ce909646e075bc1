"""A plot per workload of a `make bench` run: throughput and p95 latency against concurrent
clients for every system, and the open-loop ladder (p99 against the offered rate)."""

from __future__ import annotations

from pathlib import Path


def plot_workloads(results: dict, out_dir: Path, stem: str) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    # one colour per system in every panel
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colour = {system: palette[n % len(palette)] for n, system in enumerate(results["plan"]["systems"])}
    for workload in results["plan"]["workloads"]:
        ladders = [o for o in results.get("open_loop", []) if o["workload"] == workload]
        fig, axes = plt.subplots(1, 3 if ladders else 2, figsize=(17 if ladders else 12, 4.5), squeeze=False)
        throughput, latency = axes[0][0], axes[0][1]
        for system in results["plan"]["systems"]:
            cells = [c for c in results["cells"] if c["system"] == system and c["workload"] == workload]
            if not cells:
                continue
            clients = [c["clients"] for c in cells]
            style = {"marker": "o", "label": system, "color": colour[system]}
            throughput.plot(clients, [c["throughput"] for c in cells], **style)
            line = latency.plot(clients, [c["p95"] for c in cells], **style)[0]
            bounds = [c for c in cells if c["latency_is_lower_bound"]]  # true p95 is higher
            latency.scatter(
                [c["clients"] for c in bounds],
                [c["p95"] for c in bounds],
                s=120,
                marker="^",
                facecolors="none",
                edgecolors=line.get_color(),
            )
        throughput.set_title(f"{workload}: throughput (closed loop)")
        throughput.set_ylabel("requests / s")
        latency.set_title("p95 latency (^: lower bound, cut off at the window)")
        latency.set_ylabel("seconds")
        latency.set_yscale("log")
        for ax in (throughput, latency):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("concurrent clients")
        if ladders:
            ladder = axes[0][2]
            for o in ladders:
                steps = sorted(o["steps"], key=lambda s: s["rate"])
                ladder.plot(
                    [s["rate"] for s in steps],
                    [s["p99"] for s in steps],
                    marker="o",
                    label=o["system"],
                    color=colour.get(o["system"]),
                )
            ladder.axhline(ladders[0]["p99_bound_s"], color="grey", linestyle="--", label="p99 bound")
            ladder.set_title("open loop: p99 latency vs offered rate")
            ladder.set_xlabel("Poisson arrivals / s")
            ladder.set_ylabel("seconds")
            ladder.set_yscale("log")
        for ax in axes[0]:
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
        cores = results["machine"]["cores"]
        fig.suptitle(f"{workload}: {', '.join(results['plan']['systems'])}; {cores} cores, {results['date']}")
        fig.tight_layout()
        path = out_dir / f"{stem}-{workload}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
