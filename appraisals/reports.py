"""Reports on a cycle's appraisals: the cycle dashboard and the department results.

Every selector here reads a fixed handful of grouped queries, whatever the number of
appraisals, goals or departments: counts are asked of the database (``Count`` with a
filter, grouped by department), lists are capped, and the arithmetic on the grouped
rows happens in Python.

* :func:`rating_distribution` (shared with calibration): how many people sit at each
  level of the scale, beside the guideline distribution, over or under beyond the
  tolerance.
* :func:`dashboard_completion` (and :func:`cycle_completion`), :func:`overdue`: the cycle
  dashboard.
* :func:`department_results`: each department's result from its own goals, the ratings
  of its people and its contribution to each company objective.

The callers scope: ``departments`` is what ``perfcycle.access`` gives the user
(``dashboard_departments``, ``department_results_visible_to``).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    FilteredRelation,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from goals.models import Goal
from perfcycle.models import Cycle, CycleDeadline, Department, RatingLevel, RatingScale

from .models import Appeal, Appraisal, CalibrationSession, CycleSettings, Review
from .states import PHASES

A = Appraisal.Stage
K = Review.Kind
P = Cycle.Status

OVER, UNDER, OK = "over", "under", "ok"
OVERDUE_SHOWN = 50
ONE_DECIMAL = Decimal("0.1")
TWO_DECIMALS = Decimal("0.01")
# Sums of weight x progress over many goals outgrow a goal's own number fields.
WIDE = DecimalField(max_digits=24, decimal_places=6)


def current_level():
    """The rating as it stands, as an expression: final, else calibrated, else the
    manager's proposal (the id of the level; null while nobody has proposed one)."""
    return Coalesce("final_level", "calibrated_level", "manager_level", output_field=IntegerField())


def _percent(part, whole, places: Decimal = ONE_DECIMAL) -> Decimal:
    if not whole:
        return Decimal(0)
    return (Decimal(part) * 100 / Decimal(whole)).quantize(places, ROUND_HALF_UP)


# --- the rating distribution ---------------------------------------------------------


@dataclass(frozen=True)
class DistributionRow:
    """One level of the scale: how many people sit there, their share of everyone rated,
    the guideline's share for the level, and whether the level is over- or under-filled
    beyond the tolerance (``status``: "over", "under" or "ok")."""

    level: RatingLevel
    count: int
    percent: Decimal
    guideline: Decimal | None
    status: str

    @property
    def difference(self) -> Decimal | None:
        """Percentage points above (positive) or below the guideline."""
        if self.guideline is None:
            return None
        return self.percent - self.guideline

    @property
    def gap(self) -> Decimal | None:
        """How many percentage points the share is off the guideline, either way."""
        difference = self.difference
        return None if difference is None else abs(difference)


def _guideline_percent(guideline: dict | None, value: int) -> Decimal | None:
    if not guideline:
        return None
    share = guideline.get(str(value), guideline.get(value))
    return None if share is None else Decimal(share)


def distribution_rows(
    counts: dict[int, int], levels: list[RatingLevel], guideline: dict | None, tolerance
) -> list[DistributionRow]:
    """The distribution from counts per level id (no query): a row per level, in the
    scale's order. Shares are of the people rated at one of ``levels``; a level is over
    or under when its exact share differs from the guideline by more than ``tolerance``
    percentage points. With nobody rated yet, or no guideline, every level is "ok"."""
    total = sum(counts.get(level.pk, 0) for level in levels)
    tolerance = Decimal(tolerance or 0)
    rows = []
    for level in levels:
        count = counts.get(level.pk, 0)
        exact = Decimal(count) * 100 / Decimal(total) if total else Decimal(0)
        target = _guideline_percent(guideline, level.value)
        status = OK
        if total and target is not None:
            if exact - target > tolerance:
                status = OVER
            elif target - exact > tolerance:
                status = UNDER
        rows.append(
            DistributionRow(
                level=level,
                count=count,
                percent=exact.quantize(ONE_DECIMAL, ROUND_HALF_UP),
                guideline=target,
                status=status,
            )
        )
    return rows


