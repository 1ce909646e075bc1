"""Every query of deploy/grafana/textserve-dashboard.json, evaluated by a real Prometheus (Debian's
`prometheus`, `make system-packages`) scraping the session cluster's metrics endpoint every second,
after real traffic through the apps that gives every panel its data: each query must parse and
return at least one series with a number (not NaN), i.e. draw a line in Grafana. No query is
exempt (only parsed): the rare events its series need are made for real.

Traffic: translations (one text twice: a cache hit; one with a deadline that has passed when its
turn comes: dropped; a list, a long text that fans out in parts), summaries (one text,
one over the model's window: map-reduce), the router's tasks, a stream and /healthz, a 422 and a
413. The rare events happen on a small translation app of this module's own (one replica taking
one request at a time and queueing two more) with a router in front of it: a burst fills its
queue, so Serve's proxy answers 503 to direct calls (ray_serve_num_http_error_requests) and the
router turns calls away as "overloaded" (ray_textserve_rejected_requests); a text that fans out in
parts there: its part call cannot start while the request holds the only slot, so it times out
(part_timeout_s) and, the replica being only busy, is not sent again: the request gets a 503; and,
once, the small app's replica killed (`ray.kill`) under a call of its router, which sends the call
once more (ray_textserve_leaf_retries, error ActorDiedError). Models loaded on demand: a third small app
holds one model per replica, and each round asks it for two (a load, an unload, a request that
waits for its model).

A rate needs two samples of a series, and a series is new when Prometheus first sees it; the
latency quantiles and the mean batch size need two that differ: so the traffic is sent in rounds
(one or two) until every query has data, against a deadline."""

import copy
import json
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.prometheus_server import PrometheusServer, binary
from textserve.demo_phrases import SUMMARIES, TRANSLATIONS
from textserve.inprocess import app_config, deploy_app

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_PATH = REPO_ROOT / "deploy/grafana/textserve-dashboard.json"

