"""Load a sequence-to-sequence model from a Hugging Face hub id or a local directory.

Loading never hangs: a hub id is looked up in the local cache first; if it is not there and the
hub is off (`HF_HUB_OFFLINE=1`) or unreachable, it fails at once with an error that names the
model and says how to fix it, instead of transformers' minute of retries.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

logger = logging.getLogger("ray.serve")

DEMO_MARKER = "textserve_demo.json"  # written by textserve.demo_models next to a demo model
HUB_PROBE_TIMEOUT_S = 3.0


class ModelLoadError(RuntimeError):
    """The model cannot be loaded; the message names it and says how to fix it."""


@dataclass(frozen=True)
class ModelSource:
    """Where a configured model comes from, resolved before anything heavy is loaded."""

    model_id: str  # as configured: hub id or directory
    location: str  # the directory or hub id to load from
    local_only: bool  # files already on disk (a directory or the hub cache)
    name: str  # what responses report in their `model` field
    is_demo: bool

    def local_dir(self) -> Path:
        """A directory holding the model's files (converters need them on disk)."""
        if Path(self.location).is_dir():
            return Path(self.location)
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(
                self.location,
                local_files_only=self.local_only,
                ignore_patterns=["*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx/*", "tf_*", "flax_*", "rust_*"],
            )
        )


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _looks_like_path(model_id: str) -> bool:
    return model_id.startswith(("/", "./", "../", "~")) or Path(model_id).expanduser().is_dir()


def _hub_reachable() -> bool:
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname, port), timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _how_to_fix(model_id: str) -> str:
    return (
        f"Either give a local directory that holds '{model_id}' (config, weights and tokenizer, "
        "e.g. saved with save_pretrained) as `model` in serve_config.yaml's user_config, "
        "pre-download it into the Hugging Face cache on every node, allow hub access "
        "(unset HF_HUB_OFFLINE), or run the demo models (`make run` substitutes them, announced, "
        "when the real ones are unavailable)."
    )


def resolve_model_source(model_id: str) -> tuple[str, bool]:
    """Return (source, local_only) for from_pretrained, or raise ModelLoadError at once.

    local_only is True when the files are already on disk (a directory or the hub cache).
    """
    model_id = model_id.strip()
    if not model_id:
        raise ModelLoadError("no model given: set `model` in the app's user_config")
    if _looks_like_path(model_id):
        path = Path(model_id).expanduser()
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"model directory '{model_id}' does not exist or holds no config.json. "
                + _how_to_fix(model_id)
            )
        return str(path.resolve()), True

    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model_id, "config.json")
    if isinstance(cached, str):
        return model_id, True
    if hub_offline():
        raise ModelLoadError(
            f"model '{model_id}' is not in the local Hugging Face cache and hub access is off "
            "(HF_HUB_OFFLINE=1). " + _how_to_fix(model_id)
        )
    if not _hub_reachable():
        raise ModelLoadError(
            f"model '{model_id}' is not in the local Hugging Face cache and the hub "
            f"({os.environ.get('HF_ENDPOINT', 'https://huggingface.co')}) is unreachable. "
            + _how_to_fix(model_id)
        )
    return model_id, False


def read_demo_marker(source: str) -> dict | None:
    marker = Path(source) / DEMO_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"name": f"demo:{Path(source).name}"}


def locate_model(model_id: str) -> ModelSource:
    """Resolve `model_id` (hub id or directory) and announce a demo model, or raise ModelLoadError."""
    location, local_only = resolve_model_source(model_id)
    marker = read_demo_marker(location) if local_only else None
    if marker is None:
        return ModelSource(model_id, location, local_only, model_id, is_demo=False)
    name = str(marker.get("name") or f"demo:{Path(location).name}")
    logger.warning(
        "DEMO MODEL: serving %s from %s -- a tiny model trained on a fixed phrase set, "
        "not a real translation/summarization model",
        name,
        location,
    )
    return ModelSource(model_id, location, local_only, name, is_demo=True)


def _load(what: str, source: ModelSource, loader: Callable[..., Any]) -> Any:
    try:
        return loader(source.location, local_files_only=source.local_only)
    except Exception as exc:  # transformers raises OSError, ValueError, KeyError...
        raise ModelLoadError(
            f"could not load the {what} of model '{source.model_id}': {exc}. " + _how_to_fix(source.model_id)
        ) from exc


def load_tokenizer(source: ModelSource) -> Any:
    from transformers import AutoTokenizer

    return _load("tokenizer", source, AutoTokenizer.from_pretrained)


def load_model_config(source: ModelSource) -> Any:
    from transformers import AutoConfig

    return _load("config", source, AutoConfig.from_pretrained)


def load_torch_model(source: ModelSource) -> Any:
    """The transformers model, in eval mode on CPU."""
    from transformers import AutoModelForSeq2SeqLM

    model = _load("weights", source, AutoModelForSeq2SeqLM.from_pretrained)
    model.eval()
    return model
