"""The translation app: POST /translate, English -> French/German/Romanian (the configured
`languages`; GET /translate/languages lists them).

Deploy: `serve deploy serve_config.yaml` (app `translation`, import path `apps.translation.app:app`).
Handle: `serve.get_deployment_handle("Translator", app_name="translation").translate.remote(text, "fr")`;
`text` may be a list of strings, translated together as one batch.

A request with more than `part_sentences` sentences is cut into parts, as many for every replica:
the first is decoded here, the others go to every replica of this deployment through its own
handle (apps/common/fan_out.py); the answers are put back in order.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the routes' body types
# (with it, a body model was read as a query parameter). Functions a route calls are defined
# above the @serve.ingress class, which pickles the routes where it stands.

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from ray import serve

from apps.common.docs_pages import PublishesAPIDocument
from apps.common.documents import fit_window, split_sentences
from apps.common.errors import UserInputError
from apps.common.fan_out import FanOutAdmission, PeerCalls
from apps.common.generation import GenerationParams, Seq2SeqGenerator, check_input_limits, generator_for
from apps.common.health import ModelHealth
from apps.common.http import ERROR_RESPONSES, RequestTimeoutHeader, create_app, validate
from apps.common.logs import quiet_user_errors
from apps.common.request_guard import apply_http_settings
from apps.common.scheduling import (
    Priority,
    Ticket,
    header_timeout_s,
    request_class,
    serve_request_timeout_s,
    sooner,
)
from apps.common.schemas import text_fields
from apps.common.settings import parse_user_config
from apps.common.streaming import STREAM_RESPONSE, ndjson_response
from apps.common.tenants import current_tenant
from apps.translation.config import TranslationSettings
from apps.translation.job import TranslationJob
from apps.translation.schemas import Language, LanguagesResponse, TranslateRequest, TranslateResponse


def task_prefix(generator: Seq2SeqGenerator, settings: TranslationSettings, lang: str) -> str:
    """T5 picks its task from the prompt: "translate English to French: ..."."""
    return f"translate English to {settings.languages[lang]}: " if generator.uses_t5_prefixes else ""


logger = logging.getLogger("ray.serve")

http_app = create_app(
    "textserve translation",
    "Translate English text with a seq2seq model (t5-small by default).",
    examples={"/": {"text": "Hello world!", "target_lang": "fr"}},
)


@serve.deployment(
    num_replicas=2,
    graceful_shutdown_timeout_s=35,
    max_ongoing_requests=32,
    max_queued_requests=64,
    backpressure_config={"status_code": 503, "retry_after_s": 1},
    ray_actor_options={"num_cpus": 0.2, "num_gpus": 0},
    user_config={},
)
@serve.ingress(http_app)
class Translator(ModelHealth, PublishesAPIDocument):
    def __init__(self):
        quiet_user_errors()  # a caller's 4xx through a handle is not logged as our failure
        self.settings: TranslationSettings | None = None
        self.generator: Seq2SeqGenerator | None = None
        self._parts = PeerCalls("_translate_part")  # a long request's parts, on every replica
        self._fan_out = FanOutAdmission("translating", "long texts in parts")

    def reconfigure(self, user_config: dict) -> None:
        settings = parse_user_config(TranslationSettings, user_config, "translation")
        self.generator = generator_for(settings.model, settings.backend, self.generator, settings.device)
        self.generator.configure(settings)
        apply_http_settings(self.app, settings)
        self._fan_out.limit = settings.max_fan_out_requests
        self._parts.configure(settings.part_calls_in_flight, settings.part_timeout_s)
        self.settings = settings

    def probe_prefix(self) -> str:
        return task_prefix(self.generator, self.settings, self.settings.default_target_lang)

    async def translate(
        self,
        text: str | list[str],
        target_lang: str | None = None,
        priority: Priority | None = None,
        timeout_s: float | None = None,
        tenant: str | None = None,
    ) -> dict:
        """Handle entry point; same validation and answers as POST /translate (`priority` and
        `timeout_s` as its body's; `tenant`: whose request, apps/common/tenants.py)."""
        job = self._handle_call(text, target_lang, priority, timeout_s, tenant)
        return (await self._run(job)).model_dump(exclude_none=True)

    async def translate_stream(
        self,
        text: str | list[str],
        target_lang: str | None = None,
        priority: Priority | None = None,
        timeout_s: float | None = None,
        tenant: str | None = None,
    ) -> AsyncIterator[dict]:
        """Streaming handle entry point (`handle.options(stream=True)`): the events of POST
        /translate with "stream": true. A request that cannot be served raises before the first."""
        async for event in self._events(self._handle_call(text, target_lang, priority, timeout_s, tenant)):
            yield event

    def _handle_call(
        self,
        text: str | list[str],
        target_lang: str | None,
        priority: Priority | None,
        timeout_s: float | None,
        tenant: str | None,
    ) -> TranslationJob:
        """A handle call's arguments as a checked, planned request (as POST /translate's body)."""
        request = validate(
            TranslateRequest,
            **text_fields(text),
            target_lang=target_lang,
            priority=priority,
            timeout_s=timeout_s,
        )
        return self._plan(request, request.timeout_s, tenant=tenant)

    async def languages(self) -> dict:
        """Handle entry point; same answer as GET /translate/languages."""
        return self._languages().model_dump()

    @http_app.get("/languages", summary="Target languages", response_model=LanguagesResponse)
    async def languages_http(self) -> LanguagesResponse:
        """The target languages this deployment translates into (its user_config's `languages`):
        what `target_lang` accepts."""
        return self._languages()

    def _languages(self) -> LanguagesResponse:
        languages = sorted(self.settings.languages.items())
        return LanguagesResponse(
            languages=[Language(code=code, name=name) for code, name in languages],
            default=self.settings.default_target_lang,
            model=self.generator.name,
        )

    @http_app.post(
        "/",
        summary="Translate",
        response_model=TranslateResponse,
        response_model_exclude_none=True,
        responses={**ERROR_RESPONSES, 200: STREAM_RESPONSE},
    )
    async def translate_http(self, request: TranslateRequest, timeout_header: RequestTimeoutHeader = None):
        arrived = time.monotonic()
        timeout_s = sooner(
            request.timeout_s, header_timeout_s(timeout_header), await serve_request_timeout_s()
        )
        # a request that cannot be served: 4xx before any stream
        job = self._plan(request, timeout_s, arrived, current_tenant())
        if request.stream:
            return ndjson_response(self._events(job), "translation")
        return await self._run(job)

    def _plan(
        self,
        request: TranslateRequest,
        timeout_s: float | None,
        arrived: float | None = None,
        tenant: str | None = None,
    ) -> TranslationJob:
        """Check the request against the limits, cut every text into sentences that fit, and give
        it its class, deadline (`timeout_s` after it `arrived`, time.monotonic(); None: now) and
        tenant."""
        settings, generator = self.settings, self.generator
        lang = request.target_lang or settings.default_target_lang
        if lang not in settings.languages:
            raise UserInputError(
                f"target_lang '{lang}' is not supported; use one of {sorted(settings.languages)} "
                "(GET /translate/languages lists them)"
            )
        check_input_limits(request.inputs, settings)
        prefix, window = task_prefix(generator, settings, lang), generator.max_input_tokens
        documents = [
            fit_window(split_sentences(text), lambda piece: generator.count_tokens(prefix + piece), window)
            for text in request.inputs
        ]
        params = GenerationParams(
            max_new_tokens=settings.max_new_tokens,
            min_new_tokens=settings.min_new_tokens,
            num_beams=settings.num_beams,
        )
        priority = request_class(
            request.inputs, settings.interactive_max_texts, settings.interactive_max_chars, request.priority
        )
        ticket = Ticket.start(priority, timeout_s, arrived, tenant)
        return TranslationJob(request.texts is not None, lang, prefix, documents, params, ticket)

    async def _translate_part(
        self,
        prompts: list[str],
        params: GenerationParams,
        priority: Priority,
        wall_deadline: float | None,
        timeout_s: float | None,
        tenant: str | None = None,
    ) -> list[str]:
        """Internal handle entry point, for fan-out on this deployment's own replicas: the
        translations of one part of a long request (prompts with their task prefix), with the
        request's class, deadline (Ticket.wall_deadline) and tenant."""
        ticket = Ticket.from_wall(priority, wall_deadline, timeout_s, tenant)
        return await self.generator.generate(prompts, params, returns=False, ticket=ticket)

    def _fans_out(self, job: TranslationJob) -> bool:
        size = self.settings.part_sentences
        return 0 < size < len(job.prompts) and self._fan_out.has_room()

    async def _parts_in_order(self, job: TranslationJob) -> AsyncIterator[list[str]]:
        """The request's translations in order, as the parts they are in finish: the first part
        on this replica, every other on whichever replica Serve picks; parts still running are
        cancelled if the request ends first. Only what this replica's cache lacks is sent, each
        sentence once."""
        # the parts count the misses, where they are looked up again
        lookup = self.generator.lookup(job.prompts, job.params, count_misses=False, tenant=job.ticket.tenant)
        prompts, ticket = lookup.misses, job.ticket
        # parts of equal size, so that replicas given as many parts get as much work: one for each
        # replica when each fits one model call (parts arrive one by one, and each would start a
        # call of its own), else at most part_sentences each, as many for every replica
        replicas = await self._parts.replica_count()
        count = -(-len(prompts) // self.settings.part_sentences)
        if count > 1:
            if len(prompts) <= replicas * self.settings.max_batch_size:
                count = replicas
            else:
                count = -(-count // replicas) * replicas
        size = -(-len(prompts) // count) if count else 1

        def send(start: int) -> asyncio.Future:
            part = prompts[start : start + size]
            if start == 0 and replicas > 1:
                # decoded here: routed, it could land on a replica already given another part
                # (this one counts the request itself as one in flight, so the two tie)
                return asyncio.ensure_future(
                    self.generator.generate(part, job.params, returns=False, ticket=ticket)
                )
            return asyncio.ensure_future(
                self._parts.call(
                    part, job.params, ticket.priority, ticket.wall_deadline(), ticket.timeout_s, ticket.tenant
                )
            )

        parts = [send(start) for start in range(0, len(prompts), size)]
        self._fan_out.hold_until_done(parts)
        logger.info(
            "translating %d sentences (%d to decode) in %d parts on every replica",
            len(job.prompts),
            len(prompts),
            len(parts),
            extra={"fan_out_sentences": len(prompts), "fan_out_parts": len(parts)},
        )
        try:
            ready = lookup.take_ready()
            if ready:
                yield ready
            for start, part in zip(range(0, len(prompts), size), parts, strict=True):
                lookup.fill(start, await part)
                ready = lookup.take_ready()
                if ready:
                    yield ready
        finally:
            for part in parts:
                part.cancel()

    async def _run(self, job: TranslationJob) -> TranslateResponse:
        if self._fans_out(job):
            outputs = [output async for part in self._parts_in_order(job) for output in part]
        else:
            outputs = await self.generator.generate(job.prompts, job.params, ticket=job.ticket)
        return job.response(job.rejoin(outputs), self.generator.name)

    async def _events(self, job: TranslationJob) -> AsyncIterator[dict]:
        """A `sentence` event per sentence, in order, as its batch finishes; then `done` with the
        whole answer (the same as without streaming)."""
        outputs: list[str] = []
        prompts = job.prompts
        runs = (
            self._parts_in_order(job)
            if self._fans_out(job)
            else self.generator.generate_stream(prompts, job.params, job.ticket)
        )
        async for run in runs:
            for output in run:
                text_index, sentence, separator = job.sentence_at(len(outputs))
                outputs.append(output)
                yield {
                    "event": "sentence",
                    "index": len(outputs) - 1,
                    "total": len(prompts),
                    "text_index": text_index,
                    "source": sentence,
                    "translation": output,
                    "separator": separator,
                }
        done = job.response(job.rejoin(outputs), self.generator.name).model_dump(exclude_none=True)
        yield {"event": "done", "sentences": len(outputs), **done}


app = Translator.bind()
