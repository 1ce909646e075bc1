"""A tokenizer read straight from `tokenizer.json` with the `tokenizers` library.

The CTranslate2 backend needs only tokens in and tokens out. Importing transformers' AutoTokenizer
imports torch (~190 MB of resident memory per replica, measured here); `tokenizers` does not.
Every checkpoint saved by transformers' save_pretrained has a tokenizer.json.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_MAX_INPUT_TOKENS = 512  # t5-small's window, for tokenizers that do not say


def window_from(limit: object) -> int:
    """A tokenizer's model_max_length, or the default when it is unset or the 'infinite' sentinel."""
    if isinstance(limit, int) and 0 < limit < 100_000:
        return limit
    return DEFAULT_MAX_INPUT_TOKENS


class TokenizerJson:
    """The few tokenizer calls the engines use, on tokenizers.Tokenizer."""

    def __init__(self, model_dir: Path):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        config_path = model_dir / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        self.model_max_length = window_from(config.get("model_max_length"))

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids)

    def tokens(self, text: str) -> list[str]:
        """The text's tokens, with the special tokens the model expects (T5: a closing </s>)."""
        return self._tokenizer.encode(text).tokens

    def text_from_tokens(self, tokens: list[str]) -> str:
        ids = [self._tokenizer.token_to_id(token) for token in tokens]
        return self._tokenizer.decode([i for i in ids if i is not None], skip_special_tokens=True)
