"""PyTriton peer: Triton Inference Server (the binary bundled in the nvidia-pytriton wheel) with its
dynamic batcher in front of the CTranslate2 model every peer serves (bench/peers/ct2_model.py).

Run by the peer's own venv python (bench/peers/pytriton-requirements.txt), with the CLI of
bench/peers/spec.py:

    pytriton_server.py --converted DIR --tokenizer DIR --workload translate|summarize --length N
                       --port P [--max-batch-size 32] [--queue-delay-us 0] [--instances 2]
                       [--transport tensorstore|base64] [--start-attempts 3] [--http-threads N]

One model named after the workload, input `text` (BYTES, [1]) and output `text` (BYTES, [1]),
reached with KServe v2 JSON at POST /v2/models/<workload>/infer. Triton listens for HTTP on
127.0.0.1:P only; gRPC, metrics, SageMaker and Vertex AI endpoints are off, so nothing else listens
on TCP (PyTriton's own traffic between Triton's Python-backend stubs and this process goes over
ZeroMQ ipc:// sockets in its workspace and, with the tensor store, /dev/shm).

How the 2 x 1-thread executions come about: `triton.bind` gets a list of `--instances` infer
callables, each with its own `PeerModel(..., threads=1)` (one CTranslate2 Translator, inter 1 /
intra 1). PyTriton turns that into `instance_group [{kind: KIND_CPU, count: N}]`: Triton runs N
Python-backend stub processes, and this process runs one inference-handler thread (own asyncio
loop, own ZeroMQ socket) per callable. Triton's dynamic batcher hands each free instance the next
batch, so up to N batches decode at once, each on one thread (CTranslate2 releases the GIL).

Readiness: the model store is written before tritonserver starts, so Triton loads the model during
its own start-up and opens its HTTP port only then: GET /v2/health/ready answers 200 only once the
model is loaded (the harness's ready_path cannot name the workload's model). PyTriton attaches its
inference handlers a moment later (0.4-3 s here); requests sent meanwhile wait, they do not fail.

Start-up can fail on a race in PyTriton (instances 1.. wait only 1 s for instance 0's handshake):
tritonserver then exits, and this script, not waiting out PyTriton's 120 s timeout, kills its
session, removes the workspace and execs itself again (same pid), --start-attempts times.

PyTriton runs the stubs with the venv's standard library but the loader's libpython3.11; this
script puts its own interpreter's libpython first on LD_LIBRARY_PATH so both match (see
use_this_interpreters_libpython).

SIGTERM (what PeerServer.stop sends) or SIGINT: stop Triton (SIGINT to tritonserver, which unloads
the model so the stubs exit; ~5 s), stop the inference handlers and the resource tracker, SIGKILL
anything still left in this process's session, remove the workspace and any shared-memory region
of ours, exit. If PyTriton's stop hangs (it can once tritonserver has died), after 12 s the same
clean-up runs anyway. SIGTERM during start-up: the same, at once. kill -USR1: thread stacks to the
log."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # ct2_model.py and pytriton_process.py, beside this file
from ct2_model import PeerModel  # noqa: E402
from pytriton_process import (  # noqa: E402
    STOP_TIMEOUT_S,
    StartWatch,
    alive,
    children_named,
    reap_session,
    remove_leftovers,
    stop_resource_tracker,
    stop_within,
)

LOG = logging.getLogger("pytriton_server")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--converted", required=True, help="CTranslate2 model directory")
    p.add_argument("--tokenizer", required=True, help="directory holding tokenizer.json")
    p.add_argument("--workload", required=True, choices=["translate", "summarize"])
    p.add_argument("--length", required=True, type=int, help="forced output length in tokens")
    p.add_argument("--port", required=True, type=int, help="HTTP port on 127.0.0.1")
    p.add_argument("--max-batch-size", type=int, default=32, help="Triton max_batch_size")
    p.add_argument(
        "--queue-delay-us", type=int, default=0, help="dynamic batcher max_queue_delay_microseconds"
    )
    p.add_argument("--instances", type=int, default=2, help="model instances (1 CTranslate2 thread each)")
    p.add_argument(
        "--transport",
        choices=["tensorstore", "base64"],
        default="tensorstore",
        help="how PyTriton moves tensors between Triton's stubs and this process: its shared-memory "
        "tensor store (PyTriton's default) or base64 in the ZeroMQ messages (PYTRITON_NO_TENSORSTORE)",
    )
    p.add_argument("--start-attempts", type=int, default=3, help="tries to start Triton and load the model")
    p.add_argument(
        "--http-threads", type=int, default=None, help="Triton HTTP threads (Triton's default if unset)"
    )
    return p.parse_args(argv)


def use_this_interpreters_libpython() -> None:
    """Put the libpython of the interpreter running this script first on LD_LIBRARY_PATH (Triton
    and its Python-backend stubs inherit it). The 3.11 stub links `libpython3.11.so.1.0` and the
    loader finds the system's (Debian: 3.11.2) while the stub runs this venv's standard library
    (here pyenv 3.11.7): the mismatch fails model initialisation with "AttributeError:
    '_thread.RLock' object has no attribute '_recursion_count'" (multiprocessing.resource_tracker)."""
    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if not libdir or not soname or not (Path(libdir) / soname).is_file():
        return  # a static interpreter: the stub falls back to whatever libpython the loader finds
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p and p != libdir]
    os.environ["LD_LIBRARY_PATH"] = ":".join([libdir, *paths])


