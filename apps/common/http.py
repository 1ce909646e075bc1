"""The HTTP surface every app shares: a FastAPI factory whose error answers are JSON that says what
to change (4xx) or that we failed (5xx, logged here with context, no traceback in the body).

Before a route sees a request, RequestGuard (apps/common/request_guard.py) checks the API key, the
body's size and its content type; the routes then parse the body as strict JSON
(apps/common/json_body.py), each mistake a 422 that says what to change."""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.common.auth import is_public
from apps.common.dialects import Dialect, DialectStatus, dialect_of
from apps.common.docs_pages import add_docs_pages
from apps.common.errors import ServingError, UserInputError, error_response, new_incident
from apps.common.json_body import StrictJSONRoute
from apps.common.metrics import RequestMetrics, metrics_or_none
from apps.common.request_guard import DEFAULT_MAX_BODY_BYTES, RequestGuard, api_keys
from apps.common.scheduling import TIMEOUT_HEADER

logger = logging.getLogger("ray.serve")


class ErrorResponse(BaseModel):
    error: str
    details: list[str] = []


ERROR_RESPONSES = {
    401: {
        "model": ErrorResponse,
        "description": "Missing or wrong API key (only when the service is configured with API keys)",
    },
    408: {
        "description": "Ray Serve's request timeout passed (X-Request-Timeout-Seconds, or the server's "
        "request_timeout_s): Serve's own plain-text answer; the request's queued work was dropped"
    },
    413: {
        "model": ErrorResponse,
        "description": "Body larger than max_body_bytes, a text longer than max_input_chars or than "
        "the model reads, or more texts than max_texts_per_request",
    },
    415: {"model": ErrorResponse, "description": "Body not sent as Content-Type: application/json"},
    422: {"model": ErrorResponse, "description": "Invalid request: the message says what to change"},
    500: {"model": ErrorResponse, "description": "Internal error (logged on the server)"},
    503: {
        "description": "Overloaded: the app's queue is full (Serve's backpressure; retry after "
        "Retry-After), or API keys are configured but cannot be read"
    },
    504: {
        "model": ErrorResponse,
        "description": "The request's deadline (timeout_s, X-Request-Timeout-Seconds or the server's "
        "request timeout) passed before it could be answered: its work was dropped, not decoded",
    },
}

# The X-Request-Timeout-Seconds header of the routes that decode: Ray Serve's own per-request
# timeout (its proxy answers 408 past it), which the queue also keeps (apps/common/scheduling.py).
RequestTimeoutHeader = Annotated[
    str | None,
    Header(
        alias=TIMEOUT_HEADER,
        description="seconds this client waits for the answer: Ray Serve's per-request timeout (it "
        "answers 408 when they pass; 0 or less: no timeout), also the request's deadline in the "
        "queue (with the body's timeout_s, the sooner applies): work that cannot be decoded in "
        "time is dropped and answered 504",
        # (an example of its own: without one, FastAPI's "no example" sentinel does not survive
        # Serve's pickling of the routes, and the served document gained "example": {})
        openapi_examples={"ten seconds": {"value": "10"}},
    ),
]


def describe_validation_errors(errors: Sequence[dict]) -> list[str]:
    """pydantic/FastAPI error dicts -> ["text: Field required", ...] with the body prefix dropped."""
    described = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc) or "body"
        if err.get("type") == "json_invalid":
            described.append(f"body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})")
        elif not loc and err.get("type") == "missing":
            described.append("request body is missing: send a JSON object")
        elif not loc and err.get("type") in ("model_attributes_type", "model_type", "dict_type"):
            described.append("body must be a JSON object")
        else:
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            described.append(f"{where}: {message}")
    return described


def validate(model_cls: type[BaseModel], **fields) -> BaseModel:
    """Build a request model from handle-call arguments; bad input -> UserInputError (422)."""
    try:
        return model_cls(**fields)
    except ValidationError as exc:
        raise UserInputError(
            "invalid request: " + "; ".join(describe_validation_errors(exc.errors()))
        ) from None