def rating_distribution(
    appraisals_qs: QuerySet[Appraisal], scale: RatingScale, guideline: dict | None, tolerance
) -> list[DistributionRow]:
    """How the current ratings of ``appraisals_qs`` spread over ``scale``'s levels, beside
    the ``guideline`` ({"<level value>": percent}) with ``tolerance`` percentage points.

    The current rating is the final one, else the calibrated, else the manager's
    proposal; appraisals without one, and withdrawn ones, are not counted. Two queries
    (one when the scale's levels are prefetched): the levels and a grouped count.
    """
    levels = list(scale.levels.all())
    counts = dict(
        appraisals_qs.exclude(stage=A.WITHDRAWN)
        .annotate(_current=current_level())
        .filter(_current__isnull=False)
        .order_by()
        .values("_current")
        .annotate(n=Count("pk"))
        .values_list("_current", "n")
    )
    return distribution_rows(counts, levels, guideline, tolerance)


def guideline_of(cycle: Cycle) -> tuple[dict, int]:
    """The cycle's guideline distribution and tolerance (one query; a cycle without
    settings yet has none, and reading never creates them)."""
    found = CycleSettings.objects.filter(cycle=cycle).values_list(
        "guideline", "guideline_tolerance"
    )
    for guideline, tolerance in found:
        return guideline or {}, tolerance
    return {}, CycleSettings._meta.get_field("guideline_tolerance").default


# --- the cycle dashboard -------------------------------------------------------------


def _review_done(kind: str) -> Exists:
    return Exists(
        Review.objects.filter(appraisal=OuterRef("pk"), kind=kind, status=Review.Status.SUBMITTED)
    )


def _submitted_review(kind: str) -> FilteredRelation:
    """The appraisal's ``kind`` review when it is submitted, as a join (one review per
    kind: at most one row per appraisal). Counting over the join reads the submitted
    reviews once, where an EXISTS per appraisal probed the reviews for every one."""
    return FilteredRelation(
        "reviews", condition=Q(reviews__kind=kind, reviews__status=Review.Status.SUBMITTED)
    )


def _review_status(kind: str) -> Subquery:
    reviews = Review.objects.filter(appraisal=OuterRef("pk"), kind=kind).order_by()
    return Subquery(reviews.values("status")[:1])


def _every_department(departments: QuerySet[Department]) -> bool:
    """Whether ``departments`` is all of them (not filtered, sliced or combined)."""
    query = departments.query
    return not (query.where or query.is_sliced or query.combinator)


def cycle_appraisals(cycle: Cycle, departments: QuerySet[Department]) -> QuerySet[Appraisal]:
    """The cycle's appraisals reported under ``departments`` (the department at launch),
    withdrawn ones included."""
    appraisals = Appraisal.objects.filter(cycle=cycle)
    if _every_department(departments):
        # Every appraisal has a department: for HR and executives, matching each one
        # against all departments would only cost time.
        return appraisals
    return appraisals.filter(department__in=departments.values("pk"))


@dataclass(frozen=True)
class StageCount:
    key: str
    label: str
    count: int
    percent: Decimal


@dataclass(frozen=True)
class Completion:
    total: int
    withdrawn: int
    stages: list[StageCount]


LIVE = ~Q(stage=A.WITHDRAWN)

# What the dashboard counts, in the order of the workflow: (key, label, condition on an
# appraisal joined to its submitted reviews, ``self_done`` and ``manager_done``).
COMPLETION_STAGES = [
    ("self_review", _("Self-reviews submitted"), Q(self_done__isnull=False)),
    ("manager_review", _("Manager reviews submitted"), Q(manager_done__isnull=False)),
    (
        "approved",
        _("Approved, ready for calibration or final"),
        Q(stage__in=[A.READY, A.FINAL]),
    ),
    ("final", _("Final"), Q(stage=A.FINAL)),
    ("released", _("Released to the employee"), Q(released_at__isnull=False)),
    ("acknowledged", _("Acknowledged by the employee"), Q(acknowledged_at__isnull=False)),
]


def _with_reviews(appraisals: QuerySet[Appraisal]) -> QuerySet[Appraisal]:
    return appraisals.annotate(
        self_done=_submitted_review(K.SELF), manager_done=_submitted_review(K.MANAGER)
    )


