"""RequestGuard: ASGI middleware that runs before routing and refuses, with a JSON answer that says
what to change and before the body is read: a missing or wrong API key (401; apps/common/auth.py;
the routes of a dialect check theirs themselves, apps/common/dialects.py),
a body over the app's `max_body_bytes` (413; its user_config, applied in `reconfigure` through
apply_http_settings), a body that is not JSON (415); and, while the body is read, one that has not
all arrived `body_timeout_s` after the request started (408: a client trickling its body cannot
hold a replica's slot, even with Serve's request timeout turned off by its header). An upload
route (create_app's `upload_paths`) takes multipart/form-data instead of JSON."""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from apps.common import tenants
from apps.common.auth import ApiKeys, KeysUnavailableError, bearer_token, is_public
from apps.common.dialects import dialect_of, is_form
from apps.common.errors import error_response
from apps.common.settings import HttpSettings

logger = logging.getLogger("ray.serve")
DEFAULT_MAX_BODY_BYTES = HttpSettings.model_fields["max_body_bytes"].default
DEFAULT_BODY_TIMEOUT_S = HttpSettings.model_fields["body_timeout_s"].default


@functools.cache
def api_keys() -> ApiKeys:
    """This process's API keys, read from its environment on first use (in the replica: the app
    object is pickled where it is defined, which is not where it serves)."""
    return ApiKeys.from_env()


def apply_http_settings(app: FastAPI, settings: HttpSettings) -> None:
    """Called from a deployment's `reconfigure`: the limits RequestGuard enforces from now on."""
    app.state.max_body_bytes = settings.max_body_bytes
    app.state.body_timeout_s = settings.body_timeout_s


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
        with tenants.serving(self._tenant(scope)):
            await self._guarded(scope, receive, send)

    @staticmethod
    def _tenant(scope) -> str | None:
        """The tenant of a request _refusal let through: its key's, where keys are on."""
        keys = api_keys()
        if not keys.enabled:
            return None
        token = bearer_token(Headers(scope=scope).get("authorization"))
        return tenants.tenant_of(token) if token else None

    async def _guarded(self, scope, receive, send):
        limit = self._limit(scope)
        timeout_s = self._setting(scope, "body_timeout_s", DEFAULT_BODY_TIMEOUT_S)
        body_by = time.monotonic() + timeout_s
        received = 0
        body_done = False

        async def receive_within_limit():
            nonlocal received, body_done
            if body_done:  # after the body: the disconnect listeners wait as long as they like
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(body_by - time.monotonic(), 0))
            except TimeoutError:
                raise StarletteHTTPException(408, _too_slow(received, timeout_s)) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise StarletteHTTPException(413, _too_large(f"more than {limit}", limit))
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        await self.app(scope, receive_within_limit, send)

    @staticmethod
    def _setting(scope, name: str, default):
        """The app's setting `name` (set by apply_http_settings in reconfigure)."""
        state = getattr(scope.get("app"), "state", None)
        return getattr(state, name, default)

    def _limit(self, scope) -> int:
        return self._setting(scope, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)

    def _refusal(self, scope) -> JSONResponse | None:
        headers = Headers(scope=scope)
        path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
        dialect = dialect_of(scope)  # its routes check the key, which may be in the body
        if dialect is None and not is_public(path):
            keys = api_keys()
            if keys.enabled:
                refusal = _auth_refusal(keys, headers.get("authorization"))
                if refusal is not None:
                    return refusal
        limit = self._limit(scope)
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return error_response(413, _too_large(length, limit))
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        if has_body and scope["method"] in ("POST", "PUT", "PATCH"):
            content_type = headers.get("content-type")
            send_json = "send the body as JSON with the header Content-Type: application/json"
            if dialect is not None:
                send_json += " or form-encoded (application/x-www-form-urlencoded, multipart/form-data)"
            if path in self._setting(scope, "upload_paths", frozenset()):
                media_type = (content_type or "").split(";")[0].strip().lower()
                if media_type == "multipart/form-data":
                    return None
                send_file = "send the file as multipart/form-data, e.g. curl -F file=@notes.docx"
                return error_response(415, f"Content-Type {media_type!r} is not accepted: {send_file}")
            if not content_type:
                return error_response(415, f"Content-Type is missing: {send_json}")
            if dialect is not None and is_form(content_type):
                return None
            is_json, charset = _is_json(content_type)
            if not is_json:
                media_type = content_type.split(";")[0]
                return error_response(415, f"Content-Type {media_type!r} is not accepted: {send_json}")
            if charset not in (None, "utf-8", "utf8"):
                return error_response(415, f"charset={charset} is not accepted: JSON bodies are UTF-8")
        return None


def _too_slow(received: int, timeout_s: float) -> str:
    return (
        f"the request body did not arrive within {timeout_s:g} s ({received} bytes came): "
        "send the whole body at once"
    )


def _too_large(size: str, limit: int) -> str:
    return f"request body is {size} bytes; this service accepts at most {limit}: send fewer or shorter texts"


def _auth_refusal(keys: ApiKeys, authorization: str | None) -> JSONResponse | None:
    token = bearer_token(authorization)
    challenge = 'Bearer realm="textserve"'
    try:
        if token is not None and keys.accepts(token):
            return None
    except KeysUnavailableError as exc:
        logger.error("API keys are configured but unusable: %s", exc)
        message = "this service cannot check API keys now (its key store is unreadable); see its log"
        return error_response(503, message)
    if authorization is None:
        message = "missing API key: send the header Authorization: Bearer <your key>"
    elif token is None:
        message = "Authorization must be 'Bearer <your key>'"
    else:
        message = "API key not accepted: check the key you send in Authorization: Bearer <key>"
        challenge += ', error="invalid_token"'
    return error_response(401, message, headers={"WWW-Authenticate": challenge})
