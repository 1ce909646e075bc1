"""deploy/kuberay/rayservice.yaml and redis.yaml: the RayService serves exactly serve_config.yaml,
passes the real KubeRay CRD's schema (vendored from KubeRay v1.7.0, see kuberay_crd/), and its
resources, images, secrets and addresses fit together. No Kubernetes cluster is needed."""

import copy
import math
import os
import re
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from ray.serve.schema import ServeDeploySchema

from textserve import haproxy

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVE_CONFIG = REPO_ROOT / "serve_config.yaml"
RAYSERVICE = REPO_ROOT / "deploy/kuberay/rayservice.yaml"
REDIS = REPO_ROOT / "deploy/kuberay/redis.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
CRD = Path(__file__).resolve().parent / "kuberay_crd/ray.io_rayservices.yaml"

# Peak resident memory per replica, MiB, measured with backend ctranslate2 (bench/README.md;
# Router: a Serve replica without a model, ../shared/NOTES.md) and Ray's idle processes per node.
# Translator: the whole default catalog held, Summarizer: distilbart (python -m bench.model_memory).
# TranslatedFiles: 139 MiB idle (RSS on 2 cores), plus at most its store's max_bytes (64 MiB)
MEASURED_REPLICA_MIB = {"Translator": 1420, "Summarizer": 760, "Router": 320, "TranslatedFiles": 210}
RAY_IDLE_MIB = 640
RAY_WITH_DASHBOARD_MIB = 1600 * 1000**2 // 2**20  # 1.6 GB, the head
SERVE_DEFAULT_NUM_CPUS = 1.0  # Serve's default ray_actor_options.num_cpus
MAX_RAYSERVICE_NAME_LENGTH = 47  # KubeRay v1.7.0 utils.MaxRayServiceNameLength


def load_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def one(docs: list[dict], kind: str) -> dict:
    found = [doc for doc in docs if doc.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture
def rayservice() -> dict:
    return one(load_docs(RAYSERVICE), "RayService")


@pytest.fixture
def redis() -> dict[str, dict]:
    docs = load_docs(REDIS)
    return {kind: one(docs, kind) for kind in ("Service", "Deployment", "NetworkPolicy")}


def cluster(rs: dict) -> dict:
    return rs["spec"]["rayClusterConfig"]


def head_container(rs: dict) -> dict:
    return cluster(rs)["headGroupSpec"]["template"]["spec"]["containers"][0]


def worker_groups(rs: dict) -> list[dict]:
    return cluster(rs)["workerGroupSpecs"]


def ray_containers(rs: dict) -> list[dict]:
    """The Ray container of the head and of each worker group (KubeRay: the first container)."""
    return [head_container(rs)] + [g["template"]["spec"]["containers"][0] for g in worker_groups(rs)]


def env_of(container: dict) -> dict[str, dict]:
    return {var["name"]: var for var in container.get("env", [])}


# --- Kubernetes quantities -------------------------------------------------------------------

_SUFFIX = {
    "m": 1e-3,
    "": 1,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(value: str | int | float) -> float:
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value))
    assert match and match.group(2) in _SUFFIX, f"unsupported quantity {value!r}"
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def ray_cpus(group: dict) -> float:
    """Logical CPUs Ray gets on a pod of this group, as KubeRay decides them (pod.go,
    generateRayStartCommand): rayStartParams num-cpus, else the group's `resources`, else the
    container's cpu limit, else its request, rounded up (Quantity.Value())."""
    if "num-cpus" in group.get("rayStartParams", {}):
        return float(group["rayStartParams"]["num-cpus"])
    if "cpu" in (group.get("resources") or {}):
        return float(group["resources"]["cpu"])
    resources = group["template"]["spec"]["containers"][0]["resources"]
    for kind in ("limits", "requests"):
        if "cpu" in resources.get(kind, {}):
            return math.ceil(quantity(resources[kind]["cpu"]))
    return 0.0


def mib(value: str) -> float:
    return quantity(value) / 2**20


# --- serve config --------------------------------------------------------------------------------


def serve_config() -> dict:
    return yaml.safe_load(SERVE_CONFIG.read_text())


def deployments(config: dict) -> list[dict]:
    return [d for app in config["applications"] for d in app["deployments"]]


