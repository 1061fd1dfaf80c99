"""Template helpers shared by the pages: locale-aware numbers, badges, durations."""

from __future__ import annotations

import datetime

from django import template
from django.utils import formats

from perfcycle.models import Cycle, OrgImport

register = template.Library()

# Status is shown as a coloured badge *with* its word; the colour only repeats the word.
_CYCLE_BADGES = {
    Cycle.Status.DRAFT: "badge-neutral",
    Cycle.Status.CLOSED: "badge-neutral",
    Cycle.Status.CALIBRATION: "badge-warning",
    Cycle.Status.FEEDBACK: "badge-success",
}
_IMPORT_BADGES = {
    OrgImport.Status.APPLIED: "badge-success",
    OrgImport.Status.REJECTED: "badge-danger",
    OrgImport.Status.QUEUED: "badge-info",
    OrgImport.Status.RUNNING: "badge-warning",
}


@register.filter
def num(value):
    """A whole number with the active locale's digit grouping (12,345 / 12,345)."""
    if value in (None, ""):
        return ""
    return formats.number_format(value, force_grouping=True)


@register.filter
def minutes(value) -> int:
    """A cool-off or other duration in whole minutes, rounded up."""
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
        return int(-(-seconds // 60))
    return 0


@register.filter
def cycle_badge(cycle) -> str:
    return _CYCLE_BADGES.get(getattr(cycle, "status", None), "badge-info")


@register.filter
def import_badge(org_import) -> str:
    return _IMPORT_BADGES.get(getattr(org_import, "status", None), "badge-neutral")


@register.filter
def active_badge(is_active: bool) -> str:
    return "badge-success" if is_active else "badge-neutral"
