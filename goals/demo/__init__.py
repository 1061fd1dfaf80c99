"""The demo cascade for the demo cycle, written through ``goals.services``.

Strategy lines -> five company objectives -> department goals -> two or three KPIs per
position, copied by the service to everyone holding it -> a few personal goals employees
propose and their managers decide -> check-ins, with progress rolled up the tree.

People do what they would do: the CEO (an executive) enters the objectives; HR
decomposes them onto the company and its divisions and each division's chief weights
them; department heads write their department's goals and their positions' KPIs (the
chiefs set the heads' KPIs, the CEO the chiefs'); HR closes goal setting once its
deadline has passed. What is written depends only on the organisation ``perfcycle.demo``
built, the seed and the date. The goals themselves are listed in
:mod:`goals.demo.catalogue`; :mod:`goals.demo.checkins` records the progress.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count

from perfcycle import access
from perfcycle.models import Cycle, CycleDeadline, Department, Employee, Position

from .. import services
from ..models import CheckIn, Goal
from .catalogue import (
    CEO_KPIS,
    DEMO_FIRST,
    DEMO_REVISED,
    DIVISION_GOALS,
    FAMILIES,
    GRADE_FACTOR,
    LEAD_KPI,
    OBJECTIVES,
    PROPOSALS,
    REJECT_COMMENT,
    RETURN_COMMENT,
    TEAM_FACTOR,
    DemoProposal,
    scaled,
)
from .checkins import record_checkins

L, S = Goal.Level, Goal.Status


@dataclass
class GoalCounts:
    objectives: int = 0
    department_goals: int = 0
    position_kpis: int = 0
    personal_goals: int = 0
    proposed: int = 0  # personal goals employees proposed themselves
    waiting: int = 0  # ... still waiting for their manager's decision
    returned: int = 0  # ... sent back to their owner as drafts
    checkins: int = 0
    at_risk: int = 0  # goals whose latest check-in is at risk or off track
    goal_setting_closed: bool = False


def seed_goals(
    *,
    cycle: Cycle,
    hr_admin,
    seed: int,
    today: datetime.date,
    employee_email: str = "",
    reserved_emails: frozenset[str] = frozenset(),
) -> GoalCounts:
    """Write the cascade for ``cycle``, which is in goal setting, and close goal setting
    when ``today`` is past its deadline.

    ``employee_email`` is the demo employee's login: they propose a goal, it is returned,
    and the revised one waits for their manager (after goal setting closed, HR reopened
    it for them first). Nobody in ``reserved_emails`` proposes anything.
    """
    rng = random.Random(f"goals:{seed}")
    org = _Org.load(hr_admin)
    executive = org.user(org.root.head)
    if not access.roles(executive).executive:
        executive = hr_admin

    objectives = _objectives(cycle, executive, headcount=org.headcount)
    department_goals = _decompose(objectives, org)
    department_goals.update(_department_goals(cycle, objectives, org, rng))
    _position_kpis(cycle, department_goals, org, rng)

    due = (
        CycleDeadline.objects.filter(cycle=cycle, phase=Cycle.Status.GOAL_SETTING)
        .values_list("due_on", flat=True)
        .first()
    )
    close = due is not None and today > due
    later = _proposals(
        cycle, org, rng, employee_email=employee_email, reserved=reserved_emails, close=close
    )
    if close:
        services.goal_setting_close(actor=hr_admin, cycle=cycle)
        cycle.refresh_from_db()
    for step in later:
        step()
    checkins = record_checkins(cycle, rng, today=today)
    return _count(cycle, checkins=checkins, closed=close)


def _count(cycle: Cycle, *, checkins: int, closed: bool) -> GoalCounts:
    goals = Goal.objects.filter(cycle=cycle)
    by_level = dict(goals.values_list("level").annotate(n=Count("pk")).order_by())
    proposed = goals.filter(level=L.PERSONAL, source__isnull=True)
    return GoalCounts(
        objectives=by_level.get(L.COMPANY, 0),
        department_goals=by_level.get(L.DEPARTMENT, 0),
        position_kpis=by_level.get(L.POSITION, 0),
        personal_goals=by_level.get(L.PERSONAL, 0),
        proposed=proposed.count(),
        waiting=proposed.filter(status=S.PROPOSED).count(),
        returned=proposed.filter(status=S.DRAFT).count(),
        checkins=checkins,
        at_risk=goals.filter(last_confidence__in=CheckIn.AT_RISK).count(),
        goal_setting_closed=closed,
    )


# --- the organisation, read once ------------------------------------------------------


@dataclass
class _Org:
    hr_admin: object
    root: Department
    departments: list[Department]  # by depth (company, divisions, departments), then code
    depth: dict[int, int]
    positions: list[Position]
    headcount: int
    staff: dict[int, int]  # department id -> people in it
    users: dict[int, object] = field(default_factory=dict)

    @classmethod
    def load(cls, hr_admin) -> _Org:
        departments = list(Department.objects.select_related("head__user"))
        parent = {d.pk: d.parent_id for d in departments}
        depth = {}
        for department in departments:
            node, n = department.pk, 0
            while parent[node]:
                node, n = parent[node], n + 1
            depth[department.pk] = n
        departments.sort(key=lambda d: (depth[d.pk], d.code))
        positions = list(
            Position.objects.filter(holders__is_active=True)
            .distinct()
            .order_by("department__code", "title")
        )
        staff = dict(
            Employee.objects.filter(is_active=True)
            .values_list("department")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return cls(
            hr_admin=hr_admin,
            root=departments[0],
            departments=departments,
            depth=depth,
            positions=positions,
            headcount=sum(staff.values()),
            staff=staff,
        )

    def user(self, employee: Employee | None):
        """One user object per person, so the roles the access policy caches on it are
        computed once; HR stands in where a department has no head."""
        if employee is None:
            return self.hr_admin
        if employee.pk not in self.users:
            self.users[employee.pk] = employee.user
        return self.users[employee.pk]


def _family(department: Department) -> str:
    """A department's catalogue entry: its code without the regional suffix."""
    return "-".join(department.code.split("-")[:2])


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _title(department: Department, title: str, zh: str) -> str:
    return f"{title} ({zh})" if zh and _chinese(department.name) else title


