"""The adaptive batching policy (apps/common/batching.py), driven with a model call that records
what it was given and takes a fixed time, so who ran with whom is exact."""

import asyncio

import pytest

from apps.common.batching import AdaptiveBatcher

CALL_S = 0.05


class RecordingModel:
    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    async def __call__(self, prompts: list[str], params) -> list[str]:
        self.calls.append(list(prompts))
        await asyncio.sleep(CALL_S)
        if self.fail_on in prompts:
            raise RuntimeError("model failed")
        return [f"{params}:{p}" for p in prompts]


def run(coro):
    return asyncio.run(coro)


def test_a_lone_request_runs_at_once():
    async def scenario():
        model = RecordingModel()
        batcher = AdaptiveBatcher(model, max_batch_size=16, batch_wait_timeout_s=1.0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await batcher.submit(["a"], "p", [3]) == ["p:a"]
        return loop.time() - started

    assert run(scenario()) < CALL_S + 0.5  # the 1 s wait is never paid by an idle replica


def test_requests_queued_during_a_call_run_together_in_order():
    async def scenario():
        model = RecordingModel()
        batcher = AdaptiveBatcher(model, max_batch_size=16, batch_wait_timeout_s=0.0)
        first = asyncio.create_task(batcher.submit(["a"], "p", [1]))
        await asyncio.sleep(0.01)  # "a" is now running
        rest = [asyncio.create_task(batcher.submit([x], "p", [1])) for x in "bcdef"]
        results = await asyncio.gather(first, *rest)
        return model.calls, results

    calls, results = run(scenario())
    assert calls == [["a"], ["b", "c", "d", "e", "f"]]
    assert results == [[f"p:{x}"] for x in "abcdef"]


def test_closed_loop_callers_merge_into_full_batches():
    """16 callers that each send their next request right after their answer: with @serve.batch
    they split into cohorts that never merge; here every call after the first runs all 16."""

    async def client(batcher, name, rounds):
        for i in range(rounds):
            await batcher.submit([f"{name}{i}"], "p", [1])
            await asyncio.sleep(0.002)  # the HTTP round trip before the next request

    async def scenario():
        model = RecordingModel()
        batcher = AdaptiveBatcher(model, max_batch_size=16, batch_wait_timeout_s=0.02)
        clients = []
        for n in range(16):
            clients.append(asyncio.create_task(client(batcher, f"c{n}-", 5)))
            await asyncio.sleep(0.004)  # clients start at different times, as they do in life
        await asyncio.gather(*clients)
        return [len(call) for call in model.calls]

    sizes = run(scenario())
    assert sum(sizes) == 80
    # After the start-up calls, and until the earliest clients finish, every call is full.
    assert len(sizes) <= 8 and sizes[2:5] == [16, 16, 16], sizes


def test_oldest_first_then_nearest_length_when_more_than_fits():
    async def scenario():
        model = RecordingModel()
        batcher = AdaptiveBatcher(model, max_batch_size=3, batch_wait_timeout_s=0.0)
        blocker = asyncio.create_task(batcher.submit(["x"], "p", [1]))
        await asyncio.sleep(0.01)
        lengths = {"old": 100, "short1": 5, "long1": 98, "short2": 6, "long2": 103, "mid": 50}
        tasks = [asyncio.create_task(batcher.submit([name], "p", [n])) for name, n in lengths.items()]
        await asyncio.gather(blocker, *tasks)
        return model.calls

    calls = run(scenario())
    assert calls[1] == ["old", "long1", "long2"]  # the oldest, then the two nearest to it in length
    assert sorted(calls[2]) == ["mid", "short1", "short2"]


def test_different_params_never_share_a_call():
    async def scenario():
        model = RecordingModel()
        batcher = AdaptiveBatcher(model, max_batch_size=16, batch_wait_timeout_s=0.0)
        blocker = asyncio.create_task(batcher.submit(["x"], "p", [1]))
        await asyncio.sleep(0.01)
        tasks = [
            asyncio.create_task(batcher.submit([f"{params}{i}"], params, [1]))
            for i in range(3)
            for params in ("p", "q")
        ]
        results = await asyncio.gather(blocker, *tasks)
        return model.calls, results

    calls, results = run(scenario())
    assert calls[1:] == [["p0", "p1", "p2"], ["q0", "q1", "q2"]]
    assert results[1:] == [["p:p0"], ["q:q0"], ["p:p1"], ["q:q1"], ["p:p2"], ["q:q2"]]


def test_a_long_list_is_split_into_full_calls_and_answered_in_order():
    async def scenario():
        model = RecordingModel()
        batcher = AdaptiveBatcher(model, max_batch_size=4, batch_wait_timeout_s=0.0)
        texts = [f"t{i}" for i in range(10)]
        result = await batcher.submit(texts, "p", [1] * 10)
        return model.calls, result, texts

    calls, result, texts = run(scenario())
    assert [len(c) for c in calls] == [4, 4, 2]
    assert result == [f"p:{t}" for t in texts]


def test_a_failing_call_fails_its_callers_only():
    async def scenario():
        model = RecordingModel(fail_on="bad")
        batcher = AdaptiveBatcher(model, max_batch_size=16, batch_wait_timeout_s=0.0)
        with pytest.raises(RuntimeError, match="model failed"):
            await batcher.submit(["bad"], "p", [1])
        return await batcher.submit(["good"], "p", [1])

    assert run(scenario()) == ["p:good"]


class BatchSizes:
    def __init__(self, seen: list):
        self.seen = seen

    def record_batch(self, texts: int, seconds: float) -> None:
        self.seen.append((texts, seconds))

    def record_wait(self, priority: str, seconds: float) -> None:
        pass


def test_batch_sizes_are_reported():
    async def scenario():
        seen = []
        batcher = AdaptiveBatcher(RecordingModel(), 16, 0.0, observer=BatchSizes(seen))
        await batcher.submit(["a", "b", "c"], "p", [1, 1, 1])
        return seen

    [(size, seconds)] = run(scenario())
    assert size == 3 and seconds >= CALL_S * 0.9


def test_a_replica_waits_for_returning_callers_at_most_a_share_of_its_last_call():
    """After a call of 2 texts, one caller comes back and the other never does: the replica waits
    for it no longer than WAIT_SHARE of the call, however long batch_wait_timeout_s is."""

    async def scenario():
        model = RecordingModel()
        batcher = AdaptiveBatcher(model, max_batch_size=16, batch_wait_timeout_s=5.0)
        await asyncio.gather(batcher.submit(["a"], "p", [1]), batcher.submit(["b"], "p", [1]))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await batcher.submit(["a2"], "p", [1])
        return loop.time() - started, model.calls

    from apps.common.batching import WAIT_SHARE

    took, calls = run(scenario())
    assert calls == [["a", "b"], ["a2"]]
    assert took < CALL_S + WAIT_SHARE * CALL_S + 0.03


def test_requests_whose_callers_left_are_not_decoded():
    async def scenario():
        model = RecordingModel()
        batcher = AdaptiveBatcher(model, max_batch_size=16, batch_wait_timeout_s=0.0)
        blocker = asyncio.create_task(batcher.submit(["x"], "p", [1]))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(batcher.submit(["gone"], "p", [1]))
        kept = asyncio.create_task(batcher.submit(["kept"], "p", [1]))
        await asyncio.sleep(0.01)
        gone.cancel()  # e.g. the HTTP client disconnected while its request was queued
        await asyncio.gather(blocker, kept)
        return model.calls

    assert run(scenario()) == [["x"], ["kept"]]


class TimedModel(RecordingModel):
    """A call of 0.4 s that records when each call starts and ends."""

    def __init__(self):
        super().__init__()
        self.spans: list[tuple[float, float]] = []

    async def __call__(self, prompts: list[str], params) -> list[str]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.calls.append(list(prompts))
        await asyncio.sleep(0.4)
        self.spans.append((started, loop.time()))
        return [f"{params}:{p}" for p in prompts]


@pytest.mark.parametrize("returns", [True, False])
def test_parts_of_a_fan_out_do_not_hold_the_next_call(returns):
    """A fanned-out request's parts are queued at once and their callers never come back: the call
    after the first starts at once. Callers that may return are waited for (a share of the call)."""

    async def scenario():
        model = TimedModel()
        batcher = AdaptiveBatcher(model, max_batch_size=16, batch_wait_timeout_s=1.0)
        first = asyncio.create_task(batcher.submit(["a"], "p", [1], caller_returns=returns))
        await asyncio.sleep(0.01)  # "a" is now running; its siblings arrive behind it
        rest = [asyncio.create_task(batcher.submit([x], "p", [1], caller_returns=returns)) for x in "bcd"]
        await asyncio.gather(first, *rest)
        (_, first_end), (second_start, _) = model.spans
        return model.calls, second_start - first_end

    calls, gap = run(scenario())
    assert calls == [["a"], ["b", "c", "d"]]
    if returns:  # waits for "a"'s caller: up to a quarter of the 0.4 s call
        assert gap >= 0.09
    else:
        assert gap < 0.05
