"""Replica processes seen through psutil: which they are, their memory, and when they are idle.

Ray titles a replica's worker process `ray::ServeReplica:<app>:<deployment>`; the benchmark gives
its applications names no other cluster uses, so only its own replicas match.
(`ray.util.state` would need the dashboard, which the benchmark does not start.)
"""

from __future__ import annotations

import threading
import time

import psutil


def replica_pids(app: str, deployment: str) -> list[int]:
    title = f"ServeReplica:{app}:{deployment}"
    return sorted(
        p.pid for p in psutil.process_iter(["cmdline"]) if title in " ".join(p.info["cmdline"] or ())
    )


def rss_mib(pid: int) -> float:
    """Resident memory of one process, MiB (0 if it is gone)."""
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used (those gone count nothing)."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy: all but idle and I/O wait (guest time is
    already in user and nice)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def wait_until_idle(pids: list[int], timeout_s: float = 90, interval_s: float = 0.5) -> float:
    """Block until the replicas use under 10% of a core (work left from a cut-off load is done);
    returns the seconds waited."""
    started = time.monotonic()
    before = cpu_seconds(pids)
    while time.monotonic() - started < timeout_s:
        time.sleep(interval_s)
        now = cpu_seconds(pids)
        if now - before < 0.1 * interval_s:
            break
        before = now
    return time.monotonic() - started


class MemorySampler(threading.Thread):
    """Peak resident memory of each replica, sampled every `interval_s` until `stop()`."""

    def __init__(self, pids: list[int], interval_s: float = 0.5):
        super().__init__(daemon=True, name="bench-memory")
        self.peaks = dict.fromkeys(pids, 0.0)
        self.interval_s = interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            for pid in self.peaks:
                self.peaks[pid] = max(self.peaks[pid], rss_mib(pid))
            if self._stop_event.wait(self.interval_s):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    @property
    def per_replica_mib(self) -> float:
        """The largest replica's peak: what each replica must be given."""
        return max(self.peaks.values(), default=0.0)


class CpuMeter:
    """CPU seconds of some processes and of the whole machine over a `with` block."""

    def __init__(self, pids: list[int]):
        self.pids = pids

    def __enter__(self) -> CpuMeter:
        self.started = time.perf_counter()
        self.replicas0, self.machine0 = cpu_seconds(self.pids), machine_busy_s()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.started
        self.replica_s = cpu_seconds(self.pids) - self.replicas0
        self.machine_s = machine_busy_s() - self.machine0

    def as_dict(self) -> dict:
        return {
            "wall_s": round(self.wall, 2),
            "replica_cpu_s": round(self.replica_s, 1),
            "machine_busy_s": round(self.machine_s, 1),
            "replica_cores": round(self.replica_s / self.wall, 2),
            "machine_busy_cores": round(self.machine_s / self.wall, 2),
        }


def cpu_share(meters: list[CpuMeter]) -> dict:
    """Cores used on average over several measured runs."""
    wall = sum(m.wall for m in meters)
    if not wall:
        return {}
    return {
        "replica_cores": round(sum(m.replica_s for m in meters) / wall, 2),
        "machine_busy_cores": round(sum(m.machine_s for m in meters) / wall, 2),
    }