def _counts_by_department(cycle: Cycle, departments: QuerySet[Department]) -> list[dict]:
    """Per department with appraisals in the cycle, by name: ``department`` (id),
    ``name``, ``code``, its ``live`` and ``withdrawn`` appraisals, and the live ones at
    each of :data:`COMPLETION_STAGES` (by key). One grouped query.

    It groups by the department id alone and looks the name and code up per group:
    grouped by name as well, the database cannot tell how few groups there are and
    sorts every appraisal to find them."""
    department = Department.objects.filter(pk=OuterRef("department")).order_by()
    return list(
        _with_reviews(cycle_appraisals(cycle, departments))
        .order_by()
        .values("department")
        .annotate(
            live=Count("pk", filter=LIVE),
            withdrawn=Count("pk", filter=~LIVE),
            **{key: Count("pk", filter=LIVE & cond) for key, _label, cond in COMPLETION_STAGES},
        )
        .annotate(
            name=Subquery(department.values("name")), code=Subquery(department.values("code"))
        )
        .order_by("name", "department")
    )


def _completion(counts: list[dict]) -> Completion:
    total = sum(row["live"] for row in counts)
    stages = []
    for key, label, _condition in COMPLETION_STAGES:
        count = sum(row[key] for row in counts)
        stages.append(StageCount(key, str(label), count, _percent(count, total)))
    return Completion(total=total, withdrawn=sum(row["withdrawn"] for row in counts), stages=stages)


def _by_department(counts: list[dict]) -> list[dict]:
    rows = []
    for found in counts:
        if not found["live"]:
            continue
        row = {
            "department": found["department"],
            "name": found["name"],
            "code": found["code"],
            "appraisals": found["live"],
            "self_done": found["self_review"],
            "manager_done": found["manager_review"],
            "final": found["final"],
        }
        for key in ("self_done", "manager_done", "final"):
            row[f"{key}_percent"] = _percent(row[key], row["appraisals"])
        rows.append(row)
    return rows


def cycle_completion(cycle: Cycle, departments: QuerySet[Department]) -> Completion:
    """How far the cycle's appraisals in ``departments`` have come, stage by stage: a
    count and a percent of the live (not withdrawn) appraisals each. One query."""
    return _completion(_counts_by_department(cycle, departments))


def dashboard_completion(
    cycle: Cycle, departments: QuerySet[Department]
) -> tuple[Completion, list[dict]]:
    """The :func:`cycle_completion` and, per department with live appraisals in the
    cycle, by name: ``department`` (id), ``name``, ``code``, ``appraisals``,
    ``self_done``, ``manager_done``, ``final`` and the percents of each (``*_percent``).
    One grouped query for both."""
    counts = _counts_by_department(cycle, departments)
    return _completion(counts), _by_department(counts)


@dataclass
class OverdueList:
    """People behind on one review: ``applies`` once the phase's deadline has passed (or
    the cycle has moved beyond the phase); the first ``rows`` and the ``count`` of all."""

    kind: str
    phase_label: str
    applies: bool
    due_on: datetime.date | None
    days_late: int | None
    count: int = 0
    rows: list[Appraisal] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.rows)


OVERDUE_KINDS = {K.SELF: P.SELF_REVIEW, K.MANAGER: P.MANAGER_REVIEW}


def _waiting(cycle: Cycle, departments: QuerySet[Department], kind: str) -> QuerySet[Appraisal]:
    """The appraisals whose ``kind`` review is still to be submitted, while the
    appraisal still waits for it: the self-review before the manager has finished (once
    the manager review is in, chasing the self-review helps nobody); the manager review
    (or its second-level approval) before the appraisal is ready for calibration."""
    appraisals = cycle_appraisals(cycle, departments)
    if kind == K.SELF:
        return appraisals.filter(stage__in=[A.SELF_REVIEW, A.MANAGER_REVIEW]).exclude(
            _review_done(K.SELF)
        )
    return appraisals.filter(stage__in=[A.SELF_REVIEW, A.MANAGER_REVIEW, A.APPROVAL])


