"""Reads of goals that pages, the API and other services reuse.

Functions take a queryset already scoped by ``perfcycle.access`` (or a cycle, for
organisation-wide checks the caller is allowed to run) and return rows carrying what
the page shows, in a number of queries that does not grow with the number of goals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

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


# --- list pages (goals/views/lists.py: my goals, my team's, company, department) ------


def goal_list_rows(goals: QuerySet[Goal]) -> QuerySet[Goal]:
    """Goals carrying what a list row shows: what each serves (two levels up) and its
    owner, joined in the same query."""
    return goals.select_related(
        "parent__parent",
        "department",
        "position__department",
        "employee__user",
        "employee__department",
    )


def _cancelled_last():
    return Case(When(status=Goal.Status.CANCELLED, then=Value(1)), default=Value(0))


def my_goals(*, user, cycle: Cycle) -> QuerySet[Goal]:
    """The user's own personal goals in the cycle, live ones first, heaviest first."""
    from perfcycle import access

    me = access.roles(user).employee
    if me is None:
        return Goal.objects.none()
    goals = access.goals_visible_to(user).filter(cycle=cycle, level=L.PERSONAL, employee=me)
    return goal_list_rows(goals).order_by(_cancelled_last(), "-weight", "title", "pk")


@dataclass(frozen=True)
class ServedGoals:
    """What a person's goals serve: their position's KPIs, the goals of their department
    and the departments above it (nearest first), and the company objectives."""

    position: list[Goal]
    department: list[Goal]
    company: list[Goal]


def goals_served_by(*, user, cycle: Cycle) -> ServedGoals:
    """The goals above the user's own in the cycle, in two queries."""
    from perfcycle import access
    from perfcycle.hierarchy import ancestor_ids

    me = access.roles(user).employee
    if me is None:
        return ServedGoals([], [], [])
    chain = [me.department_id, *ancestor_ids(Department, "parent", me.department_id)]
    above = Q(level=L.COMPANY) | Q(level=L.DEPARTMENT, department__in=chain)
    if me.position_id is not None:
        above |= Q(level=L.POSITION, position=me.position_id)
    rows = list(
        access.goals_visible_to(user)
        .filter(above, cycle=cycle)
        .exclude(status__in=[Goal.Status.DRAFT, Goal.Status.CANCELLED])
        .select_related("department", "position")
        .order_by("-weight", "title", "pk")
    )
    nearest = {department_id: i for i, department_id in enumerate(chain)}
    return ServedGoals(
        position=[g for g in rows if g.level == L.POSITION],
        department=sorted(
            (g for g in rows if g.level == L.DEPARTMENT), key=lambda g: nearest[g.department_id]
        ),
        company=[g for g in rows if g.level == L.COMPANY],
    )


def _person_weight_total(cycle: Cycle):
    """Per goal row: the total weight of its owner's counted personal goals in the cycle
    (0 when none counts yet, say while every goal is still a proposal)."""
    totals = (
        Goal.objects.filter(
            cycle=cycle,
            level=L.PERSONAL,
            employee=OuterRef("employee"),
            status__in=Goal.COUNTED,
        )
        .order_by()
        .values("employee")
        .annotate(total=Sum("weight"))
        .values("total")
    )
    output = DecimalField(max_digits=9, decimal_places=2)
    return Coalesce(Subquery(totals, output_field=output), Value(Decimal(0)), output_field=output)


