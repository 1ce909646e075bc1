"""Bodies of POST /hf/translation and /hf/summarization: the Hugging Face Inference API's task shapes,
as `huggingface_hub.InferenceClient(model="http://<host>/hf/translation").translation(...)` sends them
(`{"inputs": ..., "parameters": {...}}`) and reads the answers (`[{"translation_text": ...}]`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from apps.common.schemas import NOT_WHITESPACE, usable_text, whole_number


def _inputs(value: Any) -> str | list[str]:
    if isinstance(value, str):
        return usable_text(value)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return [usable_text(item) for item in value]
    raise ValueError("send `inputs` as an English text or a non-empty list of English texts")


_TEXT_SCHEMA = {"type": "string", "pattern": NOT_WHITESPACE}
# One message for either shape (a union would report both branches' errors)
Inputs = Annotated[
    str | list[str],
    PlainValidator(_inputs),
    WithJsonSchema(
        {
            "anyOf": [_TEXT_SCHEMA, {"type": "array", "items": _TEXT_SCHEMA, "minItems": 1}],
            "examples": ["Hello world!"],
        }
    ),
]
Truncation = Literal["do_not_truncate", "longest_first", "only_first", "only_second"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _TaskParameters(_Strict):
    clean_up_tokenization_spaces: bool | None = Field(
        None, description="accepted for the client's sake: answers come with spaces cleaned up"
    )
    truncation: Truncation | None = Field(
        None,
        description="accepted for the client's sake: nothing is truncated (a long text is worked "
        "on sentence by sentence, or in chunks, up to the service's max_input_chars)",
    )


class NoGenerateParameters(_Strict):
    """Translation takes no generation parameters: the service's configuration sets them."""


class SummaryGenerateParameters(_Strict):
    max_length: whole_number(ge=1) | None = Field(None, description="longest summary, in tokens")
    min_length: whole_number(ge=0) | None = Field(None, description="shortest summary, in tokens")


class TranslationParameters(_TaskParameters):
    src_lang: str | None = Field(
        None, description="the text's language (ISO 639-1; default en)", examples=["en"]
    )
    tgt_lang: str | None = Field(
        None, description="the language to translate into (ISO 639-1; default fr)", examples=["de"]
    )
    generate_parameters: NoGenerateParameters | None = None


class SummarizationParameters(_TaskParameters):
    generate_parameters: SummaryGenerateParameters | None = None


class HFTranslationRequest(_Strict):
    inputs: Inputs = Field(..., description="an English text, or a list of them")
    parameters: TranslationParameters = TranslationParameters()


class HFSummarizationRequest(_Strict):
    inputs: Inputs = Field(..., description="an English text, or a list of them")
    parameters: SummarizationParameters = SummarizationParameters()


class HFTranslation(BaseModel):
    translation_text: str


class HFSummary(BaseModel):
    summary_text: str


def answered_texts(answer: dict, one: str, many: str) -> list[str]:
    """A leaf app's answer (`translation` or `translations`) as a list, in order."""
    return list(answer[many]) if answer.get(many) is not None else [answer[one]]
