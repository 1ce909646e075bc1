"""The router app at `/`: one entry point that composes the translation and summarization apps.

POST / {"text": ..., "task": "translate" | "summarize" | "summarize_then_translate"}, or "texts":
[...] for many texts at once (sent on to the leaf apps as one list, one batch). The seed guide's
client (POST {"text": "Hello world!"} to http://127.0.0.1:8000/) gets a translation. LibreTranslate's
API is under /libretranslate/ (apps/router/libretranslate/).
It holds no model: it reaches the leaf apps through DeploymentHandles (apps/router/service.py),
so each leaf app can be redeployed on its own.
"""

# No `from __future__ import annotations` here: FastAPI must resolve the routes' body types
# (with it, a body model was read as a query parameter).

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from ray import serve
from ray.serve.handle import DeploymentHandle

from apps.common.deadlines import HttpCaller
from apps.common.deployment_options import deployment_options
from apps.common.http import ERROR_RESPONSES, create_app
from apps.common.pages import AssetFiles, secure_page
from apps.common.request_guard import apply_http_settings
from apps.common.settings import parse_user_config
from apps.common.streaming import ndjson_response, streamed_answers
from apps.router.config import FileStoreSettings, RouterSettings
from apps.router.file_store import FileStore, StoredFile
from apps.router.hf_schemas import HFSummarizationRequest, HFSummary, HFTranslation, HFTranslationRequest
from apps.router.libretranslate.fields import libretranslate_request
from apps.router.libretranslate.protocol import (
    DIALECT,
    PREFIX,
    TAG,
    DetectBody,
    Detection,
    FileBody,
    FrontendSettings,
    KeyBody,
    LanguageTargets,
    TranslateAnswer,
    TranslateBody,
    TranslateFileAnswer,
    route_options,
)
from apps.router.libretranslate.serving import LibreTranslateService
from apps.router.playground import PLAYGROUND_DIR, render_page
from apps.router.schemas import RouteRequest, RouteResponse
from apps.router.service import RouterService

# /openapi.json is the merged document of every app (apps/router/service.py)
http_app = create_app(
    "textserve router",
    "Translate, summarize, or summarize then translate, by composing the leaf apps.",
    examples={
        "/": {"text": "Hello world!", "task": "translate", "target_lang": "fr"},
        "/hf/translation": {"inputs": "Hello world!", "parameters": {"src_lang": "en", "tgt_lang": "de"}},
        "/hf/summarization": {"inputs": "A paragraph of English text ...", "parameters": {}},
    },
    openapi_url=None,
    dialects=[DIALECT],
    tags=[TAG],
)
http_app.mount("/static/playground", AssetFiles(directory=PLAYGROUND_DIR), name="playground")
LEAF_ERRORS = {**ERROR_RESPONSES, 503: {"description": "A leaf app is missing or failing"}}


def hf_answers(answer: type) -> dict:
    """An Inference API route's answer options: a list of `answer`, one per input."""
    return {"response_model": list[answer], "responses": LEAF_ERRORS}


@serve.deployment(**deployment_options(replicas=1, max_ongoing=64, max_queued=128, retry_after_s=1, cpus=0))
class TranslatedFiles:
    """The translated files LibreTranslate's /translate_file keeps for download: one replica's
    memory (apps/router/file_store.py), so every router replica finds every file."""

    def __init__(self):
        self.store = FileStore(FileStoreSettings())

    def reconfigure(self, user_config: dict) -> None:
        self.store.configure(parse_user_config(FileStoreSettings, user_config, "router"))

    def put(self, content: bytes, filename: str, media_type: str, owner: str | None) -> str:
        return self.store.put(content, filename, media_type, owner)

    def get(self, name: str, owner: str | None) -> StoredFile | None:
        return self.store.get(name, owner)


