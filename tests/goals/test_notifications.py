"""What goal setting tells people: a proposed goal waits on the owner's manager, and the
manager's decision reaches the owner, each proposal and each decision once.

The organisation of ``tests/conftest.py``: Emil Employee reports to Mona Manager, who
reports to Cora Chief; Hana HR is the HR administrator.
"""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from goals import services
from goals.models import Goal
from perfcycle.models import Notification
from tests.conftest import fresh
from tests.factories import EmployeeFactory
from tests.goals.conftest import goal_data

L, S = Goal.Level, Goal.Status


def told(event):
    return sorted(
        Notification.objects.filter(event=event).values_list("recipient__email", flat=True)
    )


def propose(org, cycle, cascade, user, *, submit=True):
    return services.goal_create(
        actor=user,
        cycle=cycle,
        level=L.PERSONAL,
        owner=user.employee,
        parent=cascade.bookings if user.employee.department == org.sales_east else None,
        data=goal_data("Win two logos in the north", 20),
        submit=submit,
    )


def test_a_proposed_goal_is_sent_to_the_owners_manager_only(
    org, cycle, cascade, employee, celery_inline, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        goal = propose(org, cycle, cascade, employee)

    assert told("goal_awaits_approval") == ["manager@example.com"]
    notice = Notification.objects.get(event="goal_awaits_approval")
    assert notice.title == "Goal to approve: Win two logos in the north (Emil Employee)"
    assert "Emil Employee proposed this goal for the FY2026 cycle" in notice.body
    assert "target: 100 k CNY" in notice.body
    assert notice.url == f"/goals/{goal.pk}/"
    assert [m.to for m in mail.outbox] == [["manager@example.com"]]


def test_a_draft_tells_nobody_until_it_is_submitted(org, cycle, cascade, employee):
    draft = propose(org, cycle, cascade, employee, submit=False)
    assert told("goal_awaits_approval") == []

    services.goal_submit(actor=fresh(employee), goal=draft, expected_version=draft.version)

    assert told("goal_awaits_approval") == ["manager@example.com"]


def test_the_decision_reaches_the_owner_with_the_managers_comment(
    org, cycle, cascade, employee, manager
):
    goal = propose(org, cycle, cascade, employee)

    returned = services.goal_return(actor=manager, goal=goal, comment="Name the two logos")

    notice = Notification.objects.get(event="goal_decided")
    assert notice.recipient == employee
    assert notice.title == "Goal returned for changes: Win two logos in the north"
    assert "Name the two logos" in notice.body

    services.goal_submit(actor=fresh(employee), goal=returned, expected_version=returned.version)
    resubmitted = Goal.objects.get(pk=goal.pk)
    services.goal_approve(actor=fresh(manager), goal=resubmitted)

    # Each proposal and each decision is told once: two proposals, two decisions.
    assert told("goal_awaits_approval") == ["manager@example.com"] * 2
    titles = Notification.objects.filter(event="goal_decided").values_list("title", flat=True)
    assert sorted(titles) == [
        "Goal approved: Win two logos in the north",
        "Goal returned for changes: Win two logos in the north",
    ]


def test_a_rejection_reaches_the_owner(org, cycle, cascade, employee, manager):
    goal = propose(org, cycle, cascade, employee)

    services.goal_reject(actor=manager, goal=goal, comment="Not this year")

    notice = Notification.objects.get(event="goal_decided")
    assert notice.title == "Goal rejected: Win two logos in the north"
    assert "Not this year" in notice.body


def test_a_goal_the_manager_writes_and_approves_tells_nobody(org, cycle, cascade, manager):
    goal = services.goal_create(
        actor=manager,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Mentor the new hire", 10),
    )

    assert goal.status == S.APPROVED
    assert not Notification.objects.filter(event__startswith="goal_").exists()


def test_a_goal_of_someone_with_no_manager_waits_on_hr(org, cycle, cascade):
    loner = EmployeeFactory(department=org.sales_east, position=org.position, manager=None)

    propose(org, cycle, cascade, loner.user)

    assert told("goal_awaits_approval") == ["hr@example.com"]


def test_nothing_is_told_when_the_proposal_is_refused(org, cycle, cascade, employee):
    with pytest.raises(ValidationError):
        services.goal_create(
            actor=employee,
            cycle=cycle,
            level=L.PERSONAL,
            owner=org.employee,
            data=goal_data("Too heavy", 500),
        )

    assert not Notification.objects.exists()
