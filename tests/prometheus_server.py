"""A real Prometheus server for the tests: Debian's `prometheus` binary (`make system-packages`
installs it), on a free port of 127.0.0.1, with a config file and a TSDB directory of its own,
scraping one metrics endpoint; queried through its HTTP API (/api/v1/...)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from textserve.inprocess import free_port

BINARY = "prometheus"
JOB = "ray"


def binary() -> str | None:
    """The path of Debian's `prometheus`, or None when it is not installed."""
    return shutil.which(BINARY)


class PrometheusServer:
    """One `prometheus` process; `start` it, `stop` it (terminate, wait, kill on timeout)."""

    def __init__(self, executable: str, directory: Path, metrics_url: str, scrape_interval_s: float = 1):
        self.executable = executable
        self.directory = directory
        self.metrics_url = metrics_url
        self.scrape_interval = f"{scrape_interval_s:g}s"
        self.port = 0
        self.url = ""
        self.process: subprocess.Popen | None = None
        self.log_path = directory / "prometheus.log"
        self._http: httpx.Client | None = None

    def write_config(self) -> Path:
        target = urlsplit(self.metrics_url)
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "metrics_path": target.path or "/metrics",
                    "static_configs": [{"targets": [target.netloc]}],
                }
            ],
        }
        path = self.directory / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def start(self, timeout_s: float = 30, attempts: int = 3) -> PrometheusServer:
        """Start the server and wait until it answers /-/ready; on another free port if the one
        picked was taken before Prometheus bound it."""
        config = self.write_config()
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(config, timeout_s)
            except RuntimeError:
                if attempt == attempts or "address already in use" not in self.log():
                    raise

    def _start_once(self, config: Path, timeout_s: float) -> PrometheusServer:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    self.executable,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.directory / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )
        if self._http is not None:
            self._http.close()
        self._http = httpx.Client(base_url=self.url, timeout=10)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}: {self.log()}")
            try:
                if self._http.get("/-/ready").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"prometheus not ready on {self.url} in {timeout_s:g} s: {self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        """The end of the server's own log (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def api(self, path: str, **params: str) -> dict:
        """The JSON answer of GET /api/v1/<path>, errors included ({"status": "error", ...})."""
        response = self._http.get(f"/api/v1/{path}", params=params)
        try:
            return response.json()
        except ValueError:
            return {"status": "error", "error": f"HTTP {response.status_code}: {response.text[:500]}"}

    def query(self, expr: str) -> dict:
        """An instant query at the current time: {"status": ..., "data": {"resultType", "result"}}."""
        return self.api("query", query=expr)

    def targets(self) -> list[dict]:
        return self.api("targets", state="active").get("data", {}).get("activeTargets", [])

    def wait_until_target_up(self, timeout_s: float = 30) -> dict:
        """The scrape target once its last scrape succeeded (health "up")."""
        deadline = time.monotonic() + timeout_s
        while True:
            targets = self.targets()
            up = [t for t in targets if t.get("health") == "up"]
            if up:
                return up[0]
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.metrics_url} not scraped successfully in {timeout_s:g} s: {targets} {self.log()}"
                )
            time.sleep(0.3)

    def stop(self, timeout_s: float = 10) -> None:
        """SIGTERM, wait up to `timeout_s`, then SIGKILL: this one process, which we started."""
        if self._http is not None:
            self._http.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout_s)
