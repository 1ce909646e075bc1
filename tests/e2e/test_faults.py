"""Faults under a steady load, on one Ray head whose GCS keeps its tables in
Redis (tests/e2e/gcs_ft.py), with the project's config deployed by `serve deploy`:

- a Translator replica's process is SIGKILLed (its pid from Serve's REST API): only requests in
  flight on it fail, the router's calls that were in flight on it are retried once on the other
  replica (apps/router/leaf_client.py) so `/` loses none, and the controller brings back 2 RUNNING
  replicas;
- a Summarizer replica is SIGKILLed while it decodes chunks of a long document that the other
  replica is map-reducing: the chunk calls in flight on it are sent once more
  (apps/common/replica_deaths.py) and the document is summarized;
- the GCS process is SIGKILLed and, after an outage, started again: HTTP is served throughout by
  the running proxy and replicas, and afterwards Serve's state is intact (apps RUNNING, the same
  replicas with the same pids, the same controller and proxy).

(A leaf app's whole deployment going away under the router -- 503 naming it, recovery when it
returns -- is tests/router/test_router.py::test_missing_leaf_app_is_503_naming_it_then_recovers.)
The figures are printed (`pytest -s`); docs/reliability.md quotes a run.
"""

import contextlib
import json
import os
import signal
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.conftest import (
    APPS,
    DEPLOYMENTS,
    REPLICAS,
    cluster_env,
    deploy_demo_config,
    serve_details,
    serve_shutdown,
)
from tests.e2e.gcs_ft import (
    find_gcs,
    port_open,
    restart_gcs,
    start_ft_head,
    start_redis,
)
from tests.e2e.load import HELLO, Load, long_document, wait_for
from tests.figures import record_figures
from textserve.processes import session_pids
from textserve.prometheus import metric_total
from textserve.ray_cluster import alive_nodes, stop_node

pytestmark = pytest.mark.e2e

# A few closed-loop clients on the two routes that reach the Translator
STEADY = (("/translate", HELLO), ("/translate", HELLO), ("/", HELLO), ("/", HELLO))
# Requests of 40 texts of ~300 tokens (each decoded to the 128-token limit by the demo model; 19.6k
# characters, within max_request_chars), cut into one part per replica. Sent just before the
# kill, through the router and directly; the replica killed is the first to log that it fans out
# one of the router's requests: the router's call is then surely in flight on it, waiting for its
# parts (a replica that only decoded a part may have answered it by the time it dies). Every text
# is distinct (burst_texts): the sentence cache would answer repeats
# without decoding them, and then no call would be in flight when the replica dies.
LONG_TEXT = " ".join(f"zq{i}" for i in range(100))
BURST_TEXTS = 40
BURST = {"/": 2, "/translate": 2}
# Bounds, generous for a shared 2-core machine (measured on one: docs/reliability.md)
REPLICA_RECOVERY_S = 60
# Serve routes to a replica until it learns the replica died: a request sent in that moment goes
# to the dead one and is lost as if it had been in flight (seen: one sent 12 ms after the SIGKILL)
DEATH_NOTICED_S = 1.0
GCS_OUTAGE_S = 10  # how long the GCS stays dead (the raylet waits 60 s for it before giving up)
GCS_RECOVERY_S = 60  # from the restart until Serve's REST API shows the state as before
LONGEST_SILENCE_S = 5  # longest stretch without any successful answer


@pytest.fixture(scope="module")
def ft_cluster(demo_models, tmp_path_factory):
    """Redis, and a Ray head storing its GCS tables there; yields {node, redis, restarted (GCS
    processes the test started)}. Teardown: `serve shutdown`, then SIGKILL to the node's session
    processes and the restarted GCS, then stops Redis (only what this fixture started)."""
    redis = start_redis(tmp_path_factory.mktemp("redis"))
    state: dict = {"redis": redis, "restarted": []}
    try:
        node = start_ft_head(Path(tempfile.mkdtemp(prefix="ts-e2e-ft-", dir="/tmp")), redis, cluster_env())
        state["node"] = node
        yield state
    finally:
        node = state.get("node")
        # the GCS is up: let Serve shut the apps down (at most a minute; the kills follow anyway)
        if node is not None and port_open(int(node.address.rsplit(":", 1)[1])):
            serve_shutdown(node, timeout_s=60)
        if node is not None:
            stop_node(node, kill=True)
        for gcs in state["restarted"]:
            gcs.kill()
            gcs.wait(timeout=10)
        redis.stop()


