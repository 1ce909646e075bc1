"""The BentoML peer's service (new-style `@bentoml.service`), imported by `bentoml serve` and by each
of its worker processes. Configured by the environment bentoml_server.py sets, read at import so the
decorators see it:

    TEXTSERVE_PEER_CONVERTED, TEXTSERVE_PEER_TOKENIZER   model and tokenizer directories
    TEXTSERVE_PEER_WORKLOAD, TEXTSERVE_PEER_LENGTH       translate|summarize, forced output tokens
    TEXTSERVE_PEER_MAX_BATCH_SIZE, TEXTSERVE_PEER_MAX_LATENCY_MS   the adaptive batcher's bounds

One API, named after the workload (POST /translate or /summarize, body {"texts": [...]}, answer a
JSON list of strings). It is batchable: each worker's dispatcher merges concurrent requests' lists
into one `generate` call. 2 worker processes, 1 thread each, CTranslate2 with one intra thread.

/readyz answers 200 only once every worker has loaded (and warmed) its model: each worker marks
itself in TEXTSERVE_PEER_READY_DIR. Otherwise the first worker up answers /readyz while the other
still loads, and a load generator's burst of keep-alive connections all lands on the first one
(the workers share one listening socket; nothing balances connections later)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import bentoml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ct2_model, beside this file
from ct2_model import PeerModel

WORKLOAD = os.environ.get("TEXTSERVE_PEER_WORKLOAD", "translate")
LENGTH = int(os.environ.get("TEXTSERVE_PEER_LENGTH", "30"))
MAX_BATCH_SIZE = int(os.environ.get("TEXTSERVE_PEER_MAX_BATCH_SIZE", "32"))
MAX_LATENCY_MS = int(os.environ.get("TEXTSERVE_PEER_MAX_LATENCY_MS", "5000"))
WORKERS = int(os.environ.get("TEXTSERVE_PEER_WORKERS", "2"))


@bentoml.service(name="textserve_peer", workers=WORKERS, threads=1, traffic={"timeout": 300})
class PeerService:
    def __init__(self) -> None:
        self.model = PeerModel(
            os.environ["TEXTSERVE_PEER_CONVERTED"], os.environ["TEXTSERVE_PEER_TOKENIZER"], threads=1
        )

    @bentoml.api(
        name=WORKLOAD,
        route=f"/{WORKLOAD}",
        batchable=True,
        max_batch_size=MAX_BATCH_SIZE,
        max_latency_ms=MAX_LATENCY_MS,
    )
    def generate(self, texts: list[str]) -> list[str]:
        return self.model.generate(WORKLOAD, texts, LENGTH)
