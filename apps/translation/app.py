"""The translation app: POST /translate, between the language pairs of its catalog (`models` in
its user_config; GET /translate/languages lists them). The work: apps/translation/service.py.

Deploy: `serve deploy serve_config.yaml` (app `translation`, import path `apps.translation.app:app`).
Handle: `serve.get_deployment_handle("Translator", app_name="translation").translate.remote(text, "fr")`
(target, then source language); `text` may be a list of strings, translated together as one batch.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the routes' body types
# (with it, a body model was read as a query parameter).

import asyncio
from typing import Annotated, Unpack
from urllib.parse import quote

from fastapi import File, Form, UploadFile
from fastapi.responses import Response
from ray import serve

from apps.common.deadlines import Caller, HttpCaller
from apps.common.deployment_options import deployment_options
from apps.common.http import ERROR_RESPONSES, ErrorResponse, create_app, validate
from apps.common.job import Job
from apps.common.model_deployment import CallOptions, ModelDeployment, answering, streaming
from apps.common.schemas import text_fields
from apps.common.streaming import streamed_answers
from apps.translation.files import SUFFIXES, translated_name
from apps.translation.markup_job import MarkupJob
from apps.translation.schemas import (
    DetectRequest,
    DetectResponse,
    FileRequest,
    LanguagesResponse,
    TranslateRequest,
    TranslateResponse,
)
from apps.translation.service import TranslationService

http_app = create_app(
    "textserve translation",
    "Translate text between the language pairs of a catalog of seq2seq models (T5, MarianMT, M2M100, NLLB).",
    examples={"/": {"text": "Hello world!", "target_lang": "fr"}},
    upload_paths=["/file"],
)
FILE_ANSWERS = {
    **ERROR_RESPONSES,
    200: {
        "description": "The translated file, of the type sent (an attachment named after it, with the "
        "target language before its suffix); X-Source-Lang, X-Target-Lang, X-Model and, with "
        "source_lang auto, X-Detected-Language say what translated it",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    413: {
        "model": ErrorResponse,
        "description": "The file is over its type's size limit, or holds more text than `files.max_chars`",
    },
    415: {"model": ErrorResponse, "description": f"Not a type translated here: {', '.join(SUFFIXES)}"},
}


@serve.deployment(**deployment_options(replicas=2, max_ongoing=32, max_queued=64, retry_after_s=1, cpus=0.2))
@serve.ingress(http_app)
class Translator(ModelDeployment):
    service_cls = TranslationService
    _translate_part = ModelDeployment.decode_part  # fan-out parts: the handle entry point FanOut calls

    @http_app.get("/languages", summary="Target languages", response_model=LanguagesResponse)
    async def languages_http(self) -> LanguagesResponse:
        """Every source language with the targets it translates into (its user_config's catalog,
        `models`; pivoted pairs included): what `source_lang` and `target_lang` accept."""
        return self.service.languages()

    @http_app.post(
        "/detect",
        summary="Detect the language",
        response_model=DetectResponse,
        response_model_exclude_none=True,
    )
    async def detect_http(self, request: DetectRequest) -> DetectResponse:
        """The language of each text, among the catalog's source languages, with a confidence:
        what `source_lang: "auto"` would translate it from."""
        return self.service.detect(request)

    @http_app.post("/", summary="Translate", **streamed_answers(TranslateResponse))
    async def translate_http(self, request: TranslateRequest, caller: HttpCaller):
        return await self.respond(request, caller)

    @http_app.post("/file", summary="Translate a document", response_class=Response, responses=FILE_ANSWERS)
    async def translate_file_http(
        self,
        file: Annotated[UploadFile, File(description=f"the document: {', '.join(SUFFIXES)}")],
        request: Annotated[FileRequest, Form()],
        caller: HttpCaller,
    ) -> Response:
        """A document translated, its structure kept: a text file line by line, HTML and Markdown
        as `format` says on POST /translate, SubRip subtitles with their numbers and timings, a
        Word document with each run's formatting. Sent as multipart/form-data."""
        content = await file.read()  # parsed on a thread, as it is written (service.run_file)
        job = await asyncio.to_thread(self.service.plan_file, file.filename or "", content, request, caller)
        translated, answer = await self.service.run_file(job)
        name = translated_name(file.filename or "", answer.target_lang)
        headers = {
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Source-Lang": answer.source_lang,
            "X-Target-Lang": answer.target_lang,
            "X-Model": quote(answer.model, safe=" +:/"),
        }
        if answer.detected_language is not None:
            detected = answer.detected_language
            headers["X-Detected-Language"] = f"{detected.language}; confidence={detected.confidence:.2f}"
        return Response(translated, media_type=job.file.type.media_type, headers=headers)

    async def translate_file(
        self,
        content: bytes,
        filename: str,
        target_lang: str | None = None,
        source_lang: str | None = None,
        **options: Unpack[CallOptions],
    ) -> dict:
        """Handle entry point; same checks and work as POST /translate/file: `content`, a file
        named `filename`, translated. Answers {content, filename, media_type, source_lang,
        target_lang, model, via?, detected_language?}."""
        tenant = options.pop("tenant", None)
        request = validate(FileRequest, target_lang=target_lang, source_lang=source_lang, **options)
        caller = Caller.from_handle(tenant)
        job = await asyncio.to_thread(self.service.plan_file, filename, content, request, caller)
        translated, answer = await self.service.run_file(job)
        fields = answer.model_dump(exclude_none=True, exclude={"translation"})
        name = translated_name(filename, answer.target_lang)
        return {"content": translated, "filename": name, "media_type": job.file.type.media_type, **fields}

    async def languages(self, **options: Unpack[CallOptions]) -> dict:
        """Handle entry point; same answer as GET /translate/languages (`options` accepted as
        every entry point's, and unused)."""
        return self.service.languages().model_dump()

    async def detect(self, text: str | list[str], **options: Unpack[CallOptions]) -> dict:
        """Handle entry point; same validation and answer as POST /translate/detect (`options`
        accepted as every entry point's, and unused: a detection takes well under a millisecond)."""
        request = validate(DetectRequest, **text_fields(text))
        return self.service.detect(request).model_dump(exclude_none=True)

    def _plan_translation(
        self,
        text: str | list[str],
        target_lang: str | None = None,
        source_lang: str | None = None,
        format: str = "text",
        **options: Unpack[CallOptions],
    ) -> Job | MarkupJob:
        """Handle entry point; same validation and answers as POST /translate (`format` "html" or
        "markdown": a document whose markup is kept), `options` as the body's (and the tenant)."""
        fields = {"target_lang": target_lang, "source_lang": source_lang, "format": format}
        return self.plan_call(text, **fields, **options)

    translate = answering(_plan_translation)
    translate_stream = streaming(_plan_translation)  # the events of POST /translate with "stream": true


app = Translator.bind()
