"""The BentoML peer's server, run by the BentoML venv's python (see bench/peers/spec.py):

    bentoml_server.py --converted DIR --tokenizer DIR --workload translate|summarize --length N
                      --port P [--max-batch-size 32] [--max-latency-ms 5000] [--workers 2]

Runs `bentoml serve bentoml_service:PeerService` in this process (the CLI's own code path), on
127.0.0.1:P only. This process becomes BentoML's circus arbiter; its 2 worker processes share the
listening socket it passes them. The arbiter's control sockets (ZeroMQ endpoint and pubsub) are on
127.0.0.1 at free ports; Prometheus metrics are served on P (/metrics), no port of their own. On
SIGTERM circus stops the workers (each drains for up to 5 s) and returns; then the per-run
BENTOML_HOME (also its TMPDIR) is removed. /readyz is 200 once both workers have loaded the model
(see bentoml_service.py).

The workers share one listening socket and each keeps the kept-alive connections it accepted: a
burst of new connections (a load generator starting) often lands mostly or all on one worker,
since asyncio accepts every pending connection at each wake-up and the worker already running
wakes first. Nothing rebalances them later (bench.peers.sweep reports the split per run).

Circus starts each worker with os.setsid(), which would take it out of this session, where
PeerServer finds and (after a timeout) kills the server's processes. `_keep_workers_in_session`
makes circus give each worker a process group of its own instead (same session) and a parent-death
signal, so workers also go when this process is killed outright."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _keep_workers_in_session() -> None:
    import ctypes
    import signal

    import circus.process

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def new_group_same_session() -> None:  # runs in the forked child, before exec
        os.setpgrp()
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    class _Os:  # circus.process's `os`, but setsid keeps the session
        setsid = staticmethod(new_group_same_session)

        def __getattr__(self, name: str):
            return getattr(os, name)

    circus.process.os = _Os()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--converted", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--workload", choices=["translate", "summarize"], required=True)
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-latency-ms", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    home = tempfile.mkdtemp(prefix="textserve-bentoml-home-")
    ready_dir = Path(home, "ready")  # bentoml_service.py: each worker marks itself loaded here
    ready_dir.mkdir()
    os.environ.update(
        {
            "TEXTSERVE_PEER_CONVERTED": str(Path(args.converted).resolve()),
            "TEXTSERVE_PEER_TOKENIZER": str(Path(args.tokenizer).resolve()),
            "TEXTSERVE_PEER_WORKLOAD": args.workload,
            "TEXTSERVE_PEER_LENGTH": str(args.length),
            "TEXTSERVE_PEER_MAX_BATCH_SIZE": str(args.max_batch_size),
            "TEXTSERVE_PEER_MAX_LATENCY_MS": str(args.max_latency_ms),
            "TEXTSERVE_PEER_WORKERS": str(args.workers),
            "TEXTSERVE_PEER_READY_DIR": str(ready_dir),
            "OMP_NUM_THREADS": "1",
            "BENTOML_HOME": home,  # its stores, prometheus multiproc dir, task db: per run, removed
            "TMPDIR": home,  # its socket dir (bentoml-uds-*) too
            "BENTOML_DO_NOT_TRACK": "True",  # no usage reports
            "BENTOML_DISABLE_GPU_ALLOCATION": "1",
            "HF_HUB_OFFLINE": "1",
        }
    )
    from bentoml_cli.cli import cli  # after BENTOML_HOME is set: its config reads it at import

    _keep_workers_in_session()

    command = ["serve", "bentoml_service:PeerService", "--working-dir", str(HERE)]
    command += ["--host", "127.0.0.1", "--port", str(args.port), "--timeout-graceful-shutdown", "5"]
    try:
        cli.main(args=command, prog_name="bentoml", standalone_mode=False)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