@pytest.fixture(scope="module")
def deployed(ft_cluster, tmp_path_factory) -> dict:
    return deploy_demo_config(ft_cluster["node"], tmp_path_factory.mktemp("faults"))


def replicas(node, app: str) -> list[dict]:
    """Serve's REST API: the replicas of the app's deployment (replica_id, state, pid, actor_id...)."""
    return serve_details(node)["applications"][app]["deployments"][DEPLOYMENTS[app]]["replicas"]


def running_replica_ids(node, app: str) -> set[str]:
    return {r["replica_id"] for r in replicas(node, app) if r["state"] == "RUNNING"}


def serve_state(node) -> dict:
    """What must survive a GCS restart: each app's status, every replica (id, state, pid, actor),
    the controller's actor and each proxy's (actor, status)."""
    details = serve_details(node)
    return {
        "apps": {name: app["status"] for name, app in details["applications"].items()},
        "replicas": sorted(
            (name, r["replica_id"], r["state"], r.get("pid"), r.get("actor_id"))
            for name, app in details["applications"].items()
            for deployment in app["deployments"].values()
            for r in deployment["replicas"]
        ),
        "controller": details["controller_info"].get("actor_id"),
        "proxies": sorted((p.get("actor_id"), p.get("status")) for p in details["proxies"].values()),
    }


def all_running(state: dict) -> bool:
    return (
        set(state["apps"]) == set(APPS)
        and all(status == "RUNNING" for status in state["apps"].values())
        and len(state["replicas"]) == REPLICAS
        and all(r[2] == "RUNNING" for r in state["replicas"])
    )


def burst_texts() -> list[str]:
    """BURST_TEXTS texts as long as LONG_TEXT (within a few characters), none seen before by any
    replica's cache: its last word replaced by a new tag each."""
    head, tag = LONG_TEXT.rsplit(" ", 1)[0], uuid.uuid4().hex[:5]
    return [f"{head} {tag}n{i}" for i in range(BURST_TEXTS)]


def post_burst(url: str, route: str, request_id: str) -> dict:
    start = time.monotonic()
    with httpx.Client(base_url=url, timeout=60) as http:
        try:
            response = http.post(route, json={"texts": burst_texts()}, headers={"X-Request-ID": request_id})
        except httpx.HTTPError as exc:
            return {
                "route": route,
                "id": request_id,
                "status": type(exc).__name__,
                "body": str(exc),
                "content_type": "",
            }
    body = response.json() if response.status_code == 200 else response.text
    return {
        "route": route,
        "id": request_id,
        "seconds": round(time.monotonic() - start, 2),
        "status": response.status_code,
        "texts": len(body.get("translations", [])) if isinstance(body, dict) else 0,
        "body": "" if response.status_code == 200 else body[:500],
        "content_type": response.headers.get("content-type", ""),
    }


def lost_with_its_replica(status, body: str, content_type: str) -> bool:
    """What a direct request whose replica died under it gets. Through Serve's HAProxy ingress
    (as `make run` runs it): the connection closed with no answer, or, if the replica died while
    sending it (it serves HTTP itself: direct ingress), in the middle of the answer. Through
    Serve's Python proxy: a plain-text 500 with no detail (Ray 2.60). Never our JSON, never a
    traceback."""
    closed = status == "RemoteProtocolError" and (
        body == "Server disconnected without sending a response."
        or body.startswith("peer closed connection without sending complete message body")
    )
    proxy_500 = status == 500 and body == "Internal Server Error" and content_type.startswith("text/plain")
    return closed or proxy_500


def process_names(node) -> set[str]:
    """Executable names of the node's session processes."""
    names = set()
    for pid in session_pids(node.pid):
        with contextlib.suppress(psutil.Error):
            names.update(Path(program).name for program in psutil.Process(pid).cmdline()[:1])
    return names


def assert_replica_processes(node, running: dict[str, dict], deployment: str) -> None:
    """Each pid Serve reports for the replicas is a process of our own cluster's session, and a
    replica of `deployment`. (Done before a test's load: listing processes takes long enough on a busy
    machine that a kill after it would miss the calls it is meant to catch in flight.)"""
    ours = session_pids(node.pid)
    for replica in running.values():
        assert replica["pid"] in ours, replica
        assert deployment in " ".join(psutil.Process(replica["pid"]).cmdline())