def most_replicas(deployment: dict) -> int:
    """A deployment's replica count, or its autoscaling maximum."""
    autoscaling = deployment.get("autoscaling_config") or {}
    if "max_replicas" in autoscaling:
        return int(autoscaling["max_replicas"])
    replicas = deployment.get("num_replicas", 1)
    assert isinstance(replicas, int), f"{deployment['name']}: num_replicas {replicas!r}: give max_replicas"
    return replicas


def replica_cpus(deployment: dict) -> float:
    options = deployment.get("ray_actor_options") or {}
    return float(options.get("num_cpus", SERVE_DEFAULT_NUM_CPUS))


# --- (a), (b): the Serve config -------------------------------------------------------------------


def test_serve_config_v2_is_serve_config_yaml(rayservice):
    """Editing serve_config.yaml without rayservice.yaml (or back) fails here: copy serve_config.yaml
    from `proxy_location:` on into serveConfigV2."""
    embedded = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    assert embedded == serve_config()
    assert rayservice["spec"]["serveConfigV2"] == from_proxy_location(SERVE_CONFIG)  # comments too


def from_proxy_location(path: Path) -> str:
    """A Serve config file's text from `proxy_location:` on: what serveConfigV2 embeds."""
    text = path.read_text()
    return text[text.index("proxy_location:") :]


def test_serve_config_v2_is_a_valid_serve_deploy_config(rayservice):
    config = ServeDeploySchema.model_validate(yaml.safe_load(rayservice["spec"]["serveConfigV2"]))
    assert {app.name for app in config.applications} == {"translation", "summarization", "router"}
    # in a pod the proxies must listen on the pod's address, not 127.0.0.1
    assert config.http_options.host == "0.0.0.0"
    assert config.http_options.port == 8000 == port_named(head_container(rayservice), "serve")


# --- (c): the real CRD schema ------------------------------------------------------------------------


@cache
def crd_schema() -> dict:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert version["served"] and version["storage"]
    return version["schema"]["openAPIV3Schema"]


