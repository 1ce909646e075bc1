"""Request and response bodies of POST /translate (and of the Translator's handle method)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from apps.common.schemas import InputText


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: InputText
    target_lang: str | None = Field(
        None, description="target language code (fr, de, ro); default fr", examples=["fr"]
    )


class TranslateResponse(BaseModel):
    translation: str
    target_lang: str
    model: str = Field(..., description="model that answered; 'demo:...' for a demo model")
