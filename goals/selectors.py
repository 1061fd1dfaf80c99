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
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber

from perfcycle.hierarchy import subtree_sql
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


def weights_off(goals: QuerySet[Goal], *, cycle: Cycle, group: tuple[str, ...], **names):
    """The rule that closes goal setting, asked in one grouped query: per owner (the
    ``group`` fields), the total weight of the counted goals in the cycle, where it is not
    100. ``names`` adds columns to read with each row (``name=F(...)``)."""
    return (
        goals.filter(cycle=cycle, status__in=Goal.COUNTED)
        .values(*group, **names)
        .annotate(total=Sum("weight"))
        .exclude(total=Decimal(100))
    )


def weight_problems(*, cycle: Cycle, goals: QuerySet[Goal] | None = None) -> list[WeightProblem]:
    """Every owner whose counted goals in the cycle do not total 100, in one query.

    ``goals`` narrows the owners looked at (a user's visible goals); by default all.
    """
    base = Goal.objects.all() if goals is None else goals
    totals = weights_off(
        base,
        cycle=cycle,
        group=("level", "department", "position", "employee"),
        department_name=F("department__name"),
        position_title=F("position__title"),
        position_department=F("position__department__name"),
        person=F("employee__user__full_name"),
    ).order_by("level", "department", "position", "employee")
    problems = []
    for t in totals:
        if t["level"] == L.COMPANY:
            owner_id, name = None, str(L.COMPANY.label)
        elif t["department"]:
            owner_id, name = t["department"], t["department_name"]
        elif t["position"]:
            owner_id = t["position"]
            name = f"{t['position_title']} ({t['position_department']})"
        else:
            owner_id, name = t["employee"], t["person"]
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


