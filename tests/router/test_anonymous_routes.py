"""Anonymous routes are cheap: a burst of /healthz and /openapi.json calls, which anyone may send,
costs a handful of leaf calls (each router replica shares one health check for a few seconds and
one merged API document until an app changes), counted in the leaf replicas' own access logs."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from apps.router.config import RouterSettings
from tests.conftest import SERVE_LOGS

LEAVES = ("translation", "summarization")
ROUTER_REPLICAS = 2  # serve_config.yaml's router
BURST = 100  # of each route


def message(line: str) -> str:
    """A JSON log record's message ("" for any other line)."""
    try:
        return json.loads(line).get("message", "")
    except ValueError:
        return ""


def leaf_calls(offsets: dict, route: str) -> dict[str, int]:
    """Handle calls each leaf app's replicas logged after `offsets` for a request to the router's
    `route` (Serve's access line for a handle call names the HTTP route it serves: "CALL /healthz
    OK 2.8ms")."""
    counts = {}
    for app in LEAVES:
        count = 0
        for path in SERVE_LOGS[0].directory.glob(f"replica_{app}_*.log"):
            with path.open("rb") as file:
                file.seek(offsets.get(path, 0))
                lines = file.read().decode(errors="replace").splitlines()
            count += sum(1 for line in lines if message(line).startswith(f"CALL {route} "))
        counts[app] = count
    return counts


def test_a_burst_of_anonymous_health_and_document_calls_costs_a_handful_of_leaf_calls(serve_url, apps):
    settings = RouterSettings()
    with httpx.Client(base_url=serve_url, timeout=60) as warm:
        assert warm.get("/healthz").status_code == 200
        assert warm.get("/openapi.json").status_code == 200
    time.sleep(0.5)  # the warm-up's log lines written
    offsets = SERVE_LOGS[0].offsets()

    def get(path: str) -> tuple[int, str]:
        with httpx.Client(base_url=serve_url, timeout=60) as client:
            response = client.get(path)
            return response.status_code, response.text

    started = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(get, ["/healthz", "/openapi.json"] * BURST))
    took = time.monotonic() - started
    assert {status for status, _ in answers} == {200}
    assert len({text for status, text in answers[1::2]}) == 1  # one document, shared
    time.sleep(1.0)  # the leaves' access lines reach their files
    health, documents = leaf_calls(offsets, "/healthz"), leaf_calls(offsets, "/openapi.json")
    assert all(health.values()), health  # the burst outlasts a shared answer: it was checked again
    # each router replica: one check per health_cache_s of the burst (and one as it starts)
    checks = ROUTER_REPLICAS * (int(took / settings.health_cache_s) + 2)
    assert all(n <= checks for n in health.values()), (health, took)
    assert all(n <= ROUTER_REPLICAS for n in documents.values()), documents  # no app changed
    assert sum(health.values()) + sum(documents.values()) < BURST / 4
