"""The translation app: POST /translate, English -> French/German/Romanian (the configured
`languages`; GET /translate/languages lists them). The work: apps/translation/service.py.

Deploy: `serve deploy serve_config.yaml` (app `translation`, import path `apps.translation.app:app`).
Handle: `serve.get_deployment_handle("Translator", app_name="translation").translate.remote(text, "fr")`;
`text` may be a list of strings, translated together as one batch.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the routes' body types
# (with it, a body model was read as a query parameter).

from ray import serve

from apps.common.deadlines import HttpCaller
from apps.common.deployment_options import deployment_options
from apps.common.generation import GenerationParams
from apps.common.http import ERROR_RESPONSES, create_app
from apps.common.job import Job
from apps.common.model_deployment import ModelDeployment, answering, streaming
from apps.common.scheduling import Priority
from apps.common.streaming import STREAM_RESPONSE, ndjson_response
from apps.translation.schemas import LanguagesResponse, TranslateRequest, TranslateResponse
from apps.translation.service import TranslationService

http_app = create_app(
    "textserve translation",
    "Translate English text with a seq2seq model (t5-small by default).",
    examples={"/": {"text": "Hello world!", "target_lang": "fr"}},
)


@serve.deployment(**deployment_options(replicas=2, max_ongoing=32, max_queued=64, retry_after_s=1, cpus=0.2))
@serve.ingress(http_app)
class Translator(ModelDeployment):
    service_cls = TranslationService
    service: TranslationService

    def _plan_translation(
        self,
        text: str | list[str],
        target_lang: str | None = None,
        priority: Priority | None = None,
        timeout_s: float | None = None,
        tenant: str | None = None,
    ) -> Job:
        """Handle entry point; same validation and answers as POST /translate (`priority` and
        `timeout_s` as its body's; `tenant`: whose request, apps/common/tenants.py)."""
        return self.plan_call(text, tenant, target_lang=target_lang, priority=priority, timeout_s=timeout_s)

    translate = answering(_plan_translation)
    translate_stream = streaming(_plan_translation)  # the events of POST /translate with "stream": true

    async def languages(self) -> dict:
        """Handle entry point; same answer as GET /translate/languages."""
        return self.service.languages().model_dump()

    @http_app.get("/languages", summary="Target languages", response_model=LanguagesResponse)
    async def languages_http(self) -> LanguagesResponse:
        """The target languages this deployment translates into (its user_config's `languages`):
        what `target_lang` accepts."""
        return self.service.languages()

    @http_app.post(
        "/",
        summary="Translate",
        response_model=TranslateResponse,
        response_model_exclude_none=True,
        responses={**ERROR_RESPONSES, 200: STREAM_RESPONSE},
    )
    async def translate_http(self, request: TranslateRequest, caller: HttpCaller):
        job = self.service.plan(request, caller)  # a request that cannot be served: 4xx before any stream
        if request.stream:
            return ndjson_response(self.service.events(job), "translation")
        return await self.service.run(job)

    async def _translate_part(self, prompts: list[str], params: GenerationParams, *ticket) -> list[str]:
        """Internal handle entry point, for fan-out on this deployment's own replicas: the
        translations of one part of a long request (prompts with their task prefix), with the
        request's `Ticket.to_wire()`."""
        return await self.service.decode_part(prompts, params, ticket)


app = Translator.bind()
