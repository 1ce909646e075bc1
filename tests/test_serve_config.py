"""serve_config.yaml: valid for Serve, the promised shape, and user_configs our settings accept."""

from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from apps.common.settings import parse_user_config
from apps.router.config import RouterSettings
from apps.summarization.config import SummarizationSettings
from apps.translation.config import TranslationSettings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
APPS = {app["name"]: app for app in CONFIG["applications"]}


def test_validates_with_serve_schema():
    ServeDeploySchema.model_validate(CONFIG)


def test_has_the_serve_build_shape():
    assert CONFIG["proxy_location"] == "EveryNode"
    assert CONFIG["http_options"] == {"host": "0.0.0.0", "port": 8000, "request_timeout_s": 30}


def test_the_router_gives_up_on_a_leaf_before_the_proxy_gives_up_on_the_request():
    # so a slow leaf app gets the router's 503 naming it, not Serve's bare 408
    router = APPS["router"]["deployments"][0]
    assert router["user_config"]["leaf_timeout_s"] < CONFIG["http_options"]["request_timeout_s"]


def test_a_hung_chunk_call_is_retried_in_time_for_the_request_to_finish():
    # one unanswered chunk call (timed out, then sent again) leaves a document time to finish
    # before the router gives up on it
    [summarizer], router = APPS["summarization"]["deployments"], APPS["router"]["deployments"][0]
    assert summarizer["user_config"]["part_timeout_s"] < router["user_config"]["leaf_timeout_s"]


@pytest.mark.parametrize(
    "path",
    [
        "serve_config.yaml",
        "deploy/serve_config.autoscaling.yaml",
        "deploy/serve_config.gpu.yaml",
        "deploy/kuberay/rayservice.yaml",
        "deploy/kuberay/rayservice.gpu.yaml",
    ],
)
def test_a_replica_going_away_outlives_the_longest_request(path):
    # a redeploy or a scale-down stops a replica only after every request it holds is answered:
    # none is allowed longer than request_timeout_s (tests/e2e/test_redeploy.py shows it)
    document = yaml.safe_load((ROOT / path).read_text())
    config = document["spec"]["serveConfigV2"] if "spec" in document else document
    if isinstance(config, str):
        config = yaml.safe_load(config)
    longest = config["http_options"]["request_timeout_s"]
    for app in config["applications"]:
        for deployment in app["deployments"]:
            assert deployment["graceful_shutdown_timeout_s"] > longest, (path, deployment["name"])


def test_every_deployment_bounds_its_queue_and_says_when_to_retry():
    for deployment in (d for app in APPS.values() for d in app["deployments"]):
        # Serve counts a burst as queued until each request is assigned to a replica: a smaller
        # bound would refuse a burst that the replicas have room for
        held = deployment["num_replicas"] * deployment["max_ongoing_requests"]
        assert held <= deployment["max_queued_requests"] <= 2 * held, deployment["name"]
        assert deployment["backpressure_config"]["status_code"] == 503
        assert deployment["backpressure_config"]["retry_after_s"] >= 1
    assert CONFIG["grpc_options"]["port"] == 9000


@pytest.mark.parametrize(
    ("name", "route", "deployment"),
    [
        ("translation", "/translate", "Translator"),
        ("summarization", "/summarize", "Summarizer"),
        ("router", "/", "Router TranslatedFiles"),
    ],
)
def test_apps_routes_and_deployments(name, route, deployment):
    app = APPS[name]
    assert app["route_prefix"] == route
    assert app["import_path"] == f"apps.{name}.app:app"
    assert [d["name"] for d in app["deployments"]] == deployment.split()


@pytest.mark.parametrize("name", ["translation", "summarization"])
def test_model_deployments_as_in_the_seed_guide(name):
    [deployment] = APPS[name]["deployments"]
    assert deployment["num_replicas"] == 2
    assert deployment["ray_actor_options"] == {"num_cpus": 0.2, "num_gpus": 0.0}
    user_config = deployment["user_config"]
    if name == "translation":  # the seed guide's t5-small first in the catalog
        assert user_config["models"][0]["model"] == "t5-small"
    else:
        assert user_config["model"] == "sshleifer/distilbart-cnn-12-6"


@pytest.mark.parametrize(
    ("name", "settings_cls"),
    [
        ("translation", TranslationSettings),
        ("summarization", SummarizationSettings),
        ("router", RouterSettings),
    ],
)
def test_user_configs_validate(name, settings_cls):
    parse_user_config(settings_cls, APPS[name]["deployments"][0]["user_config"], name)


def test_bad_user_config_is_refused_with_the_key_named():
    with pytest.raises(ValueError, match="translation app: max_new_tokenz: Extra inputs"):
        parse_user_config(TranslationSettings, {"max_new_tokenz": 5}, "translation")
    with pytest.raises(ValueError, match="default_target_lang 'it' is no model's target"):
        parse_user_config(TranslationSettings, {"default_target_lang": "it"}, "translation")
    with pytest.raises(ValueError, match=r"max_request_chars \(5000\) is below max_input_chars \(6000\)"):
        parse_user_config(
            SummarizationSettings, {"max_input_chars": 6000, "max_request_chars": 5000}, "summarization"
        )
