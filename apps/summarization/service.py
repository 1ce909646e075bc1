"""The summarization app's work, without Ray: a request checked and planned (one piece per text);
each text longer than the model's window reduced by map-reduce, its chunks decoded on every
replica (apps/summarization/map_reduce.py); then every text summarized with the request's own
lengths, as one batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from apps.common.deadlines import Caller
from apps.common.documents import Document
from apps.common.errors import UserInputError
from apps.common.generation import GenerationParams, check_input_limits
from apps.common.job import Job
from apps.common.model_service import ModelService
from apps.common.streaming import progress_events
from apps.summarization.config import SummarizationSettings
from apps.summarization.map_reduce import MapReduce, Progress
from apps.summarization.schemas import SummarizeRequest, SummarizeResponse

Emit = Callable[[dict], None]


class SummarizationService(ModelService[SummarizationSettings]):
    app = "summarization"
    task = "summarize"
    settings_cls = SummarizationSettings
    request_cls = SummarizeRequest
    fan_out_as = ("_summarize_chunk", "summarizing", "texts longer than the model's window")

    def model_ids(self, settings: SummarizationSettings) -> list[str]:
        return [settings.model]

    def plan(self, request: SummarizeRequest, caller: Caller) -> Job:
        """The request checked against the limits (and a long text against this replica's room
        for map-reduce work: ServiceBusyError), with its decoding, class and deadline."""
        settings = self.settings
        max_length = request.max_length or settings.default_max_length
        if max_length > settings.max_length_limit:
            raise UserInputError(
                f"max_length {max_length} is above this service's limit of {settings.max_length_limit}"
            )
        if request.min_length is not None and request.min_length > max_length:
            raise UserInputError(f"min_length {request.min_length} is above max_length {max_length}")
        check_input_limits(request.inputs, settings)
        min_length = request.min_length if request.min_length is not None else settings.default_min_length
        params = GenerationParams(
            max_new_tokens=max_length,
            min_new_tokens=min(min_length, max_length),
            num_beams=settings.num_beams,
        )
        documents = [Document.whole(text.strip()) for text in request.inputs]
        many, ticket = request.texts is not None, caller.ticket(request, settings)
        model = self.models.card(settings.model)
        job = Job(model, many, model.family.task_prefix(self.task), documents, params, ticket)
        if not self.fan_out.admission.has_room():
            map_reduce = self._map_reduce(job)
            if not all(map_reduce.fits(text) for text in request.inputs):
                self.fan_out.admission.refuse()
        return job

    async def run(self, job: Job, emit: Emit | None = None) -> SummarizeResponse:
        """The summaries; `emit` gets a `progress` event as each chunk of a long text finishes."""
        texts = [document.sentences[0] for document in job.documents]
        map_reduce = self._map_reduce(job)
        # each chunk's summary may be as long as the request's; the final one gets its min_length
        chunk_params = GenerationParams(
            max_new_tokens=job.params.max_new_tokens, num_beams=job.params.num_beams
        )
        # texts that fit go to the model as they are; each longer one is reduced until it fits
        long_texts = [number for number, text in enumerate(texts) if not map_reduce.fits(text)]
        if long_texts:
            with self.fan_out.admission.slot():
                reduced = await asyncio.gather(
                    *(
                        map_reduce.reduce_to_window(texts[number], chunk_params, _progress(emit, number))
                        for number in long_texts
                    )
                )
            for number, text in zip(long_texts, reduced, strict=True):
                texts[number] = text
            job = replace(job, documents=[Document.whole(text) for text in texts])
        summaries = job.rejoin(await self.decode(job))
        if job.many:
            return SummarizeResponse(summaries=summaries, model=job.model.name)
        return SummarizeResponse(summary=summaries[0], model=job.model.name)

    async def events(self, job: Job) -> AsyncIterator[dict]:
        """`progress` events as the chunks of long texts finish, then `done` with the answer."""
        async for event in progress_events(lambda emit: self.run(job, emit)):
            yield event

    def _map_reduce(self, job: Job) -> MapReduce:
        """Map-reduce on the job's model; each chunk summarized as bulk work, by the job's deadline,
        on whichever replica of this deployment Serve picks (sent once more if that replica dies
        under it or does not answer within part_timeout_s)."""
        model, prefix, chunk_ticket = job.model, job.prefix, replace(job.ticket, priority="bulk")

        async def summarize_chunk(chunk: str, params: GenerationParams) -> str:
            [summary] = await self.fan_out.call(model.model_id, [prefix + chunk], params, chunk_ticket)
            return summary

        return MapReduce(
            lambda text: model.count_tokens(prefix + text), model.max_input_tokens, summarize_chunk
        )


def _progress(emit: Emit | None, number: int) -> Progress | None:
    """Text `number`'s map-reduce progress as events to `emit` (None: not reported)."""
    if emit is None:
        return None

    def progress(level: int, done: int, total: int) -> None:
        emit({"event": "progress", "text_index": number, "level": level, "done": done, "total": total})

    return progress
