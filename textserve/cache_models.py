"""Put every model that a Serve config names on local disk, ready for replicas that run offline.

    python -m textserve.cache_models [--config serve_config.yaml]

For each deployment whose `user_config` names a `model`: a hub id is downloaded into the Hugging
Face cache (a local directory is used as it is), exactly as a replica would fetch it
(`ModelSource.local_dir`, snapshot_download); with `backend: ctranslate2` the checkpoint is then
converted into the project's conversion cache (`converted_model_dir`, TEXTSERVE_CACHE_DIR), at the
path a replica computes for it, so replicas started afterwards with HF_HUB_OFFLINE=1 neither
download nor convert. The Dockerfile runs this at build time. It fails (exit 1, naming the model)
when a model cannot be fetched: an image without its models must not be built.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from apps.common.engines.ctranslate2_conversion import ConversionError, converted_model_dir
from apps.common.model_loading import ModelLoadError, locate_model, resolve_model_source
from apps.common.settings import ModelAppSettings
from textserve.run_config import model_slots

# what a model app runs when its user_config does not say (apps/common/settings.py)
DEFAULT_BACKEND = ModelAppSettings.model_fields["backend"].default


@dataclass(frozen=True)
class ConfiguredModel:
    app: str
    deployment: str
    model: str
    backend: str


def configured_models(config: dict) -> list[ConfiguredModel]:
    """The (model, backend) of every deployment whose user_config names a model."""
    found = []
    for app in config.get("applications") or []:
        for deployment in app.get("deployments") or []:
            user_config = deployment.get("user_config") or {}
            for slot in model_slots(user_config):  # none for the router
                found.append(
                    ConfiguredModel(
                        app=app["name"],
                        deployment=deployment["name"],
                        model=str(slot["model"]),
                        backend=str(user_config.get("backend", DEFAULT_BACKEND)),
                    )
                )
    return found


def cache_model(model: str, backend: str) -> tuple[Path, Path | None]:
    """Download (if needed) and, for ctranslate2, convert one model.

    Returns (checkpoint directory, CTranslate2 directory or None)."""
    checkpoint = locate_model(model).local_dir()  # snapshot_download, as a replica does
    # what a replica started later with HF_HUB_OFFLINE=1 will do: find it on disk
    _, local_only = resolve_model_source(model)
    if not local_only:
        raise ModelLoadError(f"model '{model}' was downloaded but is not found on disk afterwards")
    converted = converted_model_dir(checkpoint) if backend == "ctranslate2" else None
    return checkpoint, converted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download and convert the models a Serve config names.")
    parser.add_argument("--config", type=Path, default=Path("serve_config.yaml"))
    args = parser.parse_args(argv)

    config = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    models = configured_models(config)
    if not models:
        print(f"{args.config}: no deployment names a model; nothing to cache")
        return 0
    # distinct models in parallel: each conversion is a child process (~5 s of it loading torch)
    keys = list(dict.fromkeys((entry.model, entry.backend) for entry in models))
    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        futures = {key: pool.submit(cache_model, *key) for key in keys}
    for entry in models:
        try:
            checkpoint, converted = futures[(entry.model, entry.backend)].result()
        except (ModelLoadError, ConversionError) as exc:
            print(f"{entry.app}/{entry.deployment}: {exc}", file=sys.stderr)
            return 1
        line = f"{entry.app}/{entry.deployment}: {entry.model} -> {checkpoint}"
        if converted is not None:
            line += f"; ctranslate2 -> {converted}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
