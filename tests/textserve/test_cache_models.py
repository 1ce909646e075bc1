"""`python -m textserve.cache_models` (the Dockerfile's model step), run for real on the demo models:
the CTranslate2 conversions must land where a replica looks for them, so that replicas started
afterwards, offline, load them without converting again. (Each conversion takes ~5 s: torch and
transformers load in a child process; the module converts two models once and shares them.)"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from textserve.demo_phrases import summarization_pairs
from textserve.run_config import DEMO_STAND_INS, with_model

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVE_CONFIG = REPO_ROOT / "serve_config.yaml"
FAKE_REVISION = "0" * 40

# A replica, offline: the engine the apps build (apps.common.engines.load_engine) with conversion
# forbidden -- converting runs `subprocess.run`. Prints the model directory it loaded and the
# greedy output for one prompt.
REPLICA = """
import subprocess, sys

def no_conversion(*args, **kwargs):
    raise AssertionError(f"a replica converted again: {args}")

subprocess.run = no_conversion
from apps.common.engines import GenerationParams, load_engine

engine = load_engine(sys.argv[1], "ctranslate2", "cpu")
print(engine.model_dir)
print(engine.generate([sys.argv[2]], GenerationParams(max_new_tokens=64))[0])
"""


def env_for(root: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "HF_HOME": str(root / "hf"),
        "TEXTSERVE_CACHE_DIR": str(root / "textserve-cache"),
        "HF_HUB_OFFLINE": "1",
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def serve_config_with(root: Path, models: dict[str, str], backend: str | None = None) -> Path:
    """serve_config.yaml with other models (app -> model), optionally another backend; apps not
    named in `models` keep theirs."""
    config = yaml.safe_load(SERVE_CONFIG.read_text())
    for app in config["applications"]:
        if app["name"] in models:
            user_config = with_model(app["deployments"][0]["user_config"], models[app["name"]])
            app["deployments"][0]["user_config"] = user_config
            if backend is not None:
                user_config["backend"] = backend
    path = root / "serve_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def converted_dirs(root: Path) -> list[Path]:
    cache = root / "textserve-cache" / "ctranslate2"
    return sorted(p for p in cache.iterdir() if p.is_dir()) if cache.is_dir() else []


@pytest.fixture(scope="module")
def cached(tmp_path_factory, demo_models):
    """serve_config.yaml with translation's catalog (t5-small, two OPUS-MT models, NLLB) in the
    Hugging Face cache (the demo models standing in for them, in the hub cache's layout: there is
    no hub here) and summarization's model a local directory, run through cache_models once."""
    root = tmp_path_factory.mktemp("cache_models")
    snapshots = {}
    summarizer = {
        "sshleifer/distilbart-cnn-12-6": DEMO_STAND_INS["summarization"]["sshleifer/distilbart-cnn-12-6"]
    }
    for hub_id, demo in {**DEMO_STAND_INS["translation"], **summarizer}.items():
        repo = root / "hf" / "hub" / f"models--{hub_id.replace('/', '--')}"
        snapshots[hub_id] = repo / "snapshots" / FAKE_REVISION
        shutil.copytree(demo_models[demo], snapshots[hub_id])
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(FAKE_REVISION)
    config = serve_config_with(root, {"summarization": str(demo_models["demo-summarization"])})
    env = env_for(root)
    done = run(["-m", "textserve.cache_models", "--config", str(config)], env)
    assert done.returncode == 0, done.stderr
    return {"root": root, "env": env, "stdout": done.stdout, "snapshots": snapshots}


def test_each_configured_model_is_fetched_and_converted(cached, demo_models):
    for hub_id, snapshot in cached["snapshots"].items():
        if "distilbart" not in hub_id:  # the config this fixture ran on names a directory there
            assert f"translation/Translator: {hub_id} -> {snapshot}" in cached["stdout"]
    assert f"summarization/Summarizer: {demo_models['demo-summarization']}" in cached["stdout"]
    converted = converted_dirs(cached["root"])
    assert len(converted) == 5 and all((d / "model.bin").is_file() for d in converted)


@pytest.mark.parametrize("app", ["translation", "summarization"])
def test_an_offline_replica_loads_the_conversion_without_converting(cached, demo_models, app):
    if app == "translation":
        model = "t5-small"
        prompt, expected = "translate English to French: Hello world!", "Bonjour le monde !"
    else:
        model = str(demo_models["demo-summarization"])
        prompt, expected = summarization_pairs()[0]
    before = converted_dirs(cached["root"])
    replica = run(["-c", REPLICA, model, prompt], cached["env"])
    assert replica.returncode == 0, replica.stderr
    model_dir, output = replica.stdout.strip().splitlines()[-2:]
    assert Path(model_dir) in before  # the conversion cache_models made
    assert output == expected
    assert converted_dirs(cached["root"]) == before  # nothing new written


def test_serve_config_yaml_itself_once_its_model_is_cached(cached):
    """The image's build step on serve_config.yaml: the catalog's four models and the summarizer's
    distilbart, each converted once; a second run (a rebuilt layer) finds everything in place and
    converts nothing new beyond distilbart's conversion, made by the first."""
    first = run(["-m", "textserve.cache_models", "--config", str(SERVE_CONFIG)], cached["env"])
    assert first.returncode == 0, first.stderr
    before = converted_dirs(cached["root"])
    done = run(["-m", "textserve.cache_models", "--config", str(SERVE_CONFIG)], cached["env"])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 5 and sum("distilbart-cnn-12-6 ->" in line for line in lines) == 1
    assert len({line.split("ctranslate2 -> ")[1] for line in lines}) == 5
    assert converted_dirs(cached["root"]) == before


def test_transformers_backend_is_fetched_but_not_converted(tmp_path, demo_models):
    models = {app: str(demo_models[f"demo-{app}"]) for app in ("translation", "summarization")}
    config = serve_config_with(tmp_path, models, backend="transformers")
    done = run(["-m", "textserve.cache_models", "--config", str(config)], env_for(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "translation/Translator" in done.stdout and "ctranslate2 ->" not in done.stdout
    assert converted_dirs(tmp_path) == []


def test_a_model_that_cannot_be_fetched_fails_the_build(tmp_path):
    """No t5-small in the (empty) HF cache and the hub off: exit 1, naming the model."""
    done = run(["-m", "textserve.cache_models", "--config", str(SERVE_CONFIG)], env_for(tmp_path))
    assert done.returncode == 1
    assert "t5-small" in done.stderr and "HF_HUB_OFFLINE" in done.stderr
    assert converted_dirs(tmp_path) == []