def _definition(goal: Goal) -> dict:
    return {name: getattr(goal, name) for name in Goal.KPI_FIELDS}


# --- company objectives and department goals -----------------------------------------


def _objectives(cycle: Cycle, executive, *, headcount: int) -> dict[str, Goal]:
    year = cycle.period_start.year
    created = {}
    for spec in OBJECTIVES:
        measure = scaled(spec.measure, headcount) if spec.per_head else spec.measure
        created[spec.key] = services.goal_create(
            actor=executive,
            cycle=cycle,
            level=L.COMPANY,
            data={
                "title": spec.title.format(target=_money(measure.get("target"))),
                "description": spec.description,
                "strategy_ref": spec.strategy_ref.format(year=year, next=year + 2),
                "strategy_url": spec.strategy_url.format(year=year),
                "weight": Decimal(spec.weight),
                "due_date": cycle.period_end,
                **measure,
            },
        )
    return created


def _money(millions: Decimal | None) -> str:
    if millions is None:
        return ""
    if millions >= 1000:
        return f"CNY {millions / 1000:.1f} billion"
    return f"CNY {millions:.0f} million"


def _decompose(objectives: dict[str, Goal], org: _Org) -> dict[tuple[int, str], Goal]:
    """HR decomposes each objective onto the company (the CEO's department owns them all,
    at their own weights) and the divisions serving it; each chief then weights them."""
    divisions = [d for d in org.departments if org.depth[d.pk] == 1 and d.code in DIVISION_GOALS]
    goals: dict[tuple[int, str], Goal] = {}
    for key, objective in objectives.items():
        serving = [org.root] + [d for d in divisions if key in dict(DIVISION_GOALS[d.code])]
        for goal in services.company_objective_decompose(
            actor=org.hr_admin, objective=objective, departments=serving
        ):
            goals[(goal.department_id, key)] = goal
    for division in divisions:
        for key, weight in DIVISION_GOALS[division.code]:
            goal = goals[(division.pk, key)]
            if goal.weight != weight:
                goals[(division.pk, key)] = services.goal_update(
                    actor=org.user(division.head),
                    goal=goal,
                    data={"weight": Decimal(weight)},
                    expected_version=goal.version,
                    reason="Weighted for the division",
                )
    return goals


