"""The router's one retry of a leaf call whose replica died (apps/router/leaf_client.py), against a
stand-in handle that fails as Ray's does: retried once for ActorDiedError / ActorUnavailableError,
never for a timeout, a full queue, a caller's error or a leaf's own fault; the retry stays within
the call's timeout, is logged and counted. tests/e2e/test_faults.py shows it on a real cluster
with a real replica killed."""

import asyncio
import logging
import time
from types import SimpleNamespace

import pytest
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError
from ray.serve.exceptions import BackPressureError

from apps.common import replica_deaths
from apps.common.errors import ServiceBusyError, UserInputError
from apps.router import leaf_client
from apps.router.config import LeafAppRef
from apps.router.leaf_client import LeafClient, LeafUnavailableError
from tests.recorded_metrics import RecordedMetric

ANSWER = {"translation": "Bonjour le monde !", "target_lang": "fr", "model": "m"}


class StandInResponse:
    """A DeploymentResponse: awaitable, and `cancel()` stops the call (counted in `cancelled`)."""

    def __init__(self, method: "StandInMethod", answer):
        self.method, self.answer = method, answer
        self.task: asyncio.Task | None = None

    def __await__(self):
        if self.task is None:
            self.task = asyncio.ensure_future(self.answer)
        return self.task.__await__()

    def cancel(self) -> None:
        self.method.cancelled += 1
        if self.task is not None:
            self.task.cancel()


class StandInMethod:
    """`handle.translate`: each `.remote()` call takes the next outcome (an exception to raise, a
    delay in seconds before answering, or the answer)."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0
        self.cancelled = 0

    def remote(self, *args, **kwargs):
        self.calls += 1
        outcome = self.outcomes.pop(0)

        async def respond():
            if isinstance(outcome, BaseException):
                raise outcome
            if isinstance(outcome, float):
                await asyncio.sleep(outcome)
                return ANSWER
            return outcome

        return StandInResponse(self, respond())


@pytest.fixture
def counted(monkeypatch):
    retries, rejections = RecordedMetric(), RecordedMetric()
    monkeypatch.setattr(replica_deaths, "retry_metrics", lambda: retries)
    monkeypatch.setattr(leaf_client, "rejection_metrics", lambda: rejections)
    return SimpleNamespace(retries=retries.records, rejections=rejections.records)


def call(*outcomes, timeout_s: float = 5.0):
    """Translate through a LeafClient whose handle gives `outcomes`; (result or exception, calls)."""
    method = StandInMethod(*outcomes)
    client = LeafClient(LeafAppRef(app="translation", deployment="Translator"), retry_after_s=5)
    client._handle = SimpleNamespace(translate=method)

    async def run():
        try:
            return await client.call("translate", "Hello world!", "fr", wait_s=timeout_s)
        except Exception as exc:
            return exc

    return asyncio.run(run()), method.calls


def leaf_fault(cause: Exception) -> Exception:
    """An exception raised inside the leaf's code, as it arrives through a handle."""
    return RayTaskError("translate", "Traceback ...", cause).as_instanceof_cause()


@pytest.mark.parametrize(
    "death",
    [ActorDiedError(), ActorUnavailableError("Actor is unavailable.", None)],
    ids=["ActorDiedError", "ActorUnavailableError"],
)
def test_a_call_whose_replica_died_is_retried_once_and_logged(death, counted, caplog):
    with caplog.at_level(logging.WARNING, logger="ray.serve"):
        result, calls = call(death, ANSWER)
    assert result == ANSWER and calls == 2
    assert counted.retries == [("translation", type(death).__name__)]
    assert counted.rejections == []
    assert any("retrying translation.translate once" in r.getMessage() for r in caplog.records)


