"""Request and response bodies of POST /translate (and of the Translator's handle method)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from apps.common.schemas import TextOrTexts


class TranslateRequest(TextOrTexts):
    target_lang: str | None = Field(
        None, description="target language code (fr, de, ro); default fr", examples=["fr"]
    )


class TranslateResponse(BaseModel):
    translation: str | None = Field(None, description="for `text`: its translation")
    translations: list[str] | None = Field(None, description="for `texts`: their translations, in order")
    target_lang: str
    model: str = Field(..., description="model that answered; 'demo:...' for a demo model")
