"""apps/common/ray_adapter.py's one cache of the controller's state: readings reused while young
enough, shared while under way, and a stuck one not waited on past its timeout. (The reading itself,
from a real controller, runs in every test that deploys: fan-out, deadlines, the API document.)"""

import asyncio
import time

import pytest

from apps.common import ray_adapter


@pytest.fixture
def readings(monkeypatch):
    """Each reading of the controller made: a stand-in that takes `delay_s[0]` to answer."""
    made, delay_s = [], [0.05]

    async def read() -> dict:
        made.append(time.monotonic())
        started = made[-1]
        await asyncio.sleep(delay_s[0])
        ray_adapter._reading.update(at=started, details={"reading": len(made)})
        return {"reading": len(made)}

    monkeypatch.setattr(ray_adapter, "_reading", {})
    monkeypatch.setattr(ray_adapter, "_read_details", read)
    return made, delay_s


def test_callers_share_one_reading_and_reuse_it_while_young_enough(readings):
    made, _ = readings

    async def scenario():
        together = await asyncio.gather(*(ray_adapter.serve_details() for _ in range(5)))
        again = await ray_adapter.serve_details(max_age_s=10)
        fresh = await ray_adapter.serve_details(max_age_s=0)
        return together, again, fresh

    together, again, fresh = asyncio.run(scenario())
    assert together == [{"reading": 1}] * 5 and again == {"reading": 1} and fresh == {"reading": 2}
    assert len(made) == 2


def test_a_stuck_reading_times_out_and_the_next_caller_starts_another(readings):
    made, delay_s = readings
    delay_s[0] = 5.0

    async def scenario():
        with pytest.raises(asyncio.TimeoutError):
            await ray_adapter.serve_details(timeout_s=0.05)
        await asyncio.sleep(0.6)
        delay_s[0] = 0.01
        return await ray_adapter.serve_details(timeout_s=0.5)

    assert asyncio.run(scenario()) == {"reading": 2} and len(made) == 2
