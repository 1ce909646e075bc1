"""The translation app's settings: `user_config` of the Translator deployment in serve_config.yaml,
its catalog of models (`models`: which model serves which language pairs) included."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator, model_validator

from apps.common.languages import LANGUAGES
from apps.common.settings import ModelAppSettings, StrictSettings, app_default

Pair = tuple[str, str]


def _known(code: str, where: str) -> str:
    if code not in LANGUAGES:
        raise ValueError(
            f"{where}: unknown language code '{code}'; use ISO 639-1 codes ({', '.join(LANGUAGES)})"
        )
    return code


class CatalogEntry(StrictSettings):
    """One model and the pairs it serves: `pairs` (source -> targets) or `languages` (every pair
    among them, for a multilingual model such as NLLB or M2M100)."""

    model: str = Field(..., min_length=1, description="hub id or local directory of the model")
    pairs: dict[str, list[str]] | None = Field(
        None, description="source language -> the targets this model translates it into"
    )
    languages: list[str] | None = Field(
        None, description="a multilingual model: it serves every pair among these languages"
    )

    @model_validator(mode="after")
    def _one_way_to_say_pairs(self) -> CatalogEntry:
        where = f"model '{self.model}'"
        if (self.pairs is None) == (self.languages is None):
            raise ValueError(
                f"{where}: give either pairs (source: [targets]) or languages, not both or neither"
            )
        if self.languages is not None:
            for code in self.languages:
                _known(code, where)
            if len(set(self.languages)) < 2:
                raise ValueError(f"{where}: languages must list at least two languages")
        for source, targets in (self.pairs or {}).items():
            _known(source, where)
            if not targets:
                raise ValueError(f"{where}: pairs for '{source}' list no target")
            for target in targets:
                _known(target, where)
                if target == source:
                    raise ValueError(f"{where}: pair {source}->{target} translates a language into itself")
        return self

    def served_pairs(self) -> list[Pair]:
        """Every (source, target) this entry serves, in the order the config lists them."""
        if self.languages is not None:
            unique = list(dict.fromkeys(self.languages))
            return [(source, target) for source in unique for target in unique if source != target]
        return [(source, target) for source, targets in (self.pairs or {}).items() for target in targets]


DEFAULT_CATALOG = [
    {"model": "t5-small", "pairs": {"en": ["fr", "de", "ro"]}},
    {"model": "Helsinki-NLP/opus-mt-de-en", "pairs": {"de": ["en"]}},
    {"model": "Helsinki-NLP/opus-mt-fr-en", "pairs": {"fr": ["en"]}},
    {"model": "facebook/nllb-200-distilled-600M", "languages": ["en", "de", "fr", "es"]},
]


class FileSizes(StrictSettings):
    """The largest file of each type, in bytes (larger ones are answered 413; `max_body_bytes`,
    the largest request body, bounds them all first)."""

    txt: int = Field(262_144, ge=1, description=".txt")
    html: int = Field(524_288, ge=1, description=".html, .htm")
    md: int = Field(262_144, ge=1, description=".md, .markdown")
    srt: int = Field(262_144, ge=1, description=".srt")
    docx: int = Field(1_000_000, ge=1, description=".docx (zipped: its text is far smaller)")


class FileLimits(StrictSettings):
    """Documents sent as files (POST /translate/file, apps/translation/files.py)."""

    max_bytes: FileSizes = Field(default_factory=FileSizes, description="the largest file of each type")
    max_chars: int = Field(
        50_000,
        ge=1,
        description="most characters of text one file may hold, markup aside (more are answered 413): "
        "a file is one request, which must finish within the timeouts",
    )


class TranslationSettings(ModelAppSettings):
    replaced_keys = {
        "model": "the translation app serves a catalog: list each model under `models` with its pairs",
        "languages": "each model's pairs are listed under `models`; names come from the language codes",
    }

    models: list[CatalogEntry] = Field(
        default_factory=lambda: [CatalogEntry.model_validate(entry) for entry in DEFAULT_CATALOG],
        min_length=1,
        description="the catalog: which model serves which pairs; where two serve a pair, the one "
        "listed first does",
    )
    default_source_lang: str = Field("en", description="the source language of a request that names none")
    default_target_lang: str = Field("fr", description="the target language of a request that names none")
    pivot_lang: str | None = Field(
        "en",
        description="a pair no model serves is translated through this language when models serve "
        "both halves (the answer says `via`); null: never",
    )
    max_models_per_replica: int = app_default(ModelAppSettings, "max_models_per_replica", 4)
    max_input_chars: int = app_default(ModelAppSettings, "max_input_chars", 10_000)
    max_request_chars: int = app_default(ModelAppSettings, "max_request_chars", 20_000)
    max_batch_size: int = app_default(ModelAppSettings, "max_batch_size", 32)
    max_new_tokens: int = Field(128, ge=1, le=1024, description="longest translation, in tokens")
    min_new_tokens: int = Field(
        0, ge=0, le=1024, description="shortest translation, in tokens (= max_new_tokens fixes the length)"
    )
    part_sentences: int = Field(
        16,
        ge=0,
        description="a request with more sentences than this sends them, in parts of this many, to every "
        "replica of the deployment through its own handle (0: never; each replica translates its own)",
    )
    part_calls_in_flight: int = app_default(ModelAppSettings, "part_calls_in_flight", 4)
    files: FileLimits = Field(default_factory=FileLimits, description="documents sent as files")

    @field_validator("default_source_lang", "default_target_lang", "pivot_lang")
    @classmethod
    def _known_code(cls, code: str | None, info: ValidationInfo) -> str | None:
        return code if code is None else _known(code, info.field_name)

    @model_validator(mode="after")
    def _consistent(self) -> TranslationSettings:
        sources = {source for entry in self.models for source, _ in entry.served_pairs()}
        targets = {target for entry in self.models for _, target in entry.served_pairs()}
        if self.default_source_lang not in sources:
            raise ValueError(
                f"default_source_lang '{self.default_source_lang}' is no model's source; "
                f"the catalog's sources: {sorted(sources)}"
            )
        if self.default_target_lang not in targets:
            raise ValueError(
                f"default_target_lang '{self.default_target_lang}' is no model's target; "
                f"the catalog's targets: {sorted(targets)}"
            )
        models = [entry.model for entry in self.models]
        repeated = sorted({model for model in models if models.count(model) > 1})
        if repeated:
            raise ValueError(
                f"models: {', '.join(repeated)} listed twice; list each model once with all its pairs"
            )
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(
                f"min_new_tokens ({self.min_new_tokens}) is above max_new_tokens ({self.max_new_tokens})"
            )
        from apps.translation.catalog import Catalog

        Catalog(self)  # the default pair must have a route
        return self