def strict(schema: dict) -> dict:
    """The CRD schema with unknown fields made errors, as the API server's strict field validation
    (kubectl's default, --validate=strict) makes them: every object schema that lists its
    properties, and neither allows other keys nor preserves unknown fields, gets
    additionalProperties: false. Plain jsonschema would accept any misspelt field."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def schema_errors(schema: dict, instance: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(strict(schema))
    return [
        f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def sub_schema(*path: str) -> dict:
    node = crd_schema()
    for key in path:
        node = node["items"] if key == "[]" else node["properties"][key]
    return node


def test_rayservice_passes_the_kuberay_crd_schema(rayservice):
    assert rayservice["apiVersion"] == "ray.io/v1"
    assert schema_errors(crd_schema(), rayservice) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda rs: rs["spec"].update(upgradeStrategyy={"type": "NewCluster"}),  # misspelt field
        lambda rs: rs["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"].update(redisPasword={}),
        lambda rs: rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].update(minReplicas="2"),
        lambda rs: rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].pop("groupName"),
        lambda rs: rs["spec"]["rayClusterConfig"]["authOptions"].update(mode="tokens"),
        lambda rs: head_container(rs).update(resources={"limits": {"memory": "3 GiB"}}),
    ],
    ids=[
        "unknown-field",
        "unknown-nested-field",
        "wrong-type",
        "missing-required",
        "bad-enum",
        "bad-quantity",
    ],
)
def test_the_schema_check_catches_mistakes(rayservice, mutate):
    """The check above can fail: each of these edits of the manifest is rejected."""
    broken = copy.deepcopy(rayservice)
    mutate(broken)
    assert schema_errors(crd_schema(), broken)


def test_redis_manifests_pass_the_core_schemas_the_crd_embeds(redis):
    """The CRD embeds two core/v1 schemas: a PodTemplateSpec (the head group's template) and a
    Service (serveService). The Redis Deployment's pod template and the Redis Service are checked
    against those; the rest by hand. (Every object, the NetworkPolicies included, also passes the
    Kubernetes API's own schemas: tests/deploy/test_manifest_security.py.)"""
    deployment, service = redis["Deployment"], redis["Service"]
    pod_template = sub_schema("spec", "rayClusterConfig", "headGroupSpec", "template")
    assert schema_errors(pod_template, deployment["spec"]["template"]) == []
    assert schema_errors(sub_schema("spec", "serveService"), service) == []
    assert schema_errors(pod_template, {"spec": {"containers": [{"name": "x", "imagee": "y"}]}})

    assert deployment["apiVersion"] == "apps/v1" and service["apiVersion"] == "v1"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    # its NetworkPolicy guards these pods
    assert redis["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()


# --- (d): resources, images, secrets, addresses ----------------------------------------------------


def test_the_head_runs_no_replicas(rayservice):
    assert cluster(rayservice)["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    assert ray_cpus(cluster(rayservice)["headGroupSpec"]) == 0


def test_the_replicas_fit_the_workers_cpus_even_with_one_worker_lost(rayservice):
    needed = sum(most_replicas(d) * replica_cpus(d) for d in deployments(serve_config()))
    assert needed == pytest.approx(1.0)  # 2 x 0.2 + 2 x 0.2 + 2 x 0.1 today
    (group,) = worker_groups(rayservice)
    assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    assert group["minReplicas"] >= 2, "one worker: its loss stops every app"
    assert needed <= ray_cpus(group) * group["minReplicas"]
    assert needed <= ray_cpus(group) * (group["minReplicas"] - 1), "cannot survive the loss of a worker"


def test_worker_memory_holds_every_replica_even_with_one_worker_lost(rayservice):
    (group,) = worker_groups(rayservice)
    limit = mib(group["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"])
    unknown = {d["name"] for d in deployments(serve_config())} - MEASURED_REPLICA_MIB.keys()
    assert not unknown, f"measure the memory of {unknown} and add it to MEASURED_REPLICA_MIB"
    replicas = sum(most_replicas(d) * MEASURED_REPLICA_MIB[d["name"]] for d in deployments(serve_config()))
    survivors = group["minReplicas"] - 1
    assert replicas + survivors * RAY_IDLE_MIB <= survivors * limit


def test_the_head_has_memory_for_ray_and_its_dashboard(rayservice):
    limits = head_container(rayservice)["resources"]["limits"]
    assert mib(limits["memory"]) >= RAY_WITH_DASHBOARD_MIB + 512  # + Serve controller and proxy


def test_limits_are_at_least_the_requests(rayservice, redis):
    containers = ray_containers(rayservice) + redis["Deployment"]["spec"]["template"]["spec"]["containers"]
    for container in containers:
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert set(requests) == set(limits) == {"cpu", "memory"}, container["name"]
        for resource in requests:
            assert quantity(limits[resource]) >= quantity(requests[resource]), (container["name"], resource)
    for container in ray_containers(rayservice):  # Ray's memory is the limit: never overcommit it
        assert container["resources"]["requests"]["memory"] == container["resources"]["limits"]["memory"]


def test_head_and_workers_run_the_project_image_of_the_pinned_ray(rayservice):
    images = {c["image"] for c in ray_containers(rayservice)}
    assert len(images) == 1, images
    (image,) = images
    name, _, tag = image.rpartition(":")
    assert name.endswith("/textserve") and tag and tag != "latest", image
    ray_version = cluster(rayservice)["rayVersion"]
    assert ray_version == ray.__version__  # the version the project is tested with
    assert dockerfile_base_tag() == f"{ray_version}-py311-cpu"


def dockerfile_base_tag(**build_args: str) -> str:
    """The tag of the Dockerfile's rayproject/ray base image, its ARGs at their defaults or at
    `build_args` (docker build --build-arg NAME=VALUE)."""
    dockerfile = DOCKERFILE.read_text()
    values = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.M)) | build_args
    base = re.search(r"^FROM rayproject/ray:(\S+)$", dockerfile, re.M).group(1)
    tag = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], base)
    assert "$" not in tag, base
    return tag


