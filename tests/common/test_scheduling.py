"""Classes, aging and deadlines in the batcher (apps/common/batching.py, scheduling.py), driven with
model calls that record what they were given and take a set time, so who ran when is exact."""

import asyncio
import time

import pytest

from apps.common.batching import AdaptiveBatcher
from apps.common.scheduling import DeadlineExceededError, Ticket, request_class

INTERACTIVE, BULK = Ticket("interactive"), Ticket("bulk")


class Lane:
    """A model call on one lane: records each call's prompts and when it started and ended."""

    def __init__(self, call_s: float):
        self.call_s = call_s
        self.calls: list[list[str]] = []
        self.spans: list[tuple[float, float]] = []

    async def __call__(self, prompts: list[str], params) -> list[str]:
        self.calls.append(list(prompts))
        started = time.monotonic()
        await asyncio.sleep(self.call_s)
        self.spans.append((started, time.monotonic()))
        return [f"{params}:{p}" for p in prompts]

    @property
    def prompts(self) -> list[str]:
        return [p for call in self.calls for p in call]


class Observer:
    def __init__(self):
        self.waits: list[tuple[str, float]] = []
        self.expired: list[tuple[int, bool]] = []

    def record_batch(self, texts: int, seconds: float) -> None:
        pass

    def record_wait(self, priority: str, seconds: float) -> None:
        self.waits.append((priority, seconds))

    def record_expired(self, texts: int, decoded: bool) -> None:
        self.expired.append((texts, decoded))


def classes(
    main: Lane, bulk: Lane, bulk_max_wait_s: float = 2.0, observer=None, interactive_batch_size: int = 1
) -> AdaptiveBatcher:
    batcher = AdaptiveBatcher(main, 16, 0.0, observer=observer)
    batcher.configure(16, 0.0, bulk, bulk_max_wait_s, interactive_batch_size)
    return batcher


def test_a_request_is_bulk_past_either_bound_or_when_it_asks():
    assert request_class(["a" * 100], 4, 2000, None) == "interactive"
    assert request_class(["a" * 2001], 4, 2000, None) == "bulk"
    assert request_class(["a"] * 5, 4, 2000, None) == "bulk"
    assert request_class(["a"], 4, 2000, "bulk") == "bulk"
    assert request_class(["a" * 2001], 4, 2000, "interactive") == "bulk"  # never more than its class


def test_a_sentence_does_not_wait_for_a_bulk_call():
    """A long bulk call is running on the bulk lane: a sentence that arrives runs at once on the
    interactive lane and is answered long before the bulk call ends."""

    async def scenario():
        main, bulk = Lane(0.02), Lane(0.5)
        batcher = classes(main, bulk)
        document = asyncio.create_task(
            batcher.submit([f"d{i}" for i in range(16)], "p", [9] * 16, ticket=BULK)
        )
        await asyncio.sleep(0.05)  # the document is decoding
        started = time.monotonic()
        assert await batcher.submit(["hi"], "p", [2], ticket=INTERACTIVE) == ["p:hi"]
        answered = time.monotonic() - started
        await document
        return main, bulk, answered

    main, bulk, answered = asyncio.run(scenario())
    assert answered < 0.2
    assert main.calls == [["hi"]] and bulk.prompts == [f"d{i}" for i in range(16)]


def test_without_a_bulk_lane_the_oldest_request_goes_first_whatever_its_class():
    async def scenario():
        main = Lane(0.05)
        batcher = AdaptiveBatcher(main, max_batch_size=2, batch_wait_timeout_s=0.0)
        first = asyncio.create_task(batcher.submit(["x"], "p", [1]))
        await asyncio.sleep(0.01)
        tasks = [asyncio.create_task(batcher.submit(["b1", "b2"], "p", [5, 5], ticket=BULK))]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(batcher.submit(["i"], "p", [5], ticket=INTERACTIVE)))
        await asyncio.gather(first, *tasks)
        return main.calls

    assert asyncio.run(scenario()) == [["x"], ["b1", "b2"], ["i"]]


