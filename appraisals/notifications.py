"""What appraisals tell people about: a review phase opened, its deadline near and
passed (with a daily digest of overdue reports to managers), results released, a
review returned, an appeal opened and resolved. Raised by the services in
``appraisals.services`` and the daily ``send_reminders`` task; the wording is in
``templates/notifications/<event>.*``."""

from __future__ import annotations

import copy

from django.urls import reverse

from perfcycle import access
from perfcycle.models import Cycle
from perfcycle.notifications import Event, refetch, register

from . import reminders
from .models import Appeal, Appraisal, PacketBatch, Review


def _employees(appraisals):
    rows = refetch(Appraisal.objects.select_related("cycle", "employee__user"), appraisals)
    return [(appraisal, appraisal.employee.user) for appraisal in rows]


def _review_authors(reviews):
    """The employee for a self-review; the reviewer (or, without one, whoever submitted
    it) for a manager review."""
    rows = refetch(
        Review.objects.select_related(
            "appraisal__cycle",
            "appraisal__employee__user",
            "appraisal__reviewer__user",
            "submitted_by",
        ),
        reviews,
    )
    pairs = []
    for review in rows:
        appraisal = review.appraisal
        if review.kind == Review.Kind.SELF:
            author = appraisal.employee.user
        elif appraisal.reviewer is not None:
            author = appraisal.reviewer.user
        else:
            author = review.submitted_by
        if author is not None:
            pairs.append((review, author))
    return pairs


def _review_page(review: Review, user) -> str:
    page = "self_review" if review.kind == Review.Kind.SELF else "manager_review"
    return reverse(f"appraisals:{page}", args=[review.appraisal_id])


def _appeals(appeals):
    related = Appeal.objects.select_related("appraisal__cycle", "appraisal__employee__user")
    return list(refetch(related, appeals))


def _administrators(appeals):
    """Who resolves an appeal: HR administrators and the HR partners of the appraisal's
    department (the access policy's administrators), never the appellant."""
    return [
        (appeal, user)
        for appeal in _appeals(appeals)
        for user in access.administrators_of_appraisal(appeal.appraisal)
    ]


def _appellant(appeals):
    return [(appeal, appeal.appraisal.employee.user) for appeal in _appeals(appeals)]


def _appraisal_page(obj, user) -> str:
    appraisal_id = obj.pk if isinstance(obj, Appraisal) else obj.appraisal_id
    return reverse("appraisals:appraisal", args=[appraisal_id])


RESULTS_RELEASED = register(Event("results_released", recipients=_employees, url=_appraisal_page))
# A review may be returned again after it is resubmitted: each return is told.
REVIEW_RETURNED = register(
    Event(
        "review_returned",
        recipients=_review_authors,
        url=_review_page,
        occurrence=lambda review: f"v{review.version}",
    )
)
APPEAL_OPENED = register(
    Event(
        "appeal_opened",
        recipients=_administrators,
        url=lambda appeal, user: reverse("appraisals:appeal_resolve", args=[appeal.pk]),
    )
)
APPEAL_RESOLVED = register(Event("appeal_resolved", recipients=_appellant, url=_appraisal_page))


# --- review phases and their deadlines ------------------------------------------------
# Raised for a cycle: each recipient gets one notice per cycle (not one per appraisal),
# the cycle as they see it: a copy carrying the phase ``deadline`` and their
# ``open_appraisals`` (their own, the ones they review, or their overdue reports).


def _as_seen_by(cycle, deadline, appraisals):
    seen = copy.copy(cycle)
    seen.deadline, seen.open_appraisals = deadline, appraisals
    return seen


def _per_person(people_of):
    def pairs(cycles):
        found = []
        for cycle in refetch(Cycle.objects.all(), cycles):
            if cycle.status not in reminders.REMINDER_PHASES:
                continue
            deadline = reminders.phase_deadline(cycle)
            for user, appraisals in people_of(cycle).items():
                found.append((_as_seen_by(cycle, deadline, appraisals), user))
        return found

    return pairs


def _work_page(cycle, user) -> str:
    """The person's goals in goal setting; the review to write when there is one, else
    the list of the person's reviews."""
    appraisals = getattr(cycle, "open_appraisals", [])
    if cycle.status == Cycle.Status.GOAL_SETTING:
        return reverse("goals:mine")
    if cycle.status == Cycle.Status.SELF_REVIEW:
        if len(appraisals) == 1:
            return reverse("appraisals:self_review", args=[appraisals[0].pk])
        return reverse("appraisals:mine")
    if len(appraisals) == 1:
        return reverse("appraisals:manager_review", args=[appraisals[0].pk])
    return reverse("appraisals:reviews")


def _phase(cycle) -> str:
    return cycle.status


PHASE_OPENED = register(
    Event(
        "phase_opened",
        recipients=_per_person(reminders.open_work),
        url=_work_page,
        occurrence=_phase,
    )
)
# Keyed by the day: the 3-day and the 1-day reminder are each sent once.
DEADLINE_NEAR = register(
    Event("deadline_near", recipients=_per_person(reminders.open_work), url=_work_page)
)
DEADLINE_PASSED = register(
    Event(
        "deadline_passed",
        recipients=_per_person(reminders.open_work),
        url=_work_page,
        occurrence=_phase,
    )
)
# Daily (keyed by the day), to managers who have not turned digests off.
OVERDUE_DIGEST = register(
    Event(
        "overdue_digest",
        recipients=_per_person(reminders.overdue_by_manager),
        url=lambda cycle, user: reverse(
            "goals:team" if cycle.status == Cycle.Status.GOAL_SETTING else "appraisals:reviews"
        ),
    )
)


def _requester(batches):
    rows = refetch(
        PacketBatch.objects.select_related("cycle", "department", "requested_by"), batches
    )
    return [(batch, batch.requested_by) for batch in rows]


PACKETS_READY = register(
    Event(
        "packets_ready",
        recipients=_requester,
        url=lambda batch, user: reverse("appraisals:packets", args=[batch.cycle_id]),
    )
)


# --- HR's daily summary ---------------------------------------------------------------
# Each running cycle, every morning, to the HR administrators who take digests; the
# numbers (``reports.cycle_summary``) come in the notice's context, the same for each.


def _hr_with_digests(cycles):
    hr = list(access.hr_administrators().filter(digests=True))
    return [(cycle, user) for cycle in cycles for user in hr]


CYCLE_SUMMARY = register(
    Event(
        "cycle_summary",
        recipients=_hr_with_digests,
        url=lambda cycle, user: reverse("appraisals:dashboard", args=[cycle.pk]),
    )
)
