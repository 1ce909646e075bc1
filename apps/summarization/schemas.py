"""Request and response bodies of POST /summarize (and of the Summarizer's handle method)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from apps.common.schemas import TextOrTexts, whole_number


class SummarizeRequest(TextOrTexts):
    max_length: whole_number(ge=1) | None = Field(
        None, description="longest summary, in tokens (bounded by the server's max_length_limit)"
    )
    min_length: whole_number(ge=0) | None = Field(None, description="shortest summary, in tokens")
    stream: bool = Field(
        False,
        description="answer with newline-delimited JSON events: for a text longer than the model's "
        'window, {"event": "progress", "text_index", "level", "done", "total"} as its chunks are '
        'summarized; then {"event": "done", ...} with the whole answer',
    )

    @model_validator(mode="after")
    def _min_not_above_max(self) -> SummarizeRequest:
        if self.max_length is not None and self.min_length is not None and self.min_length > self.max_length:
            raise ValueError(f"min_length ({self.min_length}) is above max_length ({self.max_length})")
        return self


class SummarizeResponse(BaseModel):
    summary: str | None = Field(None, description="for `text`: its summary")
    summaries: list[str] | None = Field(None, description="for `texts`: their summaries, in order")
    model: str = Field(..., description="model that answered; 'demo:...' for a demo model")
