"""The summarization app's settings: `user_config` of the Summarizer deployment in serve_config.yaml."""

from __future__ import annotations

from pydantic import Field, model_validator

from apps.common.settings import ModelAppSettings, app_default


class SummarizationSettings(ModelAppSettings):
    model: str = Field("sshleifer/distilbart-cnn-12-6", description="hub id or local directory of the model")
    max_models_per_replica: int = app_default(ModelAppSettings, "max_models_per_replica", 1)
    max_input_chars: int = app_default(ModelAppSettings, "max_input_chars", 150_000)
    max_request_chars: int = app_default(ModelAppSettings, "max_request_chars", 150_000)
    part_calls_in_flight: int = app_default(ModelAppSettings, "part_calls_in_flight", 16)
    max_batch_size: int = app_default(ModelAppSettings, "max_batch_size", 8)
    default_max_length: int = Field(60, ge=1, description="summary length cap, in tokens, if unasked")
    default_min_length: int = Field(0, ge=0, description="summary length floor, in tokens, if unasked")
    max_length_limit: int = Field(200, ge=1, le=1024, description="largest max_length a caller may ask")

    @model_validator(mode="after")
    def _consistent(self) -> SummarizationSettings:
        if not self.default_min_length <= self.default_max_length <= self.max_length_limit:
            raise ValueError("need default_min_length <= default_max_length <= max_length_limit")
        return self
