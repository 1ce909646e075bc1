"""The HTTP surface every app shares: a FastAPI factory whose error answers are JSON that says what
to change (4xx) or that we failed (5xx, logged here with context, no traceback in the body)."""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.common.errors import UserInputError
from apps.common.metrics import RequestMetrics, metrics_or_none

logger = logging.getLogger("ray.serve")


class ErrorResponse(BaseModel):
    error: str
    details: list[str] = []


ERROR_RESPONSES = {
    413: {"model": ErrorResponse, "description": "Text longer than the configured limit"},
    422: {"model": ErrorResponse, "description": "Invalid request: the message says what to change"},
    500: {"model": ErrorResponse, "description": "Internal error (logged on the server)"},
}


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


def _error(status: int, message: str, details: list[str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message, "details": details or []})


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


def create_app(title: str, description: str, example: dict | None = None) -> FastAPI:
    app = FastAPI(title=title, description=description, version="0.1.0")
    hint = f" Example body: {json.dumps(example)}" if example else ""

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = describe_validation_errors(exc.errors())
        return _error(422, "invalid request: " + "; ".join(details) + "." + hint, details)

    @app.exception_handler(UserInputError)
    async def _user_error(request: Request, exc: UserInputError) -> JSONResponse:
        return _error(exc.status_code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.middleware("http")
    async def _internal_errors(request: Request, call_next: Callable):
        try:
            return await call_next(request)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            logger.exception("unhandled error %s in %s %s", incident, request.method, request.url.path)
            return _error(500, f"internal error (incident {incident}); the server log has the details")

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
