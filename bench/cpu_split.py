"""Where the machine's CPU goes during a measurement: every process's CPU time (psutil), over
the wall time, grouped into the serving system's workers (replicas, a peer's model processes),
the benchmark's own clients, and every other process by its name (haproxy, raylet, gcs_server,
ray::ServeController, tritonserver, ...). The profile a missed target is read from."""

from __future__ import annotations

import os
import re
import time

import psutil

SHOWN_CORES = 0.02  # smaller shares are summed into "rest"


def process_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (process name, user + system CPU seconds so far) for every process."""
    used = {}
    for process in psutil.process_iter(["name", "cpu_times"]):
        name, times = process.info["name"], process.info["cpu_times"]
        if name is None or times is None:  # not readable
            continue
        if name.startswith("ray::"):  # the kernel cuts names at 15 characters: read Ray's title
            name = _ray_title(process) or name
        used[process.pid] = (name, times.user + times.system)
    return used


def _ray_title(process: psutil.Process) -> str | None:
    """`ServeReplica` of `ray::ServeReplica:<app>:<deployment>`, `ServeController`, ..."""
    try:
        title = (process.cmdline() or [""])[0]
    except psutil.Error:
        return None
    return re.split(r"[:. ]", title.removeprefix("ray::"))[0] if title.startswith("ray::") else None


class CpuSplit:
    """Start before a measurement, `stop` after: cores used per group over that time."""

    def __init__(self, workers: list[int]):
        self.workers = set(workers)
        self.started_at = time.monotonic()
        self.before = process_cpu()

    def _group(self, pid: int, name: str) -> str:
        if pid in self.workers:
            return "workers"
        if pid == os.getpid():
            return "clients"
        return name.removeprefix("ray::")

    def stop(self) -> dict[str, float]:
        after = process_cpu()
        seconds = max(time.monotonic() - self.started_at, 1e-9)
        cores: dict[str, float] = {}
        for pid, (name, cpu_s) in after.items():
            start = self.before.get(pid, (name, 0.0))[1]  # a process started meanwhile counts whole
            used = (cpu_s - start) / seconds
            if used > 0:
                group = self._group(pid, name)
                cores[group] = cores.get(group, 0.0) + used
        shown = {g: round(c, 2) for g, c in sorted(cores.items(), key=lambda i: -i[1]) if c >= SHOWN_CORES}
        rest = sum(c for g, c in cores.items() if g not in shown)
        return {**shown, "rest": round(rest, 2), "total": round(sum(cores.values()), 2)}


def format_split(cores: dict[str, float]) -> str:
    """`workers 1.72, clients 0.03, ..., total 1.98`: a split as the tables print it."""
    return ", ".join(f"{group} {used:.2f}" for group, used in cores.items())
