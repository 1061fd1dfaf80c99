"""What goal setting tells people about: a person's proposed goal awaits their manager,
and the manager's decision (approved, returned with a comment, rejected) reaches them.

Raised by ``goals.services`` inside the transition's transaction; goals are decided one
at a time, so the recipients are found per goal (a few queries each). The wording is in
``templates/notifications/goal_*.*``.
"""

from __future__ import annotations

from django.urls import reverse

from perfcycle import access
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Employee, User
from perfcycle.notifications import Event, each, register

from .models import Goal


def approvers(goal: Goal) -> list[User]:
    """Whom a proposed goal waits on: the nearest manager above its owner whom the access
    policy lets decide it (only personal goals are proposed; ``proposes_own_goal``);
    HR when there is nobody above."""
    chain = ancestor_ids(Employee, "manager", goal.employee_id)
    managers = User.objects.filter(employee__in=chain, is_active=True).select_related("employee")
    for user in sorted(managers, key=lambda user: chain.index(user.employee.pk)):
        if access.can_decide_goal(user, goal):
            return [user]
    return [user for user in access.hr_administrators() if user.pk != goal.employee.user_id]


def owner(goal: Goal) -> list[User]:
    """Who is told of the decision on a proposed goal: the person it belongs to."""
    return [goal.employee.user]


def _goal_page(goal: Goal, user) -> str:
    return reverse("goals:detail", args=[goal.pk])


def _version(goal: Goal) -> str:
    return f"v{goal.version}"


# A goal may be proposed, returned and proposed again: each proposal and each decision is
# told (keyed by the goal's version).
GOAL_AWAITS_APPROVAL = register(
    Event(
        "goal_awaits_approval",
        recipients=each(approvers),
        url=_goal_page,
        occurrence=_version,
    )
)
GOAL_DECIDED = register(
    Event("goal_decided", recipients=each(owner), url=_goal_page, occurrence=_version)
)