def _count(rows: QuerySet) -> Subquery:
    """How many ``rows`` there are, as a scalar subquery: the database works it out once
    for the statement that holds it."""
    return Subquery(
        rows.order_by().values(n=Func(F("pk"), function="COUNT")), output_field=IntegerField()
    )


def overdue_queryset(
    cycle: Cycle, departments: QuerySet[Department], kind: str
) -> QuerySet[Appraisal]:
    """The appraisals waiting for their ``kind`` review (:func:`_waiting`), by department
    and name. Each row carries ``review_status`` (draft or returned; submitted for an
    approval)."""
    return _overdue_rows(_waiting(cycle, departments, kind), kind)


def _overdue_rows(appraisals: QuerySet[Appraisal], kind: str) -> QuerySet[Appraisal]:
    return (
        appraisals.annotate(review_status=_review_status(kind))
        .select_related("employee__user", "department", "reviewer__user")
        .order_by("department__name", "employee__user__full_name", "pk")
    )


def _phase_passed(cycle: Cycle, phase: str) -> bool:
    return PHASES.index(cycle.status) > PHASES.index(phase)


def overdue(
    cycle: Cycle,
    departments: QuerySet[Department],
    *,
    today: datetime.date | None = None,
    limit: int = OVERDUE_SHOWN,
) -> dict[str, OverdueList]:
    """The overdue self-reviews and manager reviews ({"self": ..., "manager": ...}).

    A review is overdue once its phase's deadline (``CycleDeadline``) is behind ``today``
    or the cycle has moved past the phase. Each list is one query (its first ``limit``
    rows, carrying the count of all), after one for the deadlines. The count is a
    subquery of its own: counting in a window over the rows would join, sort and keep
    every overdue appraisal to hand back ``limit`` of them."""
    today = today or timezone.localdate()
    deadlines = dict(
        CycleDeadline.objects.filter(cycle=cycle, phase__in=OVERDUE_KINDS.values()).values_list(
            "phase", "due_on"
        )
    )
    lists = {}
    for kind, phase in OVERDUE_KINDS.items():
        due = deadlines.get(phase)
        late = due is not None and today > due
        found = OverdueList(
            kind=kind,
            phase_label=str(P(phase).label),
            applies=late or _phase_passed(cycle, phase),
            due_on=due,
            days_late=(today - due).days if late else None,
        )
        if found.applies:
            waiting = _waiting(cycle, departments, kind)
            # The first rows are picked by id, then read with all they show: sorting
            # every waiting appraisal with its person and reviewer would spill to disk.
            first = Appraisal.objects.filter(
                pk__in=_overdue_rows(waiting, kind).values("pk")[:limit]
            )
            found.rows = list(_overdue_rows(first, kind).annotate(total=_count(waiting)))
            found.count = found.rows[0].total if found.rows else 0
        lists[kind] = found
    return lists


# --- HR's daily summary --------------------------------------------------------------


@dataclass(frozen=True)
class CycleSummary:
    """Where a running cycle stands today, for HR's daily summary e-mail."""

    phase: str
    due_on: datetime.date | None
    days_left: int | None
    completion: Completion
    overdue_self: int
    overdue_manager: int
    goals_awaiting_approval: int
    open_appeals: int
    open_sessions: int


def cycle_summary(cycle: Cycle, *, today: datetime.date) -> CycleSummary:
    """The whole cycle in numbers: its phase and deadline, how far the appraisals have
    come, what is overdue, and what waits on someone (goals to approve, appeals,
    calibration sessions). Eight queries, whatever the size of the cycle."""
    everywhere = Department.objects.all()
    due_on = (
        CycleDeadline.objects.filter(cycle=cycle, phase=cycle.status)
        .values_list("due_on", flat=True)
        .first()
    )
    late = overdue(cycle, everywhere, today=today, limit=1)
    return CycleSummary(
        phase=str(P(cycle.status).label),
        due_on=due_on,
        days_left=(due_on - today).days if due_on is not None else None,
        completion=cycle_completion(cycle, everywhere),
        overdue_self=late[K.SELF].count,
        overdue_manager=late[K.MANAGER].count,
        goals_awaiting_approval=Goal.objects.filter(
            cycle=cycle, status=Goal.Status.PROPOSED
        ).count(),
        open_appeals=Appeal.objects.filter(
            appraisal__cycle=cycle, status=Appeal.Status.OPEN
        ).count(),
        open_sessions=CalibrationSession.objects.filter(
            cycle=cycle, status=CalibrationSession.Status.OPEN
        ).count(),
    )