def test_bulk_work_passed_over_for_bulk_max_wait_s_runs_next_on_the_interactive_lane():
    """The bulk lane is stuck in one long call and interactive callers keep the interactive lane
    busy back to back: the next bulk request is not taken there before bulk_max_wait_s, and is
    taken by the first call after it (aging), so it is answered long before the bulk lane frees."""

    async def scenario():
        main, bulk = Lane(0.05), Lane(5.0)
        batcher = classes(main, bulk, bulk_max_wait_s=0.5)
        stuck = asyncio.create_task(batcher.submit(["long"], "p", [9], ticket=BULK))
        await asyncio.sleep(0.01)
        started = time.monotonic()
        waiting = asyncio.create_task(batcher.submit(["aged"], "p", [9], ticket=BULK))
        stop = False

        async def caller(name: str) -> None:
            while not stop:
                await batcher.submit([name], "p", [2], ticket=INTERACTIVE)

        callers = [asyncio.create_task(caller(f"c{n}")) for n in range(3)]
        await waiting
        answered = time.monotonic() - started
        stop = True
        await asyncio.gather(*callers)
        stuck.cancel()
        return main, answered

    main, answered = asyncio.run(scenario())
    assert 0.5 <= answered < 1.0
    [aged_call] = [n for n, call in enumerate(main.calls) if "aged" in call]
    assert aged_call >= 8  # ~10 interactive calls of 0.05 s ran before it, with no bulk in them
    assert main.calls[aged_call][0] == "aged"  # the oldest bulk work heads the call
    assert all(p.startswith("c") for call in main.calls[:aged_call] for p in call)


def test_bulk_work_fills_the_bulk_lane_while_interactive_work_runs_beside_it():
    async def scenario():
        main, bulk = Lane(0.02), Lane(0.1)
        batcher = classes(main, bulk)
        work = [batcher.submit([f"b{n}"], "p", [5], ticket=BULK) for n in range(3)]
        work += [batcher.submit([f"i{n}"], "p", [5], ticket=INTERACTIVE) for n in range(3)]
        await asyncio.gather(*work)
        return main, bulk

    main, bulk = asyncio.run(scenario())
    assert main.calls == [["i0", "i1", "i2"]] and bulk.calls == [["b0", "b1", "b2"]]
    [(main_start, main_end)], [(bulk_start, bulk_end)] = main.spans, bulk.spans
    assert max(main_start, bulk_start) < min(main_end, bulk_end)  # at once, not one after the other


def test_an_interactive_call_takes_queued_bulk_texts_up_to_interactive_batch_size():
    """The bulk lane is busy; a bulk list of 10 waits. A sentence's call takes the list's first 3
    texts (4 in all), the bulk lane the other 7 when it frees; the list is answered whole, in
    order, and its queue wait is reported once."""

    async def scenario():
        main, bulk, observer = Lane(0.05), Lane(0.3), Observer()
        batcher = classes(main, bulk, observer=observer, interactive_batch_size=4)
        busy = asyncio.create_task(batcher.submit(["busy"], "p", [9], ticket=BULK))
        await asyncio.sleep(0.01)
        texts = [f"t{n}" for n in range(10)]
        listed = asyncio.create_task(batcher.submit(texts, "p", [5] * 10, ticket=BULK))
        await asyncio.sleep(0.01)
        assert await batcher.submit(["hi"], "p", [5], ticket=INTERACTIVE) == ["p:hi"]
        answer = await listed
        await busy
        return main, bulk, observer, texts, answer

    main, bulk, observer, texts, answer = asyncio.run(scenario())
    assert answer == [f"p:{t}" for t in texts]
    assert main.calls == [["hi", "t0", "t1", "t2"]]
    assert bulk.calls == [["busy"], texts[3:]]
    assert sorted(p for p, _ in observer.waits) == ["bulk", "bulk", "interactive"]


def test_a_request_whose_deadline_passes_between_its_slices_is_dropped_undecoded_for_the_rest():
    """An interactive call took the first 2 texts of a bulk list; its deadline passes before the
    rest is taken: the list is answered 504, its 6 untaken texts counted as never decoded."""

    async def scenario():
        main, bulk, observer = Lane(0.05), Lane(1.0), Observer()
        batcher = classes(main, bulk, observer=observer, interactive_batch_size=3)
        busy = asyncio.create_task(batcher.submit(["busy"], "p", [9], ticket=BULK))
        await asyncio.sleep(0.01)
        listed = asyncio.create_task(
            batcher.submit([f"t{n}" for n in range(8)], "p", [5] * 8, ticket=Ticket.start("bulk", 0.3))
        )
        await asyncio.sleep(0.01)
        await batcher.submit(["hi"], "p", [5], ticket=INTERACTIVE)
        with pytest.raises(DeadlineExceededError):
            await listed
        await busy
        return main, bulk, observer

    main, bulk, observer = asyncio.run(scenario())
    assert main.calls == [["hi", "t0", "t1"]] and bulk.calls == [["busy"]]
    assert observer.expired == [(6, False)]


