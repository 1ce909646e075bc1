"""Request and response bodies of POST /summarize (and of the Summarizer's handle method)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SummarizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., description="English text to summarize")
    max_length: int | None = Field(
        None, ge=1, description="longest summary, in tokens (bounded by the server's max_length_limit)"
    )
    min_length: int | None = Field(None, ge=0, description="shortest summary, in tokens")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is empty: send the English text to summarize")
        return text

    @model_validator(mode="after")
    def _min_not_above_max(self) -> SummarizeRequest:
        if self.max_length is not None and self.min_length is not None and self.min_length > self.max_length:
            raise ValueError(f"min_length ({self.min_length}) is above max_length ({self.max_length})")
        return self


class SummarizeResponse(BaseModel):
    summary: str
    model: str = Field(..., description="model that answered; 'demo:...' for a demo model")