def test_gcs_fault_tolerance_uses_the_redis_service_and_its_secret(rayservice, redis):
    ft = cluster(rayservice)["gcsFaultToleranceOptions"]
    host, _, port = ft["redisAddress"].rpartition(":")
    service = redis["Service"]
    assert host == service["metadata"]["name"]
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    # the password: from the Secret the operator creates (deploy/README.md), never a literal
    assert set(ft["redisPassword"]) == {"valueFrom"}
    ref = ft["redisPassword"]["valueFrom"]["secretKeyRef"]
    # Redis itself reads the same key of the same Secret, as a file (a secret volume)
    pod = redis["Deployment"]["spec"]["template"]["spec"]
    (redis_container,) = pod["containers"]
    mounted = {m["name"] for m in redis_container["volumeMounts"]}
    password_volumes = [
        volume["name"]
        for volume in pod["volumes"]
        if volume.get("secret", {}).get("secretName") == ref["name"]
        # without `items` a secret volume holds every key
        and ref["key"] in {item["key"] for item in volume["secret"].get("items", [ref])}
    ]
    assert password_volumes and set(password_volumes) <= mounted, "Redis does not read the RayService's key"
    # the Redis pods accept connections from the Ray head pods only
    head_labels = cluster(rayservice)["headGroupSpec"]["template"]["metadata"]["labels"]
    (rule,) = redis["NetworkPolicy"]["spec"]["ingress"]
    (source,) = rule["from"]
    assert source["podSelector"]["matchLabels"].items() <= head_labels.items()
    assert {p["port"] for p in rule["ports"]} == {int(port)}


def test_operator_rules_the_schema_cannot_express(rayservice):
    """What KubeRay v1.7.0 validates or assumes in code (utils/validation.go, common/service.go)."""
    spec = rayservice["spec"]
    name = rayservice["metadata"]["name"]
    assert len(name) <= MAX_RAYSERVICE_NAME_LENGTH and re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name)
    assert spec["upgradeStrategy"]["type"] == "NewCluster"  # the CRD types it as any string
    # deprecated, ignored by current KubeRay (kuberay#1685)
    assert not {"serviceUnhealthySecondThreshold", "deploymentUnhealthySecondThreshold"} & spec.keys()
    # token auth needs rayVersion >= 2.52.0
    assert cluster(rayservice)["authOptions"]["mode"] == "token"
    assert tuple(map(int, cluster(rayservice)["rayVersion"].split("."))) >= (2, 52, 0)
    # with gcsFaultToleranceOptions, the Redis settings must not also come from env/rayStartParams
    head_env = env_of(head_container(rayservice))
    assert not {"REDIS_PASSWORD", "RAY_REDIS_ADDRESS", "REDIS_USERNAME"} & head_env.keys()
    assert "redis-password" not in cluster(rayservice)["headGroupSpec"]["rayStartParams"]
    # the serve Service takes its port from a head container port named "serve"
    assert port_named(head_container(rayservice), "serve") == 8000
    # without the autoscaler every worker group needs both bounds
    for group in worker_groups(rayservice):
        assert "minReplicas" in group and "maxReplicas" in group


def test_ray_containers_run_offline_with_kuberays_token_auth(rayservice):
    for container in ray_containers(rayservice):
        env = env_of(container)
        assert env["HF_HUB_OFFLINE"]["value"] == "1", container["name"]
        # KubeRay sets RAY_AUTH_MODE=token and RAY_AUTH_TOKEN from authOptions unless a container
        # sets them itself: a container-level value would override (or leak) the cluster's token
        assert not {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN"} & env.keys(), container["name"]
        assert port_named(container, "metrics") == 8080  # KubeRay's metrics-export-port


def port_named(container: dict, name: str) -> int | None:
    return next((p["containerPort"] for p in container.get("ports", []) if p.get("name") == name), None)


def test_every_ray_container_runs_serves_haproxy_ingress_as_make_run_does(rayservice):
    """The nodes' environment is textserve.haproxy's, with the launcher at its path in the image
    (the Dockerfile copies the repository to /home/ray/textserve, keeping its executable bit)."""
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "WORKDIR /home/ray/textserve" in dockerfile and "COPY --chown=ray:users . ." in dockerfile
    in_image = "/home/ray/textserve/" + str(haproxy.LAUNCHER.relative_to(REPO_ROOT))
    assert in_image == haproxy.IMAGE_LAUNCHER
    assert os.access(haproxy.LAUNCHER, os.X_OK)
    for container in ray_containers(rayservice):
        env = {name: entry["value"] for name, entry in env_of(container).items() if "value" in entry}
        assert {key: env.get(key) for key in haproxy.NODE_ENV} == haproxy.NODE_ENV, container["name"]
        assert env["RAY_SERVE_HAPROXY_BINARY_PATH"] == haproxy.IMAGE_LAUNCHER, container["name"]
