"""The peers `make bench` runs beside our apps, by name (each spec imported when asked for)."""

from __future__ import annotations

import importlib

from bench.peers.spec import PeerSpec

MODULES = {"bentoml": "bench.peers.bentoml_peer", "pytriton": "bench.peers.pytriton_peer"}
PEERS = tuple(MODULES)


def peer_spec(name: str) -> PeerSpec:
    if name not in MODULES:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    return importlib.import_module(MODULES[name]).SPEC
