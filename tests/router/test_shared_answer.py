"""SharedAnswer (apps/router/shared_answer.py), without Ray: a burst shares one call, a fresh answer
is reused, a stale one, another key, a refused answer or an error makes the next call anew."""

import asyncio

import pytest

from apps.router.shared_answer import SharedAnswer


class Maker:
    def __init__(self, answers=None, delay_s=0.05):
        self.calls, self.delay_s, self.answers = 0, delay_s, answers

    async def __call__(self, key):
        self.calls += 1
        number = self.calls
        await asyncio.sleep(self.delay_s)
        if self.answers is not None:
            answer = self.answers[number - 1]
            if isinstance(answer, Exception):
                raise answer
            return answer
        return number


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_burst_of_callers_shares_one_call_and_a_fresh_answer_is_reused():
    async def scenario():
        maker = Maker()
        shared = SharedAnswer(maker, max_age_s=10)
        answers = await asyncio.gather(*(shared.get() for _ in range(200)))
        assert answers == [1] * 200 and maker.calls == 1
        assert await shared.get() == 1 and maker.calls == 1

    run(scenario())


def test_a_stale_answer_is_made_anew():
    async def scenario():
        maker = Maker(delay_s=0)
        shared = SharedAnswer(maker, max_age_s=0.05)
        assert await shared.get() == 1
        await asyncio.sleep(0.08)
        assert await shared.get() == 2 and maker.calls == 2

    run(scenario())


def test_another_key_makes_the_answer_anew_and_forget_drops_it():
    async def scenario():
        maker = Maker(delay_s=0)
        shared = SharedAnswer(maker, max_age_s=10)
        assert await shared.get("v1") == 1
        assert await shared.get("v1") == 1
        assert await shared.get("v2") == 2
        shared.forget()
        assert await shared.get("v2") == 3

    run(scenario())


def test_a_refused_answer_reaches_its_callers_but_is_not_reused():
    async def scenario():
        maker = Maker(answers=["down", "down", "ok"])
        shared = SharedAnswer(maker, max_age_s=10, keep=lambda answer: answer == "ok")
        assert await asyncio.gather(shared.get(), shared.get()) == ["down", "down"]
        assert maker.calls == 1
        assert await shared.get() == "down" and await shared.get() == "ok"
        assert await shared.get() == "ok" and maker.calls == 3

    run(scenario())


def test_an_error_reaches_every_waiting_caller_and_the_next_call_tries_again():
    async def scenario():
        maker = Maker(answers=[RuntimeError("controller down"), "ok"])
        shared = SharedAnswer(maker, max_age_s=10)
        results = await asyncio.gather(shared.get(), shared.get(), return_exceptions=True)
        assert [str(r) for r in results] == ["controller down"] * 2 and maker.calls == 1
        assert await shared.get() == "ok"

    run(scenario())


def test_a_caller_that_goes_away_does_not_cancel_the_others():
    async def scenario():
        maker = Maker(delay_s=0.1)
        shared = SharedAnswer(maker, max_age_s=10)
        leaving = asyncio.ensure_future(shared.get())
        staying = asyncio.ensure_future(shared.get())
        await asyncio.sleep(0.01)
        leaving.cancel()
        assert await staying == 1
        with pytest.raises(asyncio.CancelledError):
            await leaving

    run(scenario())