@serve.deployment(**deployment_options(replicas=2, max_ongoing=64, max_queued=128, retry_after_s=1, cpus=0.1))
@serve.ingress(http_app)
class Router:
    def __init__(self, files: DeploymentHandle):
        self.service = RouterService(RouterSettings(), self._own_document)
        self.libretranslate = LibreTranslateService(self.service, files)

    def _own_document(self) -> tuple[str, dict]:
        return serve.get_replica_context().app_name, self.app.openapi()

    def reconfigure(self, user_config: dict) -> None:
        settings = parse_user_config(RouterSettings, user_config, "router")
        self.service.configure(settings)
        apply_http_settings(self.app, settings)

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
        status, body = await self.service.health()
        headers = {"Retry-After": "5"} if status != 200 else None
        return JSONResponse(status_code=status, content=body, headers=headers)

    @http_app.post(
        "/",
        summary="Translate, summarize, or summarize then translate",
        **streamed_answers(RouteResponse, LEAF_ERRORS),
    )
    async def route(self, request: RouteRequest, caller: HttpCaller):
        deadline = self.service.deadline(caller.timeout_s(request.timeout_s))
        if request.stream:  # the leaf app's own events, passed on as they come
            app, events = await self.service.open_stream(request, deadline)
            return ndjson_response(events, f"{app} stream")
        return await self.service.route(request, deadline)

    @http_app.post(
        "/hf/translation", summary="Translate (Hugging Face Inference API)", **hf_answers(HFTranslation)
    )
    async def hf_translation(self, request: HFTranslationRequest, caller: HttpCaller) -> list[HFTranslation]:
        """The Hugging Face Inference API's translation task: `InferenceClient(model=<this URL>)
        .translation(text, src_lang="en", tgt_lang="de")`. One answer per input, in order."""
        return await self.service.hf_translation(request, self.service.deadline(caller.limit_s))

    @http_app.post(
        "/hf/summarization", summary="Summarize (Hugging Face Inference API)", **hf_answers(HFSummary)
    )
    async def hf_summarization(self, request: HFSummarizationRequest, caller: HttpCaller) -> list[HFSummary]:
        """The Hugging Face Inference API's summarization task: `InferenceClient(model=<this URL>)
        .summarization(text, generate_parameters={"max_length": 30})`. One answer per input."""
        return await self.service.hf_summarization(request, self.service.deadline(caller.limit_s))

    # LibreTranslate's API (apps/router/libretranslate/): its routes read their own bodies

    @http_app.post(f"{PREFIX}/translate", **route_options("Translate", TranslateBody, TranslateAnswer))
    async def lt_translate(self, request: Request, caller: HttpCaller) -> TranslateAnswer:
        """LibreTranslate's POST /translate: `q` (a text or a list) from `source` (or "auto") into
        `target`; `format: "html"` keeps the markup."""
        async with libretranslate_request(request, TranslateBody) as body:
            return await self.libretranslate.translate(body, caller)

    @http_app.post(f"{PREFIX}/detect", **route_options("Detect the language", DetectBody, list[Detection]))
    async def lt_detect(self, request: Request, caller: HttpCaller) -> list[Detection]:
        """LibreTranslate's POST /detect: `q`'s language among the translation app's sources."""
        async with libretranslate_request(request, DetectBody) as body:
            return await self.libretranslate.detect(body, caller)

    @http_app.get(f"{PREFIX}/languages", **route_options("Languages", answer=list[LanguageTargets]))
    async def lt_languages(self, request: Request, caller: HttpCaller) -> list[LanguageTargets]:
        """LibreTranslate's /languages: every source language with the targets it translates into."""
        async with libretranslate_request(request, KeyBody):
            return await self.libretranslate.languages(caller)

    @http_app.get(
        f"{PREFIX}/frontend/settings", **route_options("Frontend settings", answer=FrontendSettings)
    )
    async def lt_frontend_settings(self, request: Request, caller: HttpCaller) -> FrontendSettings:
        """LibreTranslate's GET /frontend/settings: limits, keys, file formats, default languages."""
        async with libretranslate_request(request, KeyBody):
            return await self.libretranslate.frontend_settings(caller)

    @http_app.post(
        f"{PREFIX}/translate_file", **route_options("Translate a file", FileBody, TranslateFileAnswer)
    )
    async def lt_translate_file(self, request: Request, caller: HttpCaller) -> TranslateFileAnswer:
        """LibreTranslate's POST /translate_file (multipart): as POST /translate/file, then a URL."""
        async with libretranslate_request(request, FileBody) as body:
            return await self.libretranslate.translate_file(body, caller, str(request.base_url))

    @http_app.get(
        f"{PREFIX}/download_file/{{name}}", **route_options("Download a translated file", answer=Response)
    )
    async def lt_download_file(self, name: str, request: Request) -> Response:
        """A file /translate_file translated, while it is kept (`ttl_s`), for the key that made it."""
        async with libretranslate_request(request, KeyBody):
            return await self.libretranslate.download(name)

    @http_app.get("/openapi.json", include_in_schema=False)
    async def api_document(self) -> JSONResponse:
        """Every app's routes at their real paths: the leaf apps' documents through their handles,
        their route prefixes from Serve's controller."""
        return JSONResponse(await self.service.api_document())

    @http_app.get("/playground", include_in_schema=False)
    async def playground(self, request: Request) -> HTMLResponse:
        """A page to try the leaf apps in the browser (apps/router/playground/), through their
        public HTTP API at the route prefixes Serve has for them (at most apps_refresh_s old)."""
        prefixes, settings = await self.service.prefixes(), self.service.settings
        root = request.scope.get("root_path", "")
        page = render_page(
            root, prefixes.get(settings.translation.app), prefixes.get(settings.summarization.app)
        )
        return secure_page(HTMLResponse(page))


app = Router.bind(TranslatedFiles.bind())
