"""Request and response bodies of POST / (the router)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from apps.common.schemas import TextOrTexts, whole_number

Task = Literal["translate", "summarize", "summarize_then_translate"]
STREAMED_TASKS = ("translate", "summarize")  # the tasks one leaf app answers, so can stream


class RouteRequest(TextOrTexts):
    task: Task = Field("translate", description="what to do with the text")
    source_lang: str | None = Field(
        None,
        description="for translate: the text's language (ISO 639-1; GET /translate/languages lists the "
        "sources; default en). summarize_then_translate translates the summary, in the summarizer's language",
    )
    target_lang: str | None = Field(
        None, description="for translate tasks: the language to translate into (ISO 639-1; default fr)"
    )
    max_length: whole_number(ge=1) | None = Field(
        None, description="for summarize tasks: longest summary, in tokens"
    )
    min_length: whole_number(ge=0) | None = Field(
        None, description="for summarize tasks: shortest summary, in tokens"
    )
    stream: bool = Field(
        False,
        description="tasks translate and summarize: the leaf app's events as newline-delimited JSON "
        '(see POST /translate and POST /summarize with "stream": true)',
    )

    @classmethod
    def add_schema_rules(cls, schema: dict) -> None:
        super().add_schema_rules(schema)
        schema["if"] = {"properties": {"stream": {"const": True}}, "required": ["stream"]}
        schema["then"] = {"properties": {"task": {"enum": list(STREAMED_TASKS)}}}

    @model_validator(mode="after")
    def _stream_one_app(self) -> RouteRequest:
        if self.stream and self.task not in STREAMED_TASKS:
            raise ValueError(
                f'"stream": true is for tasks "translate" and "summarize", not "{self.task}" '
                "(summarize with a stream, then translate the summary)"
            )
        return self


class RouteResponse(BaseModel):
    task: Task
    summary: str | None = None
    summaries: list[str] | None = None
    translation: str | None = None
    translations: list[str] | None = None
    source_lang: str | None = None
    target_lang: str | None = None
    via: str | None = Field(None, description="the pivot language of a translation made through it")
    models: dict[str, str] = Field(..., description="app name -> model that answered ('demo:...' if demo)")
