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

from typing import Unpack

from ray import serve

from apps.common.deadlines import HttpCaller
from apps.common.deployment_options import deployment_options
from apps.common.http import create_app
from apps.common.job import Job
from apps.common.model_deployment import CallOptions, ModelDeployment, answering, streaming
from apps.common.streaming import streamed_answers
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
    _summarize_chunk = ModelDeployment.decode_part  # fan-out parts: the handle entry point FanOut calls

    @http_app.post("/", summary="Summarize", **streamed_answers(SummarizeResponse))
    async def summarize_http(self, request: SummarizeRequest, caller: HttpCaller):
        return await self.respond(request, caller)

    def _plan_summary(
        self,
        text: str | list[str],
        max_length: int | None = None,
        min_length: int | None = None,
        **options: Unpack[CallOptions],
    ) -> Job:
        """Handle entry point; same validation and answers as POST /summarize, `options` as the
        body's (and the tenant)."""
        return self.plan_call(text, max_length=max_length, min_length=min_length, **options)

    summarize = answering(_plan_summary)
    summarize_stream = streaming(_plan_summary)  # the events of POST /summarize with "stream": true


app = Summarizer.bind()
