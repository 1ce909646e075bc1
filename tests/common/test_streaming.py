"""apps/common/streaming.py: the NDJSON lines of a run's progress events, whatever the run does."""

import asyncio
import json

from pydantic import BaseModel

from apps.common.errors import UserInputError
from apps.common.streaming import ndjson_lines, progress_events


class Answer(BaseModel):
    summary: str


async def lines_of(run) -> list[dict]:
    return [json.loads(line) async for line in ndjson_lines(progress_events(run), "test work")]


def test_progress_events_then_done():
    async def run(emit):
        for done in (1, 2):
            emit({"event": "progress", "done": done})
            await asyncio.sleep(0)
        return Answer(summary="short")

    assert asyncio.run(lines_of(run)) == [
        {"event": "progress", "done": 1},
        {"event": "progress", "done": 2},
        {"event": "done", "summary": "short"},
    ]


def test_a_callers_error_ends_the_stream_with_its_status_and_message():
    async def run(emit):
        emit({"event": "progress", "done": 1})
        raise UserInputError("max_length 999 is above this service's limit of 512")

    assert asyncio.run(lines_of(run)) == [
        {"event": "progress", "done": 1},
        {"event": "error", "status": 422, "error": "max_length 999 is above this service's limit of 512"},
    ]


def test_work_cancelled_inside_the_run_is_an_error_event_not_a_cut_stream(caplog):
    async def run(emit):
        emit({"event": "progress", "done": 1})
        raise asyncio.CancelledError  # e.g. a call the run awaited was cancelled under it

    *events, last = asyncio.run(lines_of(run))
    assert events == [{"event": "progress", "done": 1}]
    assert last["event"] == "error" and last["status"] == 500
    assert "incident" in last["error"] and "Traceback" not in last["error"]
    assert "cancelled inside the replica" in caplog.text  # logged with the incident, not sent


def test_closing_the_stream_early_cancels_the_run():
    cancelled = asyncio.Event()

    async def run(emit):
        emit({"event": "progress", "done": 1})
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def read_one_then_close():
        events = progress_events(run)
        first = await anext(events)
        await events.aclose()  # the client went away
        await asyncio.wait_for(cancelled.wait(), 5)
        return first

    assert asyncio.run(read_one_then_close()) == {"event": "progress", "done": 1}