def _department_goals(cycle, objectives, org: _Org, rng) -> dict[tuple[int, str], Goal]:
    """Every other department's head writes two or three goals, each serving an
    objective; the weights move a little from one department to the next."""
    goals: dict[tuple[int, str], Goal] = {}
    for department in org.departments:
        if org.depth[department.pk] < 2:
            continue
        family = FAMILIES[_family(department)]
        people = org.staff.get(department.pk, 1)
        weights = _nudge([g.weight for g in family.goals], rng)
        for spec, weight in zip(family.goals, weights, strict=True):
            measure = scaled(spec.measure, people) if spec.per_head else spec.measure
            goals[(department.pk, spec.key)] = services.goal_create(
                actor=org.user(department.head),
                cycle=cycle,
                level=L.DEPARTMENT,
                owner=department,
                parent=objectives[spec.objective],
                data={
                    "title": _title(department, spec.title, spec.zh),
                    "weight": Decimal(weight),
                    "due_date": cycle.period_end,
                    **measure,
                },
            )
    return goals


def _nudge(weights: list[int], rng: random.Random) -> list[int]:
    """Now and then move five or ten points between two weights; the total stays 100."""
    weights = list(weights)
    if len(weights) > 1 and rng.random() < 0.6:
        give, take = rng.sample(range(len(weights)), 2)
        step = rng.choice((5, 10))
        if weights[give] - step >= 15:
            weights[give] -= step
            weights[take] += step
    return weights


# --- position KPIs (the service copies each to every holder) --------------------------


def _position_kpis(cycle, department_goals, org: _Org, rng) -> None:
    by_id = {d.pk: d for d in org.departments}
    for position in org.positions:
        department = by_id[position.department_id]
        for title, serves, weight, measure, author in _kpis_for(
            position, department, by_id, department_goals, org, rng
        ):
            services.goal_create(
                actor=author,
                cycle=cycle,
                level=L.POSITION,
                owner=position,
                parent=department_goals[serves],
                data={
                    "title": title,
                    "weight": Decimal(weight),
                    "due_date": cycle.period_end,
                    **measure,
                },
            )


def _kpis_for(position, department, by_id, department_goals, org: _Org, rng) -> list[tuple]:
    """(title, the department goal it serves, weight, measure, who writes it) for each
    KPI of ``position``."""
    depth = org.depth[department.pk]
    if depth <= 1:
        # The CEO's KPIs are the company's headline numbers (HR records them); a chief's
        # are the division's goals (the CEO sets them).
        pairs = CEO_KPIS if depth == 0 else DIVISION_GOALS.get(department.code, [])
        author = org.hr_admin if depth == 0 else org.user(org.root.head)
        return [
            (goal.title, (department.pk, key), weight, _definition(goal), author)
            for key, weight in pairs
            for goal in [department_goals[(department.pk, key)]]
        ]
    family = FAMILIES[_family(department)]
    division = by_id[department.parent_id]
    head = org.user(department.head)
    if position.grade == "M4" or (department.head and department.head.position_id == position.pk):
        # The head answers for the department's goals; the division's chief sets that.
        return [
            (
                goal.title,
                (department.pk, spec.key),
                goal.weight,
                _definition(goal),
                org.user(division.head),
            )
            for spec in family.goals
            for goal in [department_goals[(department.pk, spec.key)]]
        ]
    if position.grade in TEAM_FACTOR:
        # A lead: the team's main KPI, and overtime, which serves the division's cost goal.
        main = family.kpis[0]
        team = scaled(main.measure, TEAM_FACTOR[position.grade]) if main.volume else main.measure
        return [
            (_title(department, f"{main.title} (team)", main.zh), (department.pk, main.serves),
             70, team, head),
            (LEAD_KPI.title, (division.pk, LEAD_KPI.serves), 30, LEAD_KPI.measure, head),
        ]  # fmt: skip
    factor = GRADE_FACTOR.get(position.grade, 1.0)
    weights = _nudge([k.weight for k in family.kpis], rng)
    return [
        (
            _title(department, kpi.title, kpi.zh),
            (department.pk, kpi.serves),
            weight,
            scaled(kpi.measure, factor) if kpi.volume else kpi.measure,
            head,
        )
        for kpi, weight in zip(family.kpis, weights, strict=True)
    ]


