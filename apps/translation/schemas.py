"""Request and response bodies of POST /translate (and of the Translator's handle method)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from apps.common.scheduling import Priority
from apps.common.schemas import TextOrTexts, TimeoutSeconds, form_fields_schema
from apps.translation.markup import TextFormat

AUTO = "auto"  # source_lang: detect it


class TranslateRequest(TextOrTexts):
    source_lang: str | None = Field(
        None,
        description="the text's language (ISO 639-1; GET /translate/languages lists the sources), or "
        '"auto" to detect it among the sources (a request\'s texts are taken to be in one language); '
        "default en",
        examples=["en"],
    )
    target_lang: str | None = Field(
        None,
        description="the language to translate into (ISO 639-1; GET /translate/languages lists each "
        "source's targets); default fr",
        examples=["fr"],
    )
    format: TextFormat = Field(
        "text",
        description='"html" or "markdown": the text is a document in that format, whose markup is '
        "kept (tags, attributes, entities, comments; code, scripts and anything marked "
        '`translate="no"` or `class="notranslate"` untranslated) and whose text is translated',
    )
    stream: bool = Field(
        False,
        description="answer with newline-delimited JSON events as sentences are translated "
        '(format "text" only): one {"event": "sentence", ...} per sentence, in order, then '
        '{"event": "done", ...} with the whole answer',
    )


class FileRequest(BaseModel):
    """POST /translate/file's form fields beside its `file` (and the handle's `translate_file`)."""

    model_config = ConfigDict(json_schema_extra=form_fields_schema)

    source_lang: str | None = TranslateRequest.model_fields["source_lang"]
    target_lang: str | None = TranslateRequest.model_fields["target_lang"]
    priority: Priority | None = TranslateRequest.model_fields["priority"]
    timeout_s: TimeoutSeconds | None = TranslateRequest.model_fields["timeout_s"]


class DetectedLanguage(BaseModel):
    language: str = Field(..., description="ISO 639-1 code, one of the catalog's sources", examples=["de"])
    confidence: float = Field(
        ..., description="0..1, relative to the other sources (0: nothing in the text told)", examples=[0.86]
    )


class TranslateResponse(BaseModel):
    translation: str | None = Field(None, description="for `text`: its translation")
    translations: list[str] | None = Field(None, description="for `texts`: their translations, in order")
    source_lang: str
    target_lang: str
    via: str | None = Field(
        None, description="the pivot language, when no model serves the pair and two translated through it"
    )
    detected_language: DetectedLanguage | None = Field(
        None, description='with source_lang "auto": the language detected'
    )
    model: str = Field(
        ..., description="model that answered ('demo:...' for a demo model); a pivoted answer names both"
    )


class DetectRequest(TextOrTexts):
    """The texts whose language to detect (`priority` and `timeout_s` are accepted and unused: a
    detection takes well under a millisecond)."""


class DetectResponse(BaseModel):
    detection: DetectedLanguage | None = Field(None, description="for `text`: its language")
    detections: list[DetectedLanguage] | None = Field(None, description="for `texts`: each one's, in order")


class Language(BaseModel):
    code: str = Field(..., description="ISO 639-1 code: what to send as source_lang", examples=["de"])
    name: str = Field(..., description="the language's English name", examples=["German"])
    targets: list[str] = Field(
        ..., description="what target_lang accepts with this source", examples=[["en"]]
    )


class LanguagesResponse(BaseModel):
    languages: list[Language] = Field(
        ..., description="every source language with its targets (LibreTranslate's /languages entries)"
    )
    default_source_lang: str = Field(..., description="source_lang used when a request names none")
    default_target_lang: str = Field(..., description="target_lang used when a request names none")
    pivot_lang: str | None = Field(
        ..., description="the language pairs no model serves are translated through"
    )
    models: list[str] = Field(..., description="the models that serve them; 'demo:...' for a demo model")
    max_input_chars: int = Field(..., description="the most characters of one text")
    file_types: list[str] = Field(
        ..., description="the file name suffixes POST /translate/file takes", examples=[[".txt", ".docx"]]
    )
