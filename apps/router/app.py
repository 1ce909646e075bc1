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

from fastapi.responses import JSONResponse
from ray import serve

from apps.common.http import ERROR_RESPONSES, create_app
from apps.common.request_guard import apply_http_settings
from apps.common.settings import parse_user_config
from apps.common.streaming import STREAM_RESPONSE, ndjson_response
from apps.router.config import RouterSettings
from apps.router.leaf_client import LeafClient, LeafUnavailableError
from apps.router.schemas import RouteRequest, RouteResponse

http_app = create_app(
    "textserve router",
    "Translate, summarize, or summarize then translate, by composing the leaf apps.",
    example={"text": "Hello world!", "task": "translate", "target_lang": "fr"},
)


# (defined before the deployment: @serve.ingress pickles the routes where the class is defined)
async def _prepend(first: dict, rest: AsyncIterator[dict]) -> AsyncIterator[dict]:
    yield first
    async for event in rest:
        yield event


@serve.deployment(
    num_replicas=2,
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

    @http_app.get(
        "/healthz",
        responses={503: {"description": "A leaf app is down; `error` names it, `apps` says why"}},
    )
    async def healthz(self) -> JSONResponse:
        """200 when every leaf app can generate (each runs a one-token decode; both are asked at
        once), else 503 naming the apps that cannot: what a load balancer or Kubernetes probe
        should ask. A leaf busy with a long batch answers after it, within health_timeout_s; a leaf
        whose queue is full is reported "overloaded" without failing the check."""
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
            body = {"status": "down", "error": f"not serving: {', '.join(down)}", "apps": apps}
            return JSONResponse(status_code=503, content=body, headers={"Retry-After": "5"})
        return JSONResponse(content={"status": "ok", "apps": apps})

    @http_app.post(
        "/",
        response_model=RouteResponse,
        response_model_exclude_none=True,
        responses={
            **ERROR_RESPONSES,
            200: STREAM_RESPONSE,
            503: {"description": "A leaf app is missing or failing"},
        },
    )
    async def route(self, request: RouteRequest):
        timeout_s = self.settings.leaf_timeout_s
        # A `texts` list travels to each leaf app as one list: one batch there, not N requests.
        text: str | list[str] = request.text if request.texts is None else request.texts
        if request.stream:  # the leaf app's own events, passed on as they come
            if request.task == "summarize":
                leaf, method = self.summarization, "summarize_stream"
                args = (text, request.max_length, request.min_length)
            else:
                leaf, method, args = self.translation, "translate_stream", (text, request.target_lang)
            first, rest = await leaf.open_stream(method, *args, timeout_s=timeout_s)
            return ndjson_response(_prepend(first, rest), f"{leaf.ref.app} stream")
        response = RouteResponse(task=request.task, models={})
        if request.task in ("summarize", "summarize_then_translate"):
            summary = await self.summarization.call(
                "summarize", text, request.max_length, request.min_length, timeout_s=timeout_s
            )
            text = summary.get("summary", summary.get("summaries"))
            response.summary, response.summaries = summary.get("summary"), summary.get("summaries")
            response.models[self.settings.summarization.app] = summary["model"]
        if request.task in ("translate", "summarize_then_translate"):
            translation = await self.translation.call(
                "translate", text, request.target_lang, timeout_s=timeout_s
            )
            response.translation = translation.get("translation")
            response.translations = translation.get("translations")
            response.target_lang = translation["target_lang"]
            response.models[self.settings.translation.app] = translation["model"]
        return response


app = Router.bind()
