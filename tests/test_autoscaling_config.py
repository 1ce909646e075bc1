"""deploy/serve_config.autoscaling.yaml: serve_config.yaml with autoscaling in place of fixed replica
counts, and nothing else changed (a change to serve_config.yaml that is not mirrored fails here);
valid for Serve, current (non-deprecated) autoscaling fields, knobs consistent with batching, and
fits a 2-CPU machine at max_replicas. tests/translation/test_autoscaling.py shows it scaling."""

import copy
import warnings
from pathlib import Path

import pytest
import yaml
from ray.serve.config import AutoscalingConfig
from ray.serve.schema import ServeDeploySchema

REPO_ROOT = Path(__file__).resolve().parent.parent
BASE = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
VARIANT = yaml.safe_load((REPO_ROOT / "deploy/serve_config.autoscaling.yaml").read_text())
AUTOSCALED = ["Translator", "Summarizer"]
MACHINE_CPUS = 2


def deployments(config: dict) -> dict[str, dict]:
    return {d["name"]: d for app in config["applications"] for d in app["deployments"]}


def without_replica_counts(config: dict) -> dict:
    config = copy.deepcopy(config)
    for deployment in deployments(config).values():
        deployment.pop("num_replicas", None)
        deployment.pop("autoscaling_config", None)
    return config


def test_validates_with_serve_schema():
    ServeDeploySchema.model_validate(VARIANT)


def test_equals_serve_config_but_for_replica_counts():
    assert without_replica_counts(VARIANT) == without_replica_counts(BASE)
    # same keys in the same order, so the files read alike side by side
    assert [app["name"] for app in VARIANT["applications"]] == [app["name"] for app in BASE["applications"]]


def test_model_deployments_autoscale_and_the_router_keeps_its_count():
    base, variant = deployments(BASE), deployments(VARIANT)
    for name, deployment in variant.items():
        if name in AUTOSCALED:
            assert "num_replicas" not in deployment, name
            # a fresh deploy starts with the replicas serve_config.yaml runs
            assert deployment["autoscaling_config"]["initial_replicas"] == base[name]["num_replicas"], name
        else:
            assert "autoscaling_config" not in deployment, name
            assert deployment["num_replicas"] == base[name]["num_replicas"], name
    assert set(AUTOSCALED) < set(variant)


@pytest.mark.parametrize("name", AUTOSCALED)
def test_autoscaling_knobs(name):
    deployment = deployments(VARIANT)[name]
    knobs = deployment["autoscaling_config"]
    with warnings.catch_warnings():  # Serve warns of deprecated fields and of settings it will refuse
        warnings.simplefilter("error")
        config = AutoscalingConfig.model_validate(knobs)
    for key in knobs:  # Serve ignores names it does not know (e.g. target_num_ongoing_requests_per_replica)
        assert key in AutoscalingConfig.model_fields, f"{key}: not an AutoscalingConfig field"
        assert "DEPRECATED" not in (AutoscalingConfig.model_fields[key].description or ""), key
    assert 1 <= config.min_replicas <= config.initial_replicas <= config.max_replicas
    assert config.min_replicas < config.max_replicas  # else nothing scales
    # a replica decodes up to max_batch_size texts per call: the target keeps calls well filled
    # (more than Serve's default of 2), and Serve scales out before replicas refuse requests
    max_batch_size = deployment["user_config"]["max_batch_size"]
    target = config.target_ongoing_requests
    assert 2 < target <= max_batch_size
    assert target < deployment["max_ongoing_requests"]
    assert config.upscale_delay_s < config.downscale_delay_s  # quick to add, slow to remove


def test_fits_a_two_cpu_machine_at_max_replicas():
    total = 0.0
    for deployment in deployments(VARIANT).values():
        autoscaling = deployment.get("autoscaling_config")
        replicas = autoscaling["max_replicas"] if autoscaling else deployment["num_replicas"]
        total += replicas * deployment["ray_actor_options"]["num_cpus"]
    assert total <= MACHINE_CPUS, total