# --- department results --------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """A department's part in one company objective's rolled-up progress: ``points`` of
    the objective's progress come from its goals, a ``share`` (percent) of the whole."""

    objective: Goal
    points: Decimal
    share: Decimal | None
    goals: int


@dataclass
class DepartmentResult:
    department: Department
    result: Decimal | None
    goals: int
    measured: int
    appraisals: int
    distribution: list[DistributionRow]
    contributions: list[Contribution]
    rank: int | None = None

    @property
    def rated(self) -> int:
        return sum(row.count for row in self.distribution)

    @property
    def serves(self) -> list[Contribution]:
        """The objectives the department's goals serve."""
        return [c for c in self.contributions if c.goals]


@dataclass
class DepartmentResults:
    rows: list[DepartmentResult]
    objectives: list[Goal]
    levels: list[RatingLevel]


def _department_goal_results(cycle: Cycle, departments: list[Department]) -> dict[int, dict]:
    """Per department: its live department goals, those with a reading, and the result:
    the weighted mean of their attainment (equal weights when all are zero).

    The departments are given as the ids already read: as a subquery, PostgreSQL would
    merge-join it with every goal that has a department (people's goals too), in
    department order, rather than read the cycle's few department goals."""
    measured = Q(attainment__isnull=False)
    rows = (
        Goal.objects.filter(
            cycle=cycle,
            level=Goal.Level.DEPARTMENT,
            department__in=[department.pk for department in departments],
        )
        .exclude(status=Goal.Status.CANCELLED)
        .order_by()
        .values("department")
        .annotate(
            goals=Count("pk"),
            measured=Count("pk", filter=measured),
            weighted=Sum(F("weight") * F("attainment"), filter=measured, output_field=WIDE),
            weights=Sum("weight", filter=measured, output_field=WIDE),
            plain=Sum("attainment", filter=measured, output_field=WIDE),
        )
    )
    found = {}
    for row in rows:
        result = None
        if row["measured"]:
            weights = Decimal(row["weights"] or 0)
            if weights:
                result = Decimal(row["weighted"]) / weights
            else:
                result = Decimal(row["plain"]) / row["measured"]
            result = result.quantize(TWO_DECIMALS, ROUND_HALF_UP)
        found[row["department"]] = {**row, "result": result}
    return found


def _contributions(cycle: Cycle, objectives: list[Goal]) -> dict[int, dict[int, tuple]]:
    """Per department, per objective: (points, goals).

    The objective's progress is the weighted mean of the progress of the department goals
    serving it that count (approved, active, achieved, missed) and have progress
    (``goals.services`` rolls it up so); a department's points are its goals' part of
    that mean: the sum of weight x progress over its goals, divided by the total weight
    of all of them (all weights zero: each goal counts equally). The points of all
    departments add up to the objective's progress. One grouped query.
    """
    groups = (
        Goal.objects.filter(
            cycle=cycle,
            level=Goal.Level.DEPARTMENT,
            parent__in=[o.pk for o in objectives],
            status__in=Goal.COUNTED,
            progress__isnull=False,
        )
        .order_by()
        .values("parent", "department")
        .annotate(
            weighted=Sum(F("weight") * F("progress"), output_field=WIDE),
            weights=Sum("weight", output_field=WIDE),
            plain=Sum("progress", output_field=WIDE),
            n=Count("pk"),
        )
    )
    by_objective: dict[int, list[dict]] = defaultdict(list)
    for row in groups:
        by_objective[row["parent"]].append(row)
    found: dict[int, dict[int, tuple]] = defaultdict(dict)
    for objective, rows in by_objective.items():
        weights = sum(Decimal(r["weights"] or 0) for r in rows)
        count = sum(r["n"] for r in rows)
        for r in rows:
            if weights:
                points = Decimal(r["weighted"] or 0) / weights
            else:
                points = Decimal(r["plain"] or 0) / count
            found[r["department"]][objective] = (points, r["n"])
    return found


