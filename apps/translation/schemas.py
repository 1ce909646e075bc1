"""Request and response bodies of POST /translate (and of the Translator's handle method)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., description="English text to translate", examples=["Hello world!"])
    target_lang: str | None = Field(
        None, description="target language code (fr, de, ro); default fr", examples=["fr"]
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("text is empty: send the English text to translate")
        return text


class TranslateResponse(BaseModel):
    translation: str
    target_lang: str
    model: str = Field(..., description="model that answered; 'demo:...' for a demo model")
