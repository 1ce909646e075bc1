"""Models loaded on demand and multiplexed over the replicas (Serve's model multiplexing), on apps
of their own deployed beside the session's: at most `max_models_per_replica` held per replica,
least recently used unloaded first; requests for a model reach a replica that holds it (it is
loaded once, not on every replica a request lands on); one model call never mixes models; a
model that cannot be loaded is a 503 naming it while the others serve. Read from the replicas'
JSON log lines (`loaded model ...`, `batch_model`)."""

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from ray import serve

from tests.conftest import SERVE_LOGS
from textserve.inprocess import app_config, deploy_app

CATALOG = [  # the demo catalog, by demo name
    ("demo-translation", {"pairs": {"en": ["fr", "de", "ro"]}}),
    ("demo-marian-de-en", {"pairs": {"de": ["en"]}}),
    ("demo-marian-fr-en", {"pairs": {"fr": ["en"]}}),
    ("demo-nllb", {"languages": ["en", "de", "fr", "es"]}),
]


def deploy(apps, demo_models, name: str, replicas: int, per_replica: int, models=None, **settings) -> str:
    """A translation app `name` at /<name> with the demo catalog (or `models`) and `settings`; its
    URL path."""
    cfg = dict(app_config(apps, "translation"), name=name, route_prefix=f"/{name}")
    [deployment] = cfg["deployments"]
    cfg["deployments"] = [{**deployment, "num_replicas": replicas}]
    catalog = models or [{"model": str(demo_models[demo]), **pairs} for demo, pairs in CATALOG]
    user_config = {
        **deployment["user_config"],
        "models": catalog,
        "max_models_per_replica": per_replica,
        **settings,
    }
    deploy_app(cfg, user_config=user_config)
    return f"/{name}"


def log_records(app: str, offsets: dict) -> list[dict]:
    return SERVE_LOGS[0].records(app, offsets)


def loads(app: str, offsets: dict) -> list[tuple[str, str]]:
    """(replica log file, model directory's name) of each model a replica loaded."""
    found = []
    for record in log_records(app, offsets):
        text = record.get("message", "")
        if text.startswith("loaded model "):
            found.append((record["file"], text.split()[2].rstrip("/").rsplit("/", 1)[-1]))
    return found


@pytest.fixture
def cleanup():
    names = []
    yield names
    for name in names:
        serve.delete(name)


def test_models_load_on_demand_and_the_least_recently_used_is_unloaded(apps, demo_models, serve_url, cleanup):
    cleanup.append("mux-lru")
    offsets = SERVE_LOGS[0].offsets()
    path = deploy(apps, demo_models, "mux-lru", replicas=1, per_replica=1)
    with httpx.Client(base_url=serve_url + path, timeout=60) as client:

        def translate(text, source, target):
            response = client.post("", json={"text": text, "source_lang": source, "target_lang": target})
            assert response.status_code == 200, response.text
            return response.json()["translation"]

        assert translate("Hello world!", "en", "de") == "Hallo Welt!"  # the default model, held at start
        assert translate("Hallo Welt!", "de", "en") == "Hello world!"  # loads Marian, unloads T5
        assert translate("Guten Morgen.", "de", "en") == "Good morning."  # held
        assert translate("Hello world!", "en", "fr") == "Bonjour le monde !"  # T5 again
    time.sleep(1)  # the log lines written
    assert [model for _, model in loads("mux-lru", offsets)] == [
        "demo-translation",
        "demo-marian-de-en",
        "demo-translation",
    ]


@pytest.fixture(scope="module")
def two_replicas(apps, demo_models):
    """An app of 2 replicas holding 2 models each, the cache off; (its path, the log offsets
    before it was deployed)."""
    offsets = SERVE_LOGS[0].offsets()
    path = deploy(apps, demo_models, "mux-route", replicas=2, per_replica=2, cache_entries=0)
    yield path, offsets
    serve.delete("mux-route")