def team_goals(
    *,
    user,
    cycle: Cycle,
    q: str = "",
    status: str = "",
    at_risk: bool = False,
    department: Department | None = None,
    weights_off: bool = False,
) -> QuerySet[Goal]:
    """The personal goals of the people a manager follows (their whole subtree), narrowed
    by the team page's filters. Drafts stay with their author until proposed. Each row
    carries ``owner_weight``: its owner's weights total."""
    from perfcycle import access
    from perfcycle.hierarchy import subtree_sql

    from .models import CheckIn

    goals = (
        access.goals_visible_to(user)
        .filter(cycle=cycle, level=L.PERSONAL, employee__in=access.team_members(user))
        .exclude(status=Goal.Status.DRAFT)
        .annotate(owner_weight=_person_weight_total(cycle))
    )
    if q:
        goals = goals.filter(
            Q(employee__user__full_name__icontains=q) | Q(employee__employee_number__icontains=q)
        )
    if status:
        goals = goals.filter(status=status)
    if at_risk:
        goals = goals.filter(last_confidence__in=CheckIn.AT_RISK)
    if department is not None:
        goals = goals.filter(
            employee__department__in=subtree_sql(Department, "parent", [department.pk])
        )
    if weights_off:
        goals = goals.exclude(owner_weight=Decimal(100))
    return goal_list_rows(goals).order_by(
        "employee__user__full_name", "employee", _cancelled_last(), "-weight", "title", "pk"
    )


def goals_awaiting_decision(*, user, cycle: Cycle) -> QuerySet[Goal]:
    """Proposed goals in the cycle the user may approve, return or reject (never their
    own), oldest first."""
    from perfcycle import access

    me = access.roles(user).employee
    goals = access.goals_changeable_by(user).filter(cycle=cycle, status=Goal.Status.PROPOSED)
    if me is not None:
        goals = goals.exclude(employee=me)
    return goal_list_rows(goals).order_by("created_at", "pk")


def company_objectives(*, user, cycle: Cycle, status: str = "") -> QuerySet[Goal]:
    """The cycle's company objectives the user may read, each with
    ``department_goal_count``: the live department goals serving it."""
    from perfcycle import access

    serving = (
        Goal.objects.filter(parent=OuterRef("pk"), level=L.DEPARTMENT)
        .exclude(status=Goal.Status.CANCELLED)
        .order_by()
        .values("parent")
        .annotate(n=Count("pk"))
        .values("n")
    )
    goals = access.goals_visible_to(user).filter(cycle=cycle, level=L.COMPANY)
    if status:
        goals = goals.filter(status=status)
    return goals.annotate(
        department_goal_count=Coalesce(Subquery(serving, output_field=IntegerField()), 0)
    ).order_by(_cancelled_last(), "-weight", "title", "pk")


def department_goals(*, user, cycle: Cycle, department: Department) -> QuerySet[Goal]:
    """A department's own goals in the cycle that the user may read."""
    from perfcycle import access

    goals = access.goals_visible_to(user).filter(
        cycle=cycle, level=L.DEPARTMENT, department=department
    )
    return goals.select_related("parent").order_by(_cancelled_last(), "-weight", "title", "pk")


def department_position_kpis(*, user, cycle: Cycle, department: Department) -> QuerySet[Goal]:
    """The KPIs of a department's positions in the cycle that the user may read, grouped
    by position, each with ``copy_count``: the live personal copies made of it."""
    from perfcycle import access

    copies = (
        Goal.objects.filter(source=OuterRef("pk"))
        .exclude(status=Goal.Status.CANCELLED)
        .order_by()
        .values("source")
        .annotate(n=Count("pk"))
        .values("n")
    )
    goals = access.goals_visible_to(user).filter(
        cycle=cycle, level=L.POSITION, position__department=department
    )
    return (
        goals.select_related("position", "parent")
        .annotate(copy_count=Coalesce(Subquery(copies, output_field=IntegerField()), 0))
        .order_by("position__title", "position", _cancelled_last(), "-weight", "title", "pk")
    )


def weights_by_owner(goals: QuerySet[Goal], owner_field: str) -> dict[int, Decimal]:
    """Each owner's total weight of counted goals among ``goals`` (one query)."""
    rows = (
        goals.filter(status__in=Goal.COUNTED)
        .order_by()
        .values(owner_field)
        .annotate(total=Sum("weight"))
        .values_list(owner_field, "total")
    )
    return dict(rows)
