"""deploy/serve_config.autoscaling.yaml's translation app really autoscales: on the session cluster,
deployed as `translation-autoscaling` at /translate-autoscaling (demo model substituted by
textserve.run_config, as the `demo_config` fixture does), closed-loop HTTP load raises its replica
count above min_replicas, and idleness brings it back to min_replicas.

For test time the autoscaler's delays are shortened (TEST_TIMINGS); min/max replicas,
target_ongoing_requests, max_ongoing_requests, CPUs and user_config are the file's. The
handles/replicas still report their load every 10 s (Serve's default push interval), so each
direction takes ~10-30 s here."""

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml
from ray import serve

from tests.figures import record_figures
from textserve.inprocess import app_config, deploy_app
from textserve.run_config import derive_config

REPO_ROOT = Path(__file__).resolve().parents[2]
VARIANT = REPO_ROOT / "deploy/serve_config.autoscaling.yaml"
APP, ROUTE, DEPLOYMENT = "translation-autoscaling", "/translate-autoscaling", "Translator"
CLIENTS = 24  # closed loop: ~24 ongoing requests, 3 x target_ongoing_requests (8)
# shortened for the test (the file says 10 s up, 120 s down, 30 s window); initial_replicas =
# min_replicas so the count starts at the floor
# (look_back_period_s must stay above Serve's 10 s metrics interval)
TEST_TIMINGS = {"upscale_delay_s": 2, "downscale_delay_s": 4, "look_back_period_s": 11}
UP_BOUND_S = 60  # load -> more than min_replicas RUNNING
DOWN_BOUND_S = 60  # idle -> back to min_replicas
POLL_S = 0.5


def replica_counts() -> tuple[int, int]:
    """(RUNNING replicas, replicas in any state but STOPPING) of the test app's deployment."""
    states = serve.status().applications[APP].deployments[DEPLOYMENT].replica_states
    running = states.get("RUNNING", 0)
    alive = sum(count for state, count in states.items() if state != "STOPPING")
    return running, alive


class ClosedLoopLoad:
    """`clients` threads, each with a kept-alive connection, sending its next request as soon as
    the previous one is answered, until stopped."""

    def __init__(self, base_url: str, clients: int):
        self.base_url, self.stop = base_url, threading.Event()
        self.outcomes: Counter = Counter()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            while not self.stop.is_set():
                try:
                    outcome = client.post(ROUTE, json={"text": "Hello world!"}).status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with self._lock:
                    self.outcomes[outcome] += 1

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


@pytest.fixture
def autoscaling_app(serve_url, demo_config, demo_models):
    variant = yaml.safe_load(VARIANT.read_text())
    models_dir = demo_models["demo-translation"].parent
    derived, substitutions = derive_config(variant, demo="always", models_dir=models_dir)
    assert len(substitutions) == 5  # four translation models, one summarizer
    cfg = dict(app_config(derived, "translation"), name=APP, route_prefix=ROUTE)
    [deployment] = cfg["deployments"]
    # the same demo substitution as the apps the other tests use
    [demo_deployment] = app_config(demo_config, "translation")["deployments"]
    assert deployment["user_config"] == demo_deployment["user_config"]
    knobs = deployment["autoscaling_config"]
    knobs.update(TEST_TIMINGS, initial_replicas=knobs["min_replicas"])
    deploy_app(cfg)
    try:
        yield knobs
    finally:
        serve.delete(APP)


def test_load_raises_the_replica_count_and_idleness_lowers_it(serve_url, autoscaling_app):
    knobs = autoscaling_app
    floor = knobs["min_replicas"]
    timeline: list[tuple[str, float, int, int]] = []  # (phase, seconds into it, running, alive)

    def poll(phase: str, started: float, done, bound_s: float) -> float | None:
        while (elapsed := time.monotonic() - started) < bound_s:
            running, alive = replica_counts()
            if not timeline or (timeline[-1][0], *timeline[-1][2:]) != (phase, running, alive):
                timeline.append((phase, round(elapsed, 1), running, alive))
            if done(running, alive):
                return elapsed
            time.sleep(POLL_S)
        return None

    assert replica_counts() == (floor, floor)
    with httpx.Client(base_url=serve_url, timeout=60) as client:
        answer = client.post(ROUTE, json={"text": "Hello world!"})
    assert answer.json()["translation"] == "Bonjour le monde !"

    with ClosedLoopLoad(serve_url, CLIENTS) as load:
        started = time.monotonic()
        up_s = poll("load", started, lambda running, alive: running > floor, UP_BOUND_S)
        if up_s is not None:  # not asserted: let the replicas the autoscaler chose finish starting
            poll("load", started, lambda running, alive: running == alive, UP_BOUND_S)
    served = dict(load.outcomes)
    down_s = poll("idle", time.monotonic(), lambda running, alive: alive == running == floor, DOWN_BOUND_S)
    loaded = [(s, running, alive) for phase, s, running, alive in timeline if phase == "load"]
    record_figures(
        "autoscaling",
        {
            "clients": CLIENTS,
            "knobs": knobs,
            "requests": sum(served.values()),
            "statuses": {str(status): n for status, n in served.items()},
            "decided_s": next((s for s, _, alive in loaded if alive > floor), None),
            "wanted_replicas": max(alive for _, _, alive in loaded),
            "first_extra_running_s": up_s and round(up_s, 1),
            "all_running_s": next((s for s, running, alive in loaded if running == alive > floor), None),
            "back_to_min_s": down_s and round(down_s, 1),
            "timeline": timeline,
        },
    )

    assert up_s is not None, f"no scale-up above {floor} in {UP_BOUND_S} s under load: {timeline}"
    assert set(served) == {200}, served  # no request lost while replicas were added
    assert down_s is not None, f"not back to {floor} within {DOWN_BOUND_S} s idle: {timeline}"
