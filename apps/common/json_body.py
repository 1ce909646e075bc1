"""Request bodies parsed as strict JSON (RFC 8259): UTF-8 (a leading BOM is skipped), no duplicate
keys, no NaN/Infinity, bounded nesting. Each refusal is a JSONDecodeError whose message says what
is wrong; FastAPI answers it 422. The apps' routes use StrictJSONRoute (create_app sets it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

JSON_MAX_DEPTH = 32  # our bodies nest 2 levels; deeper is refused before pydantic sees it


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
        value = json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
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
