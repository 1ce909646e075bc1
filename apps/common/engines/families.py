"""What differs between model families, for both backends, in one place: one adapter per family,
chosen from the checkpoint's config.json (and tokenizer_config.json) by `family_for`.

- t5 (t5, mt5, umt5): the task as a text prefix ("translate English to French: ", "summarize: ")
- marian: one pair per model; a multilingual target as a `>>fra<<` token first in the source
- m2m100, nllb (m2m_100; the tokenizer class tells): the source language as a token, the target
  as the output's forced first token (`__de__`; NLLB's FLORES codes, `deu_Latn`)
- bart, pegasus: the text as it is (summarization)

The CTranslate2 side takes tokens as strings: `source_tokens` gives the model's input with its
special and language tokens, `target_prefix` the forced start of the output (M2M100/NLLB: the
target language), `text_from_tokens` reads the output back. It reads the tokenizer's own files
with `tokenizers` or `sentencepiece` (no torch in a CTranslate2 replica). The transformers side
(`hf_inputs`, `hf_generate_kwargs`, `hf_texts`) drives the model's AutoTokenizer. The demo check
(textserve/demo_check.py) decodes through these same calls, so what it proves is what serves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from apps.common.engines.tokenizer_files import Pieces, window_from
from apps.common.languages import LANGUAGES, language_name

Task = Literal["translate", "summarize"]
T5_MODEL_TYPES = ("t5", "mt5", "umt5")
FAMILIES = ("t5", "marian", "m2m100", "nllb", "bart", "pegasus")


class FamilyError(ValueError):
    """The checkpoint is of a family textserve does not serve, or lacks what its family needs."""


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class Family:
    """One model family's prompts and tokens. Languages are ISO 639-1 codes ("de")."""

    name: ClassVar[str]
    spm_name: ClassVar[str | None] = None  # its sentencepiece file, where it has no tokenizer.json
    # tokens that are never text: dropped from outputs (the language tokens are added per family)
    special_tokens: ClassVar[frozenset[str]] = frozenset({"<s>", "</s>", "<pad>", "<unk>", "<mask>"})

    def __init__(self, model_dir: Path, config: dict, tokenizer_config: dict):
        self.model_dir = model_dir
        self.config = config
        self.tokenizer_config = tokenizer_config
        positions = config.get("max_position_embeddings") or config.get("n_positions")
        self.max_input_tokens = window_from(tokenizer_config.get("model_max_length"), positions)
        self._pieces: Pieces | None = None  # read on first use: the transformers backend needs none

    @property
    def pieces(self) -> Pieces:
        if self._pieces is None:
            self._pieces = Pieces(self.model_dir, self.spm_name)
        return self._pieces

    def check_tokenizer(self) -> None:
        """TokenizerFilesError now, rather than at the first request, if its files are missing."""
        self.pieces  # noqa: B018 (read now)

    def task_prefix(self, task: Task, source_lang: str | None = None, target_lang: str | None = None) -> str:
        """The text before a prompt that picks the task ("" for a family that takes none)."""
        return ""

    def languages(self) -> set[str] | None:
        """The ISO 639-1 codes this model has language tokens for (None: the family takes none)."""
        return None

    def missing_languages(self, pairs: list[tuple[str, str]]) -> set[str]:
        """The languages of `pairs` this model cannot be told by a token (none for a family that
        takes its pair from the model or a text prefix)."""
        known = self.languages()
        if known is None:
            return set()
        return {language for pair in pairs for language in pair} - known

    # CTranslate2: tokens as strings
    def source_tokens(self, text: str, source_lang: str | None, target_lang: str | None) -> list[str]:
        """The model's input for `text`, special and language tokens included."""
        return self.pieces.encode(text, special=True)

    def target_prefix(self, target_lang: str | None) -> list[str] | None:
        """The tokens the output is forced to start with (None: no forced start)."""
        return None

    def target_tokens(self, text: str) -> list[str]:
        """A target text's tokens as the decoder emits them after `target_prefix`, closing </s>
        included (the demo check forces them to measure margins)."""
        return self.pieces.encode(text, special=True)

    def text_from_tokens(self, tokens: list[str]) -> str:
        return self.pieces.decode([t for t in tokens if t not in self.special_tokens]).strip()

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for `text` (its window's unit), special tokens included."""
        return len(self.source_tokens(text, None, None))

    # transformers: the model's AutoTokenizer
    def hf_inputs(self, tokenizer: Any, texts: list[str], source_lang: str | None, target_lang: str | None):
        return tokenizer(texts, return_tensors="pt", padding=True)

    def hf_generate_kwargs(self, tokenizer: Any, target_lang: str | None) -> dict:
        return {}

    def hf_texts(self, tokenizer: Any, output_ids: Any) -> list[str]:
        return [text.strip() for text in tokenizer.batch_decode(output_ids, skip_special_tokens=True)]


class T5Family(Family):
    name = "t5"

    def task_prefix(self, task: Task, source_lang: str | None = None, target_lang: str | None = None) -> str:
        if task == "summarize":
            return "summarize: "
        return f"translate {language_name(source_lang or 'en')} to {language_name(target_lang or 'fr')}: "


class BartFamily(Family):
    """BART (and PEGASUS): the text as it is, one task per model."""

    name = "bart"


class PegasusFamily(BartFamily):
    name = "pegasus"


class MarianFamily(Family):
    """OPUS-MT: source.spm in, target.spm out, one joint vocab.json. A multilingual-target model
    (opus-mt-en-roa...) picks its target by a `>>fra<<` token first in the source."""

    name = "marian"
    spm_name = "source.spm"

    def __init__(self, model_dir: Path, config: dict, tokenizer_config: dict):
        super().__init__(model_dir, config, tokenizer_config)
        vocab = _read_json(model_dir / "vocab.json")
        self._target_tokens = {token for token in vocab if re.fullmatch(r">>\w+<<", token)}
        self._target_pieces: Pieces | None = None

    def languages(self) -> set[str] | None:
        if not self._target_tokens:
            return None
        return {code for code in LANGUAGES if self._target_token(code) is not None}

    def missing_languages(self, pairs: list[tuple[str, str]]) -> set[str]:
        known = self.languages()  # only targets take a token
        return set() if known is None else {target for _, target in pairs} - known

    def _target_token(self, target_lang: str | None) -> str | None:
        """The `>>xx<<` token for `target_lang` when the model has target tokens."""
        if not self._target_tokens or target_lang is None:
            return None
        language = LANGUAGES.get(target_lang)
        for token in (f">>{target_lang}<<", f">>{language.iso3}<<" if language else ""):
            if token in self._target_tokens:
                return token
        return None

    def source_tokens(self, text: str, source_lang: str | None, target_lang: str | None) -> list[str]:
        token = self._target_token(target_lang)
        return ([token] if token else []) + self.pieces.encode(text) + ["</s>"]

    def target_tokens(self, text: str) -> list[str]:
        return [*self._target_side().encode(text), "</s>"]

    def text_from_tokens(self, tokens: list[str]) -> str:
        return self._target_side().decode([t for t in tokens if t not in self.special_tokens]).strip()

    def _target_side(self) -> Pieces:
        if self._target_pieces is None:
            self._target_pieces = Pieces(self.model_dir, "target.spm")
        return self._target_pieces

    def hf_inputs(self, tokenizer: Any, texts: list[str], source_lang: str | None, target_lang: str | None):
        token = self._target_token(target_lang)
        return tokenizer(
            [f"{token} {text}" if token else text for text in texts], return_tensors="pt", padding=True
        )


class LanguageTokenFamily(Family):
    """M2M100 and NLLB: `<source language> text </s>` in, the target language as the output's
    forced first token (CTranslate2's target_prefix, transformers' forced_bos_token_id)."""

    spm_name = "sentencepiece.bpe.model"

    def __init__(self, model_dir: Path, config: dict, tokenizer_config: dict):
        super().__init__(model_dir, config, tokenizer_config)
        self._codes = {code: self.code(code) for code in LANGUAGES}
        self._code_tokens = frozenset(self._codes.values())

    def code(self, lang: str) -> str:
        raise NotImplementedError

    def languages(self) -> set[str] | None:
        known = self._known_tokens()
        return {lang for lang, token in self._codes.items() if token in known}

    def _known_tokens(self) -> set[str]:
        """The language tokens the checkpoint has (its vocabulary or its tokenizer's lists)."""
        listed = set(_read_json(self.model_dir / "vocab.json"))
        for key in ("additional_special_tokens", "extra_special_tokens", "language_codes"):
            value = self.tokenizer_config.get(key)
            if isinstance(value, list):
                listed.update(str(item) for item in value)
        if (self.model_dir / "tokenizer.json").is_file():
            added = _read_json(self.model_dir / "tokenizer.json").get("added_tokens", [])
            listed.update(item.get("content", "") for item in added)
        return listed | self._implicit_tokens()

    def _implicit_tokens(self) -> set[str]:
        return set()

    def source_tokens(self, text: str, source_lang: str | None, target_lang: str | None) -> list[str]:
        return [self._codes[source_lang or "en"], *self.pieces.encode(text), "</s>"]

    def target_prefix(self, target_lang: str | None) -> list[str] | None:
        return [self._codes[target_lang or "en"]]

    def target_tokens(self, text: str) -> list[str]:
        return [*self.pieces.encode(text), "</s>"]

    def text_from_tokens(self, tokens: list[str]) -> str:
        drop = self.special_tokens | self._code_tokens
        return self.pieces.decode([t for t in tokens if t not in drop]).strip()

    def hf_inputs(self, tokenizer: Any, texts: list[str], source_lang: str | None, target_lang: str | None):
        tokenizer.src_lang = self.hf_code(source_lang or "en")
        return tokenizer(texts, return_tensors="pt", padding=True)

    def hf_code(self, lang: str) -> str:
        """The code the transformers tokenizer's `src_lang` takes."""
        return self._codes[lang]

    def hf_generate_kwargs(self, tokenizer: Any, target_lang: str | None) -> dict:
        return {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(self._codes[target_lang or "en"])}

    def hf_texts(self, tokenizer: Any, output_ids: Any) -> list[str]:
        # transformers 5 does not count M2M100's language tokens as special: drop them by id
        drop = {tokenizer.convert_tokens_to_ids(token) for token in self._code_tokens}
        rows = [[i for i in row.tolist() if i not in drop] for row in output_ids]
        return [text.strip() for text in tokenizer.batch_decode(rows, skip_special_tokens=True)]


class M2M100Family(LanguageTokenFamily):
    name = "m2m100"

    def code(self, lang: str) -> str:
        return f"__{lang}__"

    def hf_code(self, lang: str) -> str:
        return lang  # M2M100Tokenizer.src_lang takes the bare code

    def _implicit_tokens(self) -> set[str]:
        # M2M100Tokenizer appends its hundred language tokens after vocab.json, listing them nowhere
        from_config = self.tokenizer_config.get("language_codes")
        if from_config in (None, "m2m100"):
            return {self.code(code) for code in LANGUAGES if code != "zt"}
        return set()


class NllbFamily(LanguageTokenFamily):
    name = "nllb"

    def code(self, lang: str) -> str:
        return LANGUAGES[lang].flores


_BY_MODEL_TYPE: dict[str, type[Family]] = {
    **{model_type: T5Family for model_type in T5_MODEL_TYPES},
    "marian": MarianFamily,
    "bart": BartFamily,
    "pegasus": PegasusFamily,
}


def family_for(model_dir: Path) -> Family:
    """The adapter for the checkpoint in `model_dir`, from its config.json's model_type (and, for
    m2m_100, its tokenizer class: NLLB or M2M100); FamilyError for a family not served."""
    model_dir = Path(model_dir)
    config = _read_json(model_dir / "config.json")
    tokenizer_config = _read_json(model_dir / "tokenizer_config.json")
    model_type = str(config.get("model_type", ""))
    if model_type == "m2m_100":
        nllb = "nllb" in str(tokenizer_config.get("tokenizer_class", "")).lower()
        return (NllbFamily if nllb else M2M100Family)(model_dir, config, tokenizer_config)
    if model_type not in _BY_MODEL_TYPE:
        raise FamilyError(
            f"{model_dir}: model_type '{model_type}' is not served; textserve serves "
            f"{', '.join(FAMILIES)} (T5, MarianMT, M2M100, NLLB, BART and PEGASUS checkpoints)"
        )
    return _BY_MODEL_TYPE[model_type](model_dir, config, tokenizer_config)