class ReplicaLogs:
    """Follows the log files of a deployment's replicas (<temp dir>/session_latest/logs/serve/)."""

    def __init__(self, node, app: str, replica_ids):
        serve_logs = node.temp_dir / "session_latest" / "logs" / "serve"
        self.paths = {rid: serve_logs / f"replica_{app}_{DEPLOYMENTS[app]}_{rid}.log" for rid in replica_ids}
        self.offsets = {rid: path.stat().st_size for rid, path in self.paths.items()}

    def new_lines(self, replica_id: str) -> list[dict]:
        with self.paths[replica_id].open("rb") as log:
            log.seek(self.offsets[replica_id])
            data = log.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offsets[replica_id] += len(complete)
        return json_lines(complete.decode(errors="replace"))

    def first_to_log(self, message_start: str, request_id: str, timeout_s: float = 30) -> str:
        """The first replica to log a record starting with message_start for request_id."""
        return self._first(
            lambda line: (
                line.get("message", "").startswith(message_start) and line.get("request_id") == request_id
            ),
            self.paths,
            timeout_s,
            f"logged {message_start!r} for {request_id}",
        )

    def first_to_fan_out(self, request_ids: set[str], timeout_s: float = 30) -> str:
        """The first replica to log that it sends one of request_ids out in parts (fan_out.py)."""
        return self._first(
            lambda line: "fan_out_parts" in line and line.get("request_id") in request_ids,
            self.paths,
            timeout_s,
            f"fanned out any of {request_ids}",
        )

    def first_to_decode(self, request_ids: set[str], timeout_s: float = 30, among=None) -> str:
        """The first replica (`among` these, else any) to log a model call (`batch of ...`)
        serving one of request_ids."""
        return self._first(
            lambda line: (
                line.get("message", "").startswith("batch of")
                and bool(request_ids & set(line.get("request_ids", [])))
            ),
            among or self.paths,
            timeout_s,
            f"decoded any of {request_ids}",
        )

    def _first(self, matches, replica_ids, timeout_s: float, what: str) -> str:
        """The first of replica_ids whose new log lines have one that matches (polled every 10 ms)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for rid in replica_ids:
                if any(matches(line) for line in self.new_lines(rid)):
                    return rid
            time.sleep(0.01)
        raise AssertionError(f"no replica {what} within {timeout_s} s")


def json_lines(text: str) -> list[dict]:
    """The JSON log records in text (Serve's logging_config: one object per line)."""
    records = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def replica_log_lines(node, app: str, needle: str) -> list[dict]:
    """Records of the app's replica logs whose message contains needle."""
    serve_logs = node.temp_dir / "session_latest" / "logs" / "serve"
    return [
        record
        for path in serve_logs.glob(f"replica_{app}_*.log")
        for record in json_lines(path.read_text(errors="replace"))
        if needle in record.get("message", "")
    ]


def test_a_killed_translator_replica_loses_only_its_in_flight_requests(ft_cluster, deployed):
    node, url = ft_cluster["node"], deployed["url"]
    running = {r["replica_id"]: r for r in replicas(node, "translation") if r["state"] == "RUNNING"}
    assert len(running) == 2
    assert_replica_processes(node, running, "Translator")  # checked now: the kill must not wait
    run = uuid.uuid4().hex[:8]
    burst_ids = {
        route: [f"burst-{run}-{route.strip('/') or 'router'}-{i}" for i in range(n)]
        for route, n in BURST.items()
    }

    with Load(url, STEADY) as load, ThreadPoolExecutor(max_workers=sum(BURST.values())) as pool:
        time.sleep(2)  # steady load before the failure
        logs = ReplicaLogs(node, "translation", running)  # from here: little to read before the kill
        burst = [pool.submit(post_burst, url, route, rid) for route, ids in burst_ids.items() for rid in ids]
        victim = running[logs.first_to_fan_out(set(burst_ids["/"]))]
        t_kill = time.monotonic()
        os.kill(victim["pid"], signal.SIGKILL)
        wait_for(
            lambda: len(running_replica_ids(node, "translation") - {victim["replica_id"]}) == 2,
            REPLICA_RECOVERY_S,
            "the controller replacing the killed replica",
        )
        t_recovered = time.monotonic()
        burst = [future.result() for future in burst]
        time.sleep(3)  # load after recovery

    failed = load.failures()
    failed_burst = {route: sum(b["status"] != 200 for b in burst if b["route"] == route) for route in BURST}
    # a call in flight on the dead replica is sent once more: the router's call to the Translator
    # that served a request, or that Translator's call of a part of it (fan-out) to the other one
    retries = replica_log_lines(node, "router", "retrying translation.translate once")
    part_retries = replica_log_lines(node, "translation", "retrying translation._translate_part once")
    figures = {
        "recovered_s": round(t_recovered - t_kill, 1),
        "requests": len(load.results) + len(burst),
        "requests_in_failure_window": len(load.between(t_kill, t_recovered)) + len(burst),
        "failed_direct": len(load.failures("/translate")) + failed_burst["/translate"],
        "failed_router": len(load.failures("/")) + failed_burst["/"],
        "router_retries": len(retries),
        "part_retries": len(part_retries),
        "longest_silence_s": round(load.longest_silence(t_kill, t_recovered), 1),
        "slowest_s": round(max(r.end - r.start for r in load.results), 1),
        "steady_clients": len(STEADY),
        "burst_requests": sum(BURST.values()),
        "burst_texts": BURST_TEXTS,
    }
    record_figures("translator_killed", figures)
    print(f"failures: {failed}\nburst: {burst}")

    # the router path loses nothing: its calls in flight on the dead replica were retried
    assert [b for b in burst if b["route"] == "/" and (b["status"], b["texts"]) != (200, BURST_TEXTS)] == []
    assert load.failures("/") == []
    retried = {line.get("request_id") for line in retries + part_retries}
    assert set(burst_ids["/"]) & retried, "no call of the router's requests was retried"
    for target, lines in (("translation", retries), ("translation._translate_part", part_retries)):
        wait_for(
            lambda target=target, lines=lines: (
                metric_total(node.metrics_url, "ray_textserve_leaf_retries_total", target=target)
                >= len(lines)
            ),
            30,
            f"the retries of {target} counted in ray_textserve_leaf_retries_total",
        )
    # directly on /translate only requests whose serving replica was killed fail, as such requests do
    for b in burst:
        if b["route"] == "/translate" and b["status"] != 200:
            assert lost_with_its_replica(b["status"], b["body"], b["content_type"]), b
    for r in failed:
        assert r.route == "/translate" and r.start < t_kill + DEATH_NOTICED_S and t_kill < r.end, r
        assert lost_with_its_replica(r.status, r.body, r.content_type), r
    noticed = t_kill + DEATH_NOTICED_S
    assert all(r.ok for r in load.started_after(noticed)), "a request sent after the kill was noticed failed"
    assert all(r.ok for r in load.started_after(t_recovered)) and load.started_after(t_recovered)
    assert figures["longest_silence_s"] <= LONGEST_SILENCE_S, figures


KILL_ATTEMPTS = 3  # a kill can land just after the victim answered all it held: then try again


def _kill_during_a_long_document(node, url: str) -> dict:
    """One long document on /summarize; the Summarizer replica not serving it is SIGKILLed as soon
    as it logs a batch of the document's chunks. Returns the answer, the serving and the killed
    replica, and the serving replica's log lines that retried a chunk call."""
    wait_for(lambda: len(running_replica_ids(node, "summarization")) == 2, 60, "2 Summarizer replicas")
    running = {r["replica_id"]: r for r in replicas(node, "summarization") if r["state"] == "RUNNING"}
    assert_replica_processes(node, running, "Summarizer")
    logs = ReplicaLogs(node, "summarization", running)
    request_id = f"long-document-{uuid.uuid4().hex[:8]}"

    def summarize() -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as http:
            body = {"text": long_document(145_000), "max_length": 20}
            return http.post("/summarize", json=body, headers={"X-Request-ID": request_id})

    with ThreadPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        answer = pool.submit(summarize)
        serving = logs.first_to_log("map-reduce level 1:", request_id)
        [victim] = [replica for rid, replica in running.items() if rid != serving]
        # killed once it decodes a batch of the document's chunks: more of them are on their way
        logs.first_to_decode({request_id}, among={victim["replica_id"]})
        t_kill = time.monotonic()
        os.kill(victim["pid"], signal.SIGKILL)
        response = answer.result()
        answered = time.monotonic()
    retries = [
        line
        for line in replica_log_lines(node, "summarization", "retrying summarization._summarize_chunk once")
        if line.get("request_id") == request_id
    ]
    figures = {
        "killed_after_s": round(t_kill - started, 2),
        "status": response.status_code,
        "answered_s": round(answered - started, 2),
        "chunk_calls_retried": len(retries),
    }
    print(f"\nsummarizer replica killed during a long document: {figures}")
    return {
        "response": response,
        "serving": serving,
        "victim": victim,
        "retries": retries,
        "figures": figures,
    }


def test_a_killed_summarizer_replica_does_not_fail_the_document_it_held_chunks_of(ft_cluster, deployed):
    """A 145k-character document's chunks are spread over both Summarizer replicas (through the
    deployment's own handle); the replica that is not serving the request is killed while it
    decodes them. Its chunk calls in flight are sent once more (apps/common/replica_deaths.py) and
    the document is summarized all the same. A kill that finds no chunk call in flight (the victim
    had just answered all it held) proves nothing about retries: the next document tries again."""
    node, url = ft_cluster["node"], deployed["url"]
    retried = 0
    for attempts in range(1, KILL_ATTEMPTS + 1):  # noqa: B007 (recorded below)
        run = _kill_during_a_long_document(node, url)
        response, victim = run["response"], run["victim"]
        assert response.status_code == 200, response.text  # every document, whatever the kill hit
        assert response.json()["summary"].strip()
        if run["retries"]:  # sent once more by the replica serving the document
            assert {line["replica"] for line in run["retries"]} == {run["serving"]}
        retried += len(run["retries"])
        killed = victim["replica_id"]
        wait_for(
            lambda killed=killed: len(running_replica_ids(node, "summarization") - {killed}) == 2,
            REPLICA_RECOVERY_S,
            "the controller replacing the killed replica",
        )
        wait_for(lambda: all_running(serve_state(node)), 60, "every app RUNNING with 2 replicas again")
        if run["retries"]:
            break
    record_figures(
        "summarizer_killed",
        {"document_chars": 145_000, "kills": attempts, **run["figures"]},
    )
    assert retried, f"no chunk call was in flight on the killed replica in {KILL_ATTEMPTS} kills"
    wait_for(
        lambda: (
            metric_total(
                node.metrics_url, "ray_textserve_leaf_retries_total", target="summarization._summarize_chunk"
            )
            >= retried
        ),
        30,
        "the retries counted in ray_textserve_leaf_retries_total",
    )


def test_http_is_served_while_the_gcs_is_down_and_serve_state_survives_its_restart(ft_cluster, deployed):
    node, redis, url = ft_cluster["node"], ft_cluster["redis"], deployed["url"]
    wait_for(lambda: all_running(serve_state(node)), 120, "every app RUNNING with 2 replicas")
    before = serve_state(node)
    gcs = find_gcs(node)
    assert f"--redis_port={redis.port}" in gcs.cmdline and port_open(gcs.port)
    assert redis.keys() > 0, "the GCS wrote nothing to Redis"

    with Load(url, STEADY) as load:
        time.sleep(2)  # steady load before the failure
        t_kill = time.monotonic()
        os.kill(gcs.pid, signal.SIGKILL)
        wait_for(lambda: gcs.pid not in session_pids(node.pid), 10, "the GCS process exiting", 0.05)
        time.sleep(GCS_OUTAGE_S)
        # it stayed down: nothing restarted it, nothing listens on its port
        assert not port_open(gcs.port)
        assert "raylet" in process_names(node), "the head's raylet went down with the GCS"
        t_restart = time.monotonic()
        ft_cluster["restarted"].append(restart_gcs(gcs))
        wait_for(lambda: serve_state(node) == before, GCS_RECOVERY_S, "Serve's state as before the kill")
        t_restored = time.monotonic()
        time.sleep(3)  # load after recovery

    during = load.between(t_kill, t_restart)
    figures = {
        "outage_s": round(t_restart - t_kill, 1),
        "restored_s": round(t_restored - t_restart, 1),
        "requests": len(load.results),
        "requests_during_outage": len(during),
        "failed": len(load.failures()),
        "longest_silence_s": round(load.longest_silence(t_kill, t_restored), 1),
        "slowest_s": round(max(r.end - r.start for r in load.results), 1),
        "steady_clients": len(STEADY),
    }
    record_figures("gcs_killed", figures)
    print(f"failures: {load.failures()}")

    assert load.failures() == []
    assert len([r for r in during if r.start > t_kill + 1 and r.end < t_restart]) > 10, figures
    assert figures["longest_silence_s"] <= LONGEST_SILENCE_S, figures
    assert load.started_after(t_restored) and all(r.ok for r in load.started_after(t_restored))
    # the cluster knows its head again: the same node, ALIVE
    assert node.node_id in {n["node_id"] for n in alive_nodes(node.dashboard_url)}
    # and the restored state is the real one: the same replicas answer
    assert serve_state(node) == before
    with httpx.Client(base_url=url, timeout=60) as http:
        assert http.post("/translate", json=HELLO).json()["translation"] == "Bonjour le monde !"
        assert http.post("/", json=HELLO).json()["translation"] == "Bonjour le monde !"
