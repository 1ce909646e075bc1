"""Tokenizers read straight from the model's files: `tokenizer.json` with the `tokenizers` library,
or a sentencepiece model.

The CTranslate2 backend needs only tokens in and tokens out. Importing transformers' AutoTokenizer
imports torch (~190 MB of resident memory per replica, measured here); `tokenizers` and
`sentencepiece` do not. Checkpoints saved by transformers have a tokenizer.json, except those whose
tokenizer is sentencepiece-only (MarianMT, M2M100): their .spm/.model files are read instead.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MAX_INPUT_TOKENS = 512  # t5-small's window, for tokenizers that do not say


def window_from(limit: object, positions: object = None) -> int:
    """A tokenizer's model_max_length (the default when it is unset or the 'infinite' sentinel),
    never past the model's `positions` (its config's max_position_embeddings, where it has one:
    a longer input has no position embedding)."""
    window = limit if isinstance(limit, int) and 0 < limit < 100_000 else DEFAULT_MAX_INPUT_TOKENS
    return min(window, positions) if isinstance(positions, int) and positions > 0 else window


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
