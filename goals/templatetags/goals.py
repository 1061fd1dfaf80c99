"""Template helpers for goals: the status badge and the progress bar, the same everywhere."""

from __future__ import annotations

from decimal import Decimal

from django import template

from goals.models import CheckIn, Goal

register = template.Library()

S = Goal.Status
_STATUS_BADGES = {
    S.DRAFT: "badge-neutral",
    S.PROPOSED: "badge-info",
    S.APPROVED: "badge-info",
    S.ACTIVE: "badge-info",
    S.ACHIEVED: "badge-success",
    S.MISSED: "badge-danger",
    S.CANCELLED: "badge-neutral",
}
_CONFIDENCE_BADGES = {
    CheckIn.Confidence.ON_TRACK: "badge-success",
    CheckIn.Confidence.AT_RISK: "badge-warning",
    CheckIn.Confidence.OFF_TRACK: "badge-danger",
}


@register.filter
def goal_badge(goal) -> str:
    """The badge class for a goal's status (the template prints the word beside it)."""
    return _STATUS_BADGES.get(getattr(goal, "status", None), "badge-neutral")


@register.filter
def confidence_badge(value: str) -> str:
    return _CONFIDENCE_BADGES.get(value, "badge-neutral")


@register.filter
def confidence_label(value: str) -> str:
    return CheckIn.Confidence(value).label if value in CheckIn.Confidence.values else ""


@register.inclusion_tag("goals/includes/progress.html")
def progress_bar(value, label: str = ""):
    """Progress as a bar with its number: ``{% progress_bar goal.progress %}``.

    The bar is a <progress> element (no inline style, for the CSP); values above 100
    (beyond target, up to the stretch cap) fill the bar and the number says how far.
    """
    if value is None:
        return {"value": None, "label": label}
    value = Decimal(value)
    return {"value": value, "bar": min(value, Decimal(100)), "label": label}
