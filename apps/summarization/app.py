"""The summarization app: POST /summarize, English text -> short English summary. The work:
apps/summarization/service.py.

A text longer than the model's window (512 tokens for t5-small) is summarized by map-reduce, its
chunks on every replica of this deployment. With "stream": true the answer is newline-delimited
JSON: a `progress` event as each chunk finishes, then `done`.

Deploy: `serve deploy serve_config.yaml` (app `summarization`, import path `apps.summarization.app:app`).
Handle: `serve.get_deployment_handle("Summarizer", app_name="summarization").summarize.remote(text)`;
`text` may be a list of strings, summarized together as one batch.
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
from apps.summarization.schemas import SummarizeRequest, SummarizeResponse
from apps.summarization.service import SummarizationService

http_app = create_app(
    "textserve summarization",
    "Summarize English text with a seq2seq model (t5-small by default).",
    examples={"/": {"text": "A paragraph of English text to summarize ...", "max_length": 60}},
)


@serve.deployment(**deployment_options(replicas=2, max_ongoing=32, max_queued=64, retry_after_s=2, cpus=0.2))
@serve.ingress(http_app)
class Summarizer(ModelDeployment):
    service_cls = SummarizationService
    service: SummarizationService

    def _plan_summary(
        self,
        text: str | list[str],
        max_length: int | None = None,
        min_length: int | None = None,
        priority: Priority | None = None,
        timeout_s: float | None = None,
        tenant: str | None = None,
    ) -> Job:
        """Handle entry point; same validation and answers as POST /summarize (`priority` and
        `timeout_s` as its body's; `tenant`: whose request, apps/common/tenants.py)."""
        lengths = {"max_length": max_length, "min_length": min_length}
        return self.plan_call(text, tenant, **lengths, priority=priority, timeout_s=timeout_s)

    summarize = answering(_plan_summary)
    summarize_stream = streaming(_plan_summary)  # the events of POST /summarize with "stream": true

    @http_app.post(
        "/",
        summary="Summarize",
        response_model=SummarizeResponse,
        response_model_exclude_none=True,
        responses={**ERROR_RESPONSES, 200: STREAM_RESPONSE},
    )
    async def summarize_http(self, request: SummarizeRequest, caller: HttpCaller):
        job = self.service.plan(request, caller)  # a request that cannot be served: 4xx before any stream
        if request.stream:
            return ndjson_response(self.service.events(job), "summarization")
        return await self.service.run(job)

    async def _summarize_chunk(self, prompts: list[str], params: GenerationParams, *ticket) -> list[str]:
        """Internal handle entry point, for map-reduce on this deployment's own replicas: the
        summaries of chunks that fit the model's window (prompts with their task prefix), with
        their request's `Ticket.to_wire()`."""
        return await self.service.decode_part(prompts, params, ticket)


app = Summarizer.bind()
