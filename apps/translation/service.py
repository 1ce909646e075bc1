"""The translation app's work, without Ray: a request planned into its texts' sentences (cut to fit
the model's window), decoded as one batch or, past `part_sentences`, in parts over every replica,
and put back together, whole or as a stream of sentences."""

from __future__ import annotations

from collections.abc import AsyncIterator

from apps.common.deadlines import Caller
from apps.common.documents import fit_window, split_sentences
from apps.common.errors import UserInputError
from apps.common.generation import GenerationParams, check_input_limits
from apps.common.job import Job
from apps.common.model_service import ModelService
from apps.translation.config import TranslationSettings
from apps.translation.schemas import Language, LanguagesResponse, TranslateRequest, TranslateResponse


class TranslationService(ModelService[TranslationSettings]):
    app = "translation"
    settings_cls = TranslationSettings
    request_cls = TranslateRequest
    fan_out_as = ("_translate_part", "translating", "long texts in parts")

    def task_prefix(self, lang: str | None = None) -> str:
        """T5 picks its task from the prompt: "translate English to French: ..."."""
        name = self.settings.languages[lang or self.settings.default_target_lang]
        return f"translate English to {name}: " if self.model.uses_t5_prefixes else ""

    def languages(self) -> LanguagesResponse:
        """The target languages (the settings' `languages`): what `target_lang` accepts."""
        return LanguagesResponse(
            languages=[
                Language(code=code, name=name) for code, name in sorted(self.settings.languages.items())
            ],
            default=self.settings.default_target_lang,
            model=self.model.name,
        )

    def plan(self, request: TranslateRequest, caller: Caller) -> Job:
        """The request checked against the limits (UserInputError, InputTooLargeError), every text
        cut into sentences that fit the window, with its class and deadline."""
        settings, model = self.settings, self.model
        lang = request.target_lang or settings.default_target_lang
        if lang not in settings.languages:
            raise UserInputError(
                f"target_lang '{lang}' is not supported; use one of {sorted(settings.languages)} "
                "(GET /translate/languages lists them)"
            )
        check_input_limits(request.inputs, settings)
        prefix, window = self.task_prefix(lang), model.max_input_tokens
        documents = [
            fit_window(split_sentences(text), lambda piece: model.count_tokens(prefix + piece), window)
            for text in request.inputs
        ]
        params = GenerationParams(
            max_new_tokens=settings.max_new_tokens,
            min_new_tokens=settings.min_new_tokens,
            num_beams=settings.num_beams,
        )
        many = request.texts is not None
        return Job(model, many, prefix, documents, params, caller.ticket(request, settings), lang)

    async def run(self, job: Job) -> TranslateResponse:
        if self._fans_out(job):
            outputs = [output async for part in self._parts(job) for output in part]
        else:
            outputs = await job.model.generate(job.prompts, job.params, ticket=job.ticket)
        return self._response(job, outputs)

    async def events(self, job: Job) -> AsyncIterator[dict]:
        """A `sentence` event per sentence, in order, as its batch finishes; then `done` with the
        whole answer (the same as without streaming)."""
        outputs: list[str] = []
        prompts = job.prompts
        if self._fans_out(job):
            runs = self._parts(job)
        else:
            runs = job.model.generate_stream(prompts, job.params, job.ticket)
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
        done = self._response(job, outputs).model_dump(exclude_none=True)
        yield {"event": "done", "sentences": len(outputs), **done}

    def _fans_out(self, job: Job) -> bool:
        return self.fan_out.fans_out(job, self.settings.part_sentences)

    def _parts(self, job: Job) -> AsyncIterator[list[str]]:
        return self.fan_out.parts_in_order(job, self.settings.part_sentences, self.settings.max_batch_size)

    @staticmethod
    def _response(job: Job, outputs: list[str]) -> TranslateResponse:
        translations, model = job.rejoin(outputs), job.model.name
        if job.many:
            return TranslateResponse(translations=translations, target_lang=job.target_lang, model=model)
        return TranslateResponse(translation=translations[0], target_lang=job.target_lang, model=model)
