"""Inference backends behind one interface (`Seq2SeqEngine.generate`), chosen by `backend` in an
app's user_config:

- `transformers`: the Hugging Face model in fp32 with torch (the seed guide's stack).
- `ctranslate2`: the same checkpoint converted to CTranslate2 int8 at load time (cached outside
  the repo); ~2.4x the throughput and a third of the memory on CPU, same greedy outputs on the
  demo models (tests/common/test_engines.py).

`device` (cpu, cuda, auto) says where either runs: devices.py resolves it before the model loads.
"""

from __future__ import annotations

from typing import Literal

from apps.common.engines.base import GenerationParams, Seq2SeqEngine
from apps.common.engines.devices import Device, resolve_device
from apps.common.model_loading import locate_model

Backend = Literal["transformers", "ctranslate2"]
BACKENDS: tuple[str, ...] = ("transformers", "ctranslate2")

__all__ = [
    "BACKENDS",
    "Backend",
    "Device",
    "GenerationParams",
    "Seq2SeqEngine",
    "load_engine",
    "resolve_device",
]


def load_engine(model_id: str, backend: Backend, device: Device) -> Seq2SeqEngine:
    """Load `model_id` (hub id or directory) with `backend` on `device`; raises ModelLoadError with
    a fix (for `device: cuda` where the backend sees no CUDA device too, before the model loads)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend '{backend}'; use one of {list(BACKENDS)}")
    source = locate_model(model_id)
    where = resolve_device(device, backend)
    if backend == "transformers":
        from apps.common.engines.transformers_engine import TransformersEngine

        return TransformersEngine(source, where)
    from apps.common.engines.ctranslate2_engine import CTranslate2Engine

    return CTranslate2Engine(source, where)
