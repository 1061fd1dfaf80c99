"""Reads for the calibration and release pages: the sessions of a cycle, a session's grid
(filtered, searched, sorted), its rating distribution against the guideline, its
adjustments log, the people who may sit on a panel, and release counts per department.

Every function runs a fixed number of queries whatever the number of appraisals (one
aggregate per figure, ``select_related`` for every row's names), so a 2,000-person
session pages as fast as a 20-person one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from perfcycle import access
from perfcycle.hierarchy import subtree_sql
from perfcycle.models import (
    Cycle,
    Department,
    DepartmentUserObjectPermission,
    Employee,
    RatingLevel,
)

from . import reports
from .models import Appraisal, CalibrationAdjustment, CalibrationSession

A = Appraisal.Stage
# The level filter's value for people with no rating yet.
UNRATED = "none"
SORTS = ("name", "-score", "score", "department")
# The panel picker lists at most this many people found by a search.
PANEL_MATCHES = 20


# --- the sessions of a cycle ------------------------------------------------------------


def sessions_of_cycle(*, user, cycle: Cycle) -> QuerySet[CalibrationSession]:
    """The cycle's sessions the user may open, with their size and number of moves."""
    return (
        access.calibration_sessions_visible_to(user)
        .filter(cycle=cycle)
        .annotate(
            size=Count("appraisals", filter=~Q(appraisals__stage=A.WITHDRAWN), distinct=True),
            moves=Count("adjustments", distinct=True),
        )
        .select_related("created_by")
        .prefetch_related("departments")
        .order_by("-created_at", "pk")
    )


def ready_outside_sessions(cycle: Cycle) -> int:
    """Appraisals ready for calibration that no session holds."""
    return Appraisal.objects.filter(cycle=cycle, stage=A.READY, session__isnull=True).count()


def panel_candidates(*, keep=()) -> QuerySet:
    """Users who may be put on a panel: active managers (people with reports or heading
    a department), HR business partners and HR administrators, plus ``keep`` (the
    current panel, so nobody on it silently drops off the form)."""
    User = get_user_model()
    manages = Exists(Employee.objects.filter(manager=OuterRef("employee"), is_active=True))
    heads = Exists(Department.objects.filter(head=OuterRef("employee")))
    partners = Exists(
        DepartmentUserObjectPermission.objects.filter(
            user=OuterRef("pk"), permission__codename=access.PARTNER_PERMISSION
        )
    )
    hr = Exists(
        User.groups.through.objects.filter(user=OuterRef("pk"), group__name=access.HR_ADMIN_GROUP)
    )
    eligible = Q(employee__is_active=True) & (manages | heads | partners | hr)
    return (
        User.objects.filter(is_active=True)
        .filter(eligible | Q(pk__in=[u.pk for u in keep]))
        .select_related("employee__department")
        .order_by("full_name", "pk")
    )


def panel_matches(q: str, *, exclude=(), limit: int = PANEL_MATCHES) -> tuple[list, bool]:
    """The panel candidates found by ``q`` (part of a name, an e-mail address or an
    employee number, as the directory searches), by name, leaving out the users in
    ``exclude`` (already on the form): at most ``limit`` of them, and whether there are
    more. One query; an empty ``q`` finds nobody, so the page never lists everyone."""
    if not q:
        return [], False
    # Every condition on the user row itself (the number through a subquery, not the
    # join), so PostgreSQL filters the users before joining them: with the number on
    # the join, a search that matches nobody joined all 50,000 users one by one (1 s).
    numbered = Employee.objects.filter(employee_number__icontains=q).values("user")
    found = list(
        panel_candidates()
        .filter(Q(full_name__icontains=q) | Q(email__icontains=q) | Q(pk__in=numbered))
        .exclude(pk__in=[u.pk for u in exclude])[: limit + 1]
    )
    return found[:limit], len(found) > limit


