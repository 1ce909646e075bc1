"""The translation app's settings: `user_config` of the Translator deployment in serve_config.yaml."""

from __future__ import annotations

from pydantic import Field, model_validator

from apps.common.settings import ModelAppSettings, app_default


class TranslationSettings(ModelAppSettings):
    languages: dict[str, str] = Field(
        default_factory=lambda: {"fr": "French", "de": "German", "ro": "Romanian"},
        description="target language code -> language name used in the T5 task prefix",
    )
    default_target_lang: str = Field("fr", description="the language of a request that names none")
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

    @model_validator(mode="after")
    def _default_is_supported(self) -> TranslationSettings:
        if not self.languages:
            raise ValueError("languages must list at least one target language")
        if self.default_target_lang not in self.languages:
            raise ValueError(
                f"default_target_lang '{self.default_target_lang}' is not in languages "
                f"{sorted(self.languages)}"
            )
        if self.min_new_tokens > self.max_new_tokens:
            raise ValueError(
                f"min_new_tokens ({self.min_new_tokens}) is above max_new_tokens ({self.max_new_tokens})"
            )
        return self
