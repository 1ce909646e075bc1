"""Inference backends behind one interface (`Seq2SeqEngine.generate`), chosen by `backend` in an
app's user_config:

- `transformers`: the Hugging Face model in fp32 with torch (the seed guide's stack).
- `ctranslate2`: the same checkpoint converted to CTranslate2 int8 at load time (cached outside
  the repo); ~2.4x the throughput and a third of the memory on CPU, same greedy outputs on the
  demo models (tests/common/test_engines.py).
"""

from __future__ import annotations

from typing import Literal

from apps.common.engines.base import GenerationParams, Seq2SeqEngine
from apps.common.model_loading import locate_model

Backend = Literal["transformers", "ctranslate2"]
BACKENDS: tuple[str, ...] = ("transformers", "ctranslate2")

__all__ = ["BACKENDS", "Backend", "GenerationParams", "Seq2SeqEngine", "load_engine"]


def load_engine(model_id: str, backend: Backend = "transformers") -> Seq2SeqEngine:
    """Load `model_id` (hub id or directory) with `backend`; raises ModelLoadError with a fix."""
    source = locate_model(model_id)
    if backend == "transformers":
        from apps.common.engines.transformers_engine import TransformersEngine

        return TransformersEngine(source)
    if backend == "ctranslate2":
        from apps.common.engines.ctranslate2_engine import CTranslate2Engine

        return CTranslate2Engine(source)
    raise ValueError(f"unknown backend '{backend}'; use one of {list(BACKENDS)}")
