"""seed_demo leaves the demo cycle part-way through manager review."""

import datetime

import pytest
from django.db import transaction
from django.db.models import Count

from appraisals.models import Appraisal, CalibrationSession, Review
from perfcycle import access, demo
from perfcycle.models import Cycle, User

AFTER_GOAL_SETTING = datetime.date(2026, 11, 24)


def seed(employees=60, seed=5, today=AFTER_GOAL_SETTING):
    return demo.seed_company(employees=employees, seed=seed, today=today)


@pytest.fixture
def seeded(db):
    return seed()


def stages():
    return dict(Appraisal.objects.values_list("stage").annotate(n=Count("pk")))


def test_it_leaves_the_cycle_in_manager_review_with_every_stage_represented(seeded):
    cycle = Cycle.objects.get()
    assert cycle.status == Cycle.Status.MANAGER_REVIEW
    assert seeded.appraisals.appraisals == 60 == Appraisal.objects.count()
    found = stages()
    assert found.get(Appraisal.Stage.READY, 0) > 0
    assert found.get(Appraisal.Stage.MANAGER_REVIEW, 0) > 0
    assert Review.objects.filter(kind="manager", status="draft").exclude(goal_lines=None).exists()
    # Every advance the demo forced is explained in the cycle's history.
    reasons = set(cycle.history.values_list("history_change_reason", flat=True))
    assert "Demo: the self-review deadline has passed" in reasons


def test_the_demo_manager_still_has_the_demo_employees_review_to_write(seeded):
    employee = User.objects.get(email=demo.EMPLOYEE_EMAIL).employee
    appraisal = Appraisal.objects.get(employee=employee)
    assert appraisal.reviewer.user.email == demo.MANAGER_EMAIL
    assert appraisal.stage == Appraisal.Stage.MANAGER_REVIEW
    assert appraisal.reviews.get(kind="self").status == Review.Status.SUBMITTED
    assert appraisal.reviews.get(kind="manager").status == Review.Status.DRAFT


def test_it_prepares_a_calibration_session_with_the_partner_on_the_panel(seeded):
    session = CalibrationSession.objects.get()
    partner = User.objects.get(email=demo.PARTNER_EMAIL)
    assert access.can_calibrate(partner, session)
    assert session.appraisals.exists()


def test_it_is_deterministic(db):
    snapshots = []
    for _round in range(2):
        with transaction.atomic():
            result = seed()
            snapshots.append((stages(), result.appraisals))
            transaction.set_rollback(True)
    assert snapshots[0] == snapshots[1]


def test_early_in_the_year_it_leaves_the_appraisals_for_later(db):
    result = seed(today=datetime.date(2026, 2, 10))
    assert result.appraisals is None
    assert not Appraisal.objects.exists()
