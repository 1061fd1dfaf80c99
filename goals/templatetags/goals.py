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


# --- the home page: what is due for this person in the goals ---------------------------


@register.inclusion_tag("goals/includes/home_mine.html")
def home_my_goals(user, cycle):
    """My goals at a glance: how many, whether the weights total 100, what is at risk."""
    from django.db.models import Count, Q, Sum

    from perfcycle import access

    me = access.roles(user).employee
    if me is None or cycle is None:
        return {"cycle": None}
    numbers = Goal.objects.filter(cycle=cycle, employee=me).aggregate(
        total=Count("pk", filter=~Q(status=S.CANCELLED)),
        weights=Sum("weight", filter=Q(status__in=Goal.COUNTED)),
        drafts=Count("pk", filter=Q(status=S.DRAFT)),
        proposed=Count("pk", filter=Q(status=S.PROPOSED)),
        at_risk=Count(
            "pk",
            filter=Q(status__in=Goal.TRACKED, last_confidence__in=CheckIn.AT_RISK),
        ),
        unmeasured=Count("pk", filter=Q(status__in=Goal.TRACKED, last_checkin_at__isnull=True)),
    )
    numbers["weights"] = numbers["weights"] or 0
    return {"cycle": cycle, "numbers": numbers}


@register.inclusion_tag("goals/includes/home_team.html")
def home_team_goals(user, cycle):
    """A manager's goal work: proposals waiting for them, their people's goals at risk."""
    from django.db.models import Count, Q

    from perfcycle import access

    if cycle is None or not access.roles(user).is_manager:
        return {"cycle": None}
    # The team's goals: they are the manager's to decide (people below them or in the
    # departments they head).
    team_goals = access.team_goals_visible_to(user).filter(cycle=cycle)
    numbers = team_goals.aggregate(
        at_risk=Count(
            "pk",
            filter=Q(status__in=Goal.TRACKED, last_confidence__in=CheckIn.AT_RISK),
        ),
        live=Count("pk", filter=Q(status__in=Goal.COUNTED)),
        waiting=Count("pk", filter=Q(status=S.PROPOSED)),
    )
    return {"cycle": cycle, "numbers": numbers}
