"""The summarization app: POST /summarize, English text -> short English summary.

Deploy: `serve deploy serve_config.yaml` (app `summarization`, import path `apps.summarization.app:app`).
Handle: `serve.get_deployment_handle("Summarizer", app_name="summarization").summarize.remote(text)`;
`text` may be a list of strings, summarized together as one batch.
"""

from ray import serve

from apps.common.errors import UserInputError
from apps.common.generation import GenerationParams, Seq2SeqGenerator, generator_for
from apps.common.health import ModelHealth
from apps.common.http import ERROR_RESPONSES, create_app, validate
from apps.common.logs import quiet_user_errors
from apps.common.request_guard import apply_http_settings
from apps.common.schemas import text_fields
from apps.common.settings import parse_user_config
from apps.summarization.config import SummarizationSettings
from apps.summarization.schemas import SummarizeRequest, SummarizeResponse

http_app = create_app(
    "textserve summarization",
    "Summarize English text with a seq2seq model (t5-small by default).",
    example={"text": "A paragraph of English text to summarize ...", "max_length": 60},
)


@serve.deployment(
    num_replicas=2,
    max_ongoing_requests=32,
    max_queued_requests=64,
    backpressure_config={"status_code": 503, "retry_after_s": 2},
    ray_actor_options={"num_cpus": 0.2, "num_gpus": 0},
    user_config={},
)
@serve.ingress(http_app)
class Summarizer(ModelHealth):
    def __init__(self):
        quiet_user_errors()  # a caller's 4xx through a handle is not logged as our failure
        self.settings: SummarizationSettings | None = None
        self.generator: Seq2SeqGenerator | None = None

    def reconfigure(self, user_config: dict) -> None:
        settings = parse_user_config(SummarizationSettings, user_config, "summarization")
        self.generator = generator_for(settings.model, settings.backend, self.generator)
        self.generator.configure_batching(settings.max_batch_size, settings.batch_wait_timeout_s)
        apply_http_settings(self.app, settings)
        self.settings = settings

    def probe_prefix(self) -> str:
        return "summarize: " if self.generator.uses_t5_prefixes else ""

    async def summarize(
        self, text: str | list[str], max_length: int | None = None, min_length: int | None = None
    ) -> dict:
        """Handle entry point; same validation and answers as POST /summarize."""
        request = validate(
            SummarizeRequest, **text_fields(text), max_length=max_length, min_length=min_length
        )
        return (await self._summarize(request)).model_dump(exclude_none=True)

    @http_app.post(
        "/", response_model=SummarizeResponse, response_model_exclude_none=True, responses=ERROR_RESPONSES
    )
    async def summarize_http(self, request: SummarizeRequest) -> SummarizeResponse:
        return await self._summarize(request)

    async def _summarize(self, request: SummarizeRequest) -> SummarizeResponse:
        settings, generator = self.settings, self.generator
        max_length = request.max_length or settings.default_max_length
        if max_length > settings.max_length_limit:
            raise UserInputError(
                f"max_length {max_length} is above this service's limit of {settings.max_length_limit}"
            )
        if request.min_length is not None and request.min_length > max_length:
            raise UserInputError(f"min_length {request.min_length} is above max_length {max_length}")
        min_length = request.min_length if request.min_length is not None else settings.default_min_length
        min_length = min(min_length, max_length)
        texts = [text.strip() for text in request.inputs]
        prefix = "summarize: " if generator.uses_t5_prefixes else ""
        params = GenerationParams(
            max_new_tokens=max_length, min_new_tokens=min_length, num_beams=settings.num_beams
        )
        outputs = await generator.generate(texts, [prefix + text for text in texts], params, settings)
        if request.texts is None:
            return SummarizeResponse(summary=outputs[0], model=generator.name)
        return SummarizeResponse(summaries=outputs, model=generator.name)


app = Summarizer.bind()
