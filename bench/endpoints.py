"""Where one workload of one system answers, and what the benchmark reads of it: our apps and the
reference as Serve applications on the benchmark's cluster, a peer as its own server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.bodies import Bodies
from bench.metrics import decoding_counters
from bench.models import Workload
from bench.peers.spec import PeerServer, PeerSpec
from bench.replicas import replica_pids
from bench.systems import System, request_bodies


@dataclass
class Endpoint:
    system: str  # "reference", "ours-ctranslate2", "bentoml", ...
    backend: str  # the engine: "transformers" or "ctranslate2"
    workload: str
    port: int
    path: str
    bodies: Bodies  # each sent once over the endpoint's warm-up, cells and open-loop ladder
    pids: list[int]  # the processes doing the work (replicas, a peer's workers)
    # model calls, decoded texts and cache lookups so far (bench/metrics.decoding_counters), for the
    # batch column and the guard; None where the server does not expose them
    counters: Callable[[], dict[str, float]] | None = None


def serve_endpoint(system: System, workload: str, load: Workload, port: int, metrics_url: str) -> Endpoint:
    """A deployed Serve system's application for `workload` (System.deploy first)."""
    target = system.target(workload)
    return Endpoint(
        system=system.name,
        backend=system.backend,
        workload=workload,
        port=port,
        path=target.path,
        bodies=Bodies(request_bodies(load)),
        pids=replica_pids(target.app, target.deployment),
        counters=None if system.name == "reference" else partial(decoding_counters, metrics_url, target.app),
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
        bodies = Bodies([spec.body(load.name, text) for text in load.texts])
        bodies.take()  # text 0, sent here to warm: the first call loads lazily in some servers
        server.request(load.texts[0])
        yield Endpoint(
            system=spec.name,
            backend="ctranslate2",
            workload=load.name,
            port=server.port,
            path=spec.path(load.name),
            bodies=bodies,
            pids=server.pids(),
        )
