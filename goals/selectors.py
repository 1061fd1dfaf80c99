"""Reads of goals that pages, the API and other services reuse.

Functions take a queryset already scoped by ``perfcycle.access`` (or a cycle, for
organisation-wide checks the caller is allowed to run) and return rows carrying what
the page shows, in a number of queries that does not grow with the number of goals.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from perfcycle.models import Cycle, Department, Employee, Position

from .models import Goal
from .services import WeightProblem

L = Goal.Level


def cycle_for(user, cycle_id=None) -> Cycle | None:
    """The cycle a goals page shows: the one asked for (``?cycle=``) if the user may see
    it, else the running cycle, else the latest the user may see."""
    from perfcycle import access
    from perfcycle.selectors import current_cycle

    visible = access.cycles_visible_to(user)
    if cycle_id not in (None, ""):
        try:
            return visible.filter(pk=int(cycle_id)).first()
        except (TypeError, ValueError):
            return None
    running = current_cycle()
    if running is not None and visible.filter(pk=running.pk).exists():
        return running
    return visible.order_by("-period_start").first()


def weights_total(*, cycle: Cycle, level: str, owner) -> Decimal:
    """The total weight of an owner's counted goals in a cycle ("you are at 85")."""
    field = Goal.OWNER_FIELD[L(level)]
    owner_q = Q(**{field: owner}) if field else Q()
    total = Goal.objects.filter(
        owner_q, cycle=cycle, level=level, status__in=Goal.COUNTED
    ).aggregate(total=Sum("weight"))["total"]
    return total or Decimal(0)


def weight_problems(*, cycle: Cycle, goals: QuerySet[Goal] | None = None) -> list[WeightProblem]:
    """Every owner whose counted goals in the cycle do not total 100, in four queries.

    ``goals`` narrows the owners looked at (a user's visible goals); by default all.
    """
    base = Goal.objects.all() if goals is None else goals
    totals = list(
        base.filter(cycle=cycle, status__in=Goal.COUNTED)
        .values("level", "department", "position", "employee")
        .annotate(total=Sum("weight"))
        .exclude(total=Decimal(100))
        .order_by("level", "department", "position", "employee")
    )
    departments = Department.objects.in_bulk([t["department"] for t in totals if t["department"]])
    positions = Position.objects.select_related("department").in_bulk(
        [t["position"] for t in totals if t["position"]]
    )
    people = Employee.objects.select_related("user").in_bulk(
        [t["employee"] for t in totals if t["employee"]]
    )
    problems = []
    for t in totals:
        if t["level"] == L.COMPANY:
            owner_id, name = None, str(L.COMPANY.label)
        elif t["department"]:
            owner_id, name = t["department"], departments[t["department"]].name
        elif t["position"]:
            position = positions[t["position"]]
            owner_id, name = position.pk, f"{position.title} ({position.department.name})"
        else:
            owner_id, name = t["employee"], people[t["employee"]].user.full_name
        problems.append(
            WeightProblem(level=t["level"], owner_id=owner_id, owner_name=name, total=t["total"])
        )
    return problems
