"""The demo's goals: a full cascade for the demo cycle, written through the services."""

import datetime
from collections import defaultdict
from decimal import Decimal
from io import StringIO
from urllib.parse import urlparse

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum

from goals import services
from goals.demo import catalogue as demo_catalogue
from goals.models import CheckIn, Goal
from goals.selectors import weight_problems
from perfcycle import access, demo
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Cycle, Department, Employee, Position, User

L, S = Goal.Level, Goal.Status
IN_PROGRESS = datetime.date(2026, 11, 24)  # past the goal-setting deadline (28 February)
IN_GOAL_SETTING = datetime.date(2026, 2, 10)


def seed(employees=60, seed=5, today=IN_PROGRESS):
    return demo.seed_company(employees=employees, seed=seed, today=today)


@pytest.fixture
def seeded(db):
    return seed()


def counted(**filters):
    return Goal.objects.filter(status__in=Goal.COUNTED, **filters)


def total(goals) -> Decimal:
    return goals.aggregate(t=Sum("weight"))["t"]


def snapshot():
    """Everything the demo decides, keyed by natural keys (not ids)."""
    rows = Goal.objects.select_related(
        "department", "position__department", "employee", "parent"
    ).order_by("pk")
    return sorted(
        (
            g.level,
            g.department.code if g.department else "",
            f"{g.position.department.code}/{g.position.title}" if g.position else "",
            g.employee.employee_number if g.employee else "",
            g.title,
            g.parent.title if g.parent else "",
            g.weight,
            g.status,
            g.target,
            g.range_low,
            g.last_actual,
            g.last_percent,
            g.last_confidence,
            g.progress,
        )
        for g in rows
    )


# --- the catalogue -------------------------------------------------------------------


def test_it_keeps_every_weight_in_the_catalogue_at_100():
    assert sum(o.weight for o in demo_catalogue.OBJECTIVES) == 100
    assert sum(weight for _key, weight in demo_catalogue.CEO_KPIS) == 100
    for code, pairs in demo_catalogue.DIVISION_GOALS.items():
        assert sum(weight for _key, weight in pairs) == 100, code
    for code, family in demo_catalogue.FAMILIES.items():
        assert sum(g.weight for g in family.goals) == 100, code
        assert sum(k.weight for k in family.kpis) == 100, code
        keys = {g.key for g in family.goals}
        assert {k.serves for k in family.kpis} <= keys, code
        assert 2 <= len({g.objective for g in family.goals}) <= 4, code


def test_it_has_a_family_of_goals_for_every_kind_of_department():
    codes = {code for *_d, catalogue in demo.DIVISIONS for code, _n, _r in catalogue}
    assert codes == set(demo_catalogue.FAMILIES)
    assert {code for code, *_rest in demo.DIVISIONS} == set(demo_catalogue.DIVISION_GOALS)


# --- the cascade ---------------------------------------------------------------------


def test_it_traces_the_company_objectives_to_the_strategy(seeded):
    objectives = list(Goal.objects.filter(level=L.COMPANY, cycle=seeded.cycle))
    assert 4 <= len(objectives) <= 5
    assert sum(o.weight for o in objectives) == 100
    for objective in objectives:
        assert objective.strategy_ref.strip(), objective.title
        if objective.strategy_url:
            assert urlparse(objective.strategy_url).hostname.endswith(".internal")
        assert objective.created_by.email == demo.CEO_EMAIL  # an executive enters them
    kinds = {(o.kind, o.direction) for o in objectives}
    assert {
        (Goal.Kind.KPI, Goal.Direction.HIGHER),
        (Goal.Kind.KPI, Goal.Direction.LOWER),
        (Goal.Kind.KPI, Goal.Direction.RANGE),
        (Goal.Kind.MILESTONE, ""),
    } <= kinds
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in o.title) for o in objectives)


