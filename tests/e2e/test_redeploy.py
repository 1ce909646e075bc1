"""A redeploy loses nothing: under continuous mixed traffic (short texts on every route, long
documents, streams) through Serve's HAProxy, a `serve deploy` that replaces every replica (a
changed `ray_actor_options`) and then a scale-down from 2 replicas to 1 end with every request
answered whole: 200 (a stream with its `done` event), or a 503 with Retry-After, which tells the
client to send it again. A replica that goes away first answers what it holds, for up to
`graceful_shutdown_timeout_s` (35 s, above the longest request allowed: serve_config.yaml).
Figures: docs/reliability.md."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import yaml

from tests.e2e.conftest import DEPLOYMENTS, deploy_demo_config, serve_cli, serve_details
from tests.e2e.load import long_document
from tests.figures import record_figures
from textserve.demo_phrases import SUMMARIES, TRANSLATIONS

pytestmark = pytest.mark.e2e

SENTENCES = list(TRANSLATIONS)


# (name, route, body, the field a whole answer has; None: an NDJSON stream, whole with `done`)
REQUESTS = (
    ("translate", "/translate", {"text": "Hello world!"}, "translation"),
    ("summarize", "/summarize", {"text": next(iter(SUMMARIES))}, "summary"),
    ("router", "/", {"text": "Hello world!", "task": "translate", "target_lang": "de"}, "translation"),
    ("stream", "/translate", {"texts": SENTENCES[:6], "stream": True}, None),
    ("long document", "/summarize", {"text": long_document(12_000)}, "summary"),
)


class Outcome(NamedTuple):
    start: float
    end: float
    name: str
    status: int | str  # the HTTP status, or the httpx error's name (no answer)
    whole: bool  # a 200 with its whole answer
    retry_after: bool  # a 503 that says when to send again


def judge(response: httpx.Response, field: str | None) -> tuple[bool, bool]:
    """(whole answer, a 503 with Retry-After)."""
    if response.status_code == 503:
        return False, "retry-after" in response.headers
    if response.status_code != 200:
        return False, False
    try:
        if field is None:
            events = [json.loads(line) for line in response.text.splitlines() if line.strip()]
            return bool(events) and events[-1].get("event") == "done", False
        return bool(response.json().get(field)), False
    except ValueError:  # a cut body
        return False, False


class Traffic:
    """One closed-loop client per request kind, each on its own kept-alive connection."""

    def __init__(self, url: str):
        self.url, self.outcomes = url, []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=r, daemon=True) for r in REQUESTS]

    def _client(self, name: str, route: str, body: dict, field: str | None) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self._stop.is_set():
                start = time.monotonic()
                try:
                    response = http.post(route, json=body)
                    whole, retry_after = judge(response, field)
                    status: int | str = response.status_code
                except httpx.HTTPError as exc:
                    whole, retry_after, status = False, False, type(exc).__name__
                self.outcomes.append(Outcome(start, time.monotonic(), name, status, whole, retry_after))
                time.sleep(0.05)

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)


def replicas(cluster) -> dict[str, list[tuple[str, str]]]:
    """Per app, (replica_id, state) of its deployment's replicas."""
    apps = serve_details(cluster)["applications"]
    return {
        app: [(r["replica_id"], r["state"]) for r in apps[app]["deployments"][name]["replicas"]]
        for app, name in DEPLOYMENTS.items()
        if app in apps
    }


def wait_for_replicas(cluster, done, timeout_s: float, what: str) -> float:
    """Seconds until `done(replicas(cluster))`; AssertionError naming the last states after timeout_s."""
    start, seen = time.monotonic(), {}
    while time.monotonic() - start < timeout_s:
        seen = replicas(cluster)
        if done(seen):
            return time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout_s} s; replicas: {seen}")


def deploy(cluster, config: dict, path: Path) -> float:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    serve_cli(cluster, "deploy", str(path))
    return time.monotonic()


def test_a_redeploy_and_a_scale_down_under_mixed_traffic_lose_nothing(cluster, tmp_path):
    deployed = deploy_demo_config(cluster, tmp_path)
    config = yaml.safe_load(Path(deployed["config_path"]).read_text())
    for deployment in (d for app in config["applications"] for d in app["deployments"]):
        assert deployment["graceful_shutdown_timeout_s"] > config["http_options"]["request_timeout_s"]
    before = {rid for found in replicas(cluster).values() for rid, _ in found}
    assert len(before) == 6

    with Traffic(deployed["url"]) as traffic:
        time.sleep(3)
        for app in config["applications"]:  # every replica replaced (half the CPU: both fit)
            options = app["deployments"][0]["ray_actor_options"]
            options["num_cpus"] = options["num_cpus"] / 2
        t_redeploy = deploy(cluster, config, tmp_path / "replaced.yaml")
        replaced_s = wait_for_replicas(
            cluster,
            lambda seen: all(
                len(found) == 2 and all(state == "RUNNING" and rid not in before for rid, state in found)
                for found in seen.values()
            ),
            240,
            "every replica replaced and RUNNING",
        )
        time.sleep(3)
        for app in config["applications"]:  # 2 replicas -> 1 for each app
            app["deployments"][0]["num_replicas"] = 1
        t_scale_down = deploy(cluster, config, tmp_path / "scaled-down.yaml")
        scaled_s = wait_for_replicas(
            cluster,
            lambda seen: all([state for _, state in found] == ["RUNNING"] for found in seen.values()),
            240,
            "one replica per app",
        )
        time.sleep(3)

    outcomes = traffic.outcomes
    bad = [o for o in outcomes if not o.whole and not o.retry_after]
    during = [o for o in outcomes if o.end >= t_redeploy]
    per_kind = {name: sum(o.name == name and o.whole for o in during) for name, *_ in REQUESTS}
    record_figures(
        "redeploy",
        {
            "requests": len(outcomes),
            "during_changes": len(during),
            "answered_whole": sum(o.whole for o in outcomes),
            "retry_after_503": sum(o.retry_after for o in outcomes),
            "lost": len(bad),
            "replaced_all_s": round(replaced_s, 1),
            "scaled_down_s": round(scaled_s, 1),
            "longest_request_s": round(max(o.end - o.start for o in outcomes), 2),
            "whole_per_kind_during": per_kind,
            "redeploy_to_scale_down_s": round(t_scale_down - t_redeploy, 1),
        },
    )
    assert not bad, bad[:10]
    assert all(per_kind.values()), per_kind  # every kind kept being answered through both changes
