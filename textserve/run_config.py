"""Derive the config that gets deployed from serve_config.yaml.

    python -m textserve.run_config --out .run/serve_config.yaml [--demo auto|always|never]
                                   [--http-host 127.0.0.1] [--http-port 8000]

This is the documented mechanism for demo mode. With `--demo auto` (the default) every model
that cannot be loaded here (not a local directory, not in the Hugging Face cache, hub off or
unreachable) is replaced by the matching demo model, built on first use into `.models/`; with
`--demo always` every model is. Each substitution is printed, written into the derived file's
header and shows in every response's `model` field ("demo:..."). serve_config.yaml itself is
never changed.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import yaml

from apps.common.model_loading import ModelLoadError, resolve_model_source
from textserve.demo_models import ensure_demo_models

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "serve_config.yaml"
DEFAULT_MODELS_DIR = REPO_ROOT / ".models"
# which demo model stands in for which configured model, per app (a demo model of the same family,
# trained on the same pairs: textserve/demo_models.py)
DEMO_STAND_INS = {
    "translation": {
        "t5-small": "demo-translation",
        "Helsinki-NLP/opus-mt-de-en": "demo-marian-de-en",
        "Helsinki-NLP/opus-mt-fr-en": "demo-marian-fr-en",
        "facebook/nllb-200-distilled-600M": "demo-nllb",
    },
    "summarization": {
        "t5-small": "demo-summarization",
        "sshleifer/distilbart-cnn-12-6": "demo-bart-summarization",
        "google/pegasus-xsum": "demo-pegasus-summarization",
    },
}


class NoStandInError(ValueError):
    """A configured model cannot be loaded here and no demo model stands in for it."""


def with_model(user_config: dict, model: str) -> dict:
    """`user_config` serving `model` alone: a summarizer's `model`, or a translation catalog of that
    one model for the catalog's first entry's pairs (a T5 for en->fr/de/ro; the bench's and tests'
    stand-ins)."""
    if isinstance(user_config.get("models"), list):
        first = {key: value for key, value in user_config["models"][0].items() if key != "model"}
        return {**user_config, "models": [{"model": model, **first}]}
    return {**user_config, "model": model}


def model_slots(user_config: dict) -> list[dict]:
    """The dicts whose `model` names a model: the user_config itself (one model), or each entry
    of its catalog (`models`)."""
    if isinstance(user_config.get("models"), list):
        return [entry for entry in user_config["models"] if isinstance(entry, dict) and "model" in entry]
    return [user_config] if "model" in user_config else []


def derive_config(
    config: dict,
    *,
    demo: str = "auto",
    http_host: str | None = None,
    http_port: int | None = None,
    models_dir: Path = DEFAULT_MODELS_DIR,
) -> tuple[dict, list[str]]:
    """Return (config to deploy, list of demo substitutions made, as sentences)."""
    if demo not in ("auto", "always", "never"):
        raise ValueError(f"demo must be auto, always or never, not {demo!r}")
    config = copy.deepcopy(config)
    if http_host is not None:
        config.setdefault("http_options", {})["host"] = http_host
    if http_port is not None:
        config.setdefault("http_options", {})["port"] = http_port

    substitutions = []
    for app in config.get("applications", []):
        stand_ins = DEMO_STAND_INS.get(app["name"])
        if stand_ins is None or demo == "never":
            continue
        for deployment in app.get("deployments", []):
            for slot in model_slots(deployment.get("user_config") or {}):
                model = slot["model"]
                if demo == "auto":
                    try:
                        resolve_model_source(model)
                        continue
                    except ModelLoadError as exc:
                        reason = str(exc).split(". ")[0]
                else:
                    reason = "demo models requested"
                if model not in stand_ins:
                    raise NoStandInError(
                        f"{app['name']}: '{model}' cannot be loaded here ({reason}) and no demo model "
                        f"stands in for it (demo models stand in for {', '.join(stand_ins)}): give a "
                        "local directory that holds it"
                    )
                demo_dir = ensure_demo_models(models_dir)[stand_ins[model]]
                slot["model"] = str(demo_dir)
                substitutions.append(
                    f"{app['name']}: '{model}' replaced by the demo model {demo_dir} ({reason})"
                )
    return config, substitutions


def write_config(config: dict, substitutions: list[str], out: Path) -> None:
    from ray.serve.schema import ServeDeploySchema

    ServeDeploySchema.model_validate(config)
    header = ["# Generated by `python -m textserve.run_config` from serve_config.yaml: do not edit."]
    if substitutions:
        header.append("# DEMO MODE -- these apps serve tiny demo models, not the configured ones:")
        header += [f"#   {line}" for line in substitutions]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def demo_banner(substitutions: list[str]) -> str:
    lines = [
        "=" * 78,
        "DEMO MODE: the configured models cannot be loaded on this machine, so these apps serve",
        "tiny demo models trained on a fixed phrase set (textserve/demo_phrases.py). Their",
        'answers carry model "demo:...". To serve real models, put a local copy\'s directory in',
        "serve_config.yaml's user_config `model`, or allow hub access (HF_HUB_OFFLINE=0).",
        *[f"  - {line}" for line in substitutions],
        "=" * 78,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Derive the deployed config from serve_config.yaml.")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--demo", choices=["auto", "always", "never"], default="auto")
    parser.add_argument("--http-host")
    parser.add_argument("--http-port", type=int)
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    args = parser.parse_args(argv)

    config = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    try:
        derived, substitutions = derive_config(
            config,
            demo=args.demo,
            http_host=args.http_host,
            http_port=args.http_port,
            models_dir=args.models_dir,
        )
    except NoStandInError as exc:
        print(f"run_config: error: {exc}", file=sys.stderr)
        return 1
    write_config(derived, substitutions, args.out)
    if substitutions:
        print(demo_banner(substitutions))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
