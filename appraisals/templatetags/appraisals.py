"""Appraisal pieces for other pages: what is due on the home page, stage badges."""

from django import template

from appraisals.models import Appraisal, Review
from perfcycle.models import Cycle

register = template.Library()
A = Appraisal.Stage

STAGE_BADGES = {
    A.SELF_REVIEW: "badge-neutral",
    A.MANAGER_REVIEW: "badge-info",
    A.APPROVAL: "badge-info",
    A.READY: "badge-warning",
    A.FINAL: "badge-success",
    A.WITHDRAWN: "badge-neutral",
}


@register.filter
def stage_badge(appraisal) -> str:
    return STAGE_BADGES.get(getattr(appraisal, "stage", appraisal), "badge-neutral")


@register.inclusion_tag("appraisals/includes/home_mine.html")
def home_my_appraisal(user, cycle):
    """The employee's appraisal: the self-review to write, or the result to read."""
    from perfcycle import access

    me = access.roles(user).employee
    if me is None or cycle is None:
        return {"appraisal": None}
    appraisal = access.own_appraisals(user).filter(cycle=cycle).exclude(stage=A.WITHDRAWN).first()
    self_review = (
        None if appraisal is None else appraisal.reviews.filter(kind=Review.Kind.SELF).first()
    )
    if self_review is None:
        return {"appraisal": None}
    return {
        "appraisal": appraisal,
        "self_review": self_review,
        "self_review_open": cycle.status == Cycle.Status.SELF_REVIEW
        or self_review.status == Review.Status.RETURNED,
        "released": appraisal.released_at is not None,
    }


@register.inclusion_tag("appraisals/includes/home_team.html")
def home_team_reviews(user, cycle):
    """A manager's review work in the cycle: reviews to write, approvals waiting."""
    from appraisals import selectors

    if cycle is None:
        return {"cycle": None}
    return {
        "cycle": cycle,
        "to_write": selectors.reviews_to_write(user=user, cycle=cycle).count(),
        "to_approve": selectors.approvals_waiting(user=user, cycle=cycle).count(),
    }