def test_only_one_retry(counted):
    result, calls = call(ActorDiedError(), ActorDiedError(), ANSWER)
    assert calls == 2
    assert isinstance(result, LeafUnavailableError) and result.status_code == 503
    assert "the 'translation' app is unavailable (ActorDiedError)" in str(result)
    assert counted.retries == [("translation", "ActorDiedError")]
    assert counted.rejections == [("translation", "unavailable")]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (UserInputError("text is empty", 422), UserInputError),
        (leaf_fault(UserInputError("text is empty", 422)), UserInputError),
        (leaf_fault(ActorDiedError()), LeafUnavailableError),  # the leaf's own code failed
        (leaf_fault(RuntimeError("boom")), LeafUnavailableError),
        (BackPressureError(num_queued_requests=32, max_queued_requests=32), LeafUnavailableError),
    ],
    ids=["user-error", "user-error-via-handle", "leaf-fault-actor-died", "leaf-fault", "queue-full"],
)
def test_other_failures_are_not_retried(failure, expected, counted):
    result, calls = call(failure, ANSWER)
    assert calls == 1
    assert isinstance(result, expected)
    assert counted.retries == []


def test_a_busy_leaf_is_answered_as_busy_with_its_retry_after(counted):
    """A leaf's 503 on purpose (no room for map-reduce work) reaches the caller as it was: a
    ServiceBusyError, not a UserInputError, with the leaf's status, message and Retry-After."""
    busy = ServiceBusyError("this replica is already summarizing 4 texts; retry in a few seconds")
    result, calls = call(leaf_fault(busy), ANSWER)
    assert calls == 1 and counted.retries == []
    assert isinstance(result, ServiceBusyError) and not isinstance(result, UserInputError)
    assert (result.status_code, result.retry_after_s, result.message) == (503, 2, busy.message)


def test_a_timeout_is_not_retried(counted):
    result, calls = call(1.0, ANSWER, timeout_s=0.2)
    assert calls == 1
    assert isinstance(result, LeafUnavailableError) and result.reason == "timeout"
    assert counted.retries == []


def test_the_retry_stays_within_the_calls_timeout(counted):
    class DiesLate(StandInMethod):
        def remote(self, *args, **kwargs):
            if self.calls == 0:
                self.calls += 1

                async def die_after_a_while():
                    await asyncio.sleep(0.3)
                    raise ActorDiedError()

                return StandInResponse(self, die_after_a_while())
            return super().remote(*args, **kwargs)

    method = DiesLate(1.0)  # the retry would answer after 1 s
    client = LeafClient(LeafAppRef(app="translation", deployment="Translator"), retry_after_s=5)
    client._handle = SimpleNamespace(translate=method)
    start = time.monotonic()

    async def run():
        with pytest.raises(LeafUnavailableError) as raised:
            await client.call("translate", "Hello world!", "fr", wait_s=0.5)
        return raised.value

    error = asyncio.run(run())
    elapsed = time.monotonic() - start
    assert error.reason == "timeout" and "no answer within 0.5 s" in str(error)
    assert method.calls == 2 and elapsed < 0.9
    assert counted.retries == [("translation", "ActorDiedError")]


def _client_of(method: StandInMethod) -> LeafClient:
    client = LeafClient(LeafAppRef(app="translation", deployment="Translator"), retry_after_s=5)
    client._handle = SimpleNamespace(translate=method)
    return client


def test_a_call_the_router_stops_waiting_for_is_cancelled_at_the_leaf(counted):
    method = StandInMethod(5.0)  # the leaf would answer after 5 s

    async def run():
        with pytest.raises(LeafUnavailableError) as raised:
            await _client_of(method).call("translate", "Hello world!", "fr", wait_s=0.2)
        return raised.value

    assert asyncio.run(run()).reason == "timeout"
    assert method.cancelled == 1  # the leaf's call too, not only the router's wait


def test_a_call_whose_client_went_away_is_cancelled_at_the_leaf(counted):
    method = StandInMethod(5.0)

    async def run():
        task = asyncio.ensure_future(_client_of(method).call("translate", "Hello world!", "fr", wait_s=10))
        await asyncio.sleep(0.1)
        task.cancel()  # as Serve cancels the router's handler when its HTTP client disconnects
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert method.cancelled == 1


def test_an_answered_call_is_not_cancelled(counted):
    method = StandInMethod(0.01)
    result = asyncio.run(_client_of(method).call("translate", "Hello world!", "fr", wait_s=5))
    assert result == ANSWER and method.cancelled == 0