class TextServeAPI(FastAPI):
    """FastAPI whose OpenAPI schema declares the bearer key when this process requires one."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = super().openapi()
            if api_keys().enabled:
                schema.setdefault("components", {})["securitySchemes"] = {
                    "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key"}
                }
                for path, operations in schema.get("paths", {}).items():
                    if not is_public(path):
                        for operation in operations.values():
                            operation["security"] = [{"apiKey": []}]
        return self.openapi_schema


class AppRootWithoutSlash:
    """ASGI middleware: let `POST /translate` reach the app's "/" route directly.

    Under a Serve route prefix the app sees `/translate` as an empty sub-path, which Starlette
    would answer with a 307 redirect to `/translate/`; many clients do not re-POST after a 307.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            root = scope.get("root_path", "")
            if root and scope["path"] == root:
                scope = dict(scope, path=root + "/", raw_path=(root + "/").encode())
        await self.app(scope, receive, send)


@functools.cache
def request_metrics() -> RequestMetrics | None:
    """This process's request metrics, made on first use (in the replica, not where the app is
    defined and pickled); None outside Ray."""
    return metrics_or_none(RequestMetrics)


def create_app(
    title: str,
    description: str,
    examples: dict[str, dict] | None = None,
    openapi_url: str | None = "/openapi.json",
    dialects: Sequence[Dialect] = (),
    tags: Sequence[dict] = (),
    upload_paths: Sequence[str] = (),
) -> FastAPI:
    """An app with our error answers, request guard, metrics and docs pages (/docs, /redoc).
    `examples`: route path -> an example body, quoted in that route's 422 answers;
    `openapi_url=None` for an app that serves a document of its own making there (the router);
    `dialects`: path prefixes whose routes speak another API (apps/common/dialects.py);
    `tags`: the document's tags with their descriptions (`openapi_tags`); `upload_paths`: routes
    whose bodies are multipart/form-data (a file upload), the API key still in its header."""
    app = TextServeAPI(
        title=title,
        description=description,
        version="0.1.0",
        openapi_url=openapi_url,
        docs_url=None,
        redoc_url=None,
        openapi_tags=list(tags) or None,
    )
    add_docs_pages(app, title)
    app.router.route_class = StrictJSONRoute
    app.state.max_body_bytes = DEFAULT_MAX_BODY_BYTES
    app.state.dialects = tuple(dialects)
    app.state.upload_paths = frozenset(upload_paths)
    hints = {path: f" Example body: {json.dumps(body)}" for path, body in (examples or {}).items()}

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = describe_validation_errors(exc.errors())
        hint = hints.get(request.scope["path"].removeprefix(request.scope.get("root_path", "")) or "/", "")
        return error_response(422, "invalid request: " + "; ".join(details) + "." + hint, details)

    @app.exception_handler(ServingError)
    async def _serving_error(request: Request, exc: ServingError) -> JSONResponse:
        retry_after = exc.retry_after_s
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
        return error_response(exc.status_code, exc.message, list(exc.details), headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and dialect_of(request.scope) is None:
            # a body the framework cannot parse (a multipart form without its boundary): our
            # routes answer what they cannot read 422, as an invalid JSON body
            return error_response(422, f"the request body cannot be read: {exc.detail}")
        # keep the exception's headers: a 405 must say which methods are allowed (Allow)
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)

    app.add_middleware(RequestGuard)  # innermost of ours: its refusals are counted by _count

    @app.middleware("http")
    async def _internal_errors(request: Request, call_next: Callable):
        try:
            return await call_next(request)
        except Exception:
            incident, message = new_incident()
            logger.exception("unhandled error %s in %s %s", incident, request.method, request.url.path)
            return error_response(500, message)

    app.add_middleware(DialectStatus)  # inside _count: the metrics count the status clients get

    @app.middleware("http")
    async def _count(request: Request, call_next: Callable):
        started = time.perf_counter()
        response = await call_next(request)
        metrics = request_metrics()
        if metrics is not None:
            route = request.scope.get("route")  # the matched route, so labels stay few
            label = request.scope.get("root_path", "") + route.path if route is not None else "unmatched"
            metrics.record(label, request.method, response.status_code, time.perf_counter() - started)
        return response

    app.add_middleware(AppRootWithoutSlash)
    return app