def _people_with_weights_off(cycle: Cycle, people: QuerySet[Employee]) -> QuerySet:
    """Ids of those among ``people`` with goals in the cycle whose counted weights do not
    total 100, as one grouped subquery (not a sum per goal row)."""
    output = DecimalField(max_digits=9, decimal_places=2)
    counted = Sum("weight", filter=Q(status__in=Goal.COUNTED))
    return (
        Goal.objects.filter(cycle=cycle, level=L.PERSONAL, employee__in=people)
        .order_by()
        .values("employee")
        .annotate(total=Coalesce(counted, Value(Decimal(0)), output_field=output))
        .exclude(total=Decimal(100))
        .values("employee")
    )


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

    team = access.team_members(user)
    goals = (
        access.team_goals_visible_to(user)
        .filter(cycle=cycle, level=L.PERSONAL)
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
        goals = goals.filter(employee__in=_people_with_weights_off(cycle, team))
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


def positions_with_holders(positions: QuerySet[Position]) -> QuerySet[Position]:
    """Positions by title, each with ``holder_count``: the active people holding it."""
    return positions.annotate(
        holder_count=Count("holders", filter=Q(holders__is_active=True))
    ).order_by("title", "pk")


def positions_without(positions: list[Position], kpis: QuerySet[Goal]) -> list[Position]:
    """The positions among ``positions`` that no goal in ``kpis`` belongs to (one query)."""
    covered = set(kpis.order_by().values_list("position", flat=True).distinct())
    return [p for p in positions if p.pk not in covered]


# --- one goal's pages (goal detail, form, decompose, close goal setting) ---------------


def goal_parent_choices(
    visible: QuerySet[Goal], *, cycle: Cycle, level: str, owner=None
) -> QuerySet[Goal]:
    """The goals a new or edited goal may serve: visible, one level up, same cycle, not
    cancelled. With the owner known, only those the rules allow for that owner (a
    department's own goals and those above it), so the choice stays short."""
    parent_level = Goal.PARENT_LEVEL.get(L(level))
    if parent_level is None:
        return Goal.objects.none()
    choices = visible.filter(cycle=cycle, level=parent_level).exclude(status=Goal.Status.CANCELLED)
    # Every company objective is open to every department; below that, the owner's side.
    if owner is not None and level == L.POSITION:
        choices = choices.filter(department__in=_department_and_above(owner.department_id))
    elif owner is not None and level == L.PERSONAL:
        chain = _department_and_above(owner.department_id)
        choices = choices.filter(position__department__in=chain)
    return choices.select_related("department", "position__department").order_by("title", "pk")


def goal_previous_choices(
    visible: QuerySet[Goal], *, cycle: Cycle, level: str, owner=None, include: int | None = None
) -> QuerySet[Goal]:
    """Goals a goal may continue: visible, same level and owner, in an earlier cycle
    (``include``: the one it continues now, if the user may see it)."""
    field = Goal.OWNER_FIELD[L(level)]
    condition = Q(level=level, cycle__period_start__lt=cycle.period_start)
    if field is not None:
        condition &= Q(**{field: owner}) if owner is not None else Q(pk__in=[])
    if include:
        condition |= Q(pk=include)
    return (
        visible.filter(condition)
        .select_related("cycle")
        .order_by("-cycle__period_start", "title", "pk")
    )


def _department_and_above(department_id: int) -> list[int]:
    from perfcycle.hierarchy import ancestor_ids

    return [department_id, *ancestor_ids(Department, "parent", department_id)]


def position_kpi_copies(goal: Goal) -> dict[str, int]:
    """For a position KPI: its live copies, how many were adjusted (a push leaves those
    alone), and how many active holders of the position have no copy yet; two queries."""
    from django.db.models import Count

    counts = (
        Goal.objects.filter(source=goal)
        .exclude(status=Goal.Status.CANCELLED)
        .aggregate(total=Count("pk"), adjusted=Count("pk", filter=Q(adjusted=True)))
    )
    without = (
        Employee.objects.filter(position_id=goal.position_id, is_active=True)
        .exclude(pk__in=Goal.objects.filter(source=goal).values("employee"))
        .count()
    )
    return {
        "total": counts["total"],
        "adjusted": counts["adjusted"],
        "unadjusted": counts["total"] - counts["adjusted"],
        "holders_without_copy": without,
    }


def proposals_waiting(*, cycle: Cycle) -> int:
    """Proposed goals in the cycle still waiting for their manager's decision."""
    return Goal.objects.filter(cycle=cycle, status=Goal.Status.PROPOSED).count()


def departments_for_decomposition(
    departments: QuerySet[Department], *, objective: Goal
) -> list[Department]:
    """The departments a user may decompose an objective into, each marked ``has_goal``
    when a live department goal already serves the objective; one query."""
    from django.db.models import Exists, OuterRef

    serving = Goal.objects.filter(
        parent=objective, level=L.DEPARTMENT, department=OuterRef("pk")
    ).exclude(status=Goal.Status.CANCELLED)
    return list(
        departments.select_related("parent")
        .annotate(has_goal=Exists(serving))
        .order_by("name", "pk")
    )


# Fields of a goal's history shown as "field: old -> new".
_GOAL_HISTORY_FIELDS = [
    "title",
    "description",
    "strategy_ref",
    "strategy_url",
    "weight",
    "status",
    "due_date",
    "parent",
    "previous",
    "target_reason",
    *Goal.KPI_FIELDS,
    "adjusted",
    "review_comment",
    "locked_at",
    "reopened_reason",
]
_LONG_TEXT = 120


def goal_history(goal: Goal, *, visible: QuerySet[Goal], limit: int = 20) -> list[dict]:
    """The latest changes to a goal, newest first: when, who, why and what changed.

    Two queries whatever the history's length: the rows (plus the one before the oldest
    shown, to diff against) and the titles of goals it served or continued, looked up
    among the goals the viewer may see.
    """
    rows = list(
        goal.history.select_related("history_user").order_by("-history_date", "-history_id")[
            : limit + 1
        ]
    )
    entries = []
    for index, row in enumerate(rows[:limit]):
        older = rows[index + 1] if index + 1 < len(rows) else None
        changes = []
        if older is not None and row.history_type == "~":
            delta = row.diff_against(older, included_fields=_GOAL_HISTORY_FIELDS)
            changes = [{"field": c.field, "old": c.old, "new": c.new} for c in delta.changes]
        entries.append({"row": row, "changes": changes})
    linked = {
        value
        for entry in entries
        for change in entry["changes"]
        if change["field"] in ("parent", "previous")
        for value in (change["old"], change["new"])
        if value
    }
    titles = visible.in_bulk(linked) if linked else {}
    for entry in entries:
        for change in entry["changes"]:
            change["label"] = Goal._meta.get_field(change["field"]).verbose_name
            change["old"] = _history_value(change["field"], change["old"], titles)
            change["new"] = _history_value(change["field"], change["new"], titles)
    return entries


def _history_value(name: str, value, titles: dict) -> str | None:
    from django.utils import formats, timezone
    from django.utils.text import Truncator
    from django.utils.translation import gettext as _

    from .display import plain_number

    if value is None or value == "":
        return None
    model_field = Goal._meta.get_field(name)
    if name in ("parent", "previous"):
        goal = titles.get(value)
        return goal.title if goal is not None else f"#{value}"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal):
        return plain_number(value)
    if name == "locked_at":
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if name == "due_date":
        return formats.date_format(value, "DATE_FORMAT")
    return Truncator(str(value)).chars(_LONG_TEXT)


