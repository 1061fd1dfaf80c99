"""A launched cycle for the appraisals tests, built through the services.

The goals cascade of ``tests/goals/conftest.py`` (Emil Employee and Petra Peer each hold
a copy of the Bookings KPI, 80/100/120, weight 100), appraisal settings of 70% KPI and
30% competencies (Teamwork and Customer focus, equal weight), a 10/20/40/20/10 guideline,
and one appraisal per person in the org fixture. ``at_phase`` moves the cycle for a test.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from appraisals import services
from appraisals.models import Appraisal, CycleLaunch, Review
from goals import services as goal_services
from goals.models import CheckIn
from perfcycle.models import Cycle
from tests.goals.conftest import KPI, cascade, cycle, goal_data  # noqa: F401

GUIDELINE = {"1": 10, "2": 20, "3": 40, "4": 20, "5": 10}


def at_phase(the_cycle: Cycle, phase: str) -> Cycle:
    """Put the cycle in ``phase`` directly (test set-up, not the workflow under test)."""
    Cycle.objects.filter(pk=the_cycle.pk).update(status=phase)
    the_cycle.refresh_from_db()
    return the_cycle


def launch(the_cycle: Cycle, actor) -> CycleLaunch:
    """Launch and run the launch here (a test transaction never commits, so the task
    queued on commit does not run)."""
    request = services.cycle_launch_request(actor=actor, cycle=the_cycle)
    return services.cycle_launch_run(launch_id=request.pk)


def record(actor, goal, actual) -> None:
    goal_services.checkin_record(
        actor=actor, goal=goal, actual=Decimal(actual), confidence=CheckIn.Confidence.ON_TRACK
    )


@pytest.fixture
def competencies(hr_admin):
    return SimpleNamespace(
        teamwork=services.competency_create(actor=hr_admin, name="Teamwork"),
        customer=services.competency_create(actor=hr_admin, name="Customer focus"),
    )


@pytest.fixture
def appraisal_cycle(org, hr_admin, cycle, cascade, competencies):  # noqa: F811
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=cycle,
        data={"kpi_weight": 70, "competency_weight": 30, "guideline": GUIDELINE},
        competencies=[(competencies.teamwork, 1), (competencies.customer, 1)],
        expected_version=None,
    )
    launch(cycle, hr_admin)
    cycle.refresh_from_db()
    return cycle


@pytest.fixture
def appraisal(org, appraisal_cycle):
    """Emil Employee's appraisal (reviewer: Mona Manager)."""
    return Appraisal.objects.get(cycle=appraisal_cycle, employee=org.employee)


def self_review(appraisal) -> Review:
    return Review.objects.get(appraisal=appraisal, kind=Review.Kind.SELF)


def manager_review(appraisal) -> Review:
    return Review.objects.get(appraisal=appraisal, kind=Review.Kind.MANAGER)
