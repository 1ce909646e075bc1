"""What every backend shares: a name, the model's input window, token counting, the call."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from apps.common.engines.families import Family
from apps.common.model_loading import ModelSource


def threads_from_env() -> int:
    """Threads for the model: OMP_NUM_THREADS, which Ray sets to 1 for fractional-CPU replicas
    (2 replicas x 1 thread beat 1 x 2 threads by 1.5-2.3x here); 0 when unset (library default)."""
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


@dataclass(frozen=True)
class GenerationParams:
    """How to decode. Requests with equal params can share one model call."""

    max_new_tokens: int
    min_new_tokens: int = 0
    num_beams: int = 1
    # for models that take languages as tokens (M2M100, NLLB, multilingual MarianMT): ISO 639-1
    source_lang: str | None = None
    target_lang: str | None = None


class Seq2SeqEngine(ABC):
    backend: str
    family: Family  # what differs per model family (families.py), from the checkpoint's config.json
    max_input_tokens: int  # the longest input the model reads (t5-small: 512)

    def __init__(self, source: ModelSource, device: str):
        self.source = source
        self.device = device  # resolved: "cpu" or "cuda" (devices.resolve_device)

    @property
    def name(self) -> str:
        """What responses report in their `model` field ('demo:...' for a demo model)."""
        return self.source.name

    @property
    def model_id(self) -> str:
        return self.source.model_id

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for `text`, special tokens included."""

    @abstractmethod
    def generate(self, prompts: list[str], params: GenerationParams) -> list[str]:
        """Decode every prompt in one model call (blocking; run it off the event loop)."""

    def background_worker(self) -> Callable[[list[str], GenerationParams], list[str]]:
        """A `generate` for bulk work, made on a lower-priority thread (apps/common/lanes.py) so
        that the threads it decodes on share that priority. Here: `generate` itself, for a backend
        that decodes on the calling thread (transformers: its Python decoding loop holds the GIL
        between ops, so it cannot run at a lower priority without stalling the event loop): its
        bulk calls run at normal priority."""
        return self.generate
