"""The router app at `/`: one entry point that composes the translation and summarization apps.

POST / {"text": ..., "task": "translate" | "summarize" | "summarize_then_translate"}, or "texts":
[...] for many texts at once (sent on to the leaf apps as one list, one batch). The seed guide's
client (POST {"text": "Hello world!"} to http://127.0.0.1:8000/) gets a translation.
It holds no model: it reaches the leaf apps through DeploymentHandles (apps/router/leaf_client.py),
so each leaf app can be redeployed on its own.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the routes' body types
# (with it, a body model was read as a query parameter). Functions a route calls are defined
# above the @serve.ingress class, which pickles the routes where it stands.

import asyncio
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from ray import serve

from apps.common.http import ERROR_RESPONSES, RequestTimeoutHeader, create_app
from apps.common.pages import AssetFiles, secure_page
from apps.common.request_guard import apply_http_settings
from apps.common.scheduling import Ticket, header_timeout_s, sooner
from apps.common.settings import parse_user_config
from apps.common.streaming import STREAM_RESPONSE, ndjson_response
from apps.router.api_document import AppDocument, AppsView, merge_documents, route_prefixes, serve_apps
from apps.router.config import RouterSettings
from apps.router.hf_schemas import (
    HFSummarizationRequest,
    HFSummary,
    HFTranslation,
    HFTranslationRequest,
    answered_texts,
)
from apps.router.leaf_client import LeafClient, LeafUnavailableError
from apps.router.playground import PLAYGROUND_DIR, render_page
from apps.router.schemas import RouteRequest, RouteResponse
from apps.router.shared_answer import SharedAnswer

# /openapi.json is the merged document of every app (api_document), shared until an app changes
http_app = create_app(
    "textserve router",
    "Translate, summarize, or summarize then translate, by composing the leaf apps.",
    examples={
        "/": {"text": "Hello world!", "task": "translate", "target_lang": "fr"},
        "/hf/translation": {"inputs": "Hello world!", "parameters": {"src_lang": "en", "tgt_lang": "de"}},
        "/hf/summarization": {"inputs": "A paragraph of English text ...", "parameters": {}},
    },
    openapi_url=None,
)
http_app.mount("/static/playground", AssetFiles(directory=PLAYGROUND_DIR), name="playground")
FRONT_DOOR = (
    "Every route of every textserve app behind this port, at its real path: translation "
    "(`/translate`), summarization (`/summarize`) and the router (`/`, `/healthz`, and the Hugging "
    "Face Inference API's tasks under `/hf/`). Each app's own document is at its prefix "
    "(`/translate/openapi.json`, `/summarize/openapi.json`). "
    "[Try them in the playground](/playground)."
)
LEAF_ERRORS = {**ERROR_RESPONSES, 503: {"description": "A leaf app is missing or failing"}}
ANSWER_GRACE_S = 1.0  # how much longer than the deadline it passed on the router waits for a leaf's answer


class LeafDeadline:
    """A client's deadline (`timeout_s`, X-Request-Timeout-Seconds: the sooner) across the router's
    leaf calls: each call passes what is left of it on, and waits for the leaf's own answer (a 504
    when its work could not be decoded in time) a little longer, at most `leaf_timeout_s`. The
    leaf never gets more than `leaf_timeout_s`, also when the request has no deadline of its own:
    it drops what it could not decode by the time the router stops waiting for it."""

    def __init__(self, timeout_s: float | None, leaf_timeout_s: float):
        self.ticket, self.leaf_timeout_s = Ticket.start("interactive", timeout_s), leaf_timeout_s

    def next_call(self) -> tuple[float, float]:
        """(the leaf's timeout_s, how long to wait for it); DeadlineExceededError once it passed."""
        remaining = self.ticket.remaining_s()
        if remaining is None:
            return self.leaf_timeout_s, self.leaf_timeout_s
        if remaining <= 0:
            raise self.ticket.expired_error()
        return min(remaining, self.leaf_timeout_s), min(self.leaf_timeout_s, remaining + ANSWER_GRACE_S)


# (defined before the deployment: @serve.ingress pickles the routes where the class is defined)
async def _prepend(first: dict, rest: AsyncIterator[dict]) -> AsyncIterator[dict]:
    yield first
    async for event in rest:
        yield event


@serve.deployment(
    num_replicas=2,
    graceful_shutdown_timeout_s=35,
    max_ongoing_requests=64,
    max_queued_requests=128,
    backpressure_config={"status_code": 503, "retry_after_s": 1},
    ray_actor_options={"num_cpus": 0.1, "num_gpus": 0},
    user_config={},
)
@serve.ingress(http_app)
class Router:
    def __init__(self):
        self.settings = RouterSettings()
        self.translation = LeafClient(self.settings.translation, self.settings.unavailable_retry_after_s)
        self.summarization = LeafClient(self.settings.summarization, self.settings.unavailable_retry_after_s)
        self._share_answers()

    def _share_answers(self) -> None:
        """The anonymous routes' answers, each made by one call at a time (shared_answer.py): the
        health check (a healthy one reused for health_cache_s), the apps' prefixes and deploy times
        (apps_refresh_s), and the merged API document (made again when those change)."""
        settings = self.settings
        self._health = SharedAnswer(
            lambda _: self._check_leaves(), settings.health_cache_s, keep=lambda answer: answer[0] == 200
        )
        self._apps = SharedAnswer(
            lambda _: serve_apps(settings.controller_timeout_s), settings.apps_refresh_s
        )
        self._document = SharedAnswer(self._merge_documents, float("inf"), keep=lambda answer: not answer[1])

    def reconfigure(self, user_config: dict) -> None:
        settings = parse_user_config(RouterSettings, user_config, "router")
        if settings.translation != self.settings.translation:
            self.translation = LeafClient(settings.translation, settings.unavailable_retry_after_s)
        if settings.summarization != self.settings.summarization:
            self.summarization = LeafClient(settings.summarization, settings.unavailable_retry_after_s)
        for client in (self.translation, self.summarization):  # kept clients get the new value too
            client.retry_after_s = settings.unavailable_retry_after_s
        apply_http_settings(self.app, settings)
        self.settings = settings
        self._share_answers()

    @http_app.get(
        "/healthz",
        summary="Health of every app",
        responses={503: {"description": "A leaf app is down; `error` names it, `apps` says why"}},
    )
    async def healthz(self) -> JSONResponse:
        """200 when every leaf app can generate (each runs a one-token decode; both are asked at
        once), else 503 naming the apps that cannot: what a load balancer or Kubernetes probe
        should ask. A leaf busy with a long batch answers after it, within health_timeout_s; a leaf
        whose queue is full is reported "overloaded" without failing the check. A healthy answer
        is at most health_cache_s old; callers that come while a check runs share it."""
        status, body = await self._health.get()
        headers = {"Retry-After": "5"} if status != 200 else None
        return JSONResponse(status_code=status, content=body, headers=headers)

    async def _check_leaves(self) -> tuple[int, dict]:
        """/healthz's status and body, from a probe of every leaf app."""
        timeout_s = min(self.settings.health_timeout_s, self.settings.leaf_timeout_s)
        clients = (self.translation, self.summarization)
        answers = await asyncio.gather(
            *(client.probe(timeout_s=timeout_s) for client in clients), return_exceptions=True
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

    @http_app.post(
        "/",
        summary="Translate, summarize, or summarize then translate",
        response_model=RouteResponse,
        response_model_exclude_none=True,
        responses={**LEAF_ERRORS, 200: STREAM_RESPONSE},
    )
    async def route(self, request: RouteRequest, timeout_header: RequestTimeoutHeader = None):
        deadline = LeafDeadline(
            sooner(request.timeout_s, header_timeout_s(timeout_header)), self.settings.leaf_timeout_s
        )
        priority = request.priority  # the leaf app gives the class; a request may ask for bulk
        # A `texts` list travels to each leaf app as one list: one batch there, not N requests.
        text: str | list[str] = request.text if request.texts is None else request.texts
        if request.stream:  # the leaf app's own events, passed on as they come
            leaf_timeout_s, wait_s = deadline.next_call()
            if request.task == "summarize":
                leaf, method = self.summarization, "summarize_stream"
                args = (text, request.max_length, request.min_length, priority, leaf_timeout_s)
            else:
                leaf, method = self.translation, "translate_stream"
                args = (text, request.target_lang, priority, leaf_timeout_s)
            first, rest = await leaf.open_stream(method, *args, timeout_s=wait_s)
            return ndjson_response(_prepend(first, rest), f"{leaf.ref.app} stream")
        response = RouteResponse(task=request.task, models={})
        if request.task in ("summarize", "summarize_then_translate"):
            leaf_timeout_s, wait_s = deadline.next_call()
            summary = await self.summarization.call(
                "summarize",
                text,
                request.max_length,
                request.min_length,
                priority,
                leaf_timeout_s,
                timeout_s=wait_s,
            )
            text = summary.get("summary", summary.get("summaries"))
            response.summary, response.summaries = summary.get("summary"), summary.get("summaries")
            response.models[self.settings.summarization.app] = summary["model"]
        if request.task in ("translate", "summarize_then_translate"):
            leaf_timeout_s, wait_s = deadline.next_call()
            translation = await self.translation.call(
                "translate", text, request.target_lang, priority, leaf_timeout_s, timeout_s=wait_s
            )
            response.translation = translation.get("translation")
            response.translations = translation.get("translations")
            response.target_lang = translation["target_lang"]
            response.models[self.settings.translation.app] = translation["model"]
        return response

    @http_app.post(
        "/hf/translation",
        summary="Translate (Hugging Face Inference API)",
        response_model=list[HFTranslation],
        responses=LEAF_ERRORS,
    )
    async def hf_translation(
        self, request: HFTranslationRequest, timeout_header: RequestTimeoutHeader = None
    ) -> list[HFTranslation]:
        """The Hugging Face Inference API's translation task: `InferenceClient(model=<this URL>)
        .translation(text, src_lang="en", tgt_lang="de")`. One answer per input, in order."""
        leaf_timeout_s, wait_s = LeafDeadline(
            header_timeout_s(timeout_header), self.settings.leaf_timeout_s
        ).next_call()
        answer = await self.translation.call(
            "translate", request.inputs, request.parameters.tgt_lang, None, leaf_timeout_s, timeout_s=wait_s
        )
        texts = answered_texts(answer, "translation", "translations")
        return [HFTranslation(translation_text=text) for text in texts]

    @http_app.post(
        "/hf/summarization",
        summary="Summarize (Hugging Face Inference API)",
        response_model=list[HFSummary],
        responses=LEAF_ERRORS,
    )
    async def hf_summarization(
        self, request: HFSummarizationRequest, timeout_header: RequestTimeoutHeader = None
    ) -> list[HFSummary]:
        """The Hugging Face Inference API's summarization task: `InferenceClient(model=<this URL>)
        .summarization(text, generate_parameters={"max_length": 30})`. One answer per input."""
        generate = request.parameters.generate_parameters
        leaf_timeout_s, wait_s = LeafDeadline(
            header_timeout_s(timeout_header), self.settings.leaf_timeout_s
        ).next_call()
        answer = await self.summarization.call(
            "summarize",
            request.inputs,
            generate.max_length if generate else None,
            generate.min_length if generate else None,
            None,
            leaf_timeout_s,
            timeout_s=wait_s,
        )
        return [HFSummary(summary_text=t) for t in answered_texts(answer, "summary", "summaries")]

    @http_app.get("/openapi.json", include_in_schema=False)
    async def api_document(self) -> JSONResponse:
        """Every app's routes at their real paths: the leaf apps' documents through their handles,
        their route prefixes from Serve's controller. Made again when an app is deployed or goes
        away (seen within apps_refresh_s); callers in between share it."""
        merged, _ = await self._document.get(await self._apps.get())
        return JSONResponse(merged)

    async def _merge_documents(self, view: AppsView) -> tuple[dict, dict]:
        """The merged document for the apps in `view`, and the apps it lacks (with why)."""
        timeout_s = min(self.settings.health_timeout_s, self.settings.leaf_timeout_s)
        clients = (self.translation, self.summarization)
        documents = await asyncio.gather(
            *(client.ask("api_document", timeout_s=timeout_s) for client in clients), return_exceptions=True
        )
        prefixes = route_prefixes(view)
        own = serve.get_replica_context().app_name
        parts, missing = [AppDocument(own, prefixes.get(own, "/"), self.app.openapi())], {}
        for client, document in zip(clients, documents, strict=True):
            name = client.ref.app
            if isinstance(document, BaseException):
                missing[name] = str(document)
            elif name not in prefixes:
                missing[name] = "no route prefix: not deployed"
            else:
                parts.append(AppDocument(name, prefixes[name], document))
        merged = merge_documents(
            parts, title="textserve", description=FRONT_DOOR, version=self.app.version, missing=missing
        )
        return merged, missing

    @http_app.get("/playground", include_in_schema=False)
    async def playground(self, request: Request) -> HTMLResponse:
        """A page to try the leaf apps in the browser (apps/router/playground/), through their
        public HTTP API at the route prefixes Serve has for them (at most apps_refresh_s old)."""
        prefixes = route_prefixes(await self._apps.get())
        page = render_page(
            request.scope.get("root_path", ""),
            prefixes.get(self.settings.translation.app),
            prefixes.get(self.settings.summarization.app),
        )
        return secure_page(HTMLResponse(page))


app = Router.bind()
