"""Where one workload of one system answers, and what the benchmark reads of it: our apps and the
reference as Serve applications on the benchmark's cluster, a peer as its own server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.models import Workload
from bench.peers.spec import PeerServer, PeerSpec
from bench.replicas import replica_pids
from bench.systems import System, request_bodies
from textserve.prometheus import metric_total, settled


@dataclass
class Endpoint:
    system: str  # "reference", "ours-ctranslate2", "bentoml", ...
    backend: str  # the engine: "transformers" or "ctranslate2"
    workload: str
    port: int
    path: str
    bodies: list[dict]
    pids: list[int]  # the processes doing the work (replicas, a peer's workers)
    # (model calls, texts in them) so far, for the batch size column; None where not exposed
    batch_totals: Callable[[], tuple[float, float]] | None = None


def serve_endpoint(system: System, workload: str, load: Workload, port: int, metrics_url: str) -> Endpoint:
    """A deployed Serve system's application for `workload` (System.deploy first)."""
    target = system.target(workload)

    def totals() -> tuple[float, float]:
        def read() -> tuple[float, float]:
            return (
                metric_total(metrics_url, "ray_textserve_model_calls_total", application=target.app),
                metric_total(metrics_url, "ray_textserve_batched_texts_total", application=target.app),
            )

        return settled(read, 8)  # replicas report every second: wait until the totals stop moving

    return Endpoint(
        system=system.name,
        backend=system.backend,
        workload=workload,
        port=port,
        path=target.path,
        bodies=request_bodies(load),
        pids=replica_pids(target.app, target.deployment),
        batch_totals=None if system.name == "reference" else totals,
    )


@contextlib.contextmanager
def peer_endpoint(
    spec: PeerSpec, model_dir: Path, converted_dir: Path, load: Workload, log_dir: Path
) -> Iterator[Endpoint]:
    """A peer's server for `load`, started for the block and stopped after it (all its processes)."""
    with PeerServer(
        spec,
        converted_dir,
        model_dir,
        load.name,
        load.output_tokens,
        log_dir / f"{spec.name}-{load.name}.log",
    ) as server:
        server.request(load.texts[0])  # warm: the first call loads lazily in some servers
        yield Endpoint(
            system=spec.name,
            backend="ctranslate2",
            workload=load.name,
            port=server.port,
            path=spec.path(load.name),
            bodies=[spec.body(load.name, text) for text in load.texts],
            pids=server.pids(),
        )
