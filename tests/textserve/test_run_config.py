"""The documented demo mechanism: `python -m textserve.run_config` derives the deployed config."""

import subprocess
import sys
from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_config(tmp_path, *args) -> tuple[str, dict]:
    out = tmp_path / "run.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "textserve.run_config", "--out", str(out), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)},
    )
    return result.stdout, yaml.safe_load(out.read_text())


def user_config(config: dict, app: str) -> dict:
    return next(a for a in config["applications"] if a["name"] == app)["deployments"][0]["user_config"]


def test_auto_substitutes_unloadable_models_and_announces_it(tmp_path, demo_models):
    stdout, config = run_config(tmp_path, "--http-host", "127.0.0.1", "--http-port", "8123")
    assert "DEMO MODE" in stdout
    assert "'t5-small' replaced by the demo model" in stdout
    catalog = [entry["model"] for entry in user_config(config, "translation")["models"]]
    assert catalog == [
        str(demo_models[f"demo-{n}"]) for n in ("translation", "marian-de-en", "marian-fr-en", "nllb")
    ]
    assert user_config(config, "summarization")["model"] == str(demo_models["demo-bart-summarization"])
    assert config["http_options"] == {"host": "127.0.0.1", "port": 8123, "request_timeout_s": 30}
    assert "DEMO MODE" in (tmp_path / "run.yaml").read_text().split("proxy_location")[0]
    ServeDeploySchema.model_validate(config)


def test_never_keeps_the_configured_models(tmp_path):
    stdout, config = run_config(tmp_path, "--demo", "never")
    assert "DEMO MODE" not in stdout
    assert user_config(config, "translation")["models"][0]["model"] == "t5-small"


def test_auto_keeps_a_loadable_model(tmp_path, demo_models):
    source = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    user_config(source, "translation")["models"][0]["model"] = str(demo_models["demo-translation"])
    custom = tmp_path / "custom.yaml"
    custom.write_text(yaml.safe_dump(source))
    stdout, config = run_config(tmp_path, "--config", str(custom))
    assert "translation: 't5-small'" not in stdout  # the others were substituted
    assert "translation: 'Helsinki-NLP/opus-mt-de-en' replaced" in stdout
    assert "summarization: 'sshleifer/distilbart-cnn-12-6' replaced" in stdout
    assert user_config(config, "translation")["models"][0]["model"] == str(demo_models["demo-translation"])


def test_a_model_no_demo_stands_in_for_is_named(tmp_path):
    source = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    user_config(source, "translation")["models"].append(
        {"model": "org/unknown-model", "pairs": {"it": ["en"]}}
    )
    custom = tmp_path / "custom.yaml"
    custom.write_text(yaml.safe_dump(source))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "textserve.run_config",
            "--out",
            str(tmp_path / "o.yaml"),
            "--config",
            str(custom),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)},
    )
    assert done.returncode == 1
    assert (
        "'org/unknown-model' cannot be loaded here" in done.stderr
        and "no demo model stands in" in done.stderr
    )
