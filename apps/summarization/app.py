"""The summarization app: POST /summarize, English text -> short English summary.

A text longer than the model's window (512 tokens for t5-small) is summarized by map-reduce: its
window-sized chunks go to every replica of this deployment through its own DeploymentHandle, and
their summaries are summarized again (apps/summarization/map_reduce.py). With "stream": true the
answer is newline-delimited JSON: a `progress` event as each chunk finishes, then `done`.

Deploy: `serve deploy serve_config.yaml` (app `summarization`, import path `apps.summarization.app:app`).
Handle: `serve.get_deployment_handle("Summarizer", app_name="summarization").summarize.remote(text)`;
`text` may be a list of strings, summarized together as one batch.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the routes' body types
# (with it, a body model was read as a query parameter). Functions a route calls are defined
# above the @serve.ingress class, which pickles the routes where it stands.

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from ray import serve

from apps.common.docs_pages import PublishesAPIDocument
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
from apps.common.streaming import STREAM_RESPONSE, ndjson_response, progress_events
from apps.common.tenants import current_tenant
from apps.summarization.config import SummarizationSettings
from apps.summarization.map_reduce import MapReduce, Progress
from apps.summarization.schemas import SummarizeRequest, SummarizeResponse

logger = logging.getLogger("ray.serve")

http_app = create_app(
    "textserve summarization",
    "Summarize English text with a seq2seq model (t5-small by default).",
    examples={"/": {"text": "A paragraph of English text to summarize ...", "max_length": 60}},
)


# (defined before the deployment: @serve.ingress pickles the routes where the class is defined)
def _progress_of_text(emit: Callable[[dict], None], number: int) -> Progress:
    def progress(level: int, done: int, total: int) -> None:
        emit({"event": "progress", "text_index": number, "level": level, "done": done, "total": total})

    return progress


@serve.deployment(
    num_replicas=2,
    graceful_shutdown_timeout_s=35,
    max_ongoing_requests=32,
    max_queued_requests=64,
    backpressure_config={"status_code": 503, "retry_after_s": 2},
    ray_actor_options={"num_cpus": 0.2, "num_gpus": 0},
    user_config={},
)
@serve.ingress(http_app)
class Summarizer(ModelHealth, PublishesAPIDocument):
    def __init__(self):
        quiet_user_errors()  # a caller's 4xx through a handle is not logged as our failure
        self.settings: SummarizationSettings | None = None
        self.generator: Seq2SeqGenerator | None = None
        self._chunks = PeerCalls("_summarize_chunk")  # map-reduce chunks, on every replica
        self._admission = FanOutAdmission("summarizing", "texts longer than the model's window")

    def reconfigure(self, user_config: dict) -> None:
        settings = parse_user_config(SummarizationSettings, user_config, "summarization")
        self.generator = generator_for(settings.model, settings.backend, self.generator, settings.device)
        self.generator.configure(settings)
        apply_http_settings(self.app, settings)
        self._admission.limit = settings.max_map_reduce_requests
        self._chunks.configure(settings.chunk_calls_in_flight, settings.chunk_timeout_s)
        self.settings = settings

    def probe_prefix(self) -> str:
        return "summarize: " if self.generator.uses_t5_prefixes else ""

    async def summarize(
        self,
        text: str | list[str],
        max_length: int | None = None,
        min_length: int | None = None,
        priority: Priority | None = None,
        timeout_s: float | None = None,
        tenant: str | None = None,
    ) -> dict:
        """Handle entry point; same validation and answers as POST /summarize (`priority` and
        `timeout_s` as its body's; `tenant`: whose request, apps/common/tenants.py)."""
        request, params, ticket = self._handle_call(text, max_length, min_length, priority, timeout_s, tenant)
        return (await self._run(request, params, ticket)).model_dump(exclude_none=True)

    async def summarize_stream(
        self,
        text: str | list[str],
        max_length: int | None = None,
        min_length: int | None = None,
        priority: Priority | None = None,
        timeout_s: float | None = None,
        tenant: str | None = None,
    ) -> AsyncIterator[dict]:
        """Streaming handle entry point (`handle.options(stream=True)`): the events of POST
        /summarize with "stream": true. A request that cannot be served raises before the first."""
        request, params, ticket = self._handle_call(text, max_length, min_length, priority, timeout_s, tenant)
        async for event in self._events(request, params, ticket):
            yield event

    def _handle_call(
        self,
        text: str | list[str],
        max_length: int | None,
        min_length: int | None,
        priority: Priority | None,
        timeout_s: float | None,
        tenant: str | None,
    ) -> tuple[SummarizeRequest, GenerationParams, Ticket]:
        """A handle call's arguments as a checked request, its decoding, class and deadline."""
        request = validate(
            SummarizeRequest,
            **text_fields(text),
            max_length=max_length,
            min_length=min_length,
            priority=priority,
            timeout_s=timeout_s,
        )
        return request, self._params(request), self._ticket(request, request.timeout_s, tenant=tenant)

    @http_app.post(
        "/",
        summary="Summarize",
        response_model=SummarizeResponse,
        response_model_exclude_none=True,
        responses={**ERROR_RESPONSES, 200: STREAM_RESPONSE},
    )
    async def summarize_http(self, request: SummarizeRequest, timeout_header: RequestTimeoutHeader = None):
        arrived = time.monotonic()
        params = self._params(request)  # a request that cannot be served is a 4xx before any stream
        timeout_s = sooner(
            request.timeout_s, header_timeout_s(timeout_header), await serve_request_timeout_s()
        )
        ticket = self._ticket(request, timeout_s, arrived, current_tenant())
        if request.stream:
            return ndjson_response(self._events(request, params, ticket), "summarization")
        return await self._run(request, params, ticket)

    async def _summarize_chunk(
        self,
        chunk: str,
        params: GenerationParams,
        wall_deadline: float | None,
        timeout_s: float | None,
        tenant: str | None = None,
    ) -> str:
        """Internal handle entry point, for map-reduce on this deployment's own replicas: the
        summary of one chunk that fits the model's window; chunks are bulk work, with their
        request's deadline (Ticket.wall_deadline) and tenant."""
        ticket = Ticket.from_wall("bulk", wall_deadline, timeout_s, tenant)
        prompt = self.probe_prefix() + chunk
        [summary] = await self.generator.generate([prompt], params, returns=False, ticket=ticket)
        return summary

    def _ticket(
        self,
        request: SummarizeRequest,
        timeout_s: float | None,
        arrived: float | None = None,
        tenant: str | None = None,
    ) -> Ticket:
        """The request's class, its deadline, `timeout_s` after it `arrived` (None: now), and its
        tenant."""
        settings = self.settings
        priority = request_class(
            request.inputs, settings.interactive_max_texts, settings.interactive_max_chars, request.priority
        )
        return Ticket.start(priority, timeout_s, arrived, tenant)

    def _params(self, request: SummarizeRequest) -> GenerationParams:
        """The request's decoding, once its lengths and size are checked against the limits (and a
        long text against this replica's room for map-reduce work)."""
        settings = self.settings
        max_length = request.max_length or settings.default_max_length
        if max_length > settings.max_length_limit:
            raise UserInputError(
                f"max_length {max_length} is above this service's limit of {settings.max_length_limit}"
            )
        if request.min_length is not None and request.min_length > max_length:
            raise UserInputError(f"min_length {request.min_length} is above max_length {max_length}")
        check_input_limits(request.inputs, settings)
        if not self._admission.has_room():
            map_reduce = self._map_reduce()
            if not all(map_reduce.fits(text) for text in request.inputs):
                self._admission.refuse()
        min_length = request.min_length if request.min_length is not None else settings.default_min_length
        return GenerationParams(
            max_new_tokens=max_length,
            min_new_tokens=min(min_length, max_length),
            num_beams=settings.num_beams,
        )

    async def _run(
        self,
        request: SummarizeRequest,
        params: GenerationParams,
        ticket: Ticket,
        emit: Callable[[dict], None] | None = None,
    ) -> SummarizeResponse:
        generator, map_reduce = self.generator, self._map_reduce(ticket)
        texts = [text.strip() for text in request.inputs]
        # each chunk's summary may be as long as the request's; the final one gets its min_length
        chunk_params = GenerationParams(max_new_tokens=params.max_new_tokens, num_beams=params.num_beams)
        # texts that fit go to the model as they are; each longer one is reduced until it fits
        long_texts = [number for number, text in enumerate(texts) if not map_reduce.fits(text)]
        if long_texts:
            with self._admission.slot():
                reduced = await asyncio.gather(
                    *(
                        map_reduce.reduce_to_window(
                            texts[number], chunk_params, _progress_of_text(emit, number) if emit else None
                        )
                        for number in long_texts
                    )
                )
            for number, text in zip(long_texts, reduced, strict=True):
                texts[number] = text
        outputs = await generator.generate(
            [self.probe_prefix() + text for text in texts], params, ticket=ticket
        )
        if request.texts is None:
            return SummarizeResponse(summary=outputs[0], model=generator.name)
        return SummarizeResponse(summaries=outputs, model=generator.name)

    async def _events(
        self, request: SummarizeRequest, params: GenerationParams, ticket: Ticket
    ) -> AsyncIterator[dict]:
        """`progress` events as the chunks of long texts finish, then `done` with the answer."""
        async for event in progress_events(lambda emit: self._run(request, params, ticket, emit)):
            yield event

    def _map_reduce(self, ticket: Ticket | None = None) -> MapReduce:
        """Map-reduce on this model; each chunk's summary from whichever replica of this deployment
        Serve picks (sent once more if that replica dies under it or does not answer within
        chunk_timeout_s), by `ticket`'s deadline."""
        generator, prefix, deadline = self.generator, self.probe_prefix(), ticket or Ticket()

        async def summarize_chunk(chunk: str, params: GenerationParams) -> str:
            return await self._chunks.call(
                chunk, params, deadline.wall_deadline(), deadline.timeout_s, deadline.tenant
            )

        return MapReduce(
            lambda text: generator.count_tokens(prefix + text), generator.max_input_tokens, summarize_chunk
        )


app = Summarizer.bind()
