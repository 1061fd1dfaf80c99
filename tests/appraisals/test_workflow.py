"""One appraisal through the whole workflow, through the services."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from appraisals import services
from appraisals.models import Appraisal, CalibrationAdjustment, Review
from perfcycle.models import Cycle, RatingLevel

from .conftest import at_phase, manager_review, record, self_review

P = Cycle.Status
A = Appraisal.Stage


def level(cycle, value):
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def test_it_runs_one_appraisal_from_launch_to_appeal(
    org, hr_admin, manager, employee, appraisal, cascade, competencies
):
    cycle = appraisal.cycle
    goal = cascade.employee_copy
    record(employee, goal, 110)  # halfway from target to stretch: 110
    at_phase(cycle, P.SELF_REVIEW)

    mine = services.review_save(
        actor=employee,
        review=self_review(appraisal),
        data={
            "overall_comment": "A good year.",
            "goals": {goal.pk: {"result": "110k booked", "score": 4, "comment": "Beat it"}},
            "competencies": {
                competencies.teamwork.pk: {"rating": 4},
                competencies.customer.pk: {"rating": 5},
            },
        },
        expected_version=1,
        submit=True,
    )
    assert mine.status == Review.Status.SUBMITTED
    appraisal.refresh_from_db()
    assert appraisal.stage == A.MANAGER_REVIEW

    theirs = manager_review(appraisal)
    services.review_save(
        actor=manager,
        review=theirs,
        data={
            "strengths": "Closes deals.",
            "improvements": "Forecasting.",
            "overall_comment": "Solid.",
            "goals": {goal.pk: {"score": 4, "comment": "Yes"}},
            "competencies": {
                competencies.teamwork.pk: {"rating": 3},
                competencies.customer.pk: {"rating": 5},
            },
            "proposed_level": level(cycle, 4),
            "deviation_reason": "Carried the team through Q4.",
        },
        expected_version=1,
        submit=True,
    )
    appraisal.refresh_from_db()
    # KPI 110; competencies (50 + 100) / 2 = 75; overall 0.7*110 + 0.3*75 = 99.5 -> level 3
    assert appraisal.kpi_score == Decimal("110.00")
    assert appraisal.competency_score == Decimal("75.00")
    assert appraisal.overall_score == Decimal("99.50")
    assert appraisal.computed_level.value == 3
    assert appraisal.stage == A.READY
    assert appraisal.manager_level.value == 4


def test_it_asks_for_a_reason_when_the_proposal_differs_from_the_score(
    org, manager, employee, appraisal, cascade, competencies
):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    goal = cascade.employee_copy
    record(employee, goal, 100)
    data = {
        "strengths": "s",
        "improvements": "i",
        "goals": {goal.pk: {"score": 3}},
        "competencies": {
            competencies.teamwork.pk: {"rating": 5},
            competencies.customer.pk: {"rating": 5},
        },
        "proposed_level": level(cycle, 5),
    }
    # 0.7*100 + 0.3*100 = 100 -> level 4; 5 is one step away and needs a reason
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=manager,
            review=manager_review(appraisal),
            data=data,
            expected_version=1,
            submit=True,
        )
    assert "deviation_reason" in refused.value.message_dict
    assert manager_review(appraisal).version == 1  # nothing saved
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=manager,
            review=manager_review(appraisal),
            data={**data, "proposed_level": level(cycle, 2)},
            expected_version=1,
            submit=True,
        )
    assert "proposed_level" in refused.value.message_dict


def test_calibration_moves_and_finalises(org, hr_admin, manager, employee, appraisal, cascade):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    Appraisal.objects.filter(pk=appraisal.pk).update(stage=A.READY, manager_level=level(cycle, 4))
    session = services.calibration_session_open(
        actor=hr_admin, cycle=cycle, name="Sales", departments=[org.sales], participants=[manager]
    )
    at_phase(cycle, P.CALIBRATION)
    appraisal.refresh_from_db()
    assert appraisal.session == session
    services.calibration_move(
        actor=manager,
        session=session,
        appraisal=appraisal,
        to_level=level(cycle, 3),
        reason="Team results were average",
    )
    move = CalibrationAdjustment.objects.get()
    assert (move.from_level.value, move.to_level.value, move.actor) == (4, 3, manager)
    closed = services.calibration_session_close(actor=hr_admin, session=session)
    appraisal.refresh_from_db()
    assert appraisal.final_level.value == 3 and appraisal.stage == A.FINAL
    assert closed.finalised >= 1
    at_phase(cycle, P.FEEDBACK)
    released = services.results_release(actor=hr_admin, cycle=cycle, departments=[org.sales])
    assert released == 1
    appraisal.refresh_from_db()
    services.appraisal_acknowledge(actor=employee, appraisal=appraisal, comment="Noted.")
    appeal = services.appeal_file(actor=employee, appraisal=appraisal, reason="My numbers")
    services.appeal_resolve(
        actor=hr_admin,
        appeal=appeal,
        status="upheld",
        outcome="Recounted",
        new_level=level(cycle, 4),
    )
    appraisal.refresh_from_db()
    assert appraisal.final_level.value == 4
    assert appraisal.history.count() >= 4


def test_launching_twice_creates_nothing_twice(org, hr_admin, appraisal_cycle):
    from .conftest import launch

    first = Appraisal.objects.filter(cycle=appraisal_cycle).count()
    again = launch(appraisal_cycle, hr_admin)
    assert again.created == 0 and again.existing == first
    assert Appraisal.objects.filter(cycle=appraisal_cycle).count() == first
    assert Review.objects.filter(appraisal__cycle=appraisal_cycle).count() == 2 * first