def panel_of(session: CalibrationSession) -> list:
    """The users sitting on the panel (granted directly), by name."""
    from guardian.shortcuts import get_users_with_perms

    users = get_users_with_perms(
        session, only_with_perms_in=[access.CALIBRATE_PERMISSION], with_group_users=False
    )
    return sorted(users.select_related("employee__department"), key=lambda u: u.full_name)


# --- a session's grid --------------------------------------------------------------------


def session_appraisals(session: CalibrationSession) -> QuerySet[Appraisal]:
    """Everyone in the session (not withdrawn), with what each row shows, and the rating
    as it stands (``rating_id``: final, else calibrated, else the manager's proposal)."""
    return (
        Appraisal.objects.filter(session=session)
        .exclude(stage=A.WITHDRAWN)
        .select_related(
            "employee__user",
            "department",
            "reviewer__user",
            "computed_level",
            "manager_level",
            "calibrated_level",
            "final_level",
        )
        .annotate(rating_id=reports.current_level())
    )


@dataclass
class GridFilters:
    """What the grid is narrowed to; every value comes from the URL."""

    q: str = ""
    department: int | None = None
    reviewer: str = ""  # part of the manager's name, or their employee number
    level: str = ""  # a RatingLevel pk, UNRATED, or "" for any
    moved: bool = False
    sort: str = "name"

    @property
    def active(self) -> bool:
        return bool(self.q or self.department or self.reviewer or self.level or self.moved)


def filter_grid(appraisals: QuerySet[Appraisal], filters: GridFilters) -> QuerySet[Appraisal]:
    if filters.q:
        appraisals = appraisals.filter(
            Q(employee__user__full_name__icontains=filters.q)
            | Q(employee__employee_number__iexact=filters.q)
        )
    if filters.department:
        appraisals = appraisals.filter(
            department__in=subtree_sql(Department, "parent", [filters.department])
        )
    if filters.reviewer:
        appraisals = appraisals.filter(
            Q(reviewer__user__full_name__icontains=filters.reviewer)
            | Q(reviewer__employee_number__icontains=filters.reviewer)
        )
    if filters.level == UNRATED:
        appraisals = appraisals.filter(rating_id__isnull=True)
    elif filters.level:
        appraisals = appraisals.filter(rating_id=int(filters.level))
    if filters.moved:
        appraisals = appraisals.filter(calibrated_level__isnull=False).exclude(
            calibrated_level=F("manager_level")
        )
    order = {
        "name": ["employee__user__full_name", "pk"],
        "-score": [F("overall_score").desc(nulls_last=True), "employee__user__full_name", "pk"],
        "score": [F("overall_score").asc(nulls_last=True), "employee__user__full_name", "pk"],
        "department": ["department__name", "employee__user__full_name", "pk"],
    }[filters.sort if filters.sort in SORTS else "name"]
    return appraisals.order_by(*order)


def holds_own_unreleased(session: CalibrationSession, employee: Employee | None) -> bool:
    """Whether the session holds ``employee``'s own appraisal, not released yet (the
    page then says why that row is not shown to them)."""
    if employee is None:
        return False
    return Appraisal.objects.filter(
        session=session, employee=employee, released_at__isnull=True
    ).exists()


def grid_departments(session: CalibrationSession) -> list[Department]:
    """The departments people in the session sat in at launch (the department filter)."""
    return list(
        Department.objects.filter(
            pk__in=Appraisal.objects.filter(session=session).values("department")
        ).order_by("name", "pk")
    )


def page_rows(appraisals: QuerySet[Appraisal], pks: list[int]) -> list[Appraisal]:
    """The rows of one page of the grid, in the order of ``pks``: the page is cut from
    the pks alone (ordering 2,000 people by name needs only their names), then its rows
    are fetched with everything they show, rather than every row joined to its names
    and levels before the sort."""
    rows = {row.pk: row for row in appraisals.filter(pk__in=pks).order_by()}
    return [rows[pk] for pk in pks if pk in rows]


