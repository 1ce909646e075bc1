"""What every backend shares: the tokenizer, the model's input window, and the call signature."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from apps.common.model_loading import ModelSource, load_model_config, load_tokenizer

T5_MODEL_TYPES = ("t5", "mt5", "umt5")


@dataclass(frozen=True)
class GenerationParams:
    """How to decode. Requests with equal params can share one model call."""

    max_new_tokens: int
    min_new_tokens: int = 0
    num_beams: int = 1


class Seq2SeqEngine(ABC):
    backend: str

    def __init__(self, source: ModelSource):
        self.source = source
        self.tokenizer = load_tokenizer(source)
        self.model_type = getattr(load_model_config(source), "model_type", "")

    @property
    def name(self) -> str:
        """What responses report in their `model` field ('demo:...' for a demo model)."""
        return self.source.name

    @property
    def model_id(self) -> str:
        return self.source.model_id

    @property
    def uses_t5_prefixes(self) -> bool:
        """T5 checkpoints pick their task from a text prefix ("translate English to French: ")."""
        return self.model_type in T5_MODEL_TYPES

    @property
    def max_input_tokens(self) -> int:
        """The longest input the model reads (t5-small: 512)."""
        limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < 100_000:
            return limit
        return 512

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=True).input_ids)

    @abstractmethod
    def generate(self, prompts: list[str], params: GenerationParams) -> list[str]:
        """Decode every prompt in one model call (blocking; run it off the event loop)."""