def test_bulk_texts_whose_deadline_an_interactive_call_would_pass_are_dropped_not_taken_along():
    """The interactive lane's last call took 0.3 s for one text; a bulk text with 0.15 s left is
    not taken into the next interactive call (it would end past its deadline) but dropped at once,
    undecoded."""

    async def scenario():
        main, bulk, observer = Lane(0.3), Lane(1.0), Observer()
        batcher = classes(main, bulk, observer=observer, interactive_batch_size=4)
        await batcher.submit(["warm"], "p", [1], ticket=INTERACTIVE)
        busy = asyncio.create_task(batcher.submit(["busy"], "p", [9], ticket=BULK))
        await asyncio.sleep(0.01)
        late = asyncio.create_task(batcher.submit(["late"], "p", [5], ticket=Ticket.start("bulk", 0.15)))
        await asyncio.sleep(0)
        assert await batcher.submit(["hi"], "p", [5], ticket=INTERACTIVE) == ["p:hi"]
        with pytest.raises(DeadlineExceededError):
            await late
        await busy
        return main, observer

    main, observer = asyncio.run(scenario())
    assert main.calls == [["warm"], ["hi"]]
    assert observer.expired == [(1, False)]


def test_a_request_past_its_deadline_is_answered_at_once_and_never_decoded():
    async def scenario():
        main, observer = Lane(0.5), Observer()
        batcher = AdaptiveBatcher(main, 16, 0.0, observer=observer)
        busy = asyncio.create_task(batcher.submit(["first"], "p", [1]))
        await asyncio.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as raised:
            await batcher.submit(["late", "later"], "p", [1, 1], ticket=Ticket.start("interactive", 0.1))
        answered = time.monotonic() - started
        await busy
        return main, observer, answered, raised.value

    main, observer, answered, error = asyncio.run(scenario())
    assert 0.09 <= answered < 0.3  # at its deadline, not when the model is free
    assert main.prompts == ["first"]
    assert observer.expired == [(2, False)]
    assert error.status_code == 504 and "deadline (0.1 s)" in error.message


def test_a_request_whose_deadline_its_call_would_pass_is_dropped_when_its_turn_comes():
    """The lane's last call took 0.3 s for one text: a request of one text with 0.2 s left is
    dropped at its turn, at once, rather than decoded past its deadline; one with 1 s left runs."""

    async def scenario():
        main, observer = Lane(0.3), Observer()
        batcher = AdaptiveBatcher(main, 16, 0.0, observer=observer)
        await batcher.submit(["warm"], "p", [1])
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            await batcher.submit(["short"], "p", [1], ticket=Ticket.start("interactive", 0.2))
        dropped_after = time.monotonic() - started
        assert await batcher.submit(["ok"], "p", [1], ticket=Ticket.start("interactive", 1.0)) == ["p:ok"]
        return main, observer, dropped_after

    main, observer, dropped_after = asyncio.run(scenario())
    assert dropped_after < 0.1
    assert main.prompts == ["warm", "ok"] and observer.expired == [(1, False)]


def test_a_deadline_that_passes_during_the_call_answers_504_then_counts_the_work_wasted():
    async def scenario():
        main, observer = Lane(0.3), Observer()
        batcher = AdaptiveBatcher(main, 16, 0.0, observer=observer)
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            await batcher.submit(["slow"], "p", [1], ticket=Ticket.start("interactive", 0.1))
        answered = time.monotonic() - started
        await asyncio.sleep(0.35)  # the call ends
        return main, observer, answered

    main, observer, answered = asyncio.run(scenario())
    assert answered < 0.25 and main.prompts == ["slow"]
    assert observer.expired == [(1, True)]


def test_queue_wait_is_reported_per_class():
    async def scenario():
        main, bulk, observer = Lane(0.05), Lane(0.05), Observer()
        batcher = classes(main, bulk, observer=observer)
        await asyncio.gather(
            batcher.submit(["a"], "p", [1], ticket=INTERACTIVE), batcher.submit(["b"], "p", [1], ticket=BULK)
        )
        return observer.waits

    waits = asyncio.run(scenario())
    assert sorted(priority for priority, _ in waits) == ["bulk", "interactive"]
    assert all(0 <= seconds < 0.05 for _, seconds in waits)


def test_a_ticket_crosses_processes_as_a_wall_clock_deadline():
    ticket = Ticket.start("bulk", 5.0)
    again = Ticket.from_wall(ticket.priority, ticket.wall_deadline(), ticket.timeout_s)
    assert again.priority == "bulk" and again.timeout_s == 5.0
    assert abs(again.deadline - ticket.deadline) < 0.01
    assert Ticket.from_wall("interactive", None, None).deadline is None
