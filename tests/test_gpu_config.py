"""deploy/serve_config.gpu.yaml: serve_config.yaml with the model deployments on GPUs, and nothing
else changed (a change to serve_config.yaml that is not mirrored fails here): the documented GPU
differences only, valid for Serve and for the apps' settings, batches that can fill. Nothing here
runs on a GPU (this machine has none): tests/common/test_devices.py shows `device: cuda` failing
clearly where there is no CUDA device."""

import copy
from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from apps.common.settings import parse_user_config
from apps.router.config import RouterSettings
from apps.summarization.config import SummarizationSettings
from apps.translation.config import TranslationSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
BASE = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
GPU = yaml.safe_load((REPO_ROOT / "deploy/serve_config.gpu.yaml").read_text())
SETTINGS = {
    "translation": TranslationSettings,
    "summarization": SummarizationSettings,
    "router": RouterSettings,
}
ON_GPU = {"Translator": 64, "Summarizer": 32}  # deployment -> its max_batch_size on a GPU
# the documented differences: deployment options and user_config keys
GPU_OPTIONS = ("max_ongoing_requests", "max_queued_requests")
GPU_USER_CONFIG = ("device", "max_batch_size")


def deployments(config: dict) -> dict[str, dict]:
    return {d["name"]: d for app in config["applications"] for d in app["deployments"]}


def without_gpu_differences(config: dict) -> dict:
    config = copy.deepcopy(config)
    for name, deployment in deployments(config).items():
        if name in ON_GPU:
            for key in GPU_OPTIONS:
                deployment.pop(key)
            deployment["ray_actor_options"].pop("num_gpus")
            for key in GPU_USER_CONFIG:
                deployment["user_config"].pop(key)
    return config


def test_validates_with_serve_schema():
    ServeDeploySchema.model_validate(GPU)


@pytest.mark.parametrize("app", SETTINGS)
def test_every_user_config_validates_with_the_apps_settings(app):
    deployment = next(a for a in GPU["applications"] if a["name"] == app)["deployments"][0]
    parse_user_config(SETTINGS[app], deployment["user_config"], app)


def test_equals_serve_config_but_for_the_gpu_differences():
    assert without_gpu_differences(GPU) == without_gpu_differences(BASE)
    assert [app["name"] for app in GPU["applications"]] == [app["name"] for app in BASE["applications"]]


@pytest.mark.parametrize("name", ON_GPU)
def test_model_deployments_run_on_a_share_of_a_gpu_with_gpu_batches(name):
    base, gpu = deployments(BASE)[name], deployments(GPU)[name]
    assert 0 < gpu["ray_actor_options"]["num_gpus"] < 1  # fractional: replicas share a GPU
    assert base["ray_actor_options"]["num_gpus"] == 0
    assert gpu["user_config"]["device"] == "cuda" and base["user_config"]["device"] == "cpu"
    batch = gpu["user_config"]["max_batch_size"]
    assert batch == ON_GPU[name] > base["user_config"]["max_batch_size"]
    assert gpu["max_ongoing_requests"] >= batch  # else a batch can never fill
    held = gpu["num_replicas"] * gpu["max_ongoing_requests"]
    assert held <= gpu["max_queued_requests"] <= 2 * held  # serve_config.yaml's rule


def test_the_router_needs_no_gpu():
    assert deployments(GPU)["Router"] == deployments(BASE)["Router"]
    assert deployments(GPU)["Router"]["ray_actor_options"]["num_gpus"] == 0
