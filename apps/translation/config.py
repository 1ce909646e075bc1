"""The translation app's settings: `user_config` of the Translator deployment in serve_config.yaml."""

from __future__ import annotations

from pydantic import Field, model_validator

from apps.common.settings import ModelAppSettings


class TranslationSettings(ModelAppSettings):
    languages: dict[str, str] = Field(
        default_factory=lambda: {"fr": "French", "de": "German", "ro": "Romanian"},
        description="target language code -> language name used in the T5 task prefix",
    )
    default_target_lang: str = Field("fr", description="the language of a request that names none")
    max_batch_size: int = Field(
        32,
        ge=1,
        le=256,
        description="most texts decoded in one model call (short sentences: batches of 32 decode "
        "~15% more texts/s than 16 on 2 cores; bench/README.md)",
    )
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
    max_fan_out_requests: int = Field(
        4,
        ge=1,
        description="requests one replica fans out at once; more are translated on that replica alone",
    )
    part_calls_in_flight: int = Field(
        4,
        ge=1,
        description="part calls one replica has in flight at once (to every replica); each is placed "
        "on the replica with the fewest requests when it is sent, so a few (about replicas x "
        "max_batch_size / part_sentences) keep every replica's batches full and balance the rest as "
        "parts finish",
    )
    part_timeout_s: float = Field(
        20.0,
        gt=0,
        description="a part call with no answer within this is cancelled; sent once more if its "
        "replica is gone, else (only busy) its request gets a 503; keep it below the HTTP "
        "request_timeout_s",
    )

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
