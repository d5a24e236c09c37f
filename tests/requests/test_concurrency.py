"""Reviews under real concurrency: two reviewers on two connections, released by a barrier.

TransactionTestCase semantics (`transaction=True`): each thread has its own connection and
commits for real, so the row lock is what keeps the count right, not a test transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from apps.access.requests import services
from apps.access.requests.models import AccessRequest, AccessReview
from apps.audit.models import AuditEvent
from tests.requests.conftest import TARGET_ROLE, People

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread and connection, all released at the same moment."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # the test inspects what each thread got
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def review(people_user: Any, request_id: Any, decision: str) -> Callable[[], Any]:
    return lambda: services.access_request_review(
        actor=people_user, request_id=request_id, decision=decision
    )


@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_approvals_are_each_counted_once(people: People, round_: int) -> None:
    people.set_policy(thresholds=[{"approve": 2, "deny": 1}])
    item = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    outcomes = run_together(
        review(people.rita, item.pk, "approve"), review(people.ray, item.pk, "approve")
    )
    assert all(isinstance(o, AccessRequest) for o in outcomes), outcomes
    assert sorted(o.state for o in outcomes) == ["approved", "pending"]
    item.refresh_from_db()
    assert item.state == AccessRequest.State.APPROVED
    assert AccessReview.objects.filter(request=item).count() == 2
    assert AuditEvent.objects.filter(event_type="access_request.approved").count() == 1


@pytest.mark.parametrize("round_", range(5))
def test_approve_and_deny_at_once_resolve_exactly_once(people: People, round_: int) -> None:
    item = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    outcomes = run_together(
        review(people.rita, item.pk, "approve"), review(people.ray, item.pk, "deny")
    )
    winners = [o for o in outcomes if isinstance(o, AccessRequest)]
    losers = [o for o in outcomes if isinstance(o, services.RequestNotPending)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    item.refresh_from_db()
    assert item.state == winners[0].state
    assert AccessReview.objects.filter(request=item).count() == 1
    decisions = AuditEvent.objects.filter(
        event_type__in=["access_request.approved", "access_request.denied"]
    )
    assert decisions.count() == 1


def test_the_same_reviewer_twice_at_once_counts_once(people: People) -> None:
    people.set_policy(thresholds=[{"approve": 2, "deny": 2}])
    item = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    outcomes = run_together(
        review(people.rita, item.pk, "approve"), review(people.rita, item.pk, "approve")
    )
    assert sum(isinstance(o, services.RequestNotPending) for o in outcomes) == 1, outcomes
    item.refresh_from_db()
    assert item.state == AccessRequest.State.PENDING
    assert AccessReview.objects.filter(request=item).count() == 1