def _contribution(objective: Goal, points: Decimal, goals: int) -> Contribution:
    progress = objective.progress
    share = None
    if progress:
        share = (points * 100 / Decimal(progress)).quantize(ONE_DECIMAL, ROUND_HALF_UP)
    return Contribution(
        objective=objective,
        points=points.quantize(TWO_DECIMALS, ROUND_HALF_UP),
        share=share,
        goals=goals,
    )


def _rank(results: list[DepartmentResult]) -> list[DepartmentResult]:
    """Best result first (departments without one last, by name); equal results share a
    rank (1, 2, 2, 4)."""
    results.sort(
        key=lambda r: (r.result is None, -(r.result or 0), r.department.name, r.department.pk)
    )
    previous, rank = None, 0
    for position, row in enumerate(results, start=1):
        if row.result is None:
            break
        if row.result != previous:
            rank, previous = position, row.result
        row.rank = rank
    return results


def department_results(
    cycle: Cycle,
    departments: QuerySet[Department],
    *,
    guideline: dict | None = None,
    tolerance=0,
    ranked: bool = False,
    rated: QuerySet[Appraisal] | None = None,
) -> DepartmentResults:
    """Each of ``departments``' result for the cycle, beside its people's ratings and its
    contribution to every company objective.

    * result: the weighted mean of the attainment of the department's own live
      department goals that have a reading (cancelled ones and those never measured are
      left out; all weights zero: a plain mean);
    * ratings: the current ratings of the appraisals reported under the department (its
      people at launch), per level of the cycle's scale, beside the ``guideline``;
      only those among ``rated`` count (the policy's ``without_own_assessment``: the
      viewer's own rating stays hidden before release);
    * contributions: see :func:`_contributions`.

    ``ranked``: best result first with a rank; otherwise by name. Seven queries whatever
    the number of departments, goals and appraisals.
    """
    chosen = list(departments.select_related("parent").order_by("name", "pk"))
    levels = list(RatingLevel.objects.filter(scale_id=cycle.rating_scale_id).order_by("value"))
    objectives = list(
        Goal.objects.filter(cycle=cycle, level=Goal.Level.COMPANY)
        .exclude(status=Goal.Status.CANCELLED)
        .order_by("-weight", "title", "pk")
    )
    goal_results = _department_goal_results(cycle, chosen)
    contributions = _contributions(cycle, objectives) if objectives else {}
    live = cycle_appraisals(cycle, departments).filter(LIVE).order_by()
    appraisal_counts = dict(
        live.values("department").annotate(n=Count("pk")).values_list("department", "n")
    )
    if rated is not None:
        # Both conditions on the one table (``pk__in`` would read the appraisals twice).
        live = (live & rated).order_by()
    level_counts: dict[int, dict[int, int]] = defaultdict(dict)
    rows = (
        live.annotate(_current=current_level())
        .filter(_current__isnull=False)
        .values("department", "_current")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        level_counts[row["department"]][row["_current"]] = row["n"]
    results = []
    for department in chosen:
        goals = goal_results.get(department.pk, {})
        theirs = contributions.get(department.pk, {})
        results.append(
            DepartmentResult(
                department=department,
                result=goals.get("result"),
                goals=goals.get("goals", 0),
                measured=goals.get("measured", 0),
                appraisals=appraisal_counts.get(department.pk, 0),
                distribution=distribution_rows(
                    level_counts.get(department.pk, {}), levels, guideline, tolerance
                ),
                contributions=[
                    _contribution(o, *theirs.get(o.pk, (Decimal(0), 0))) for o in objectives
                ],
            )
        )
    if ranked:
        _rank(results)
    return DepartmentResults(rows=results, objectives=objectives, levels=levels)


def department_goals(goals: QuerySet[Goal], *, cycle: Cycle, department: Department):
    """A department's own goals in the cycle (cancelled ones too, to show they are left
    out), with the objective each serves; ``goals`` is what the user may read."""
    return (
        goals.filter(cycle=cycle, level=Goal.Level.DEPARTMENT, department=department)
        .select_related("parent")
        .order_by("-weight", "title", "pk")
    )
