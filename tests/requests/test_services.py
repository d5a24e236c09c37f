"""Access request services: lifecycle, thresholds, deny wins, policy refusals, expiry, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction

from apps.access.errors import AccessDenied
from apps.access.requests import selectors, services
from apps.access.requests.grants import granted_role_names
from apps.access.requests.models import AccessRequest, AccessReview
from apps.access.selectors import user_role_names
from apps.audit.models import AuditEvent
from tests.requests.conftest import OTHER_TARGET, TARGET_ROLE, People

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def events(event_type: str, outcome: str = "success") -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type, outcome=outcome).order_by("id"))


def refresh(user: Any) -> Any:
    return type(user).objects.get(pk=user.pk)


def test_full_lifecycle_grants_the_role_until_its_end(
    people: People, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(START, tick=False) as clock:
        assert TARGET_ROLE not in user_role_names(people.alice)
        with django_capture_on_commit_callbacks(execute=True):
            created = services.access_request_create(
                actor=people.alice, roles=[TARGET_ROLE], reason="INC-42 hotfix", duration="2h"
            )
        assert created.state == AccessRequest.State.PENDING
        assert created.review_deadline == START + timedelta(hours=24)
        assert created.duration == timedelta(hours=2)

        clock.move_to(START + timedelta(minutes=10))
        approved = services.access_request_review(
            actor=people.rita, request_id=created.pk, decision="approve", comment="ok"
        )
        assert approved.state == AccessRequest.State.APPROVED
        assert approved.access_starts_at == START + timedelta(minutes=10)
        assert approved.access_ends_at == START + timedelta(hours=2, minutes=10)
        # At once, with no new login: the same user object sees the granted role.
        assert user_role_names(people.alice) == ["developer", TARGET_ROLE]

        clock.move_to(START + timedelta(hours=2, minutes=9, seconds=59))
        assert TARGET_ROLE in user_role_names(people.alice)
        # Exactly at the grant's end the role is gone, before any beat task ran.
        clock.move_to(START + timedelta(hours=2, minutes=10))
        assert TARGET_ROLE not in user_role_names(people.alice)
        result = services.access_requests_expire()
        assert (result.expired, result.ended) == (0, 1)
        assert AccessRequest.objects.get(pk=created.pk).state == AccessRequest.State.ENDED
        assert services.access_requests_expire() == services.ExpiryResult(0, 0)  # idempotent

    assert [
        e.event_type for e in AuditEvent.objects.filter(target_kind="access_request").order_by("id")
    ] == [
        "access_request.created",
        "access_request.reviewed",
        "access_request.approved",
        "access_request.ended",
    ]
    create_event = events("access_request.created")[0]
    assert create_event.actor_name == "alice"
    assert create_event.details["roles"] == [TARGET_ROLE]
    assert create_event.details["reason"] == "INC-42 hotfix"
    assert events("access_request.approved")[0].actor_name == "rita"
    assert events("access_request.ended")[0].actor_name == "system"
    # Reviewers (and only reviewers) were e-mailed, with a link to the request.
    (message,) = mail.outbox
    assert sorted(message.to) == ["ray@example.test", "rita@example.test"]
    assert f"/requests/{created.pk}/" in message.body and "INC-42 hotfix" in message.body


def test_threshold_two_needs_two_reviewers(people: People) -> None:
    people.set_policy(thresholds=[{"approve": 2, "deny": 1}])
    created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE], reason="x")
    assert (created.approvals_required, created.denials_required) == (2, 1)
    first = services.access_request_review(
        actor=people.rita, request_id=created.pk, decision="approve"
    )
    assert first.state == AccessRequest.State.PENDING
    assert TARGET_ROLE not in user_role_names(people.alice)
    with pytest.raises(services.RequestNotPending, match="already reviewed"):
        services.access_request_review(actor=people.rita, request_id=created.pk, decision="approve")
    second = services.access_request_review(
        actor=people.ray, request_id=created.pk, decision="approve"
    )
    assert second.state == AccessRequest.State.APPROVED
    assert TARGET_ROLE in user_role_names(people.alice)
    assert len(events("access_request.reviewed")) == 2
    assert len(events("access_request.approved")) == 1


def test_a_denial_reaching_its_threshold_wins(people: People) -> None:
    people.set_policy(thresholds=[{"approve": 2, "deny": 1}])
    created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    services.access_request_review(actor=people.rita, request_id=created.pk, decision="approve")
    denied = services.access_request_review(
        actor=people.ray, request_id=created.pk, decision="deny", comment="not during freeze"
    )
    assert denied.state == AccessRequest.State.DENIED
    assert TARGET_ROLE not in user_role_names(people.alice)
    with pytest.raises(services.RequestNotPending, match="already denied"):
        services.access_request_review(
            actor=_third_reviewer(people), request_id=created.pk, decision="approve"
        )
    assert [e.details["comment"] for e in events("access_request.reviewed")] == [
        "",
        "not during freeze",
    ]


def _third_reviewer(people: People) -> Any:
    from apps.accounts.models import User

    return User.objects.create_user(username="rex", password="x", roles=["approver"])


def test_deny_threshold_two_lets_one_denial_wait(people: People) -> None:
    people.set_policy(thresholds=[{"approve": 2, "deny": 2}])
    created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    after_deny = services.access_request_review(
        actor=people.rita, request_id=created.pk, decision="deny"
    )
    assert after_deny.state == AccessRequest.State.PENDING
    after_approve = services.access_request_review(
        actor=people.ray, request_id=created.pk, decision="approve"
    )
    assert after_approve.state == AccessRequest.State.PENDING


def test_unrequestable_roles_are_refused_and_audited(people: People) -> None:
    for actor, roles in (
        (people.alice, ["approver"]),  # exists, but no glob of hers matches
        (people.alice, ["developer"]),  # already held
        (people.alice, ["db-nope"]),  # matches the glob but does not exist
        (people.bob, [TARGET_ROLE]),  # no request policy at all
    ):
        with pytest.raises(AccessDenied, match="may not request"):
            services.access_request_create(actor=actor, roles=roles, reason="r")
    assert AccessRequest.objects.count() == 0
    assert len(events("access_request.created", "denied")) == 4


def test_deny_request_roles_beat_allow(people: People) -> None:
    from apps.access.services import role_update

    role_update(
        actor=None,
        name="developer",
        spec={
            "allow": {"request": {"roles": ["db-*"]}},
            "deny": {"request": {"roles": ["db-admin"]}},
        },
    )
    assert selectors.requestable_role_names(people.alice) == [OTHER_TARGET]
    with pytest.raises(AccessDenied):
        services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])


def test_reason_mode_and_max_duration_come_from_the_policy(people: People) -> None:
    people.set_policy(reason={"mode": "required"}, max_duration="4h")
    with pytest.raises(services.RequestInvalid, match="require a reason"):
        services.access_request_create(actor=people.alice, roles=[TARGET_ROLE], reason="  ")
    with pytest.raises(services.RequestInvalid, match="at most 4h"):
        services.access_request_create(
            actor=people.alice, roles=[TARGET_ROLE], reason="r", duration="5h"
        )
    with pytest.raises(services.RequestInvalid, match="not a duration"):
        services.access_request_create(
            actor=people.alice, roles=[TARGET_ROLE], reason="r", duration="soon"
        )
    ok = services.access_request_create(
        actor=people.alice, roles=[TARGET_ROLE], reason="r", duration="4h"
    )
    assert ok.duration == timedelta(hours=4)
    default = services.access_request_create(actor=people.alice, roles=[OTHER_TARGET], reason="r")
    assert default.duration == timedelta(hours=1)


def test_reviewer_outside_review_requests_is_refused(people: People) -> None:
    created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    for actor in (people.outsider, people.bob, people.operator):
        with pytest.raises(AccessDenied, match="do not allow you to review"):
            services.access_request_review(actor=actor, request_id=created.pk, decision="approve")
    assert AccessReview.objects.count() == 0
    assert len(events("access_request.reviewed", "denied")) == 3
    assert selectors.reviewable_requests(people.outsider) == []
    assert [r.pk for r in selectors.reviewable_requests(people.rita)] == [created.pk]


def test_a_reviewer_must_cover_every_requested_role(people: People, make_user: Any) -> None:
    from apps.access.services import role_create

    role_create(
        actor=None,
        name="reader-approver",
        spec={"allow": {"review_requests": {"roles": [OTHER_TARGET]}}},
    )
    partial = make_user("pat", roles=["reader-approver"])
    created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE, OTHER_TARGET])
    with pytest.raises(AccessDenied):
        services.access_request_review(actor=partial, request_id=created.pk, decision="approve")


def test_self_review_is_refused_by_the_service_and_the_database(
    people: People, make_user: Any
) -> None:
    from apps.access.services import role_create

    # A user who may both request and review db-* roles still cannot review their own request.
    role_create(
        actor=None,
        name="lead",
        spec={"allow": {"request": {"roles": ["db-*"]}, "review_requests": {"roles": ["db-*"]}}},
    )
    lead = make_user("lead", roles=["lead"])
    created = services.access_request_create(actor=lead, roles=[TARGET_ROLE])
    for decision in ("approve", "deny"):
        with pytest.raises(AccessDenied, match="your own"):
            services.access_request_review(actor=lead, request_id=created.pk, decision=decision)
    assert not selectors.can_review(lead, created)
    assert created.pk not in [r.pk for r in selectors.reviewable_requests(lead)]
    # Any other path that writes the row directly hits the check constraint.
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessReview.objects.create(
            request=created, reviewer=lead, requester=lead, decision="approve"
        )
    assert AccessRequest.objects.get(pk=created.pk).state == AccessRequest.State.PENDING


def test_unreviewed_requests_expire_at_their_deadline(people: People) -> None:
    with time_machine.travel(START, tick=False) as clock:
        created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
        clock.move_to(START + timedelta(hours=23, minutes=59))
        assert services.access_requests_expire().expired == 0
        clock.move_to(START + timedelta(hours=24))
        # A review at the deadline is refused, and expires the request at once.
        with pytest.raises(services.RequestNotPending, match="expired"):
            services.access_request_review(
                actor=people.rita, request_id=created.pk, decision="approve"
            )
        assert AccessRequest.objects.get(pk=created.pk).state == AccessRequest.State.EXPIRED
        assert services.access_requests_expire().expired == 0
        other = services.access_request_create(actor=people.alice, roles=[OTHER_TARGET])
        clock.move_to(START + timedelta(hours=48))
        assert services.access_requests_expire().expired == 1
    assert AccessRequest.objects.get(pk=other.pk).state == AccessRequest.State.EXPIRED
    assert len(events("access_request.expired")) == 2
    assert TARGET_ROLE not in user_role_names(people.alice)


def test_the_beat_task_runs_through_celery(people: People) -> None:
    from apps.access.tasks import expire_access_requests

    with time_machine.travel(START, tick=False) as clock:
        created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
        services.access_request_review(actor=people.rita, request_id=created.pk, decision="approve")
        clock.move_to(START + timedelta(hours=30))
        outcome = expire_access_requests.apply(args=[]).get()
    assert outcome == {"expired": 0, "ended": 1}
    assert expire_access_requests.name == "apps.access.tasks.expire_access_requests"


def test_grants_can_be_ended_early_by_the_requester_or_staff(people: People) -> None:
    ids = []
    for roles in ([TARGET_ROLE], [OTHER_TARGET]):
        created = services.access_request_create(actor=people.alice, roles=roles)
        services.access_request_review(actor=people.rita, request_id=created.pk, decision="approve")
        ids.append(created.pk)
    assert set(user_role_names(people.alice)) == {"developer", TARGET_ROLE, OTHER_TARGET}
    with pytest.raises(services.RequestNotFound):
        services.access_request_end(actor=people.rita, request_id=ids[0])  # reviewer, not staff
    services.access_request_end(actor=people.alice, request_id=ids[0], reason="done")
    services.access_request_end(actor=people.operator, request_id=ids[1])
    assert user_role_names(people.alice) == ["developer"]
    ended = AccessRequest.objects.get(pk=ids[1])
    assert ended.state == AccessRequest.State.ENDED and ended.ended_by == people.operator
    assert [e.actor_name for e in events("access_request.ended")] == ["alice", "operator"]
    services.access_request_end(actor=people.alice, request_id=ids[0])  # no-op once ended
    assert len(events("access_request.ended")) == 2


def test_bad_input_gets_clear_errors(people: People) -> None:
    with pytest.raises(services.RequestInvalid, match="at least one role"):
        services.access_request_create(actor=people.alice, roles=[" ", ""])
    with pytest.raises(services.RequestInvalid, match="limited to"):
        services.access_request_create(actor=people.alice, roles=[TARGET_ROLE], reason="x" * 1001)
    created = services.access_request_create(actor=people.alice, roles=f"{TARGET_ROLE}")
    with pytest.raises(services.RequestInvalid, match="approve' or 'deny"):
        services.access_request_review(actor=people.rita, request_id=created.pk, decision="maybe")
    with pytest.raises(services.RequestNotFound):
        services.access_request_review(actor=people.rita, request_id="not-a-uuid", decision="deny")


def test_requestable_roles_for_an_app(people: People) -> None:
    from rbac.decision import AppFacts
    from tests.requests.conftest import ROLE_ARN

    app = AppFacts(
        name="db-prod",
        labels={"team": "db"},
        account_id="123456789012",
        role_arns=frozenset({ROLE_ARN}),
    )
    other = AppFacts(
        name="web",
        labels={"team": "web"},
        account_id="123456789012",
        role_arns=frozenset({ROLE_ARN}),
    )
    # db-reader matches the labels but grants no ARN, so only db-admin would help.
    assert selectors.requestable_roles_for_app(people.alice, app) == [TARGET_ROLE]
    assert selectors.requestable_roles_for_app(people.alice, other) == []
    assert selectors.requestable_roles_for_app(people.bob, app) == []
    created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    services.access_request_review(actor=people.rita, request_id=created.pk, decision="approve")
    # Once granted, the role is held and no longer offered.
    assert selectors.requestable_roles_for_app(refresh(people.alice), app) == []


def test_granted_roles_cost_one_query(people: People, django_assert_num_queries: Any) -> None:
    created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    services.access_request_review(actor=people.rita, request_id=created.pk, decision="approve")
    with django_assert_num_queries(1):
        assert granted_role_names(people.alice) == [TARGET_ROLE]


def test_a_decision_with_a_grant_still_costs_one_query(
    people: People, django_assert_num_queries: Any
) -> None:
    from apps.access.selectors import allowed_aws_roles
    from rbac.decision import AppFacts
    from tests.requests.conftest import ROLE_ARN

    app = AppFacts(
        name="db-prod",
        labels={"team": "db"},
        account_id="123456789012",
        role_arns=frozenset({ROLE_ARN}),
    )
    assert allowed_aws_roles(people.alice, app) == set()
    created = services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    services.access_request_review(actor=people.rita, request_id=created.pk, decision="approve")
    with django_assert_num_queries(1):
        assert allowed_aws_roles(people.alice, app) == {ROLE_ARN}
    services.access_request_end(actor=people.alice, request_id=created.pk)
    with django_assert_num_queries(1):
        assert allowed_aws_roles(people.alice, app) == set()


def test_a_stored_role_that_no_longer_validates_keeps_denying_requests_and_reviews(
    people: People,
) -> None:
    """An invalid stored role fails closed for requests and reviews, not only for apps."""
    from apps.access.models import Role

    # Written behind the validator's back (an older schema, a manual fix): "bogus" is refused.
    Role.objects.create(
        name="no-db-admin",
        spec={
            "deny": {
                "request": {"roles": [TARGET_ROLE]},
                "review_requests": {"roles": ["db-*"]},
            },
            "bogus": True,
        },
    )
    people.alice.roles = ["developer", "no-db-admin"]
    people.alice.save()
    people.rita.roles = ["approver", "no-db-admin"]
    people.rita.save()

    assert selectors.unrequestable_roles(people.alice, [TARGET_ROLE]) == [TARGET_ROLE]
    with pytest.raises(AccessDenied):
        services.access_request_create(actor=people.alice, roles=[TARGET_ROLE])
    people.ray.roles = ["developer"]
    people.ray.save()
    made = services.access_request_create(actor=people.ray, roles=[OTHER_TARGET])
    assert not selectors.can_review(people.rita, made)


def test_a_granted_reviewer_role_gives_no_review_rights(people: People) -> None:
    """Review rights come from assigned roles only: a role held through a grant cannot approve."""
    from apps.access.services import role_create, role_update

    role_update(
        actor=None, name="developer", spec={"allow": {"request": {"roles": ["db-*", "approver"]}}}
    )
    role_create(
        actor=None,
        name="meta-approver",
        spec={"allow": {"review_requests": {"roles": ["approver"]}}},
    )
    people.ray.roles = ["meta-approver"]
    people.ray.save()
    grant = services.access_request_create(actor=people.alice, roles=["approver"])
    services.access_request_review(actor=people.ray, request_id=grant.id, decision="approve")
    assert "approver" in user_role_names(people.alice)

    people.outsider.roles = ["developer"]
    people.outsider.save()
    wanted = services.access_request_create(actor=people.outsider, roles=[TARGET_ROLE])
    assert not selectors.can_review(people.alice, wanted)
    assert wanted not in selectors.reviewable_requests(people.alice)
    with pytest.raises(AccessDenied):
        services.access_request_review(actor=people.alice, request_id=wanted.id, decision="approve")
    wanted.refresh_from_db()
    assert wanted.state == AccessRequest.State.PENDING
    assert not AccessReview.objects.filter(request=wanted).exists()
