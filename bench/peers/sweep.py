"""A settings sweep for one peer server: for each point of a grid of its server options, start the
peer (PeerServer), drive N closed-loop keep-alive clients (bench.load.closed_loop, http.client) for
a warm-up and T measured seconds, stop it; print a table and write JSON.

    python -m bench.peers.sweep --peer bentoml --out /tmp/bentoml-sweep.json \
        [--workload translate] [--clients 32] [--seconds 10] [--warmup 3] [--repeat 1] \
        [--grid max-batch-size=16,32 --grid max-latency-ms=500,2000,5000]

The peer is bench/peers/<peer>_peer.py (its SPEC; its SWEEP, {flag: [values]}, is the default
grid). Texts and forced output lengths are the benchmark's (bench.models.workloads). Each row also
says how the server's processes shared the clients' connections, and how much CPU processes other
than the server and this one used meanwhile ("other CPU", in cores): on a shared machine, a row
measured while other work ran is not comparable."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import json
import os
import sys
import threading
import time
from pathlib import Path

import psutil

from bench.load import closed_loop
from bench.peers.spec import PeerServer, PeerSpec
from bench.replicas import cpu_seconds, machine_busy_s


def connections_by_process(pids: list[int], port: int) -> dict[str, int]:
    """Established TCP connections on local `port` held by each of `pids`."""
    held = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            connections = psutil.Process(pid).net_connections(kind="tcp")
            count = sum(c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port for c in connections)
            if count:
                held[str(pid)] = count
    return held


def cpu_used(pids: list[int]) -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds used by `pids` and this process)."""
    return machine_busy_s(), cpu_seconds([os.getpid(), *pids])


def model_dirs() -> tuple[Path, Path]:
    """(converted CTranslate2 dir, tokenizer dir): the benchmark's checkpoint and its conversion."""
    from apps.common.engines.ctranslate2_conversion import converted_model_dir
    from bench.models import ensure_model

    model = ensure_model()
    return Path(converted_model_dir(model)), Path(model)


def measure(
    server: PeerServer,
    spec: PeerSpec,
    workload: str,
    bodies: list,
    clients: int,
    seconds: float,
    warmup: float,
) -> dict:
    probe: dict = {}

    def start() -> None:  # once the measured window has begun
        probe["connections"] = connections_by_process(server.pids(), server.port)
        probe["t0"], probe["cpu0"] = time.monotonic(), cpu_used(server.pids())

    timer = threading.Timer(warmup + 0.5, start)
    timer.start()
    cell = closed_loop(
        "127.0.0.1", server.port, spec.path(workload), bodies, clients, seconds, warmup_s=warmup
    )
    timer.cancel()
    (busy0, own0), (busy1, own1) = probe["cpu0"], cpu_used(server.pids())
    other = (busy1 - busy0 - (own1 - own0)) / (time.monotonic() - probe["t0"])
    return {**cell.as_dict(), "connections": probe["connections"], "other_cpu_cores": round(max(other, 0), 2)}


def sweep(
    spec: PeerSpec,
    grid: dict[str, list[str]],
    workload: str = "translate",
    clients: int = 32,
    seconds: float = 10,
    warmup: float = 3,
    repeat: int = 1,
    log_dir: Path = Path("/tmp"),
) -> list[dict]:
    """One row per grid point and repeat: its options and measure()'s fields (throughput: req/s)."""
    from bench.models import workloads

    converted, tokenizer = model_dirs()
    load = workloads(tokenizer)[workload]
    bodies = [spec.body(workload, text) for text in load.texts]
    rows = []
    for values, _ in itertools.product(itertools.product(*grid.values()), range(repeat)):
        options = dict(zip(grid, values, strict=True))
        log = log_dir / f"{spec.name}-sweep-{workload}-{'-'.join(values) or 'defaults'}.log"
        started = time.monotonic()
        with PeerServer(spec, converted, tokenizer, workload, load.output_tokens, log, options) as server:
            ready_s = round(time.monotonic() - started, 1)
            server.request(load.texts[0])  # one answer before the clock: the peer really works
            measured = measure(server, spec, workload, bodies, clients, seconds, warmup)
        rows.append({"options": options, "ready_s": ready_s, **measured})
        split = "/".join(map(str, measured["connections"].values())) or "-"
        cells = [f"{measured[k]:.{d}f}" for k, d in (("throughput", 1), ("p50", 2), ("p95", 2))]
        print_row([*values, *cells, measured["errors"], split, measured["other_cpu_cores"]])
    return rows


def print_row(cells: list) -> None:
    print(" | ".join(f"{c:>14}" for c in cells), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True, help="bench/peers/<peer>_peer.py")
    parser.add_argument("--workload", default="translate", choices=["translate", "summarize"])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="runs per grid point")
    parser.add_argument("--grid", action="append", default=[], help="flag=v1,v2: a server option and values")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args(argv)

    module = importlib.import_module(f"bench.peers.{args.peer}_peer")
    spec: PeerSpec = module.SPEC
    grid = {} if args.grid else dict(getattr(module, "SWEEP", {}))
    for item in args.grid:  # "max-batch-size=16,32" -> {"--max-batch-size": ["16", "32"]}
        flag, _, values = item.partition("=")
        if not values:
            parser.error(f"--grid wants flag=v1,v2, got {item!r}")
        grid["--" + flag.lstrip("-")] = values.split(",")
    print(
        f"{spec.name} {spec.version}: {args.workload}, {args.clients} keep-alive clients, "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per run",
        flush=True,
    )
    print_row(
        [f.lstrip("-") for f in grid] + ["req/s", "p50 s", "p95 s", "errors", "conns/process", "other CPU"]
    )
    rows = sweep(spec, grid, args.workload, args.clients, args.seconds, args.warmup, args.repeat)
    settings = {k: v for k, v in vars(args).items() if k not in ("peer", "grid", "out")}
    command = " ".join(["python -m bench.peers.sweep", *(sys.argv[1:] if argv is None else argv)])
    result = {"peer": spec.name, "version": spec.version, **settings, "grid": grid, "cpus": os.cpu_count()}
    result |= {"client": "closed loop, http.client keep-alive (bench.load.closed_loop)", "command": command}
    result["rows"] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
