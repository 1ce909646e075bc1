"""Tokenizers read straight from the model's files: `tokenizer.json` with the `tokenizers` library,
or a sentencepiece model.

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


class TokenizerFilesError(ValueError):
    """The model directory lacks the tokenizer files its family reads."""


class Pieces:
    """A tokenizer's pieces without special tokens, from `tokenizer.json` when the model ships one,
    else from a sentencepiece model file (MarianMT and M2M100 ship no tokenizer.json)."""

    def __init__(self, model_dir: Path, spm_name: str | None = None):
        self._spm = self._json = None
        if spm_name is not None and (model_dir / spm_name).is_file():
            import sentencepiece

            self._spm = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / spm_name))
        elif (model_dir / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            self._json = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        else:
            wanted = f"{spm_name} or tokenizer.json" if spm_name else "tokenizer.json"
            raise TokenizerFilesError(
                f"{model_dir} has no {wanted}: save the model's tokenizer there with transformers "
                "(tokenizer.save_pretrained) or use backend: transformers"
            )

    def encode(self, text: str, special: bool = False) -> list[str]:
        """The text's pieces; `special`: with the special tokens tokenizer.json's post-processor
        adds (T5's closing </s>, BART's <s> ... </s>)."""
        if self._spm is not None:
            return self._spm.encode(text, out_type=str)
        return self._json.encode(text, add_special_tokens=special).tokens

    def decode(self, pieces: list[str]) -> str:
        if self._spm is not None:
            return self._spm.decode_pieces(pieces)
        ids = [self._json.token_to_id(piece) for piece in pieces]
        return self._json.decode([i for i in ids if i is not None], skip_special_tokens=True)


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
