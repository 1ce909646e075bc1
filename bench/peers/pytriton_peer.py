"""The PyTriton peer as the harness runs it (nvidia-pytriton 0.7.0): Triton Inference Server's
dynamic batcher in front of 2 model instances, each a Python callable with its own one-thread
CTranslate2 int8 translator (bench/peers/pytriton_server.py). Requests are KServe v2 JSON to
/v2/models/<workload>/infer; one text per request, as the other systems get.

Settings from 32 keep-alive clients, translate, on 2 cores: max batch 16 beat 32 (the cap splits
the queue between the two instances instead of letting one take it all: average batch ~8 against
~6); a 5 ms queue delay did not measurably help, 50 ms cost ~30%."""

from __future__ import annotations

from bench.peers.spec import PeerSpec

MAX_BATCH_SIZE = 16
QUEUE_DELAY_US = 0
INSTANCES = 2

# the grid the settings were chosen from (a sweep tool may use it as its default)
SWEEP = {"--max-batch-size": ["16", "32"], "--queue-delay-us": ["0", "5000", "50000"]}


def _body(workload: str, text: str) -> dict:
    return {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1, 1], "data": [text]}]}


SPEC = PeerSpec(
    name="pytriton",
    version="0.7.0",
    requirements="pytriton-requirements.txt",
    server="pytriton_server.py",
    path=lambda workload: f"/v2/models/{workload}/infer",
    body=_body,
    ready_path="/v2/health/ready",  # 200 only once the model is loaded (see pytriton_server.py)
    options={
        "--max-batch-size": str(MAX_BATCH_SIZE),
        "--queue-delay-us": str(QUEUE_DELAY_US),
        "--instances": str(INSTANCES),
    },
    describe=f"{INSTANCES} instances x 1 thread, dynamic batcher max_batch_size {MAX_BATCH_SIZE}, "
    f"max_queue_delay {QUEUE_DELAY_US} us",
)
