"""Request and response bodies of POST /translate (and of the Translator's handle method)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from apps.common.schemas import TextOrTexts


class TranslateRequest(TextOrTexts):
    target_lang: str | None = Field(
        None, description="target language code (fr, de, ro); default fr", examples=["fr"]
    )
    stream: bool = Field(
        False,
        description="answer with newline-delimited JSON events as sentences are translated: one "
        '{"event": "sentence", ...} per sentence, in order, then {"event": "done", ...} with the '
        "whole answer",
    )


class TranslateResponse(BaseModel):
    translation: str | None = Field(None, description="for `text`: its translation")
    translations: list[str] | None = Field(None, description="for `texts`: their translations, in order")
    target_lang: str
    model: str = Field(..., description="model that answered; 'demo:...' for a demo model")


class Language(BaseModel):
    code: str = Field(..., description="what to send as target_lang", examples=["fr"])
    name: str = Field(..., description="the language's name, as the model's task prefix says it")


class LanguagesResponse(BaseModel):
    languages: list[Language] = Field(..., description="target languages of the configured model")
    default: str = Field(..., description="target_lang used when a request names none")
    model: str = Field(..., description="model that serves them; 'demo:...' for a demo model")
