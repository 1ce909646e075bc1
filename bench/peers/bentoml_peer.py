"""The BentoML peer as the harness runs it (not named bentoml.py: with bench/peers on sys.path that
would shadow the bentoml package in the peer's venv). Its server is bentoml_server.py, its service
bentoml_service.py. Settings from `python -m bench.peers.sweep --peer bentoml` (translate, 32
keep-alive clients, 2 cores): max_latency_ms 500 sheds load (the dispatcher answers 503 once its
cost model predicts the wait exceeds it: ~1,600 of them in 10 s); 2000 and 5000 gave the same req/s
within noise, 2000 shed a few under contention; max_batch_size 32 lets one worker batch all 32
clients when, as often, most connections land on one worker (see bentoml_server.py)."""

from __future__ import annotations

from bench.peers.spec import PeerSpec

MAX_BATCH_SIZE = 32
MAX_LATENCY_MS = 5000

# python -m bench.peers.sweep --peer bentoml: the default grid
SWEEP = {"--max-batch-size": ["16", "32"], "--max-latency-ms": ["500", "2000", "5000"]}

SPEC = PeerSpec(
    name="bentoml",
    version="1.4.40",
    requirements="bentoml-requirements.txt",
    server="bentoml_server.py",
    path=lambda workload: f"/{workload}",
    body=lambda workload, text: {"texts": [text]},
    ready_path="/readyz",
    options={"--max-batch-size": str(MAX_BATCH_SIZE), "--max-latency-ms": str(MAX_LATENCY_MS)},
    describe=f"2 workers x 1 thread, batchable max {MAX_BATCH_SIZE}, max_latency_ms {MAX_LATENCY_MS}",
)