# --- personal goals employees propose -------------------------------------------------


def _proposals(
    cycle, org: _Org, rng, *, employee_email: str, reserved: frozenset[str], close: bool
) -> list[Callable[[], None]]:
    """A few employees propose an extra goal; their managers approve (moving weight from
    one of the person's KPIs, so the total stays 100), return or reject it. Decisions are
    made before goal setting closes, since a proposal still waiting blocks the close.

    Returns what happens after the close: the demo employee's returned proposal is
    reopened by HR, revised and sent again, so their manager has a decision to make.
    """
    people = list(
        Employee.objects.filter(
            is_active=True, manager__isnull=False, position__grade__startswith="P"
        )
        # HR's own goals need no approval, so HR administrators propose nothing here.
        .exclude(user__groups__name=access.HR_ADMIN_GROUP)
        .exclude(user__is_superuser=True)
        .select_related("user", "manager__user")
        .order_by("employee_number")
    )
    demo = next((p for p in people if p.user.email == employee_email), None)
    candidates = [p for p in people if p.user.email not in reserved | {employee_email}]
    team = [p for p in candidates if demo and p.department_id == demo.department_id]
    others = [p for p in candidates if not (demo and p.department_id == demo.department_id)]
    team = rng.sample(team, min(2, len(team)))
    others = rng.sample(others, min(3, len(others)))
    plan = list(zip(team, ["approve", "return"], strict=False)) + list(
        zip(others, ["approve", "approve", "reject" if close else "wait"], strict=False)
    )
    for person, outcome in plan:
        spec = rng.choice(PROPOSALS)
        goal = _propose(cycle, org, person, spec)
        manager = org.user(person.manager)
        if outcome == "approve":
            _make_room(cycle, person, spec, manager)
            services.goal_approve(actor=manager, goal=goal, comment="Agreed.")
        elif outcome == "return":
            services.goal_return(actor=manager, goal=goal, comment=RETURN_COMMENT)
        elif outcome == "reject":
            services.goal_reject(actor=manager, goal=goal, comment=REJECT_COMMENT)
    if demo is None:
        return []
    first = _propose(cycle, org, demo, DEMO_FIRST)
    services.goal_return(actor=org.user(demo.manager), goal=first, comment=RETURN_COMMENT)

    def revise_and_send() -> None:
        goal = Goal.objects.get(pk=first.pk)
        if goal.is_locked:
            goal = services.goal_reopen(
                actor=org.hr_admin,
                goal=goal,
                reason="Returned before goal setting closed; the manager agreed to a revision.",
            )
        me = org.user(demo)
        goal = services.goal_update(
            actor=me,
            goal=goal,
            data={
                "title": DEMO_REVISED.title,
                "description": DEMO_REVISED.description,
                "weight": Decimal(DEMO_REVISED.weight),
                **DEMO_REVISED.measure,
            },
            expected_version=goal.version,
            reason="Made measurable, as asked",
        )
        services.goal_submit(actor=me, goal=goal, expected_version=goal.version)

    if not close:
        revise_and_send()
        return []
    return [revise_and_send]


def _propose(cycle, org: _Org, person: Employee, spec: DemoProposal) -> Goal:
    """The person proposes a goal serving their main KPI."""
    main = _copies(cycle, person)[0]
    return services.goal_create(
        actor=org.user(person),
        cycle=cycle,
        level=L.PERSONAL,
        owner=person,
        parent=main.parent,
        data={
            "title": spec.title,
            "description": spec.description,
            "weight": Decimal(spec.weight),
            "due_date": cycle.period_end,
            **spec.measure,
        },
        submit=True,
    )


def _copies(cycle, person: Employee) -> list[Goal]:
    return list(
        Goal.objects.filter(cycle=cycle, employee=person, source__isnull=False).order_by(
            "-weight", "pk"
        )
    )


def _make_room(cycle, person: Employee, spec: DemoProposal, manager) -> None:
    """The manager takes the proposal's weight from the person's heaviest KPI copy."""
    heaviest = _copies(cycle, person)[0]
    services.goal_update(
        actor=manager,
        goal=heaviest,
        data={"weight": heaviest.weight - spec.weight},
        expected_version=heaviest.version,
        reason=f"{spec.weight} points moved to “{spec.title}”",
    )