def make_infer(model: PeerModel, workload: str, length: int):
    from pytriton.decorators import batch

    @batch
    def infer(text: np.ndarray) -> dict[str, np.ndarray]:
        # text: [batch, 1] of bytes (object dtype)
        texts = [row[0].decode("utf-8") if isinstance(row[0], bytes) else str(row[0]) for row in text]
        outputs = model.generate(workload, texts, length)
        return {"text": np.array([[o.encode("utf-8")] for o in outputs], dtype=np.object_)}

    return infer


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    stop = threading.Event()

    def on_signal(signum, _frame):
        LOG.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1: every thread's stack to the log

    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig, TritonLifecyclePolicy

    use_this_interpreters_libpython()
    if args.transport == "base64":
        os.environ["PYTRITON_NO_TENSORSTORE"] = "1"  # read here and in the stubs (inherited)
    # Our own workspace directory (model store, Triton's copy of its binaries, ipc sockets), so it
    # is removed on every way out, also when PyTriton's own clean-up does not run.
    scratch = Path(tempfile.mkdtemp(prefix="pytriton-peer-"))
    models = [PeerModel(args.converted, args.tokenizer, threads=1) for _ in range(args.instances)]
    infers = [make_infer(m, args.workload, args.length) for m in models]

    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=args.port,
        http_thread_count=args.http_threads,
        allow_grpc=False,
        allow_metrics=False,
        allow_gpu_metrics=False,
        allow_cpu_metrics=False,
        allow_sagemaker=False,
        allow_vertex_ai=False,
        exit_timeout_secs=5,
        log_verbose=0,
    )
    # Model store written at bind time, before tritonserver starts: tritonserver then loads the
    # model during its own start-up and opens HTTP only after that, so /v2/health/ready means "the
    # model is loaded". (With PyTriton's default policy the server starts empty, answers ready, and
    # only then gets the model through the repository API.) Requests arriving in the moment before
    # this process has attached to the stubs wait in their ZeroMQ sockets.
    policy = TritonLifecyclePolicy(launch_triton_on_startup=False, local_model_store=True)
    triton = Triton(config=config, workspace=scratch / "workspace", triton_lifecycle_policy=policy)
    triton.bind(
        model_name=args.workload,
        infer_func=infers,
        inputs=[Tensor(name="text", dtype=bytes, shape=(1,))],
        outputs=[Tensor(name="text", dtype=bytes, shape=(1,))],
        config=ModelConfig(
            max_batch_size=args.max_batch_size,
            batcher=DynamicBatcher(max_queue_delay_microseconds=args.queue_delay_us),
        ),
        strict=True,
    )

    def abort(failure: str | None) -> None:
        """Give up this start: kill the session, drop the workspace; exit, or start again in a
        fresh process (exec keeps the pid and session, so the harness still sees its server).
        PyTriton may still be waiting inside run() (its server-ready wait is 120 s, even once
        tritonserver has exited): nothing waits for it."""
        reap_session(grace_s=0)
        remove_leftovers(scratch)
        if failure is None:
            os._exit(0)
        LOG.error("start failed: %s", failure)
        if args.start_attempts <= 1:
            os._exit(1)
        LOG.warning("starting again (%d attempts left)", args.start_attempts - 1)
        again = argv_with(sys.argv[1:], "--start-attempts", str(args.start_attempts - 1))
        os.execv(sys.executable, [sys.executable, sys.argv[0], *again])

    starting = StartWatch(stop, abort)
    try:
        # In the main thread: tritonserver gets PR_SET_PDEATHSIG=SIGTERM from the thread that
        # starts it, so a helper thread that ended would take tritonserver with it.
        triton.run()
    except Exception as error:
        starting.abort(f"{type(error).__name__}: {error}")
    starting.done()

    LOG.info(
        "serving %s on http://127.0.0.1:%d (max_batch_size %d, queue delay %d us, %d instances, %s)",
        args.workload,
        args.port,
        args.max_batch_size,
        args.queue_delay_us,
        args.instances,
        args.transport,
    )
    code = 0
    try:
        # Watch tritonserver itself: PyTriton's own is_alive() can block for good once
        # tritonserver has died (its exit callback's clean-up holds the model's lock).
        server_pids = children_named("tritonserver")
        while not stop.wait(1.0):
            if not any(alive(pid) for pid in server_pids):
                LOG.error("tritonserver exited: stopping")
                code = 1
                break
    finally:
        if not stop_within(triton, STOP_TIMEOUT_S):
            LOG.error("PyTriton did not stop in %g s: killing the session", STOP_TIMEOUT_S)
            code = 1
        stop_resource_tracker()
        reap_session(grace_s=0 if code else 5)
        remove_leftovers(scratch)
    os._exit(code)  # PyTriton's threads (a stop still under way) must not keep the process up


def argv_with(argv: list[str], flag: str, value: str) -> list[str]:
    """`argv` with `flag` (as "flag value" or "flag=value") set to `value`."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        elif not arg.startswith(flag + "="):
            out.append(arg)
    return [*out, flag, value]


if __name__ == "__main__":
    main()