def test_it_gives_every_department_goals_that_total_100(seeded):
    objectives = Goal.objects.filter(level=L.COMPANY).count()
    for department in Department.objects.all():
        goals = counted(level=L.DEPARTMENT, department=department)
        assert total(goals) == 100, department.code
        served = {g.parent_id for g in goals}
        if department.parent_id is None:
            assert len(served) == objectives  # the company owns every objective
        else:
            assert 2 <= len(served) <= 4, department.code


def test_it_gives_every_position_kpis_copied_to_each_holder(seeded):
    holders = defaultdict(set)
    for pk, position in Employee.objects.filter(is_active=True).values_list("pk", "position"):
        holders[position].add(pk)
    assert holders
    for position in Position.objects.filter(pk__in=holders):
        kpis = list(counted(level=L.POSITION, position=position))
        assert 2 <= len(kpis) <= 3, position
        assert sum(k.weight for k in kpis) == 100, position
        allowed = {
            position.department_id,
            *ancestor_ids(Department, "parent", position.department_id),
        }
        for kpi in kpis:
            assert kpi.parent.level == L.DEPARTMENT
            assert kpi.parent.department_id in allowed
            copies = Goal.objects.filter(source=kpi, level=L.PERSONAL)
            assert set(copies.values_list("employee", flat=True)) == holders[position.pk]
    assert not weight_problems(cycle=seeded.cycle)


def test_it_serves_an_ancestor_departments_goal_from_a_leads_kpi(seeded):
    leads = Goal.objects.filter(level=L.POSITION, position__grade__in=["M1", "M2", "M3"])
    assert leads.exists()
    assert leads.filter(parent__department__children__isnull=False).exists()


def test_it_scales_volume_kpis_with_seniority(seeded):
    targets = {
        grade: target
        for grade, target in Goal.objects.filter(
            level=L.POSITION, title="New bookings", position__department__code="SAL-NOR"
        ).values_list("position__grade", "target")
    }
    graded = [targets[g] for g in ("P1", "P2", "P3", "P4") if g in targets]
    assert len(graded) >= 2
    assert graded == sorted(graded)


def test_it_has_employees_propose_goals_and_managers_decide(seeded):
    proposals = Goal.objects.filter(level=L.PERSONAL, source__isnull=True)
    statuses = set(proposals.values_list("status", flat=True))
    assert {S.ACTIVE, S.DRAFT, S.PROPOSED} <= statuses
    for goal in proposals:
        assert goal.created_by_id == goal.employee.user_id  # the owner proposed it
        assert goal.parent.level == L.POSITION
    returned = proposals.get(status=S.DRAFT)
    assert returned.review_comment
    # The demo employee's revised proposal waits for the demo manager.
    employee = User.objects.get(email=demo.EMPLOYEE_EMAIL).employee
    manager = User.objects.get(email=demo.MANAGER_EMAIL)
    waiting = proposals.get(employee=employee)
    assert waiting.status == S.PROPOSED
    assert not waiting.is_locked  # HR reopened it after goal setting closed
    assert access.can_decide_goal(manager, waiting)
    history = list(waiting.history.order_by("history_date", "history_id"))
    assert [h.status for h in history][:3] == [S.PROPOSED, S.DRAFT, S.DRAFT]
    assert history[-1].status == S.PROPOSED
    assert any(h.reopened_reason for h in history)
    # An approved proposal took its weight from one of the person's KPI copies.
    approved = proposals.filter(status=S.ACTIVE).first()
    copies = Goal.objects.filter(employee=approved.employee, source__isnull=False)
    assert copies.filter(adjusted=True).exists()
    assert total(counted(employee=approved.employee)) == 100


