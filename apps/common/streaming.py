"""Streamed answers: newline-delimited JSON (`application/x-ndjson`), one event object per line.

A stream's status line and headers go out before its first event, so a fault after that cannot
become a 5xx: it ends the stream with an `{"event": "error", ...}` line (logged here with an
incident id, no traceback in the body). A stream that ends without a `done` event is incomplete.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from apps.common.errors import ServingError, new_incident
from apps.common.http import ERROR_RESPONSES

logger = logging.getLogger("ray.serve")
NDJSON = "application/x-ndjson"


def error_event(exc: BaseException, what: str) -> dict:
    """The last line of a stream that failed: an answer on purpose says what to change (or when to
    retry); a fault of ours is logged."""
    if isinstance(exc, ServingError):
        return {"event": "error", "status": exc.status_code, "error": exc.message}
    incident, message = new_incident()
    logger.error("%s failed mid-stream (incident %s): %s: %s", what, incident, type(exc).__name__, exc)
    return {"event": "error", "status": 500, "error": message}


def _line(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode() + b"\n"


async def ndjson_lines(events: AsyncIterator[dict], what: str) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            yield _line(event)
    except Exception as exc:
        yield _line(error_event(exc, what))


def ndjson_response(events: AsyncIterator[dict], what: str) -> StreamingResponse:
    """`events` sent as they come; `what` names the work in the log if it fails."""
    return StreamingResponse(
        ndjson_lines(events, what),
        media_type=NDJSON,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # proxies must not buffer it
    )


# For a route's `responses=`: the OpenAPI description of a streamed 200.
STREAM_RESPONSE = {
    "description": 'With "stream": true: newline-delimited JSON events (see the app\'s description)',
    "content": {NDJSON: {"schema": {"type": "string"}}},
}


def streamed_answers(model: type[BaseModel], errors: dict = ERROR_RESPONSES) -> dict:
    """A route's answer options when a request may ask for a stream: `model` (fields that are
    None left out), or NDJSON events with "stream": true; `errors` as documented answers."""
    return {
        "response_model": model,
        "response_model_exclude_none": True,
        "responses": {**errors, 200: STREAM_RESPONSE},
    }


async def progress_events(
    run: Callable[[Callable[[dict], None]], Awaitable[BaseModel]],
) -> AsyncIterator[dict]:
    """The events `run` emits while it works (it gets the `emit` function), then `done` with its
    answer. If the stream is closed early (the client went away), `run` is cancelled."""
    queue: asyncio.Queue[dict | None] = asyncio.Queue()
    task = asyncio.ensure_future(run(queue.put_nowait))
    task.add_done_callback(lambda _: queue.put_nowait(None))
    try:
        while (event := await queue.get()) is not None:
            yield event
        try:
            answer = task.result()  # or raise its error
        except asyncio.CancelledError:
            # Not this stream's own cancellation (that arrives at `queue.get()`): something inside
            # `run` was cancelled. Raised on as an error, it ends the stream with an error event;
            # as a CancelledError it would cut the stream off with no event at all.
            raise RuntimeError("the work was cancelled inside the replica") from None
        yield {"event": "done", **answer.model_dump(exclude_none=True)}
    finally:
        task.cancel()
