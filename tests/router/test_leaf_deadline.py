"""LeafDeadline without Ray: every leaf call carries a deadline, the client's or the router's."""

import pytest

from apps.common.scheduling import DeadlineExceededError
from apps.router.leaf_client import ANSWER_GRACE_S, LeafDeadline


def test_a_request_without_a_deadline_passes_the_routers_own_on():
    assert LeafDeadline(None, 25).next_call() == (25, 25)


def test_a_clients_deadline_is_passed_on_and_waited_for_a_little_longer():
    leaf_s, wait_s = LeafDeadline(10, 25).next_call()
    assert 9.9 < leaf_s <= 10 and wait_s == pytest.approx(leaf_s + ANSWER_GRACE_S)
    # never more than leaf_timeout_s: the router waits no longer, and cancels the call then
    assert LeafDeadline(60, 25).next_call() == (25, 25)


def test_a_passed_deadline_calls_no_leaf():
    with pytest.raises(DeadlineExceededError):
        LeafDeadline(1e-9, 25).next_call()
