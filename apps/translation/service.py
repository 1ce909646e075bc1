"""The translation app's work, without Ray: a request routed by the catalog to its model (or two,
through a pivot language), planned into its texts' sentences (cut to fit the model's window),
decoded as one batch or, past `part_sentences`, in parts over every replica, and put back
together, whole or as a stream of sentences."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

from apps.common.deadlines import Caller
from apps.common.documents import fit_window, portions, split_sentences
from apps.common.errors import UserInputError
from apps.common.generation import GenerationParams, check_input_limits
from apps.common.job import Job, Leg
from apps.common.model_service import ModelService
from apps.common.scheduling import Ticket
from apps.translation.catalog import Catalog, Hop, Route
from apps.translation.config import TranslationSettings
from apps.translation.detection import LanguageDetector, detectable
from apps.translation.files import SUFFIXES, ReadFile, read_file
from apps.translation.markup import parse_markup
from apps.translation.markup.segments import MarkedUpDocument
from apps.translation.markup_job import DocumentsAsk, MarkupJob
from apps.translation.schemas import (
    AUTO,
    DetectedLanguage,
    DetectRequest,
    DetectResponse,
    FileRequest,
    LanguagesResponse,
    TranslateRequest,
    TranslateResponse,
)


class TranslationService(ModelService[TranslationSettings]):
    app = "translation"
    task = "translate"
    settings_cls = TranslationSettings
    request_cls = TranslateRequest
    fan_out_as = ("_translate_part", "translating", "long texts in parts")

    def __init__(self, settings: TranslationSettings):
        self.catalog = Catalog(settings)
        self.detector = LanguageDetector(detectable(self.catalog.sources()))
        super().__init__(settings)
        self._check_languages(settings)

    def configure(self, settings: TranslationSettings) -> bool:
        catalog = Catalog(settings)
        unload = super().configure(settings)
        self._check_languages(settings)
        self.catalog = catalog
        if detectable(catalog.sources()) != self.detector.languages:
            self.detector = LanguageDetector(detectable(catalog.sources()))
        return unload

    def _check_languages(self, settings: TranslationSettings) -> None:
        """A model with language tokens that lacks one for a language its entry lists is
        unavailable (its pairs answered 503, naming the languages)."""
        for entry in settings.models:
            card = self.models.cards.get(entry.model)
            missing = card.family.missing_languages(entry.served_pairs()) if card else set()
            if missing:
                self.models.mark_unavailable(
                    entry.model,
                    f"it ({card.family.name}) has no language token for {', '.join(sorted(missing))}: "
                    "remove them from its entry in `models`",
                )

    def detect(self, request: DetectRequest) -> DetectResponse:
        """The language of each text, among the catalog's source languages."""
        detections = [self._detection(text) for text in request.inputs]
        if request.texts is not None:
            return DetectResponse(detections=detections)
        return DetectResponse(detection=detections[0])

    def _detection(self, text: str) -> DetectedLanguage:
        """`text`'s language among the catalog's sources (the default one, confidence 0, when
        nothing in it tells or there is only one)."""
        found = self.detector.detect(text) if len(self.detector.languages) > 1 else None
        if found is None:
            only = len(self.catalog.sources()) == 1
            return DetectedLanguage(
                language=self.settings.default_source_lang, confidence=1.0 if only else 0.0
            )
        return DetectedLanguage(language=found.language, confidence=found.confidence)

    def model_ids(self, settings: TranslationSettings) -> list[str]:
        return [entry.model for entry in settings.models]

    def languages(self) -> LanguagesResponse:
        """Every source language with its targets (pivoted pairs included): what `source_lang`
        and `target_lang` accept."""
        settings = self.settings
        return LanguagesResponse(
            languages=self.catalog.languages(),
            default_source_lang=settings.default_source_lang,
            default_target_lang=settings.default_target_lang,
            pivot_lang=settings.pivot_lang,
            models=[card.name for card in self.models.cards.values()],
            max_input_chars=settings.max_input_chars,
            file_types=SUFFIXES,
        )

    def plan(self, request: TranslateRequest, caller: Caller) -> Job | MarkupJob:
        """The request routed by the catalog (UserInputError naming the served pairs for a pair
        nothing serves) and checked against the limits (InputTooLargeError), every text (of a
        marked-up document: every segment's text) cut into sentences that fit the first model's
        window, with its class and deadline."""
        check_input_limits(request.inputs, self.settings)
        if request.format != "text":
            if request.stream:
                raise UserInputError('stream is for plain text: send format "text", or stream false')
            documents = [parse_markup(request.format, text) for text in request.inputs]
            return self._plan_documents(documents, request, caller, request.texts is not None)
        source_lang, detected = self._source_lang(request.source_lang, request.inputs)
        route = self.catalog.route(source_lang, request.target_lang)
        ticket = caller.ticket(request, self.settings)
        return self._job(request.inputs, request.texts is not None, route, ticket, detected)

    def plan_file(self, filename: str, content: bytes, request: FileRequest, caller: Caller) -> MarkupJob:
        """A file (`content`, named `filename`) as plan()'s job of its document, refused as
        apps/translation/files.py says (415, 413, 422) or for more text than `files.max_chars`."""
        read = read_file(filename, content, self.settings.files)
        return self._plan_documents([read.document], request, caller, False, read)

    def _plan_documents(
        self,
        documents: list[MarkedUpDocument],
        request: TranslateRequest | FileRequest,
        caller: Caller,
        many: bool,
        file: ReadFile | None = None,
    ) -> MarkupJob:
        per_document = [document.texts() for document in documents]
        texts = [text for mine in per_document for text in mine]
        source_lang, detected = self._source_lang(request.source_lang, texts)
        route = self.catalog.route(source_lang, request.target_lang)
        ticket = caller.ticket(DocumentsAsk(texts, request.priority, request.timeout_s), self.settings)
        counts = [len(mine) for mine in per_document]
        job = self._job(texts, True, route, ticket, detected)
        return MarkupJob(job, documents, counts, many, route, file)

    def _source_lang(self, source_lang: str | None, texts: list[str]) -> tuple[str | None, dict | None]:
        """The source language asked for, or detected (AUTO) in `texts` together (one language
        per request), with what was detected."""
        if source_lang != AUTO:
            return source_lang, None
        detected = self._detection("\n".join(texts))
        return detected.language, detected.model_dump()

    def _job(self, texts: list[str], many: bool, route: Route, ticket: Ticket, detected: dict | None) -> Job:
        """`texts` translated along `route`: each cut into sentences that fit its first model."""
        first, *rest = [self._leg(hop) for hop in route.legs]
        model, prefix, hop = first.model, first.prefix, route.legs[0]
        documents = [
            fit_window(
                split_sentences(text, hop.source_lang),
                lambda piece: model.count_tokens(prefix + piece),
                model.max_input_tokens,
            )
            for text in texts
        ]
        return Job(
            model,
            many,
            prefix,
            documents,
            first.params,
            ticket,
            target_lang=route.legs[-1].target_lang,
            source_lang=hop.source_lang,
            next=rest[0] if rest else None,
            detected=detected,
        )

    def _leg(self, hop: Hop) -> Leg:
        """A route's leg as the model, prompt prefix and decoding that run it."""
        settings, model = self.settings, self.models.card(hop.model)
        params = GenerationParams(
            max_new_tokens=settings.max_new_tokens,
            min_new_tokens=settings.min_new_tokens,
            num_beams=settings.num_beams,
            source_lang=hop.source_lang,
            target_lang=hop.target_lang,
        )
        return Leg(model, model.family.task_prefix("translate", hop.source_lang, hop.target_lang), params)

    async def run(self, job: Job | MarkupJob) -> TranslateResponse:
        if isinstance(job, MarkupJob):
            return await self._run_markup(job)
        job, translations = await self._translated(job)
        return self._response(job, translations, job.many)

    async def _translated(self, job: Job) -> tuple[Job, list[str]]:
        """Each text's translation (through every leg), and the last leg's job."""
        if not job.documents:
            return job, []
        outputs = await self._decode(job)
        while job.next is not None:
            job = job.continued(outputs)
            outputs = await self._decode(job)
        return job, job.rejoin(outputs)

    async def _run_markup(self, markup: MarkupJob) -> TranslateResponse:
        job, rendered = await self._rendered(markup)
        return self._response(job, rendered, markup.many)

    async def run_file(self, markup: MarkupJob) -> tuple[bytes, TranslateResponse]:
        """A file's translation (plan_file's job), in its type, written on a thread (a large
        .docx takes python-docx a while), and the answer's fields."""
        job, rendered = await self._rendered(markup, threaded=True)
        return markup.file.write(rendered[0]), self._response(job, [""], False)

    async def _rendered(self, markup: MarkupJob, threaded: bool = False) -> tuple[Job, list[str | bytes]]:
        """The documents' segments translated (whole, or where an inline element's words are not
        found, each text run apart: a second batch), and the documents written back."""
        job, translations = await self._translated(markup.job)
        documents = markup.documents
        needed = [
            document.fallback_texts(mine)
            for document, mine in zip(documents, portions(translations, markup.counts), strict=True)
        ]
        fallback: list[str] = []
        if any(needed):
            texts = [text for more in needed for text in more]
            _, fallback = await self._translated(
                self._job(texts, True, markup.route, markup.job.ticket, markup.job.detected)
            )
        per_document = portions(fallback, [len(more) for more in needed])

        def render() -> list[str | bytes]:
            return [document.render(mine) for document, mine in zip(documents, per_document, strict=True)]

        return job, await asyncio.to_thread(render) if threaded else render()

    async def _decode(self, job: Job) -> list[str]:
        if self._fans_out(job):
            return [output async for part in self._parts(job) for output in part]
        return await self.decode(job)

    async def events(self, job: Job) -> AsyncIterator[dict]:
        """A `sentence` event per sentence, in order, as its batch finishes (of a pivoted
        translation, its second leg's); then `done` with the whole answer (the same as without
        streaming)."""
        if isinstance(job, MarkupJob):  # a handle's stream of a marked-up document
            raise UserInputError('a stream is for plain text: send format "text"')
        while job.next is not None:
            job = job.continued(await self._decode(job))
        outputs: list[str] = []
        prompts = job.prompts
        model = self.models.held(job.model.model_id)
        if self._fans_out(job):
            runs = self._parts(job)
        elif model is not None:
            runs = model.generate_stream(prompts, job.params, job.ticket)
        else:  # on the replica holding the model, in one piece
            runs = _one_run(self.decode(job))
        async for run in runs:
            for output in run:
                text_index, sentence, separator = job.piece_at(len(outputs))
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
        done = self._response(job, job.rejoin(outputs), job.many).model_dump(exclude_none=True)
        yield {"event": "done", "sentences": len(outputs), **done}

    def _fans_out(self, job: Job) -> bool:
        return self.fan_out.fans_out(job, self.settings.part_sentences)

    def _parts(self, job: Job) -> AsyncIterator[list[str]]:
        model, settings = self.models.held(job.model.model_id), self.settings
        return self.fan_out.parts_in_order(job, model, settings.part_sentences, settings.max_batch_size)

    @staticmethod
    def _response(job: Job, translations: list[str], many: bool) -> TranslateResponse:
        fields = {
            "source_lang": job.source_lang,
            "target_lang": job.target_lang,
            "via": job.via,
            "detected_language": job.detected,
            "model": job.model_names,
        }
        if many:
            return TranslateResponse(translations=translations, **fields)
        return TranslateResponse(translation=translations[0], **fields)


async def _one_run(outputs: Awaitable[list[str]]) -> AsyncIterator[list[str]]:
    yield await outputs