def adjustments_log(
    session: CalibrationSession, *, of: QuerySet[Appraisal] | None = None
) -> QuerySet[CalibrationAdjustment]:
    """Every move in the session (of the appraisals ``of``, when given), newest first:
    who, whom, from, to, why, when."""
    moves = CalibrationAdjustment.objects.filter(session=session)
    if of is not None:
        moves = moves.filter(appraisal__in=of.values("pk"))
    return moves.select_related(
        "appraisal__employee__user", "from_level", "to_level", "actor"
    ).order_by("-created_at", "-pk")


# --- the distribution against the guideline ------------------------------------------------


@dataclass
class Distribution:
    """The rows of ``reports.distribution_rows`` (one per level: count, share of the rated
    people, guideline share, status "over"/"under"/"ok"), with how many people are not
    rated yet (not counted in the shares)."""

    rows: list[reports.DistributionRow] = field(default_factory=list)
    rated: int = 0
    unrated: int = 0
    tolerance: int = 0
    has_guideline: bool = False

    @property
    def off(self) -> list[reports.DistributionRow]:
        return [row for row in self.rows if row.status in (reports.OVER, reports.UNDER)]


def rating_distribution(
    appraisals: QuerySet[Appraisal],
    *,
    levels: list[RatingLevel],
    guideline: dict,
    tolerance: int,
) -> Distribution:
    """How the ratings as they stand spread over ``levels`` against the guideline (the
    rule of ``reports.distribution_rows``), and how many are not rated yet: one grouped
    query, the unrated counted in the same one."""
    counts = dict(
        appraisals.order_by()
        .values(rating=reports.current_level())
        .annotate(n=Count("pk"))
        .values_list("rating", "n")
    )
    unrated = counts.pop(None, 0)
    return Distribution(
        rows=reports.distribution_rows(counts, levels, guideline, tolerance),
        rated=sum(counts.get(level.pk, 0) for level in levels),
        unrated=unrated,
        tolerance=tolerance,
        has_guideline=bool(guideline),
    )


# --- release ------------------------------------------------------------------------------


@dataclass
class DepartmentRelease:
    """A department's results with its sub-departments' (what releasing it releases)."""

    department: Department
    depth: int
    released: int = 0
    waiting: int = 0  # final, not released yet
    not_final: int = 0

    @property
    def total(self) -> int:
        return self.released + self.waiting + self.not_final


def release_counts(cycle: Cycle) -> list[DepartmentRelease]:
    """Every department with people in the cycle (where they sat at launch), in tree
    order, with the results released, the final results waiting for release and the
    appraisals not final yet, each counted with its sub-departments. Two queries."""
    own = {
        row["department"]: row
        for row in Appraisal.objects.filter(cycle=cycle)
        .exclude(stage=A.WITHDRAWN)
        .order_by()
        .values("department")
        .annotate(
            released=Count("pk", filter=Q(released_at__isnull=False)),
            waiting=Count("pk", filter=Q(stage=A.FINAL, released_at__isnull=True)),
            not_final=Count("pk", filter=~Q(stage=A.FINAL)),
        )
    }
    departments = list(Department.objects.order_by("name", "pk"))
    children: dict[int | None, list[Department]] = {}
    for department in departments:
        children.setdefault(department.parent_id, []).append(department)
    known = {d.pk for d in departments}
    roots = [d for d in departments if d.parent_id is None or d.parent_id not in known]

    rows: list[DepartmentRelease] = []

    def visit(department: Department, depth: int, seen: set[int]) -> DepartmentRelease:
        row = DepartmentRelease(department, depth)
        mine = own.get(department.pk)
        if mine:
            row.released, row.waiting, row.not_final = (
                mine["released"],
                mine["waiting"],
                mine["not_final"],
            )
        at = len(rows)
        rows.append(row)
        for child in children.get(department.pk, []):
            if child.pk in seen:  # a loop in the tree is a data error; do not recurse
                continue
            below = visit(child, depth + 1, seen | {child.pk})
            row.released += below.released
            row.waiting += below.waiting
            row.not_final += below.not_final
        if not row.total:
            del rows[at:]  # nobody appraised here or below
        return row

    for root in roots:
        visit(root, 0, {root.pk})
    return rows
