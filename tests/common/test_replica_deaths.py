"""apps/common/replica_deaths.py: a call whose replica died is sent once more, logged and counted;
nothing else is retried. (The router's use of it, with its timeout: tests/router/test_leaf_retry.py;
a real replica killed under load: tests/e2e/test_faults.py.)"""

import asyncio
import logging

import pytest
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

from apps.common import replica_deaths
from apps.common.replica_deaths import CallTimeoutError, retry_if_replica_died
from tests.recorded_metrics import RecordedMetric


@pytest.fixture
def retries(monkeypatch) -> list:
    recorded = RecordedMetric()
    monkeypatch.setattr(replica_deaths, "retry_metrics", lambda: recorded)
    return recorded.records


class Response:
    """A handle call's response: awaitable, cancellable; NEVER is an answer that does not come."""

    def __init__(self, outcome):
        self.outcome, self.cancelled = outcome, False

    def cancel(self):
        self.cancelled = True

    def __await__(self):
        return self._answer().__await__()

    async def _answer(self):
        if self.outcome is NEVER:
            await asyncio.Event().wait()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


NEVER = object()


def run(*outcomes, timeout_s=None, responses=None, replica_gone=True):
    """Call through retry_if_replica_died; each call takes the next outcome (an exception
    to raise, NEVER, else the answer); after a timeout, the replica is gone or still serving.
    (answer or exception, calls made)."""
    outcomes, made = list(outcomes), [] if responses is None else responses

    def call():
        made.append(Response(outcomes.pop(0)))
        return made[-1]

    async def still_serving():
        return not replica_gone

    async def main():
        try:
            return await retry_if_replica_died(
                call, "summarization._summarize_chunk", timeout_s, still_serving=still_serving
            )
        except Exception as exc:
            return exc

    return asyncio.run(main()), len(made)


@pytest.mark.parametrize(
    "death", [ActorDiedError(), ActorUnavailableError("Actor is unavailable.", None)], ids=type
)
def test_a_call_whose_replica_died_is_sent_once_more_logged_and_counted(death, retries, caplog):
    with caplog.at_level(logging.WARNING, logger="ray.serve"):
        assert run(death, "a summary") == ("a summary", 2)
    assert retries == [("summarization._summarize_chunk", type(death).__name__)]
    assert "retrying summarization._summarize_chunk once: the replica serving it died" in caplog.text


def test_only_once(retries):
    result, calls = run(ActorDiedError(), ActorDiedError(), "a summary")
    assert isinstance(result, ActorDiedError) and calls == 2
    assert len(retries) == 1


@pytest.mark.parametrize(
    "failure",
    [
        RayTaskError("summarize_chunk", "Traceback ...", ActorDiedError()).as_instanceof_cause(),
        RuntimeError("the model failed"),
    ],
    ids=["callee-code-failed-with-actor-died", "callee-fault"],
)
def test_nothing_else_is_retried(failure, retries):
    result, calls = run(failure, "a summary")
    assert type(result) is type(failure) and calls == 1
    assert retries == []


def test_with_a_deadline_an_unanswered_call_whose_replica_is_gone_is_cancelled_and_sent_once_more(
    retries, caplog
):
    responses = []
    with caplog.at_level(logging.WARNING, logger="ray.serve"):
        result = run(NEVER, "a summary", timeout_s=0.05, responses=responses)
    assert result == ("a summary", 2)
    assert [r.cancelled for r in responses] == [True, False]
    assert retries == [("summarization._summarize_chunk", "CallTimeoutError")]
    logged = "retrying summarization._summarize_chunk once: no answer in time (CallTimeoutError: no answer"
    assert logged + " within 0.05 s)" in caplog.text


def test_an_unanswered_call_on_a_replica_still_serving_is_cancelled_and_not_sent_again(retries):
    """A replica that is only slow (a long queue) keeps its work: sending it again would double it."""
    responses = []
    result, calls = run(NEVER, "a summary", timeout_s=0.05, responses=responses, replica_gone=False)
    assert isinstance(result, CallTimeoutError) and calls == 1
    assert responses[0].cancelled and retries == []


def test_with_a_deadline_a_second_unanswered_call_raises_the_timeout(retries):
    responses = []
    result, calls = run(NEVER, NEVER, timeout_s=0.05, responses=responses)
    assert isinstance(result, asyncio.TimeoutError) and calls == 2
    assert all(r.cancelled for r in responses)


def test_without_a_deadline_a_timeout_is_not_retried(retries):
    result, calls = run(asyncio.TimeoutError(), "a summary")
    assert isinstance(result, asyncio.TimeoutError) and calls == 1
    assert retries == []
