"""How the benchmark runs a peer server (BentoML, PyTriton): its venv, its command line, where
requests go and what they look like, and how it is started and stopped.

A peer's server is a script in bench/peers/ run by the peer's own venv python with

    --converted DIR --tokenizer DIR --workload translate|summarize --length N --port P [options]

serving HTTP on 127.0.0.1:P only (no other interface, no other fixed port). `PeerServer` starts it
in a session of its own and stops exactly that session's processes (workers included)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.peers.venvs import PEERS_DIR, ensure_venv
from textserve.inprocess import free_port
from textserve.processes import session_pids, stop_session


class PeerStartError(RuntimeError):
    """The peer's server did not become ready; the message has its last log lines."""


@dataclass(frozen=True)
class PeerSpec:
    name: str  # "bentoml", "pytriton"
    version: str  # the peer's package version, as pinned in its requirements
    requirements: str  # file in bench/peers/
    server: str  # script in bench/peers/, run by the peer's venv python
    path: Callable[[str], str]  # workload -> HTTP path of its requests
    body: Callable[[str, str], dict]  # (workload, text) -> JSON body of one request
    ready_path: str  # GET answers 200 once the server can take requests
    options: dict[str, str] = field(default_factory=dict)  # extra CLI options (--flag value)
    describe: str = ""  # the settings, as the report shows them

    def python(self) -> Path:
        return ensure_venv(PEERS_DIR / self.requirements)


class PeerServer:
    """A running peer server: `with PeerServer(spec, ...) as server: server.port`."""

    def __init__(
        self,
        spec: PeerSpec,
        converted: Path,
        tokenizer: Path,
        workload: str,
        length: int,
        log_path: Path,
        options: dict[str, str] | None = None,
        ready_timeout_s: float = 300,
    ):
        self.spec, self.workload = spec, workload
        self.port = free_port()
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        merged = {**spec.options, **(options or {})}
        self.command = [
            str(spec.python()),
            str(PEERS_DIR / spec.server),
            "--converted",
            str(converted),
            "--tokenizer",
            str(tokenizer),
            "--workload",
            workload,
            "--length",
            str(length),
            "--port",
            str(self.port),
        ]
        for flag, value in merged.items():
            self.command += [flag, str(value)]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> PeerServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)  # nothing of our venv leaks into the peer's
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=PEERS_DIR
        )
        log.close()
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise PeerStartError(f"{self.spec.name} exited with {code}:\n{self.log_tail()}")
            if self._ready():
                return
            time.sleep(0.5)
        self.stop()
        raise PeerStartError(f"{self.spec.name} not ready in {self.ready_timeout_s:g} s:\n{self.log_tail()}")

    def _ready(self) -> bool:
        url = f"http://127.0.0.1:{self.port}{self.spec.ready_path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def request(self, text: str, timeout_s: float = 60) -> dict:
        """One request, as the load generator sends it; the peer's JSON answer."""
        body = json.dumps(self.spec.body(self.workload, text)).encode()
        url = f"http://127.0.0.1:{self.port}{self.spec.path(self.workload)}"
        req = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=timeout_s) as answer:
            return json.loads(answer.read())

    def pids(self) -> list[int]:
        """Every process of the server's session (its workers included)."""
        return session_pids(self.process.pid) if self.process else []

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM to the server; SIGKILL to every process left in its session after `timeout_s`."""
        if self.process is None:
            return
        stop_session(self.process.pid, proc=self.process, timeout_s=timeout_s)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
