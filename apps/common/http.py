"""The HTTP surface every app shares: a FastAPI factory whose error answers are JSON that says what
to change (4xx) or that we failed (5xx, logged here with context, no traceback in the body).

Before a route sees a request, RequestGuard checks the API key (apps/common/auth.py), the body's
size (`max_body_bytes` of the app's user_config: 413 before the body is read) and its content type
(415 unless JSON); the body is then parsed as strict JSON (parse_json_body: UTF-8, no duplicate
keys, no NaN, bounded nesting), each mistake a 422 that says what to change."""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.common.auth import PUBLIC_PATHS, ApiKeys, KeysUnavailable, bearer_token
from apps.common.errors import UserInputError
from apps.common.metrics import RequestMetrics, metrics_or_none
from apps.common.settings import HttpSettings

logger = logging.getLogger("ray.serve")


class ErrorResponse(BaseModel):
    error: str
    details: list[str] = []


ERROR_RESPONSES = {
    401: {
        "model": ErrorResponse,
        "description": "Missing or wrong API key (only when the service is configured with API keys)",
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
}
DEFAULT_MAX_BODY_BYTES = HttpSettings.model_fields["max_body_bytes"].default
JSON_MAX_DEPTH = 32  # our bodies nest 2 levels; deeper is refused before pydantic sees it


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


def _error(
    status: int, message: str, details: list[str] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": message, "details": details or []}, headers=headers
    )


class _Refused(ValueError):
    """A JSON body this service refuses; the message says what to change."""


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _Refused(f"duplicate key {json.dumps(duplicate)}: send each field once")
    return obj


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number: send a finite number")


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def parse_json_body(raw: bytes) -> Any:
    """A request body as strict JSON (RFC 8259): UTF-8 (a leading BOM is skipped), no duplicate
    keys, no NaN/Infinity, at most JSON_MAX_DEPTH levels. Any other body raises JSONDecodeError
    with a message saying what is wrong; FastAPI answers it 422."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        doc = raw.decode("utf-8", errors="replace")
        message = f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}): encode the body as UTF-8"
        raise json.JSONDecodeError(message, doc, 0) from None
    try:
        value = json.loads(
            text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant
        )
    except json.JSONDecodeError:
        raise
    except RecursionError:  # the C parser's own guard, far below the C stack's limit
        raise json.JSONDecodeError(
            f"nested deeper than {JSON_MAX_DEPTH} levels: send a flat JSON object", text, 0
        ) from None
    except _Refused as exc:
        raise json.JSONDecodeError(str(exc), text, 0) from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise json.JSONDecodeError("a number has too many digits: send a smaller number", text, 0) from None
    if _depth(value) > JSON_MAX_DEPTH:
        raise json.JSONDecodeError(
            f"nested deeper than {JSON_MAX_DEPTH} levels: send a flat JSON object", text, 0
        )
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """Routes whose JSON bodies are parsed by parse_json_body (FastAPI's custom-route pattern)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def strict_handler(request: Request):
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


@functools.cache
def api_keys() -> ApiKeys:
    """This process's API keys, read from its environment on first use (in the replica: the app
    object is pickled where it is defined, which is not where it serves)."""
    return ApiKeys.from_env()


def apply_http_settings(app: FastAPI, settings: HttpSettings) -> None:
    """Called from a deployment's `reconfigure`: the limits RequestGuard enforces from now on."""
    app.state.max_body_bytes = settings.max_body_bytes


def _is_json(content_type: str) -> tuple[bool, str | None]:
    """(is it a JSON media type, its charset parameter if any)."""
    media_type, *params = (part.strip().lower() for part in content_type.split(";"))
    charset = next((p.partition("=")[2].strip('"') for p in params if p.startswith("charset=")), None)
    is_json = media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
    return is_json, charset


class RequestGuard:
    """ASGI middleware run before routing: API key, body size, content type. Each refusal is a JSON
    answer that says what to change, sent before the body is read."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        limit = self._limit(scope)
        received = 0

        async def receive_within_limit():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise StarletteHTTPException(413, _too_large(f"more than {limit}", limit))
            return message

        await self.app(scope, receive_within_limit, send)

    @staticmethod
    def _limit(scope) -> int:
        """The app's `max_body_bytes` (set by apply_http_settings in reconfigure)."""
        state = getattr(scope.get("app"), "state", None)
        return getattr(state, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)

    def _refusal(self, scope) -> JSONResponse | None:
        headers = Headers(scope=scope)
        path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        if path not in PUBLIC_PATHS:
            keys = api_keys()
            if keys.enabled:
                refusal = _auth_refusal(keys, headers.get("authorization"))
                if refusal is not None:
                    return refusal
        limit = self._limit(scope)
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return _error(413, _too_large(length, limit))
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        if has_body and scope["method"] in ("POST", "PUT", "PATCH"):
            content_type = headers.get("content-type")
            send_json = "send the body as JSON with the header Content-Type: application/json"
            if not content_type:
                return _error(415, f"Content-Type is missing: {send_json}")
            is_json, charset = _is_json(content_type)
            if not is_json:
                media_type = content_type.split(";")[0]
                return _error(415, f"Content-Type {media_type!r} is not accepted: {send_json}")
            if charset not in (None, "utf-8", "utf8"):
                return _error(415, f"charset={charset} is not accepted: JSON bodies are UTF-8")
        return None


def _too_large(size: str, limit: int) -> str:
    return f"request body is {size} bytes; this service accepts at most {limit}: send fewer or shorter texts"


def _auth_refusal(keys: ApiKeys, authorization: str | None) -> JSONResponse | None:
    token = bearer_token(authorization)
    challenge = 'Bearer realm="textserve"'
    try:
        if token is not None and keys.accepts(token):
            return None
    except KeysUnavailable as exc:
        logger.error("API keys are configured but unusable: %s", exc)
        message = "this service cannot check API keys now (its key store is unreadable); see its log"
        return _error(503, message)
    if authorization is None:
        message = "missing API key: send the header Authorization: Bearer <your key>"
    elif token is None:
        message = "Authorization must be 'Bearer <your key>'"
    else:
        message = "API key not accepted: check the key you send in Authorization: Bearer <key>"
        challenge += ', error="invalid_token"'
    return _error(401, message, headers={"WWW-Authenticate": challenge})


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
                    if path not in PUBLIC_PATHS:
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


def create_app(title: str, description: str, example: dict | None = None) -> FastAPI:
    app = TextServeAPI(title=title, description=description, version="0.1.0")
    app.router.route_class = StrictJSONRoute
    app.state.max_body_bytes = DEFAULT_MAX_BODY_BYTES
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
        # keep the exception's headers: a 405 must say which methods are allowed (Allow)
        return _error(exc.status_code, str(exc.detail), headers=exc.headers)

    app.add_middleware(RequestGuard)  # innermost of ours: its refusals are counted by _count

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
