"""Deadline reminders: who has work open in a cycle's goal setting or review phase, and
which notices are due on a given day.

The daily beat task (``appraisals.tasks.send_reminders``) asks :func:`reminders_due`
for each running cycle and hands each :class:`Reminder` to ``notify()``; the events
(``appraisals/notifications.py``) find their recipients with :func:`open_work` and
:func:`overdue_by_manager`. Every function reads a fixed number of queries, whatever the
number of people.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from goals.models import Goal
from perfcycle.models import Cycle, CycleDeadline, Employee, User

from .models import Appraisal

P = Cycle.Status
A = Appraisal.Stage

# The review phases whose work is reminded of, and the stages in which it is still open.
OPEN_STAGES = {
    P.SELF_REVIEW: (A.SELF_REVIEW,),
    P.MANAGER_REVIEW: (A.SELF_REVIEW, A.MANAGER_REVIEW),
}
# In goal setting the work is each person's own goals: open while the personal goals they
# have approved or proposed do not total 100.
REMINDER_PHASES = (P.GOAL_SETTING, *OPEN_STAGES)
# Days before the deadline on which the people with open work are reminded.
DAYS_BEFORE = (3, 1)


@dataclass(frozen=True)
class Reminder:
    """One ``notify()`` call: the event, the cycle, the day it is keyed by (or None for a
    once-per-phase notice) and what the templates read besides the cycle."""

    event: str
    cycle: Cycle
    day: datetime.date | None
    context: dict[str, Any] = field(default_factory=dict)


def _open_appraisals(cycle: Cycle):
    """The cycle's appraisals whose work in its current phase is open (one query)."""
    stages = OPEN_STAGES.get(cycle.status)
    if not stages:
        return []
    return list(
        Appraisal.objects.filter(cycle=cycle, stage__in=stages)
        .select_related("employee__user", "reviewer__user", "employee__manager__user")
        .order_by("employee__user__full_name", "pk")
    )


def _author(appraisal: Appraisal, phase: str) -> User | None:
    """Whose work the appraisal waits on in ``phase``: the employee for the self-review,
    the reviewer for the manager review."""
    if phase == P.SELF_REVIEW:
        return appraisal.employee.user
    return appraisal.reviewer.user if appraisal.reviewer is not None else None


def goals_unset(cycle: Cycle) -> list[Employee]:
    """The active people whose personal goals in ``cycle`` (approved, or proposed and
    waiting) do not total 100, with their user and manager (one query)."""
    planned = Q(
        goals__cycle=cycle,
        goals__level=Goal.Level.PERSONAL,
        goals__status__in=[Goal.Status.PROPOSED, *Goal.COUNTED],
    )
    return list(
        Employee.objects.filter(is_active=True, user__is_active=True)
        .annotate(planned=Coalesce(Sum("goals__weight", filter=planned), Decimal(0)))
        .exclude(planned=100)
        .select_related("user", "manager__user")
        .order_by("user__full_name", "pk")
    )


def open_work(cycle: Cycle) -> dict[User, list]:
    """Each person with work open in the cycle's current phase, with what it is for (in
    goal setting their own record; in a review phase the appraisals: their own, or those
    they review), in one query."""
    people: dict[User, list] = defaultdict(list)
    if cycle.status == P.GOAL_SETTING:
        for employee in goals_unset(cycle):
            people[employee.user].append(employee)
        return dict(people)
    for appraisal in _open_appraisals(cycle):
        author = _author(appraisal, cycle.status)
        if author is not None and author.is_active:
            people[author].append(appraisal)
    return dict(people)


def overdue_by_manager(cycle: Cycle) -> dict[User, list]:
    """Each manager (the reporting line) whose reports' work in the current phase is
    still open, with those reports (employees in goal setting, appraisals in a review
    phase); managers who turned digests off are left out."""
    managers: dict[User, list] = defaultdict(list)
    if cycle.status == P.GOAL_SETTING:
        late = [(employee.manager, employee) for employee in goals_unset(cycle)]
    else:
        late = [(appraisal.employee.manager, appraisal) for appraisal in _open_appraisals(cycle)]
    for manager, item in late:
        if manager is not None and manager.user.is_active and manager.user.digests:
            managers[manager.user].append(item)
    return dict(managers)


def phase_deadline(cycle: Cycle) -> datetime.date | None:
    """The deadline of the cycle's current phase (one query)."""
    return (
        CycleDeadline.objects.filter(cycle=cycle, phase=cycle.status)
        .values_list("due_on", flat=True)
        .first()
    )


def reminders_due(cycle: Cycle, today: datetime.date) -> list[Reminder]:
    """The notices due for ``cycle`` on ``today``:

    * ``deadline_near`` 3 days and 1 day before the current phase's deadline, to the
      people whose work in it is open (keyed by the day);
    * ``deadline_passed`` once per phase after the deadline, to the same people (on the
      first day after it, or the first run after that);
    * ``overdue_digest`` every day after the deadline, to the managers of people whose
      work is overdue (keyed by the day).
    """
    if cycle.status not in REMINDER_PHASES:
        return []
    due_on = phase_deadline(cycle)
    if due_on is None:
        return []
    days_left = (due_on - today).days
    if days_left in DAYS_BEFORE:
        return [Reminder("deadline_near", cycle, today, {"days_left": days_left})]
    if days_left < 0:
        return [
            Reminder("deadline_passed", cycle, None),
            Reminder("overdue_digest", cycle, today),
        ]
    return []
