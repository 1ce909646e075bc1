"""Routes that speak another service's API (a dialect: LibreTranslate's, under the router's
`/libretranslate/`), beside our own on one app.

Such routes differ from ours in three ways, all decided here by the request's path:
- their bodies may be form-encoded (`application/x-www-form-urlencoded`, `multipart/form-data`)
  as well as JSON;
- their API key may come in the body (`api_key`), so RequestGuard does not refuse them before the
  body is read: each route of a dialect checks the key itself (`check_key`), from the body or
  from `Authorization: Bearer`;
- their error answers keep our JSON (`{"error": ...}`) with the status codes that API uses:
  `DialectStatus` rewrites the status of every answer under the prefix (guard refusals, invalid
  bodies, a leaf's answers alike) through the dialect's `status` mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders

from apps.common.auth import KeysUnavailableError, bearer_token
from apps.common.errors import ServingError, UserInputError
from apps.common.tenants import tenant_of

logger = logging.getLogger("ray.serve")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Dialect:
    """Routes under `prefix` (relative to the app's route prefix, e.g. "/libretranslate/")
    take form bodies and body keys, and answer with `status(our_status)` (a module-level
    function: the app is pickled by Serve)."""

    prefix: str
    status: Callable[[int], int]


def dialect_of(scope) -> Dialect | None:
    """The dialect the request's path speaks, if any (create_app's `dialects`)."""
    dialects = getattr(getattr(scope.get("app"), "state", None), "dialects", ())
    path = scope["path"].removeprefix(scope.get("root_path", "")) or "/"
    return next((d for d in dialects if path.startswith(d.prefix)), None)


def is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in FORM_TYPES


class MissingKeyError(UserInputError):
    status_code = 400


class KeyRefusedError(UserInputError):
    status_code = 403


def check_key(keys, body_key: str | None, authorization: str | None) -> str | None:
    """The tenant of a dialect's request (apps/common/tenants.py), whose key came as `body_key`
    (the body's `api_key`) or in `authorization`; None where keys are off. MissingKeyError (400)
    without a key, KeyRefusedError (403) for one not accepted; a key store that cannot be read
    refuses (500: our fault, not a reason to retry soon) rather than open the service. `keys`:
    RequestGuard's api_keys()."""
    if not keys.enabled:
        return None
    key = body_key or bearer_token(authorization)
    if not key:
        raise MissingKeyError(
            "missing API key: send api_key in the body, or the header Authorization: Bearer <your key>"
        )
    try:
        accepted = keys.accepts(key)
    except KeysUnavailableError as exc:
        logger.error("API keys are configured but unusable: %s", exc)
        raise ServingError(
            "this service cannot check API keys now (its key store is unreadable); see its log", 500
        ) from None
    if not accepted:
        raise KeyRefusedError("API key not accepted: check the api_key you send")
    return tenant_of(key)


class DialectStatus:
    """ASGI middleware: the answers of a dialect's routes get its status codes (the body, our
    error JSON, unchanged). Placed inside the request metrics, so they count what clients get."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        dialect = dialect_of(scope) if scope["type"] == "http" else None
        if dialect is None:
            await self.app(scope, receive, send)
            return

        async def send_in_dialect(message):
            if message["type"] == "http.response.start":
                status = dialect.status(message["status"])
                if status != message["status"]:
                    headers = MutableHeaders(raw=list(message.get("headers", [])))
                    if status != 401:
                        del headers["www-authenticate"]
                    message = {**message, "status": status, "headers": headers.raw}
            await send(message)

        await self.app(scope, receive, send_in_dialect)
