"""The translation app: POST /translate, between the language pairs of its catalog (`models` in
its user_config; GET /translate/languages lists them). The work: apps/translation/service.py.

Deploy: `serve deploy serve_config.yaml` (app `translation`, import path `apps.translation.app:app`).
Handle: `serve.get_deployment_handle("Translator", app_name="translation").translate.remote(text, "fr")`
(target, then source language); `text` may be a list of strings, translated together as one batch.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the routes' body types
# (with it, a body model was read as a query parameter).

from typing import Unpack

from ray import serve

from apps.common.deadlines import HttpCaller
from apps.common.deployment_options import deployment_options
from apps.common.http import create_app, validate
from apps.common.job import Job
from apps.common.model_deployment import CallOptions, ModelDeployment, answering, streaming
from apps.common.schemas import text_fields
from apps.common.streaming import streamed_answers
from apps.translation.schemas import (
    DetectRequest,
    DetectResponse,
    LanguagesResponse,
    TranslateRequest,
    TranslateResponse,
)
from apps.translation.service import MarkupJob, TranslationService

http_app = create_app(
    "textserve translation",
    "Translate text between the language pairs of a catalog of seq2seq models (T5, MarianMT, M2M100, NLLB).",
    examples={"/": {"text": "Hello world!", "target_lang": "fr"}},
)


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
