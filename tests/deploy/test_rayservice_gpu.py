"""deploy/kuberay/rayservice.gpu.yaml: the RayService serves exactly deploy/serve_config.gpu.yaml,
passes the real KubeRay CRD's schema, equals rayservice.yaml but for what is GPU-specific (so a
change to the CPU manifest that is not mirrored fails here), and its GPUs, nodes and image fit
together. No Kubernetes cluster and no GPU are needed (nor were any at hand: nothing ran on one)."""

import copy

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from tests.deploy.test_rayservice import (
    RAYSERVICE,
    REPO_ROOT,
    cluster,
    crd_schema,
    deployments,
    dockerfile_base_tag,
    from_proxy_location,
    head_container,
    load_docs,
    mib,
    most_replicas,
    one,
    quantity,
    ray_containers,
    ray_cpus,
    replica_cpus,
    schema_errors,
    worker_groups,
)

GPU_RAYSERVICE = REPO_ROOT / "deploy/kuberay/rayservice.gpu.yaml"
GPU_SERVE_CONFIG = REPO_ROOT / "deploy/serve_config.gpu.yaml"
GPU = "nvidia.com/gpu"


@pytest.fixture
def gpu_rayservice() -> dict:
    return one(load_docs(GPU_RAYSERVICE), "RayService")


@pytest.fixture
def cpu_rayservice() -> dict:
    return one(load_docs(RAYSERVICE), "RayService")


def gpu_serve_config() -> dict:
    return yaml.safe_load(GPU_SERVE_CONFIG.read_text())


def replica_gpus(deployment: dict) -> float:
    return float((deployment.get("ray_actor_options") or {}).get("num_gpus", 0))


def worker_resources(rs: dict) -> dict:
    (group,) = worker_groups(rs)
    return group["template"]["spec"]["containers"][0]["resources"]


def without_gpu_differences(rs: dict) -> dict:
    """The manifest without what the GPU one changes: its Serve config, the image, the worker
    group's name and node placement, its memory and GPUs."""
    rs = copy.deepcopy(rs)
    del rs["spec"]["serveConfigV2"]
    for container in ray_containers(rs):
        container["image"] = "<image>"
    for group in worker_groups(rs):
        group["groupName"] = "<group>"
        group["template"]["spec"].pop("nodeSelector", None)
        group["template"]["spec"].pop("tolerations", None)
        resources = group["template"]["spec"]["containers"][0]["resources"]
        for kind in ("requests", "limits"):
            resources[kind].pop("memory")
            resources[kind].pop(GPU, None)
    return rs


def test_serve_config_v2_is_serve_config_gpu_yaml(gpu_rayservice):
    """Copy deploy/serve_config.gpu.yaml from `proxy_location:` on into serveConfigV2."""
    embedded = gpu_rayservice["spec"]["serveConfigV2"]
    assert yaml.safe_load(embedded) == gpu_serve_config()
    assert embedded == from_proxy_location(GPU_SERVE_CONFIG)  # comments too
    config = ServeDeploySchema.model_validate(yaml.safe_load(embedded))
    assert config.http_options.host == "0.0.0.0"


def test_passes_the_kuberay_crd_schema(gpu_rayservice):
    assert schema_errors(crd_schema(), gpu_rayservice) == []
    broken = copy.deepcopy(gpu_rayservice)
    worker_groups(broken)[0]["template"]["spec"]["tolerations"][0]["tolerationSeconds"] = "soon"
    assert schema_errors(crd_schema(), broken)  # the check can fail on the parts added here


def test_equals_rayservice_yaml_but_for_the_gpu_differences(gpu_rayservice, cpu_rayservice):
    assert without_gpu_differences(gpu_rayservice) == without_gpu_differences(cpu_rayservice)
    gpu, cpu = worker_resources(gpu_rayservice), worker_resources(cpu_rayservice)
    # more host memory than the CPU workers' measured need, never less; still requests = limits
    assert mib(gpu["limits"]["memory"]) >= mib(cpu["limits"]["memory"])
    assert gpu["requests"]["memory"] == gpu["limits"]["memory"]


def test_the_gpu_replicas_fit_and_every_app_survives_the_loss_of_a_worker(gpu_rayservice):
    (group,) = worker_groups(gpu_rayservice)
    resources = worker_resources(gpu_rayservice)
    # KubeRay gives Ray the container's nvidia.com/gpu limit as num-gpus; requests must equal it
    gpus_per_worker = quantity(resources["limits"][GPU])
    assert gpus_per_worker >= 1 and gpus_per_worker == int(gpus_per_worker)
    assert resources["requests"][GPU] == resources["limits"][GPU]
    assert "num-gpus" not in group["rayStartParams"]

    on_gpu = [d for d in deployments(gpu_serve_config()) if replica_gpus(d) > 0]
    assert {d["name"] for d in on_gpu} == {"Translator", "Summarizer"}
    needed = sum(most_replicas(d) * replica_gpus(d) for d in on_gpu)
    assert needed == pytest.approx(2.0)  # 2 x 0.5 + 2 x 0.5 today
    assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    assert needed <= gpus_per_worker * group["minReplicas"]
    # Serve spreads a deployment's replicas over the nodes: with a replica of each per worker, a
    # worker that is lost leaves one of each on another, which holds them
    assert group["minReplicas"] >= 2
    assert all(most_replicas(d) >= group["minReplicas"] for d in on_gpu)
    assert sum(replica_gpus(d) for d in on_gpu) <= gpus_per_worker
    # CPUs as on the CPU workers: either worker alone holds every replica's CPU share
    cpus = sum(most_replicas(d) * replica_cpus(d) for d in deployments(gpu_serve_config()))
    assert cpus <= ray_cpus(group) * (group["minReplicas"] - 1)


def test_gpu_workers_go_to_gpu_nodes_and_the_head_does_not(gpu_rayservice):
    (group,) = worker_groups(gpu_rayservice)
    spec = group["template"]["spec"]
    assert spec["nodeSelector"]
    assert any(t["key"] == GPU and t["effect"] == "NoSchedule" for t in spec["tolerations"])
    head_spec = cluster(gpu_rayservice)["headGroupSpec"]["template"]["spec"]
    assert "tolerations" not in head_spec and "nodeSelector" not in head_spec
    assert GPU not in head_container(gpu_rayservice)["resources"]["limits"]


def test_every_container_runs_the_gpu_build_of_the_project_image(gpu_rayservice, cpu_rayservice):
    (image,) = {c["image"] for c in ray_containers(gpu_rayservice)}
    (cpu_image,) = {c["image"] for c in ray_containers(cpu_rayservice)}
    assert image == f"{cpu_image}-gpu"  # the same build (name and tag), its GPU variant
    ray_version = cluster(gpu_rayservice)["rayVersion"]
    assert ray_version == cluster(cpu_rayservice)["rayVersion"]
    assert dockerfile_base_tag(RAY_IMAGE_VARIANT="gpu") == f"{ray_version}-py311-gpu"
