"""Deadline reminders: who has work open in a cycle's review phase, and which notices
are due on a given day.

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
from typing import Any

from perfcycle.models import Cycle, CycleDeadline, User

from .models import Appraisal

P = Cycle.Status
A = Appraisal.Stage

# The phases whose work is reminded of, and the stages in which that work is still open.
OPEN_STAGES = {
    P.SELF_REVIEW: (A.SELF_REVIEW,),
    P.MANAGER_REVIEW: (A.SELF_REVIEW, A.MANAGER_REVIEW),
}
REMINDER_PHASES = tuple(OPEN_STAGES)
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


def open_work(cycle: Cycle) -> dict[User, list[Appraisal]]:
    """Each person with work open in the cycle's current phase, with the appraisals it is
    for (their own, or those they review), in one query."""
    people: dict[User, list[Appraisal]] = defaultdict(list)
    for appraisal in _open_appraisals(cycle):
        author = _author(appraisal, cycle.status)
        if author is not None and author.is_active:
            people[author].append(appraisal)
    return dict(people)


def overdue_by_manager(cycle: Cycle) -> dict[User, list[Appraisal]]:
    """Each manager (the reporting line) whose reports' work in the current phase is
    still open, with those appraisals; managers who turned digests off are left out."""
    managers: dict[User, list[Appraisal]] = defaultdict(list)
    for appraisal in _open_appraisals(cycle):
        manager = appraisal.employee.manager
        if manager is not None and manager.user.is_active and manager.user.digests:
            managers[manager.user].append(appraisal)
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
