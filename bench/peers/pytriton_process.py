"""The PyTriton server's processes: tritonserver and PyTriton's helpers stay in the server's
session and are stopped, or reaped, with it; start-up is watched, shutdown bounded. Imported by
bench/peers/pytriton_server.py, in the peer's own venv."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import threading
import time
from pathlib import Path

LOG = logging.getLogger("pytriton_server")
# /proc, not psutil: this runs in the PyTriton peer's venv (pytriton-requirements.txt), which lacks it


def session_others() -> list[int]:
    """The other live processes of this process's session (none if it does not lead one)."""
    me, sid = os.getpid(), os.getsid(0)
    if sid != me:  # run by hand, not as a session leader: claim no other process
        return []
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(entry.name) != me and len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def remove_leftovers(scratch: Path) -> None:
    """The workspace, and the Python backend's shared-memory regions: tritonserver names them
    "pytrtion<this pid>-..." (PyTriton's prefix, as spelled) and unlinks them only when it stops
    cleanly, not when it is killed."""
    shutil.rmtree(scratch, ignore_errors=True)
    for region in Path("/dev/shm").glob(f"pytrtion{os.getpid()}-*"):
        LOG.warning("removing leftover shared memory %s", region.name)
        region.unlink(missing_ok=True)


def stop_resource_tracker() -> None:
    """PyTriton's shared-memory tensor store starts multiprocessing's resource tracker in this
    process; it would exit only once this process has, so stop it now (it unlinks any segment
    still registered) rather than wait for it or kill it."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        try:
            stop()
        except Exception:
            LOG.exception("stopping the multiprocessing resource tracker")


def reap_session(grace_s: float = 5) -> None:
    """Wait up to grace_s for the rest of the session to exit, then SIGKILL what is left."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and session_others():
        time.sleep(0.1)
    for pid in session_others():
        LOG.warning("killing leftover process %d of this session", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class StartWatch(threading.Thread):
    """While the main thread is in triton.run(), call `abort(None)` when `stop` is set and
    `abort(reason)` when tritonserver exits. With 2+ instances, instances 1.. wait only 1 s for
    instance 0's handshake socket (PyTriton's proxy/model.py), and instance 0 first starts the
    tensor store (a multiprocessing manager): on a busy machine the load can fail, tritonserver
    exits, and PyTriton would notice only after its 120 s server-ready timeout."""

    def __init__(self, stop: threading.Event, abort):
        super().__init__(name="start-watch", daemon=True)
        self.stop, self._abort = stop, abort
        self.lock = threading.Lock()
        self.finished = False
        self.exited = threading.Event()  # PyTriton logged tritonserver's exit
        handler = _ExitLogged(self.exited)
        logging.getLogger("pytriton.server.triton_server").addHandler(handler)
        self.start()

    def run(self) -> None:
        seen: set[int] = set()
        while True:
            seen.update(children_named("tritonserver"))
            if self.stop.is_set():
                reason = None
            elif self.exited.is_set() or (seen and not any(alive(pid) for pid in seen)):
                reason = "tritonserver exited during start-up (the model did not load: see above)"
            else:
                time.sleep(0.05)
                continue
            with self.lock:
                if self.finished:
                    return
                self._abort(reason)  # does not return

    def abort(self, reason: str) -> None:
        with self.lock:
            self._abort(reason)

    def done(self) -> None:
        with self.lock:
            self.finished = True
        if self.stop.is_set():  # SIGTERM during start-up, just as it ended
            self.abort(None)


class _ExitLogged(logging.Handler):
    def __init__(self, event: threading.Event):
        super().__init__(level=logging.WARNING)
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if "exited" in record.getMessage():  # "Triton Inference Server exited with failure. ..."
            self.event.set()


STOP_TIMEOUT_S = 12


def stop_within(triton, timeout_s: float) -> bool:
    """triton.stop() in a thread; False if it has not returned after timeout_s."""
    stopper = threading.Thread(target=stop_triton, args=(triton,), name="stop-triton", daemon=True)
    stopper.start()
    stopper.join(timeout_s)
    return not stopper.is_alive()


def children_named(name: str) -> list[int]:
    """PIDs of this process's children whose command name is `name` (Linux /proc)."""
    me, found = os.getpid(), []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[-1].split()
        if comm == name and int(fields[1]) == me:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def stop_triton(triton) -> None:
    try:
        triton.stop()
    except Exception:  # e.g. tritonserver never started: nothing of it to stop
        LOG.exception("stopping Triton")