def test_it_records_check_ins_with_goals_at_risk_and_attainment_spread(seeded):
    copies = Goal.objects.filter(level=L.PERSONAL, source__isnull=False, status=S.ACTIVE)
    checked = copies.filter(last_checkin_at__isnull=False)
    assert checked.count() >= 0.75 * copies.count()
    assert CheckIn.objects.filter(goal__in=copies).count() > checked.count()  # some history
    confidences = set(checked.values_list("last_confidence", flat=True))
    assert {CheckIn.Confidence.ON_TRACK, CheckIn.Confidence.AT_RISK} <= confidences
    assert CheckIn.Confidence.OFF_TRACK in confidences
    measured = checked.filter(kind=Goal.Kind.KPI)
    assert measured.filter(attainment__lt=50).exists()  # below the threshold
    assert measured.filter(attainment__gt=100).exists()  # beyond the target
    assert measured.filter(attainment__gte=50, attainment__lte=100).exists()
    assert checked.filter(kind=Goal.Kind.MILESTONE, last_percent__gt=0).exists()
    # Check-ins are dated at month ends within the period, before "today".
    dates = {c.recorded_at.date() for c in CheckIn.objects.all()}
    assert dates <= {
        datetime.date(2026, 8, 31),
        datetime.date(2026, 9, 30),
        datetime.date(2026, 10, 31),
    }


def test_it_rolls_progress_up_to_the_objectives(seeded):
    for objective in Goal.objects.filter(level=L.COMPANY):
        assert objective.progress is not None, objective.title
        assert Decimal(0) < objective.progress <= Decimal(120)
    assert not Goal.objects.filter(level=L.DEPARTMENT, progress__isnull=True).exists()
    assert not Goal.objects.filter(level=L.POSITION, progress__isnull=True).exists()


def test_it_closes_goal_setting_once_its_deadline_has_passed(seeded):
    cycle = Cycle.objects.get()
    # Closing moved it to coaching; the demo's appraisals then took it further on.
    assert Cycle.Status.IN_PROGRESS in cycle.history.values_list("status", flat=True)
    assert cycle.status != Cycle.Status.GOAL_SETTING
    assert seeded.goals.goal_setting_closed
    live = Goal.objects.exclude(status=S.CANCELLED)
    assert not live.filter(status=S.APPROVED).exists()
    assert not live.filter(locked_at__isnull=True).exclude(status=S.PROPOSED).exists()
    rejected = Goal.objects.get(status=S.CANCELLED)
    assert rejected.review_comment


def test_it_leaves_goal_setting_open_before_its_deadline(db):
    result = seed(today=IN_GOAL_SETTING)
    cycle = Cycle.objects.get()
    assert cycle.status == Cycle.Status.GOAL_SETTING
    assert not result.goals.goal_setting_closed
    assert not Goal.objects.filter(locked_at__isnull=False).exists()
    assert Goal.objects.filter(level=L.POSITION, status=S.APPROVED).exists()
    assert result.goals.waiting >= 2
    employee = User.objects.get(email=demo.EMPLOYEE_EMAIL).employee
    assert Goal.objects.get(employee=employee, source__isnull=True).status == S.PROPOSED
    # Weights are in order; only the waiting proposals keep HR from closing.
    assert not weight_problems(cycle=cycle)
    hr_admin = User.objects.get(email=demo.HR_EMAIL)
    with pytest.raises(ValidationError, match="proposed goal"):
        services.goal_setting_close(actor=hr_admin, cycle=cycle)
    assert CheckIn.objects.filter(recorded_at__date=datetime.date(2026, 1, 31)).exists()


def test_it_writes_the_same_goals_for_the_same_size_and_seed(db):
    snapshots = []
    for seed_value in (5, 5, 6):
        with transaction.atomic():
            seed(seed=seed_value)
            snapshots.append(snapshot())
            transaction.set_rollback(True)
    first, again, other = snapshots
    assert first == again
    assert first != other


def test_the_command_prints_the_goal_counts(db):
    out = StringIO()
    call_command("seed_demo", employees=40, seed=2, stdout=out)
    text = out.getvalue()
    personal = Goal.objects.filter(level=L.PERSONAL).count()
    assert f"{personal} personal goals" in text
    assert f"{CheckIn.objects.count()} check-ins" in text
    assert "company objectives" in text


def test_the_command_seeds_no_goals_when_asked(db):
    out = StringIO()
    call_command("seed_demo", "--employees", "40", "--no-goals", stdout=out)
    assert Employee.objects.count() == 40
    assert not Goal.objects.exists()
    assert "company objectives" not in out.getvalue()
