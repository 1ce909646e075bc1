"""LibreTranslate's request and answer bodies, as its server (1.6) reads and writes them: fields
from a JSON object or a form-encoded body alike, errors as `{"error": ...}` with its status codes
(400 for anything the caller sent wrong, 403 for a refused key, 429 to slow down, 500)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema
from starlette.datastructures import UploadFile
from starlette.responses import Response

from apps.common.dialects import Dialect
from apps.common.errors import UserInputError
from apps.common.http import ErrorResponse
from apps.common.schemas import NOT_WHITESPACE, form_fields_schema

PREFIX = "/libretranslate"
AUTO = "auto"


def libretranslate_status(status: int) -> int:
    """Our status code as LibreTranslate's clients expect it: what the caller sent wrong is 400
    (our 413, 415, 422 and the others), a refused key 403, "retry later" (our 503 with
    Retry-After: a queue full or a leaf app down) 429, any other fault of ours 500."""
    if status < 400 or status in (400, 403, 404, 405, 429):
        return status
    if status == 401:
        return 403
    if status < 500:
        return 400
    return 429 if status == 503 else 500


TAG = {
    "name": "LibreTranslate",
    "description": "LibreTranslate's API for its clients (Mastodon, Weblate, libretranslatepy): base URL "
    "`http://<host>:8000/libretranslate`; bodies as JSON or forms, `api_key` in the body or "
    '`Authorization: Bearer`, errors `{"error": ...}` with LibreTranslate\'s status codes',
}
DIALECT = Dialect(PREFIX + "/", libretranslate_status)  # apps/common/dialects.py


class InvalidRequestError(UserInputError):
    status_code = 400


_TEXT = {"type": "string", "pattern": NOT_WHITESPACE}
# a text, or a non-empty list of them (each checked by the translation app, as on /translate)
Texts = Annotated[
    str | list[str],
    WithJsonSchema(
        {"anyOf": [_TEXT, {"type": "array", "items": _TEXT, "minItems": 1}], "examples": ["Hello world!"]}
    ),
]
Code = Annotated[str, Field(min_length=1)]


def _count(value: Any) -> Any:
    # a form sends "3"; JSON a number (true is not one)
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError("send a whole number")
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


Count = Annotated[int, BeforeValidator(_count)]


class Body(BaseModel):
    # LibreTranslate ignores the fields it does not know (clients send `secret`, for one)
    model_config = ConfigDict(extra="ignore")

    api_key: str | None = Field(
        None,
        description="an API key (or send the header Authorization: Bearer <key>); needed only when the "
        "service is configured with keys",
    )


class TranslateBody(Body):
    q: Texts = Field(..., description="the text to translate, or a list of texts")
    source: Code = Field(
        ..., description='the text\'s language (ISO 639-1, see /languages), or "auto"', examples=["auto"]
    )
    target: Code = Field(..., description="the language to translate into (ISO 639-1)", examples=["fr"])
    format: Literal["text", "html"] = Field(
        "text", description='"html": the markup is kept, only its text translated'
    )
    alternatives: Count = Field(
        0, ge=0, description="accepted; alternative translations are not offered (answered empty lists)"
    )


class FileBody(Body):
    model_config = ConfigDict(
        extra="ignore", arbitrary_types_allowed=True, json_schema_extra=form_fields_schema
    )

    file: Annotated[UploadFile, WithJsonSchema({"type": "string", "format": "binary"})] = Field(
        ..., description="the document (GET /frontend/settings lists the types: supportedFilesFormat)"
    )
    source: Code = Field(..., description='the document\'s language, or "auto"', examples=["auto"])
    target: Code = Field(..., description="the language to translate into", examples=["fr"])


class TranslateFileAnswer(BaseModel):
    translatedFileUrl: str = Field(
        ...,
        description="where to download the translation (GET; with the same API key where keys are on), "
        "for a limited time",
    )


class DetectBody(Body):
    q: Texts = Field(..., description="the text whose language to detect (a list: detected together)")


class KeyBody(Body):
    """Routes that read only the key (GET /languages, GET /frontend/settings)."""


class Detection(BaseModel):
    confidence: float = Field(..., description="0..100", examples=[92.0])
    language: str = Field(..., description="ISO 639-1 code", examples=["de"])


class TranslateAnswer(BaseModel):
    translatedText: str | list[str] = Field(..., description="the translation, or one per text of a list")
    detectedLanguage: Detection | list[Detection] | None = Field(
        None, description='with source "auto": the language detected (one per text of a list)'
    )
    alternatives: list[str] | list[list[str]] | None = Field(
        None, description="with alternatives > 0: none are offered (empty)"
    )


class LanguageTargets(BaseModel):
    code: str = Field(..., examples=["de"])
    name: str = Field(..., examples=["German"])
    targets: list[str] = Field(..., examples=[["en", "fr"]])


class NamedLanguage(BaseModel):
    code: str
    name: str


class FrontendLanguages(BaseModel):
    source: NamedLanguage
    target: NamedLanguage


class FrontendSettings(BaseModel):
    charLimit: int = Field(..., description="the most characters of one text (-1: no limit)")
    frontendTimeout: int = Field(..., description="milliseconds a web frontend waits before it translates")
    apiKeys: bool = Field(..., description="whether the service is configured with API keys")
    keyRequired: bool = Field(..., description="whether every request needs a key")
    suggestions: bool = Field(..., description="suggestions are not taken (false)")
    filesTranslation: bool = Field(..., description="whether /translate_file is served")
    supportedFilesFormat: list[str] = Field(..., description="the file extensions /translate_file takes")
    language: FrontendLanguages


B = TypeVar("B", bound=Body)


def read_body(model: type[B], fields: dict[str, Any]) -> B:
    """`fields` (a JSON object's or a form's) as `model`; InvalidRequestError (400) in
    LibreTranslate's words for a missing parameter, else saying what to change."""
    for name, field in model.model_fields.items():
        if field.is_required() and fields.get(name) in (None, "", []):
            raise InvalidRequestError(f"Invalid request: missing {name} parameter")
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "body"
            problems.append(f"{where}: {error['msg']}")
        raise InvalidRequestError("Invalid request: " + "; ".join(problems)) from None


ERRORS = {
    400: {"model": ErrorResponse, "description": "Invalid request (missing parameter, too long, ...)"},
    403: {"model": ErrorResponse, "description": "API key not accepted"},
    429: {"model": ErrorResponse, "description": "Slow down: the service is busy; retry after Retry-After"},
    500: {"model": ErrorResponse, "description": "Internal error (logged on the server)"},
}


def route_options(summary: str, body: type[Body] | None = None, answer: type | None = None) -> dict:
    """A route's options: its summary, LibreTranslate's tag and error answers, its answer
    (a model, or a Response class), and its request body (`body`'s fields, read as JSON or
    form-encoded and documented as both; multipart for a body with a file)."""
    options: dict = {"summary": f"{summary} (LibreTranslate)", "tags": [TAG["name"]], "responses": ERRORS}
    if isinstance(answer, type) and issubclass(answer, Response):  # a file's bytes
        options["response_class"] = answer
        options["responses"] = {**ERRORS, 404: {"model": ErrorResponse, "description": "No such file kept"}}
    elif answer is not None:
        options.update(response_model=answer, response_model_exclude_none=True)
    if body is not None:
        schema = body.model_json_schema()
        forms = ("application/json", "application/x-www-form-urlencoded")
        types = ("multipart/form-data",) if "file" in body.model_fields else forms
        request_body = {"required": True, "content": {t: {"schema": schema} for t in types}}
        options["openapi_extra"] = {"requestBody": request_body}
    return options