# Grafana's built-in variables as Grafana sets them for this dashboard's panels: its time range
# ("now-1h"), and the data source's scrape interval left at Grafana's default, 15 s. $__interval is
# the range over the panel's data points (~3 s for 1 h on ~1000 px), floored at that scrape interval:
# 15s; $__rate_interval is max($__interval + scrape interval, 4 x scrape interval): 1m.
GRAFANA_BUILTINS = {
    "__interval": "15s",
    "__interval_ms": "15000",
    "__rate_interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
# $name, ${name}, ${name:format}, [[name]]
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")

LEAF, ROUTER, MODELS = "promq-translation", "promq-router", "promq-models"
LEAF_ROUTE, ROUTER_ROUTE = "/promq-translate", "/promq"
PART_TIMEOUT_S = 0.3
BURST_CLIENTS = 20  # at each of the two routes, all released at once
ROUND_WAIT_S = 6  # replicas report every second (conftest), Prometheus scrapes every second
DEADLINE_S = 60
ROUNDS: list[int] = []
# 64 texts of ~300 characters: a call long enough to be killed under (the small app's cache is off)
LONG_TEXTS = [" ".join(list(TRANSLATIONS)[i % 8 : i % 8 + 8])[:280] for i in range(64)]

LONG_TRANSLATION = " ".join(list(TRANSLATIONS) * 2)  # 40 sentences: 3 parts of at most 16
LONG_DOCUMENT = "\n\n".join(list(SUMMARIES) * 4)  # ~900 words: over the 512-token window


def dashboard_variables(dashboard: dict) -> dict[str, str]:
    """The dashboard's own variables, as Grafana substitutes them in a Prometheus query: the
    current value (several as a regex alternation, `(a|b)`; a constant's or textbox's own query
    when it has none), for "All" the variable's allValue, else `.*` (what every value together
    matches). Data source variables only pick the data source."""
    values = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "datasource":
            continue
        current = variable.get("current", {}).get("value")
        if current in (None, "") and variable.get("type") in ("constant", "textbox"):
            current = variable.get("query")
        if current in (None, "", "$__all", ["$__all"]):
            if variable.get("includeAll"):
                values[variable["name"]] = variable.get("allValue") or ".*"
            # else no value: a query naming it fails, saying so
        elif isinstance(current, list):
            values[variable["name"]] = current[0] if len(current) == 1 else f"({'|'.join(current)})"
        else:
            values[variable["name"]] = str(current)
    return values


def grafana_expr(expr: str, variables: dict[str, str]) -> str:
    """`expr` with Grafana's variables replaced, as Grafana sends it to Prometheus."""

    def value(match: re.Match) -> str:
        name = next(group for group in match.groups() if group)
        assert name in variables, f"no value for Grafana variable ${name} in {expr!r}"
        return variables[name]

    return VARIABLE.sub(value, expr)


def all_panels(panels: list[dict]) -> list[dict]:
    """The panels, with those inside rows."""
    return [inner for panel in panels for inner in (panel, *all_panels(panel.get("panels", [])))]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title and refId, the query as Prometheus gets it) for every target of every panel."""
    dashboard = json.loads(DASHBOARD_PATH.read_text())
    variables = {**dashboard_variables(dashboard), **GRAFANA_BUILTINS}
    queries = []
    for panel in all_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            queries.append((f"{panel['title']} [{target['refId']}]", grafana_expr(target["expr"], variables)))
    return queries


def test_grafana_variables_are_replaced_as_grafana_does():
    dashboard = {
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                {"name": "app", "type": "query", "includeAll": True, "current": {"value": "$__all"}},
                {"name": "route", "type": "custom", "current": {"value": ["/", "/translate/"]}},
                {"name": "q", "type": "constant", "query": "0.95"},
            ]
        }
    }
    variables = {**dashboard_variables(dashboard), **GRAFANA_BUILTINS}
    expr = 'histogram_quantile($q, rate(x{a=~"$app", r=~"${route:regex}"}[$__rate_interval])) [[app]]'
    expected = 'histogram_quantile(0.95, rate(x{a=~".*", r=~"(/|/translate/)"}[1m])) .*'
    assert grafana_expr(expr, variables) == expected
    with pytest.raises(AssertionError, match=r"no value for Grafana variable \$nope"):
        grafana_expr("x{a=~'$nope'}", variables)


@pytest.fixture(scope="module")
def prometheus(ray_cluster, tmp_path_factory, request):
    """Debian's prometheus on a free port of 127.0.0.1, scraping the session cluster every second
    (the test waits for its first scrape); stopped when the module is done."""
    executable = binary()
    if executable is None:
        pytest.fail(
            "Debian's `prometheus` binary is not installed: run `make system-packages` "
            "(`make test` does) to evaluate the Grafana dashboard's queries"
        )
    server = PrometheusServer(executable, tmp_path_factory.mktemp("prometheus"), ray_cluster["metrics_url"])
    request.addfinalizer(server.stop)
    return server.start()


@pytest.fixture(scope="module")
def small_apps(serve_url, apps):
    """The translation app on one replica that takes one request at a time and queues two more
    per caller, fanning out texts of more than 2 sentences one part call at a time, each within
    PART_TIMEOUT_S; and a router in front of it. Removed afterwards."""
    from ray import serve

    leaf = copy.deepcopy(app_config(apps, "translation"))
    leaf.update(name=LEAF, route_prefix=LEAF_ROUTE)
    [deployment] = leaf["deployments"]
    deployment.update(num_replicas=1, max_ongoing_requests=1, max_queued_requests=2)
    # one part call at a time: a second would find the queue full (a 503 of its own, no retry)
    deployment["user_config"].update(part_sentences=2, part_calls_in_flight=1, part_timeout_s=PART_TIMEOUT_S)
    deployment["user_config"]["cache_entries"] = 0  # every request decoded: the burst must queue
    router = copy.deepcopy(app_config(apps, "router"))
    router.update(name=ROUTER, route_prefix=ROUTER_ROUTE)
    router["deployments"][0]["num_replicas"] = 1
    router["deployments"][0]["user_config"]["translation"] = {"app": LEAF, "deployment": "Translator"}
    # one replica holding one model at a time: each round loads two, unloading the other
    models = copy.deepcopy(app_config(apps, "translation"))
    models.update(name=MODELS, route_prefix=f"/{MODELS}")
    models["deployments"][0].update(num_replicas=1)
    models["deployments"][0]["user_config"].update(max_models_per_replica=1, cache_entries=0)
    deploy_app(leaf)
    deploy_app(router)
    deploy_app(models)
    yield {"leaf": f"{serve_url}{LEAF_ROUTE}", "router": f"{serve_url}{ROUTER_ROUTE}", "config": leaf}
    for name in (ROUTER, LEAF, MODELS):  # all at once, then wait for all
        serve.delete(name, _blocking=False)
    deadline = time.monotonic() + 60
    while {ROUTER, LEAF, MODELS} & set(serve.status().applications):
        assert time.monotonic() < deadline, f"{ROUTER}, {LEAF} and {MODELS} not deleted in 60 s"
        time.sleep(0.2)


def _burst(urls: list[str], body: dict, clients: int) -> dict[str, list[int]]:
    """`clients` requests to each of `urls`, released at the same instant, each on its own
    connection; their statuses by url."""
    start = threading.Barrier(clients * len(urls))

    def one(url: str) -> int:
        with httpx.Client(timeout=60) as client:
            start.wait()
            return client.post(url, json=body).status_code

    with ThreadPoolExecutor(clients * len(urls)) as pool:
        statuses = list(pool.map(one, [url for url in urls for _ in range(clients)]))
    return {url: statuses[i * clients : (i + 1) * clients] for i, url in enumerate(urls)}


def send_traffic(http: httpx.Client, small_apps: dict) -> dict[str, object]:
    """One round of every kind of request the panels count; what each got, for the failure message."""
    got: dict[str, object] = {}

    def post(name: str, path: str, body: dict, expected: int) -> None:
        response = http.post(path, json=body)
        assert response.status_code == expected, (name, response.status_code, response.text[:300])
        got[name] = response.status_code

    post("translate", "/translate", {"text": "Hello world!", "target_lang": "de"}, 200)
    post(
        "translate it again (from the cache)",
        "/translate",
        {"text": "Hello world!", "target_lang": "de"},
        200,
    )
    ROUNDS.append(len(ROUNDS))  # a text no round sent before, so never in the cache
    late = {"text": f"Hello world, round {len(ROUNDS)}!", "timeout_s": 0.0001}
    post("translate past its deadline (dropped, 504)", "/translate", late, 504)
    post("translate a list", "/translate", {"texts": list(TRANSLATIONS)[:8]}, 200)
    post("translate a long text in parts", "/translate", {"text": LONG_TRANSLATION}, 200)
    post("translate an empty text", "/translate", {"text": ""}, 422)
    post("translate a text over max_input_chars", "/translate", {"text": "a" * 10_001}, 413)
    post("summarize", "/summarize", {"text": next(iter(SUMMARIES))}, 200)
    post("summarize a long document (map-reduce)", "/summarize", {"text": LONG_DOCUMENT}, 200)
    post("router translate", "/", {"text": "Hello world!"}, 200)
    post(
        "router summarize_then_translate",
        "/",
        {"task": "summarize_then_translate", "text": next(iter(SUMMARIES))},
        200,
    )
    with http.stream("POST", "/", json={"text": "Hello world! How are you?", "stream": True}) as response:
        events = [json.loads(line) for line in response.iter_lines() if line]
        assert response.status_code == 200 and events[-1]["event"] == "done", events
        got["router stream"] = response.status_code
    german = {"text": "Hallo Welt!", "source_lang": "de", "target_lang": "en"}
    post("a model loaded on demand, the one held unloaded", f"/{MODELS}", german, 200)
    post("and the first loaded again", f"/{MODELS}", {"text": "Hello world!", "target_lang": "fr"}, 200)
    health = http.get("/healthz")
    assert health.status_code == 200, health.text
    got["router /healthz"] = health.status_code

    # the small app's queue full: Serve's proxy rejects direct calls, the router "overloaded"
    bursts = _burst([small_apps["leaf"], small_apps["router"]], {"text": "How are you?"}, BURST_CLIENTS)
    got["burst straight at the small app"] = sorted(bursts[small_apps["leaf"]])
    got["burst through its router"] = sorted(bursts[small_apps["router"]])
    # a text in parts on its only slot: its part call times out on a replica that is only busy,
    # so it is not sent again
    with httpx.Client(timeout=60) as client:
        response = client.post(
            small_apps["leaf"], json={"text": "Hello world! How are you? Thank you very much."}
        )
    assert response.status_code == 503 and "got no answer within" in response.text, response.text
    got["parts that time out"] = response.status_code
    if len(ROUNDS) in (1, 3):  # a second chance, should the first kill miss its call
        got["router call whose replica was killed"] = kill_under_a_router_call(small_apps)
    return got


def kill_under_a_router_call(small_apps: dict) -> int:
    """The small app's only replica killed (`ray.kill`, as a crash) while a long call of its router
    is on it (fan-out off meanwhile, so the call decodes there rather than failing at its parts):
    the router sends the call once more, which waits for Serve's new replica. Returns once the app
    is back as it was; the status the request got."""
    import ray

    config = small_apps["config"]
    [deployment] = config["deployments"]
    deploy_app(config, {**deployment["user_config"], "part_sentences": 0})  # reconfigured in place
    replicas = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)]
    [name] = [n for n in replicas if n.startswith(f"SERVE_REPLICA::{LEAF}#Translator#")]
    texts = [f"{sentence} Round {len(ROUNDS)}, text {i}." for i, sentence in enumerate(LONG_TEXTS)]
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.post, small_apps["router"], json={"texts": texts}, timeout=90)
        time.sleep(0.05)  # the router's call reaches the replica in ms; its ~500 sentences take longer
        assert not answer.done(), "answered before the kill: send a longer call"
        ray.kill(ray.get_actor(name, namespace="serve"))
        status = answer.result().status_code
    deploy_app(config)  # once the new replica runs: fan-out on again
    return status


def evaluate(prometheus: PrometheusServer, queries: list[tuple[str, str]]) -> dict[str, str]:
    """What is wrong with each query that has no data yet (a parse error fails at once)."""
    missing = {}
    for name, expr in queries:
        answer = prometheus.query(expr)
        assert answer.get("status") == "success", f"{name}: {expr}\n{answer}"
        data = answer["data"]
        if data["resultType"] == "scalar":
            samples = [data["result"]]
        else:
            samples = [series["value"] for series in data["result"]]
        if not any(math.isfinite(float(value)) for _, value in samples):
            missing[name] = f"{expr}\n    -> {data['resultType']} {data['result']}"
    return missing


def test_every_dashboard_query_parses_and_returns_series_after_real_traffic(prometheus, http, small_apps):
    queries = dashboard_queries()
    assert len(queries) >= 10
    prometheus.wait_until_target_up()  # started before the small apps were deployed
    deadline = time.monotonic() + DEADLINE_S
    rounds: list[dict] = []
    while True:
        rounds.append(send_traffic(http, small_apps))
        round_end = min(deadline, time.monotonic() + ROUND_WAIT_S)
        while True:
            missing = evaluate(prometheus, queries)
            if not missing:
                return
            if time.monotonic() > round_end:
                break
            time.sleep(1)
        if time.monotonic() > deadline:
            break
    report = "\n".join(f"  {name}: {problem}" for name, problem in missing.items())
    pytest.fail(
        f"no data in Prometheus after {len(rounds)} rounds of traffic ({rounds}) for:\n{report}\n"
        f"targets: {prometheus.targets()}"
    )
