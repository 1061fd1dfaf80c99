"""What appraisals tell people about: results released, a review returned, an appeal
opened and resolved. Raised by the services in ``appraisals.services``; the wording is
in ``templates/notifications/<event>.*``."""

from __future__ import annotations

from django.urls import reverse

from perfcycle import access
from perfcycle.models import User
from perfcycle.notifications import Event, refetch, register

from .models import Appeal, Appraisal, Review


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


def _hr_admins(appeals):
    hr = list(User.objects.filter(groups__name=access.HR_ADMIN_GROUP, is_active=True).distinct())
    # An HR administrator appealing their own result is not asked to resolve it.
    return [
        (appeal, user)
        for appeal in _appeals(appeals)
        for user in hr
        if user.pk != appeal.appraisal.employee.user_id
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
        recipients=_hr_admins,
        url=lambda appeal, user: reverse("appraisals:appeal_resolve", args=[appeal.pk]),
    )
)
APPEAL_RESOLVED = register(Event("appeal_resolved", recipients=_appellant, url=_appraisal_page))
