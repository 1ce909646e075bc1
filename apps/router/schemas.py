"""Request and response bodies of POST / (the router)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Task = Literal["translate", "summarize", "summarize_then_translate"]


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., description="English text", examples=["Hello world!"])
    task: Task = Field("translate", description="what to do with the text")
    target_lang: str | None = Field(None, description="for translate tasks: fr, de or ro (default fr)")
    max_length: int | None = Field(None, ge=1, description="for summarize tasks: longest summary, in tokens")
    min_length: int | None = Field(None, ge=0, description="for summarize tasks: shortest summary, in tokens")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is empty: send the English text to work on")
        return text


class RouteResponse(BaseModel):
    task: Task
    summary: str | None = None
    translation: str | None = None
    target_lang: str | None = None
    models: dict[str, str] = Field(..., description="app name -> model that answered ('demo:...' if demo)")
