"""Request and response bodies of POST / (the router)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from apps.common.schemas import TextOrTexts

Task = Literal["translate", "summarize", "summarize_then_translate"]


class RouteRequest(TextOrTexts):
    task: Task = Field("translate", description="what to do with the text")
    target_lang: str | None = Field(None, description="for translate tasks: fr, de or ro (default fr)")
    max_length: int | None = Field(None, ge=1, description="for summarize tasks: longest summary, in tokens")
    min_length: int | None = Field(None, ge=0, description="for summarize tasks: shortest summary, in tokens")


class RouteResponse(BaseModel):
    task: Task
    summary: str | None = None
    summaries: list[str] | None = None
    translation: str | None = None
    translations: list[str] | None = None
    target_lang: str | None = None
    models: dict[str, str] = Field(..., description="app name -> model that answered ('demo:...' if demo)")
