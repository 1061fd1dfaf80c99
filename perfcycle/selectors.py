"""Reads of the core records that other code reuses."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Cycle


def current_cycle() -> Cycle | None:
    """The running cycle: the latest one that is neither a draft nor closed."""
    return (
        Cycle.objects.exclude(status__in=[Cycle.Status.DRAFT, Cycle.Status.CLOSED])
        .order_by("-period_start")
        .first()
    )


def cycles_running() -> QuerySet[Cycle]:
    return Cycle.objects.exclude(status__in=[Cycle.Status.DRAFT, Cycle.Status.CLOSED])
