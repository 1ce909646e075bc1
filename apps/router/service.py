"""The router's work, without Serve's glue: the leaf apps it composes (through their handles), each
task's calls with the client's deadline passed on, the health of every leaf, and the merged API
document. Anonymous answers (health, the apps' prefixes, the document) are shared
(apps/router/shared_answer.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from apps.router.api_document import AppDocument, AppsView, merge_documents, route_prefixes, serve_apps
from apps.router.config import RouterSettings
from apps.router.hf_schemas import (
    HFSummarizationRequest,
    HFSummary,
    HFTranslation,
    HFTranslationRequest,
    answered_texts,
)
from apps.router.leaf_client import LeafClient, LeafDeadline, LeafUnavailableError
from apps.router.schemas import RouteRequest, RouteResponse
from apps.router.shared_answer import SharedAnswer

API_DESCRIPTION = (
    "Every route of every textserve app behind this port, at its real path: translation "
    "(`/translate`), summarization (`/summarize`) and the router (`/`, `/healthz`, and the Hugging "
    "Face Inference API's tasks under `/hf/`). Each app's own document is at its prefix "
    "(`/translate/openapi.json`, `/summarize/openapi.json`). "
    "[Try them in the playground](/playground)."
)


class RouterService:
    """`own_document()`: the router app's name and its own OpenAPI document (known once it serves)."""

    def __init__(self, settings: RouterSettings, own_document: Callable[[], tuple[str, dict]]):
        self.settings, self._own_document = settings, own_document
        self.translation = LeafClient(settings.translation, settings.unavailable_retry_after_s)
        self.summarization = LeafClient(settings.summarization, settings.unavailable_retry_after_s)
        self._share_answers()

    def configure(self, settings: RouterSettings) -> None:
        """Apply new settings: a leaf app named anew gets a new client; shared answers start over."""
        if settings.translation != self.settings.translation:
            self.translation = LeafClient(settings.translation, settings.unavailable_retry_after_s)
        if settings.summarization != self.settings.summarization:
            self.summarization = LeafClient(settings.summarization, settings.unavailable_retry_after_s)
        for client in (self.translation, self.summarization):  # kept clients get the new value too
            client.retry_after_s = settings.unavailable_retry_after_s
        self.settings = settings
        self._share_answers()

    def _share_answers(self) -> None:
        """The anonymous routes' answers, each made by one call at a time: the health check (a
        healthy one reused for health_cache_s) and the merged API document (made again when the
        apps' prefixes or deploy times change)."""
        self._health = SharedAnswer(
            lambda _: self._check_leaves(), self.settings.health_cache_s, keep=lambda answer: answer[0] == 200
        )
        self._document = SharedAnswer(self._merge_documents, float("inf"), keep=lambda answer: not answer[1])

    def deadline(self, timeout_s: float | None) -> LeafDeadline:
        return LeafDeadline(timeout_s, self.settings.leaf_timeout_s)

    async def open_stream(
        self, request: RouteRequest, deadline: LeafDeadline
    ) -> tuple[str, AsyncIterator[dict]]:
        """The leaf app's name and its own events for a streamed task, as they come (its refusal
        raises first)."""
        text = request.text if request.texts is None else request.texts
        options = _leaf_options(request.priority, deadline)
        if request.task == "summarize":
            leaf, args = (
                self.summarization,
                ("summarize_stream", text, request.max_length, request.min_length),
            )
        else:
            leaf, args = (
                self.translation,
                ("translate_stream", text, request.target_lang, request.source_lang),
            )
        first, rest = await leaf.open_stream(*args, **options)
        return leaf.ref.app, _prepend(first, rest)

    async def route(self, request: RouteRequest, deadline: LeafDeadline) -> RouteResponse:
        """The task's leaf calls in turn; a `texts` list travels to each leaf app as one list (one
        batch there); the leaf app gives the class (a request may ask for bulk)."""
        text: str | list[str] = request.text if request.texts is None else request.texts
        response = RouteResponse(task=request.task, models={})
        if request.task in ("summarize", "summarize_then_translate"):
            summary = await self.summarize(
                text, request.max_length, request.min_length, request.priority, deadline
            )
            text = summary.get("summary", summary.get("summaries"))
            response.summary, response.summaries = summary.get("summary"), summary.get("summaries")
            response.models[self.settings.summarization.app] = summary["model"]
        if request.task in ("translate", "summarize_then_translate"):
            # a summary is in the summarizer's language, English
            source_lang = "en" if request.task == "summarize_then_translate" else request.source_lang
            translation = await self.translate(
                text, request.target_lang, request.priority, deadline, source_lang
            )
            response.translation = translation.get("translation")
            response.translations = translation.get("translations")
            response.source_lang, response.target_lang = (
                translation["source_lang"],
                translation["target_lang"],
            )
            response.via = translation.get("via")
            response.models[self.settings.translation.app] = translation["model"]
        return response

    async def translate(
        self, text, target_lang, priority, deadline: LeafDeadline, source_lang=None, text_format="text"
    ) -> dict:
        options = _leaf_options(priority, deadline)
        if text_format != "text":
            options["format"] = text_format
        return await self.translation.call("translate", text, target_lang, source_lang, **options)

    async def translate_file(
        self, content: bytes, filename: str, target_lang, source_lang, deadline: LeafDeadline
    ) -> dict:
        """The translation app's translation of a file (its `translate_file`: content, name, type)."""
        options = _leaf_options(None, deadline)
        return await self.translation.call(
            "translate_file", content, filename, target_lang, source_lang, **options
        )

    async def detect(self, text: str | list[str], deadline: LeafDeadline) -> dict:
        """The translation app's detection of `text`'s language (each text's, for a list)."""
        return await self.translation.call("detect", text, **_leaf_options(None, deadline))

    async def languages(self, deadline: LeafDeadline) -> dict:
        """The translation app's languages, defaults and limits (GET /translate/languages)."""
        return await self.translation.call("languages", **_leaf_options(None, deadline))

    async def summarize(self, text, max_length, min_length, priority, deadline: LeafDeadline) -> dict:
        options = _leaf_options(priority, deadline)
        return await self.summarization.call("summarize", text, max_length, min_length, **options)

    async def hf_translation(
        self, request: HFTranslationRequest, deadline: LeafDeadline
    ) -> list[HFTranslation]:
        parameters = request.parameters
        answer = await self.translate(
            request.inputs, parameters.tgt_lang, None, deadline, parameters.src_lang
        )
        return [
            HFTranslation(translation_text=text)
            for text in answered_texts(answer, "translation", "translations")
        ]

    async def hf_summarization(
        self, request: HFSummarizationRequest, deadline: LeafDeadline
    ) -> list[HFSummary]:
        generate = request.parameters.generate_parameters
        max_length, min_length = (generate.max_length, generate.min_length) if generate else (None, None)
        answer = await self.summarize(request.inputs, max_length, min_length, None, deadline)
        return [HFSummary(summary_text=text) for text in answered_texts(answer, "summary", "summaries")]

    async def health(self) -> tuple[int, dict]:
        """/healthz's status and body, at most health_cache_s old when healthy."""
        return await self._health.get()

    async def _check_leaves(self) -> tuple[int, dict]:
        """/healthz's status and body, from a probe of every leaf app."""
        timeout_s = min(self.settings.health_timeout_s, self.settings.leaf_timeout_s)
        clients = (self.translation, self.summarization)
        answers = await asyncio.gather(
            *(client.probe(wait_s=timeout_s) for client in clients), return_exceptions=True
        )
        apps, down = {}, []
        for client, answer in zip(clients, answers, strict=True):
            if isinstance(answer, LeafUnavailableError) and answer.reason == "overloaded":
                # Busy is not down: failing a readiness probe under load would take the router
                # out of service and push its load onto the rest.
                apps[client.ref.app] = {"status": "overloaded", "error": str(answer)}
            elif isinstance(answer, LeafUnavailableError):
                apps[client.ref.app] = {"status": "down", "error": str(answer)}
                down.append(client.ref.app)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                apps[client.ref.app] = answer
        if down:
            return 503, {"status": "down", "error": f"not serving: {', '.join(down)}", "apps": apps}
        return 200, {"status": "ok", "apps": apps}

    async def prefixes(self) -> dict[str, str]:
        """Each deployed app's route prefix, as Serve's controller held them at most
        apps_refresh_s ago."""
        return route_prefixes(await self._apps())

    async def api_document(self) -> dict:
        """The merged document of every app: made again when an app is deployed or goes away
        (seen within apps_refresh_s); callers in between share it."""
        merged, _ = await self._document.get(await self._apps())
        return merged

    async def _apps(self) -> AppsView:
        return await serve_apps(self.settings.apps_refresh_s, self.settings.controller_timeout_s)

    async def _merge_documents(self, view: AppsView) -> tuple[dict, dict]:
        """The merged document for the apps in `view`, and the apps it lacks (with why)."""
        own_app, own_document = self._own_document()
        timeout_s = min(self.settings.health_timeout_s, self.settings.leaf_timeout_s)
        clients = (self.translation, self.summarization)
        documents = await asyncio.gather(
            *(client.ask("api_document", wait_s=timeout_s) for client in clients), return_exceptions=True
        )
        prefixes = route_prefixes(view)
        parts, missing = [AppDocument(own_app, prefixes.get(own_app, "/"), own_document)], {}
        for client, document in zip(clients, documents, strict=True):
            name = client.ref.app
            if isinstance(document, BaseException):
                missing[name] = str(document)
            elif name not in prefixes:
                missing[name] = "no route prefix: not deployed"
            else:
                parts.append(AppDocument(name, prefixes[name], document))
        version = own_document.get("info", {}).get("version", "")
        merged = merge_documents(
            parts, title="textserve", description=API_DESCRIPTION, version=version, missing=missing
        )
        return merged, missing


def _leaf_options(priority: str | None, deadline: LeafDeadline) -> dict:
    """A leaf call's keyword arguments: the request's priority and what is left of its deadline
    (the leaf's `timeout_s`), and how long the router waits for the answer (`wait_s`)."""
    leaf_timeout_s, wait_s = deadline.next_call()
    return {"priority": priority, "timeout_s": leaf_timeout_s, "wait_s": wait_s}


async def _prepend(first: dict, rest: AsyncIterator[dict]) -> AsyncIterator[dict]:
    yield first
    async for event in rest:
        yield event