# --- alignment tree and coverage (tree helper) ----------------------------------------
#
# The alignment tree is read one level at a time: each level is one query carrying the
# owners (select_related) and the number of visible goals serving each node (a correlated
# count), so a screen costs the same whether the cycle holds fifty goals or fifty thousand.
# The coverage report is a handful of "exists / not exists" queries over the same scope.

TREE_PAGE_SIZE = 50
# Siblings: the heaviest first, then by title and owner (a position KPI's copies differ
# only by their owner), then the id so that pages never overlap.
TREE_ORDER = (
    "-weight",
    "title",
    "department__name",
    "position__title",
    "employee__user__full_name",
    "pk",
)
_TREE_OWNERS = ("department", "position__department", "employee__user")


def _count_of(rows: QuerySet, field: str) -> Coalesce:
    """A correlated count of ``rows`` (already filtered on ``field=OuterRef(...)``)."""
    counted = rows.order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _owned_in(departments) -> Q:
    """Goals owned by one of ``departments``, by one of their positions or people."""
    return (
        Q(department__in=departments)
        | Q(position__department__in=departments)
        | Q(employee__department__in=departments)
    )


def goal_tree_scope(
    visible: QuerySet[Goal],
    *,
    department: Department | None = None,
    include_cancelled: bool = False,
) -> QuerySet[Goal]:
    """The goals the alignment tree shows, out of the user's visible goals.

    Cancelled goals are left out unless asked for. With a department, only the branches
    that reach into its subtree: goals owned there and the goals above them (a department
    goal of Sales stays when a Sales East position KPI serves it).
    """
    scope = visible if include_cancelled else visible.exclude(status=Goal.Status.CANCELLED)
    if department is None:
        return scope
    subtree = subtree_sql(Department, "parent", [department.pk])
    owned = _owned_in(subtree)
    below = scope.filter(owned)
    return scope.filter(
        owned
        | Exists(below.filter(parent=OuterRef("pk")))
        | Exists(below.filter(parent__parent=OuterRef("pk")))
        | Exists(below.filter(parent__parent__parent=OuterRef("pk")))
    )


def with_tree_child_count(goals: QuerySet[Goal], scope: QuerySet[Goal]) -> QuerySet[Goal]:
    """``goals`` with ``child_count``: how many goals in ``scope`` serve each one."""
    return goals.annotate(child_count=_count_of(scope.filter(parent=OuterRef("pk")), "parent"))


def goal_tree_rows(rows: QuerySet[Goal], scope: QuerySet[Goal]) -> QuerySet[Goal]:
    """``rows`` as tree nodes: in tree order, with their owners and ``child_count`` (the
    goals in ``scope`` serving each)."""
    return with_tree_child_count(rows, scope).select_related(*_TREE_OWNERS).order_by(*TREE_ORDER)


def goal_tree_roots(
    scope: QuerySet[Goal], *, cycle: Cycle, offset: int = 0, limit: int = TREE_PAGE_SIZE
) -> tuple[list[Goal], int]:
    """A page of the cycle's company objectives and how many there are (two queries)."""
    roots = scope.filter(cycle=cycle, level=L.COMPANY)
    return list(goal_tree_rows(roots, scope)[offset : offset + limit]), roots.count()


def goal_tree_children(
    scope: QuerySet[Goal], *, parent: Goal, offset: int = 0, limit: int = TREE_PAGE_SIZE
) -> list[Goal]:
    """A page of the goals serving ``parent`` (one query)."""
    return list(goal_tree_rows(scope.filter(parent=parent), scope)[offset : offset + limit])


