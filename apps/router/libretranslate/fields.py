"""A LibreTranslate request as its routes read it: fields from the query string and over them a
JSON or form-encoded body (LibreTranslate reads `request.values` and JSON alike), the API key
checked from the body's `api_key` or `Authorization: Bearer` (RequestGuard leaves that to these
routes, apps/common/dialects.py), then the fields as the route's body model."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from apps.common import tenants
from apps.common.dialects import check_key, is_form
from apps.common.json_body import parse_json_body
from apps.common.request_guard import api_keys
from apps.router.libretranslate.protocol import B, InvalidRequestError, read_body


async def read_fields(request: Request) -> dict[str, Any]:
    """The request's fields: its query string's, and over them its body's (a JSON object or a
    form, where a repeated field is a list: `q=a&q=b` as `"q": ["a", "b"]`). The form parser's
    own bounds apply (at most 1000 fields, one file) within the body's `max_body_bytes`."""
    fields: dict[str, Any] = dict(request.query_params)
    if is_form(request.headers.get("content-type")):
        form = await request.form(max_files=1)
        for name in form:
            values = form.getlist(name)
            fields[name] = values if len(values) > 1 else values[0]
        return fields
    raw = await request.body()
    if raw:
        try:
            body = parse_json_body(raw)
        except json.JSONDecodeError as exc:
            raise InvalidRequestError(f"Invalid JSON format: {exc.msg}") from None
        if not isinstance(body, dict):
            raise InvalidRequestError("Invalid JSON format: send a JSON object")
        fields.update(body)
    return fields


@contextlib.asynccontextmanager
async def libretranslate_request(request: Request, model: type[B]) -> AsyncIterator[B]:
    """The request's fields as `model`, once its key is checked (400 without one, 403 for one
    not accepted, where keys are on); within the block its tenant is current (the translation
    app's cache scope, apps/common/tenants.py)."""
    fields = await read_fields(request)
    body_key = fields.get("api_key")
    tenant = check_key(
        api_keys(), body_key if isinstance(body_key, str) else None, request.headers.get("authorization")
    )
    with tenants.serving(tenant):  # None where keys are off, as RequestGuard's
        yield read_body(model, fields)