def test_requests_for_a_model_reach_the_replica_that_holds_it(two_replicas, serve_url):
    """Two replicas, each holding the default model; Marian is asked for by requests landing on
    both: one replica loads it, and every request for it is decoded there."""
    path, offsets = two_replicas
    german = ["Hallo Welt!", "Guten Morgen.", "Vielen Dank.", "Wie geht es Ihnen?"] * 4

    def translate(text):
        with httpx.Client(base_url=serve_url + path, timeout=60) as client:  # a connection each
            body = {"text": text, "source_lang": "de", "target_lang": "en"}
            return client.post("", json=body, headers={"X-Request-ID": f"mux-{text}-{time.monotonic_ns()}"})

    first = translate("Hallo Welt!")  # the first load, before the others ask
    assert first.status_code == 200 and first.json()["translation"] == "Hello world!"
    time.sleep(2)  # the replica tells Serve's controller, which tells the other replica's router
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(translate, german))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    time.sleep(1)
    marian = [replica for replica, model in loads("mux-route", offsets) if model == "demo-marian-de-en"]
    assert len(marian) == 1, marian  # loaded once: the other replica sent its requests there
    decoded_on = {
        record["file"]
        for record in log_records("mux-route", offsets)
        if record.get("batch_model", "").endswith("demo-marian-de-en")
    }
    assert decoded_on == set(marian)


def test_concurrent_requests_for_two_models_never_share_a_model_call(two_replicas, serve_url):
    path, _ = two_replicas
    offsets = SERVE_LOGS[0].offsets()
    requests = [
        ("Hello world!", "en", "fr", "demo-translation"),
        ("Hallo Welt!", "de", "en", "demo-marian-de-en"),
    ]
    model_of = {}

    def translate(number):
        text, source, target, model = requests[number % 2]
        request_id = f"mux-calls-{number}"
        model_of[request_id] = model
        with httpx.Client(base_url=serve_url + path, timeout=60) as client:
            body = {"text": text, "source_lang": source, "target_lang": target}
            return client.post("", json=body, headers={"X-Request-ID": request_id}).status_code

    assert translate(1) == 200  # Marian loaded first
    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(translate, range(2, 50))) == {200}
    time.sleep(1)
    batches = [r for r in log_records("mux-route", offsets) if "batch_model" in r]
    assert len(batches) >= 4
    for batch in batches:
        models = {model_of[rid] for rid in batch["request_ids"] if rid in model_of}
        assert len(models) <= 1 and all(batch["batch_model"].endswith(m) for m in models), batch


def test_a_model_that_cannot_be_loaded_is_a_503_naming_it_and_the_others_serve(
    apps, demo_models, serve_url, cleanup, tmp_path
):
    weightless = tmp_path / "marian-without-weights"
    shutil.copytree(demo_models["demo-marian-de-en"], weightless)
    for weights in weightless.glob("*.safetensors"):
        weights.unlink()
    no_tokenizer = tmp_path / "marian-without-tokenizer"
    shutil.copytree(demo_models["demo-marian-fr-en"], no_tokenizer)
    for name in ("source.spm", "target.spm"):
        (no_tokenizer / name).unlink()
    models = [
        {"model": str(demo_models["demo-translation"]), "pairs": {"en": ["fr", "de"]}},
        {"model": str(weightless), "pairs": {"de": ["en"]}},
        {"model": str(no_tokenizer), "pairs": {"fr": ["en"]}},
    ]
    cleanup.append("mux-broken")
    path = deploy(apps, demo_models, "mux-broken", replicas=1, per_replica=2, models=models)
    with httpx.Client(base_url=serve_url + path, timeout=60) as client:
        for text, source, model in (
            ("Hallo Welt!", "de", weightless),
            ("Merci beaucoup.", "fr", no_tokenizer),
        ):
            response = client.post("", json={"text": text, "source_lang": source, "target_lang": "en"})
            assert response.status_code == 503, response.text
            assert f"model '{model}'" in response.json()["error"]
            assert "Retry-After" in response.headers
        fine = client.post("", json={"text": "Hello world!", "target_lang": "de"})
        assert fine.status_code == 200 and fine.json()["translation"] == "Hallo Welt!"