def goal_tree_first_children(
    scope: QuerySet[Goal], *, parents: list[Goal], limit: int = TREE_PAGE_SIZE
) -> dict[int, list[Goal]]:
    """The first page of children of each of ``parents``, all in one query (a row number
    per parent), so the first screen can open every company objective at once."""
    if not parents:
        return {}
    ranked = (
        goal_tree_rows(scope.filter(parent__in=[p.pk for p in parents]), scope)
        .annotate(rank=Window(RowNumber(), partition_by=F("parent"), order_by=TREE_ORDER))
        .filter(rank__lte=limit)
        .order_by("parent", "rank")
    )
    children: dict[int, list[Goal]] = {p.pk: [] for p in parents}
    for goal in ranked:
        children[goal.parent_id].append(goal)
    return children


def coverage_objectives(
    goals: QuerySet[Goal], *, cycle: Cycle, departments: QuerySet[Department]
) -> QuerySet[Goal]:
    """Live company objectives of the cycle that no live goal of ``departments`` serves.

    ``goals`` (here and below) is the set the user may read (``access.goals_visible_to``).
    """
    live = goals.filter(cycle=cycle).exclude(status=Goal.Status.CANCELLED)
    served = live.filter(level=L.DEPARTMENT, parent=OuterRef("pk"), department__in=departments)
    return live.filter(level=L.COMPANY).exclude(Exists(served)).order_by("-weight", "title", "pk")


def coverage_departments(
    goals: QuerySet[Goal], *, cycle: Cycle, departments: QuerySet[Department]
) -> QuerySet[Department]:
    """Departments without a live goal of their own in the cycle, with their head and
    active headcount. The top of the organisation is left out: the company objectives
    are its goals."""
    own = goals.filter(cycle=cycle, level=L.DEPARTMENT, department=OuterRef("pk")).exclude(
        status=Goal.Status.CANCELLED
    )
    return (
        departments.filter(parent__isnull=False)
        .exclude(Exists(own))
        .select_related("parent", "head__user")
        .annotate(headcount=Count("employees", filter=Q(employees__is_active=True)))
        .order_by("name", "pk")
    )


def coverage_positions(
    goals: QuerySet[Goal], *, cycle: Cycle, positions: QuerySet[Position]
) -> QuerySet[Position]:
    """Positions somebody holds that carry no live KPI in the cycle, with the number of
    active holders."""
    kpis = goals.filter(cycle=cycle, level=L.POSITION, position=OuterRef("pk")).exclude(
        status=Goal.Status.CANCELLED
    )
    return (
        positions.annotate(holder_count=Count("holders", filter=Q(holders__is_active=True)))
        .filter(holder_count__gt=0)
        .exclude(Exists(kpis))
        .select_related("department")
        .order_by("department__name", "title", "pk")
    )


def coverage_weights(
    goals: QuerySet[Goal], *, cycle: Cycle, people: QuerySet[Employee]
) -> QuerySet[dict]:
    """People among ``people`` whose counted goals in the cycle do not total 100, by
    name: rows of ``employee`` (id), ``name``, ``number``, ``department_name`` and ``total``.

    The rule closing goal setting applies (:func:`weight_problems`: counted statuses;
    people without a counted goal are left out), asked of the database in one grouped
    query, so the page reads a count and a few rows rather than everyone who is off.
    """
    theirs = goals.filter(level=L.PERSONAL, employee__in=people.values("pk"))
    off = weights_off(theirs, cycle=cycle, group=("employee",))
    # The totals are grouped by person alone (a narrow aggregate over the goals); names
    # are joined to the few who are off, not to every goal of the cycle.
    total = weights_off(theirs.filter(employee=OuterRef("pk")), cycle=cycle, group=("employee",))
    return (
        Employee.objects.filter(pk__in=off.values("employee"))
        .values(
            employee=F("pk"),
            name=F("user__full_name"),
            number=F("employee_number"),
            department_name=F("department__name"),
        )
        .annotate(total=Subquery(total.values("total")))
        .order_by("name", "pk")
    )


def coverage_people(
    goals: QuerySet[Goal], *, cycle: Cycle, people: QuerySet[Employee]
) -> QuerySet[Employee]:
    """People among ``people`` without an approved (counted) goal in the cycle, each with
    ``waiting``: how many of their goals are still a draft or a proposal."""
    theirs = goals.filter(cycle=cycle, level=L.PERSONAL, employee=OuterRef("pk"))
    waiting = theirs.filter(status__in=[Goal.Status.DRAFT, Goal.Status.PROPOSED])
    return (
        people.exclude(Exists(theirs.filter(status__in=Goal.COUNTED)))
        .annotate(waiting=_count_of(waiting, "employee"))
        .select_related("user", "department", "position")
        .order_by("user__full_name", "pk")
    )
