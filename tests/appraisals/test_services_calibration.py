"""Calibration sessions, moving ratings, finalising, release, acknowledgement, appeals.

Departments: HQ (Cora), Sales (Mona), Sales East (Emil, Petra), Engineering (Otto,
Olga), People (Hana). ``ready`` puts every appraisal ready for calibration at the
manager's 3.
"""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from appraisals import services
from appraisals.models import Appeal, Appraisal, CalibrationAdjustment, CalibrationSession
from perfcycle import access
from perfcycle import services as core_services
from perfcycle.models import Cycle, RatingLevel
from perfcycle.services import StaleEdit
from tests.conftest import fresh
from tests.factories import EmployeeFactory, RatingScaleFactory

from .conftest import at_phase

P = Cycle.Status
A = Appraisal.Stage
PERMISSION = f"appraisals.{access.CALIBRATE_PERMISSION}"


def level(cycle, value):
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def of(cycle, employee) -> Appraisal:
    return Appraisal.objects.get(cycle=cycle, employee=employee)


def names(appraisals):
    return {a.employee.name for a in appraisals}


@pytest.fixture
def ready(appraisal_cycle):
    """Manager review phase; every appraisal ready for calibration at the manager's 3."""
    at_phase(appraisal_cycle, P.MANAGER_REVIEW)
    Appraisal.objects.filter(cycle=appraisal_cycle).update(
        stage=A.READY, manager_level=level(appraisal_cycle, 3)
    )
    return appraisal_cycle


@pytest.fixture
def sales_session(org, hr_admin, manager, ready):
    """A Sales session with Mona on the panel, in the calibration phase."""
    session = services.calibration_session_open(
        actor=hr_admin, cycle=ready, name="Sales", departments=[org.sales], participants=[manager]
    )
    at_phase(ready, P.CALIBRATION)
    return session


def move(actor, session, appraisal, value, reason="Below the team", **kwargs):
    return services.calibration_move(
        actor=actor,
        session=session,
        appraisal=appraisal,
        to_level=level(appraisal.cycle, value),
        reason=reason,
        **kwargs,
    )


# --- opening sessions ---------------------------------------------------------------


def test_a_session_takes_the_open_appraisals_of_its_departments(org, hr_admin, ready):
    Appraisal.objects.filter(cycle=ready, employee=org.peer).update(stage=A.WITHDRAWN)

    session = services.calibration_session_open(
        actor=hr_admin, cycle=ready, name="Sales", departments=[org.sales]
    )

    assert names(session.appraisals.all()) == {"Mona Manager", "Emil Employee"}
    assert list(session.departments.all()) == [org.sales]
    assert of(ready, org.peer).session is None
    assert of(ready, org.outsider).session is None
    row = session.history.get()
    assert row.history_user == hr_admin and row.history_change_reason == "Opened"


def test_a_second_session_takes_the_rest_and_a_third_finds_nothing(org, hr_admin, ready):
    services.calibration_session_open(
        actor=hr_admin, cycle=ready, name="Sales", departments=[org.sales]
    )

    rest = services.calibration_session_open(
        actor=hr_admin, cycle=ready, name="Everyone else", departments=[org.hq]
    )

    assert names(rest.appraisals.all()) == {
        "Cora Chief",
        "Otto Other",
        "Olga Outsider",
        "Hana HR",
    }
    with pytest.raises(ValidationError) as refused:
        services.calibration_session_open(
            actor=hr_admin, cycle=ready, name="Sales again", departments=[org.sales_east]
        )
    assert "already in a session" in refused.value.message_dict["departments"][0]
    assert CalibrationSession.objects.count() == 2


def test_a_session_needs_departments_and_a_name_of_its_own(org, hr_admin, ready):
    with pytest.raises(ValidationError) as refused:
        services.calibration_session_open(actor=hr_admin, cycle=ready, name="X", departments=[])
    assert "departments" in refused.value.message_dict
    services.calibration_session_open(
        actor=hr_admin, cycle=ready, name="Sales", departments=[org.sales]
    )
    with pytest.raises(ValidationError):
        services.calibration_session_open(
            actor=hr_admin, cycle=ready, name="Sales", departments=[org.engineering]
        )
    assert of(ready, org.outsider).session is None


@pytest.mark.parametrize("phase", [P.IN_PROGRESS, P.SELF_REVIEW, P.FEEDBACK, P.CLOSED])
def test_sessions_open_only_in_manager_review_or_calibration(org, hr_admin, ready, phase):
    at_phase(ready, phase)
    with pytest.raises(ValidationError):
        services.calibration_session_open(
            actor=hr_admin, cycle=ready, name="Sales", departments=[org.sales]
        )
    assert not CalibrationSession.objects.exists()


def test_only_hr_opens_a_session(org, manager, executive, ready):
    for actor in (manager, executive):
        with pytest.raises(PermissionDenied):
            services.calibration_session_open(
                actor=actor, cycle=ready, name="Sales", departments=[org.sales]
            )


# --- the panel ----------------------------------------------------------------------


def test_the_panel_holds_the_permission_and_moves_ratings(org, manager, sales_session):
    assert fresh(manager).has_perm(PERMISSION, sales_session)
    assert access.can_calibrate(manager, sales_session)

    adjustment = move(manager, sales_session, of(sales_session.cycle, org.employee), 2)

    assert (adjustment.from_level.value, adjustment.to_level.value) == (3, 2)
    assert (adjustment.actor, adjustment.reason) == (manager, "Below the team")
    moved = of(sales_session.cycle, org.employee)
    assert moved.calibrated_level.value == 2 and moved.manager_level.value == 3
    latest = moved.history.first()
    assert (latest.history_user, latest.history_change_reason) == (manager, "Below the team")


def test_a_second_move_starts_from_the_calibrated_rating(org, hr_admin, sales_session):
    appraisal = of(sales_session.cycle, org.employee)
    move(hr_admin, sales_session, appraisal, 2)

    second = move(hr_admin, sales_session, appraisal, 4, reason="Recounted the deals")

    assert (second.from_level.value, second.to_level.value) == (2, 4)
    assert CalibrationAdjustment.objects.filter(appraisal=appraisal).count() == 2


def test_hr_changes_the_panel(org, hr_admin, manager, sales_session):
    other = org.other_manager.user

    services.calibration_session_set_participants(
        actor=hr_admin, session=sales_session, participants=[other]
    )

    assert not access.can_calibrate(fresh(manager), sales_session)
    assert access.can_calibrate(fresh(other), sales_session)
    assert sales_session.history.first().history_user == hr_admin
    with pytest.raises(PermissionDenied):
        move(manager, sales_session, of(sales_session.cycle, org.employee), 2)


@pytest.mark.parametrize("persona", ["peer", "outsider", "employee", "executive"])
def test_someone_off_the_panel_may_not_move(request, org, sales_session, persona):
    with pytest.raises(PermissionDenied):
        move(request.getfixturevalue(persona), sales_session, of(sales_session.cycle, org.peer), 2)
    assert not CalibrationAdjustment.objects.exists()


def test_a_panel_member_does_not_move_their_own_rating(org, manager, sales_session):
    with pytest.raises(ValidationError) as refused:
        move(manager, sales_session, of(sales_session.cycle, org.manager), 4, reason="Modest")
    assert "their own rating" in str(refused.value)
    assert not CalibrationAdjustment.objects.exists()


def _refusal(case, *, org, hr_admin, session):
    """Set up one reason a move is refused; return (appraisal, to_level, reason)."""
    cycle = session.cycle
    appraisal = of(cycle, org.employee)
    if case == "no-reason":
        return appraisal, level(cycle, 2), "  "
    if case == "not-calibration-phase":
        at_phase(cycle, P.MANAGER_REVIEW)
    elif case == "not-ready":
        Appraisal.objects.filter(pk=appraisal.pk).update(stage=A.MANAGER_REVIEW)
    elif case == "final":
        Appraisal.objects.filter(pk=appraisal.pk).update(stage=A.FINAL)
    elif case == "same-level":
        return appraisal, level(cycle, 3), "No change"
    elif case == "off-the-scale":
        return appraisal, RatingScaleFactory().levels.get(value=2), "Other scale"
    elif case == "not-in-session":
        return of(cycle, org.outsider), level(cycle, 2), "Not ours"
    elif case == "session-closed":
        CalibrationSession.objects.filter(pk=session.pk).update(status="closed")
    return appraisal, level(cycle, 2), "Below the team"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-reason", "Give the reason"),
        ("not-calibration-phase", "not possible while the cycle is in manager review"),
        ("not-ready", "at the stage manager review"),
        ("final", "at the stage final"),
        ("same-level", "already at"),
        ("off-the-scale", "cycle's scale"),
        ("not-in-session", "is not in this session"),
        ("session-closed", "The session is closed"),
    ],
)
def test_a_move_is_refused(org, hr_admin, sales_session, case, message):
    appraisal, to_level, reason = _refusal(case, org=org, hr_admin=hr_admin, session=sales_session)
    with pytest.raises(ValidationError) as refused:
        services.calibration_move(
            actor=hr_admin,
            session=sales_session,
            appraisal=appraisal,
            to_level=to_level,
            reason=reason,
        )
    assert message in str(refused.value)
    assert not CalibrationAdjustment.objects.exists()
    appraisal.refresh_from_db()
    assert appraisal.calibrated_level is None


def test_a_stale_move_is_refused(org, hr_admin, sales_session):
    appraisal = of(sales_session.cycle, org.employee)
    move(hr_admin, sales_session, appraisal, 2)
    with pytest.raises(StaleEdit):
        move(hr_admin, sales_session, appraisal, 4, expected_version=appraisal.version)
    assert of(sales_session.cycle, org.employee).calibrated_level.value == 2


# --- closing ------------------------------------------------------------------------


def test_closing_makes_the_ratings_final_and_names_who_was_not_ready(org, hr_admin, sales_session):
    cycle = sales_session.cycle
    move(hr_admin, sales_session, of(cycle, org.employee), 2)
    Appraisal.objects.filter(cycle=cycle, employee=org.peer).update(
        stage=A.MANAGER_REVIEW, manager_level=None
    )

    closed = services.calibration_session_close(
        actor=hr_admin, session=sales_session, expected_version=sales_session.version
    )

    assert closed.finalised == 2 and closed.not_ready == ["Petra Peer"]
    assert closed.session.status == CalibrationSession.Status.CLOSED
    assert closed.session.closed_at is not None
    employee, mona, peer = of(cycle, org.employee), of(cycle, org.manager), of(cycle, org.peer)
    assert (employee.stage, employee.final_level.value) == (A.FINAL, 2)  # calibrated
    assert (mona.stage, mona.final_level.value) == (A.FINAL, 3)  # the manager's
    assert (peer.stage, peer.final_level) == (A.MANAGER_REVIEW, None)
    assert employee.finalised_at is not None
    latest = employee.history.first()
    assert latest.stage == A.FINAL and latest.history_user == hr_admin
    assert of(cycle, org.outsider).stage == A.READY  # not in the session
    with pytest.raises(ValidationError):
        services.calibration_session_close(actor=hr_admin, session=sales_session)
    with pytest.raises(ValidationError):
        move(hr_admin, sales_session, of(cycle, org.manager), 4)


def test_closing_is_hrs_in_the_calibration_phase(org, hr_admin, manager, sales_session):
    with pytest.raises(PermissionDenied):
        services.calibration_session_close(actor=manager, session=sales_session)
    at_phase(sales_session.cycle, P.MANAGER_REVIEW)
    with pytest.raises(ValidationError):
        services.calibration_session_close(actor=hr_admin, session=sales_session)
    with pytest.raises(StaleEdit):
        services.calibration_session_close(
            actor=hr_admin, session=sales_session, expected_version=sales_session.version + 1
        )
    sales_session.refresh_from_db()
    assert sales_session.status == CalibrationSession.Status.OPEN
    assert of(sales_session.cycle, org.employee).stage == A.READY


# --- release ------------------------------------------------------------------------


@pytest.fixture
def finalised(org, hr_admin, ready):
    """Everyone final after one session over HQ (Emil calibrated to 2), except Olga,
    whose manager review never came; the cycle in feedback."""
    Appraisal.objects.filter(cycle=ready, employee=org.outsider).update(
        stage=A.MANAGER_REVIEW, manager_level=None
    )
    session = services.calibration_session_open(
        actor=hr_admin, cycle=ready, name="All", departments=[org.hq]
    )
    at_phase(ready, P.CALIBRATION)
    move(hr_admin, session, of(ready, org.employee), 2)
    services.calibration_session_close(actor=hr_admin, session=session)
    return at_phase(ready, P.FEEDBACK)


@pytest.mark.parametrize("phase", [P.MANAGER_REVIEW, P.CALIBRATION])
def test_results_are_released_only_after_calibration(hr_admin, finalised, phase):
    at_phase(finalised, phase)
    with pytest.raises(ValidationError):
        services.results_release(actor=hr_admin, cycle=finalised)
    assert not Appraisal.objects.filter(released_at__isnull=False).exists()


def test_hr_releases_by_department_and_not_twice(org, hr_admin, finalised):
    released = services.results_release(actor=hr_admin, cycle=finalised, departments=[org.sales])

    assert released == 3  # Mona (Sales), Emil and Petra (Sales East)
    out = set(
        Appraisal.objects.filter(released_at__isnull=False).values_list(
            "employee__user__full_name", flat=True
        )
    )
    assert out == {"Mona Manager", "Emil Employee", "Petra Peer"}
    latest = of(finalised, org.employee).history.first()
    assert (latest.history_user, latest.history_change_reason) == (hr_admin, "Results released")
    with pytest.raises(ValidationError) as refused:
        services.results_release(actor=hr_admin, cycle=finalised, departments=[org.sales_east])
    assert "no final results left" in str(refused.value)

    rest = services.results_release(actor=hr_admin, cycle=finalised)

    assert rest == 3  # Cora, Otto, Hana; Olga is not final
    assert of(finalised, org.outsider).released_at is None
    with pytest.raises(ValidationError):
        services.results_release(actor=hr_admin, cycle=finalised)


def test_only_hr_releases(manager, executive, finalised):
    for actor in (manager, executive):
        with pytest.raises(PermissionDenied):
            services.results_release(actor=actor, cycle=finalised)


# --- after release ------------------------------------------------------------------


@pytest.fixture
def released(org, hr_admin, finalised):
    services.results_release(actor=hr_admin, cycle=finalised)
    return of(finalised, org.employee)


def test_the_employee_acknowledges_and_comments(employee, released):
    first = services.appraisal_acknowledge(actor=employee, appraisal=released, comment="Read it.")
    assert first.acknowledged_at is not None and first.employee_comment == "Read it."
    latest = first.history.first()
    assert (latest.history_user, latest.history_change_reason) == (employee, "Acknowledged")

    again = services.appraisal_acknowledge(
        actor=employee, appraisal=released, comment="I disagree with the Q4 figure."
    )

    assert again.acknowledged_at == first.acknowledged_at
    assert again.employee_comment == "I disagree with the Q4 figure."
    assert again.history.first().history_change_reason == "Comment added"


def test_only_the_employee_acknowledges_and_only_after_release(
    org, manager, hr_admin, employee, finalised
):
    with pytest.raises(PermissionDenied):
        services.appraisal_acknowledge(actor=employee, appraisal=of(finalised, org.employee))
    services.results_release(actor=hr_admin, cycle=finalised)
    for actor in (manager, hr_admin):
        with pytest.raises(PermissionDenied):
            services.appraisal_acknowledge(actor=actor, appraisal=of(finalised, org.employee))
    assert of(finalised, org.employee).acknowledged_at is None


def test_the_employee_appeals_within_the_window(employee, released):
    Appraisal.objects.filter(pk=released.pk).update(
        released_at=timezone.now() - datetime.timedelta(days=13)
    )

    appeal = services.appeal_file(actor=employee, appraisal=released, reason="Q4 deals missing")

    assert appeal.status == Appeal.Status.OPEN and appeal.reason == "Q4 deals missing"
    assert appeal.history.get().history_user == employee
    with pytest.raises(ValidationError) as refused:
        services.appeal_file(actor=employee, appraisal=released, reason="Again")
    assert "already with HR" in str(refused.value)
    assert Appeal.objects.count() == 1


def test_an_appeal_after_the_window_is_refused(employee, released):
    Appraisal.objects.filter(pk=released.pk).update(
        released_at=timezone.now() - datetime.timedelta(days=15)
    )
    with pytest.raises(ValidationError) as refused:
        services.appeal_file(actor=employee, appraisal=released, reason="Late")
    assert "appeal window closed" in str(refused.value)
    assert not Appeal.objects.exists()


def test_an_appeal_needs_grounds_and_the_employee(manager, employee, released):
    with pytest.raises(ValidationError):
        services.appeal_file(actor=employee, appraisal=released, reason=" ")
    with pytest.raises(PermissionDenied):
        services.appeal_file(actor=manager, appraisal=released, reason="For Emil")
    assert not Appeal.objects.exists()


def test_an_upheld_appeal_changes_the_final_rating(hr_admin, employee, released):
    appeal = services.appeal_file(actor=employee, appraisal=released, reason="Q4 deals missing")

    resolved = services.appeal_resolve(
        actor=hr_admin,
        appeal=appeal,
        status=Appeal.Status.UPHELD,
        outcome="Recounted: 130k",
        new_level=level(released.cycle, 3),
        expected_version=appeal.version,
    )

    assert resolved.status == Appeal.Status.UPHELD and resolved.new_level.value == 3
    assert resolved.resolved_by == hr_admin and resolved.resolved_at is not None
    released.refresh_from_db()
    assert released.final_level.value == 3
    latest = released.history.first()
    assert (latest.history_user, latest.history_change_reason) == (hr_admin, "Recounted: 130k")
    with pytest.raises(ValidationError) as refused:
        services.appeal_resolve(
            actor=hr_admin, appeal=appeal, status=Appeal.Status.DISMISSED, outcome="Again"
        )
    assert "already resolved" in str(refused.value)
    # a resolved appeal does not stop another one within the window
    assert services.appeal_file(actor=employee, appraisal=released, reason="Still low").pk


def test_a_dismissed_appeal_keeps_the_rating(hr_admin, employee, released):
    appeal = services.appeal_file(actor=employee, appraisal=released, reason="Too low")

    resolved = services.appeal_resolve(
        actor=hr_admin,
        appeal=appeal,
        status=Appeal.Status.DISMISSED,
        outcome="The panel's reasons stand",
        new_level=level(released.cycle, 5),  # ignored when dismissing
    )

    assert resolved.status == Appeal.Status.DISMISSED and resolved.new_level is None
    released.refresh_from_db()
    assert released.final_level.value == 2
    assert resolved.history.first().history_user == hr_admin


@pytest.mark.parametrize(
    ("status", "outcome", "value", "field"),
    [
        (Appeal.Status.UPHELD, "", 3, "outcome"),
        (Appeal.Status.UPHELD, "Recounted", None, "new_level"),
        (Appeal.Status.UPHELD, "Recounted", 2, "new_level"),  # the current rating
        ("maybe", "Hmm", None, "status"),
    ],
)
def test_resolving_refuses_an_incomplete_outcome(
    hr_admin, employee, released, status, outcome, value, field
):
    appeal = services.appeal_file(actor=employee, appraisal=released, reason="Too low")
    with pytest.raises(ValidationError) as refused:
        services.appeal_resolve(
            actor=hr_admin,
            appeal=appeal,
            status=status,
            outcome=outcome,
            new_level=None if value is None else level(released.cycle, value),
        )
    assert field in refused.value.message_dict
    appeal.refresh_from_db()
    released.refresh_from_db()
    assert appeal.status == Appeal.Status.OPEN and released.final_level.value == 2


def test_hr_or_the_departments_partner_resolves(
    org, hr_admin, manager, executive, employee, released
):
    appeal = services.appeal_file(actor=employee, appraisal=released, reason="Too low")
    for actor in (manager, executive, employee):
        with pytest.raises(PermissionDenied):
            services.appeal_resolve(
                actor=actor, appeal=appeal, status=Appeal.Status.DISMISSED, outcome="No"
            )
    partner = EmployeeFactory(department=org.people, manager=org.hr).user
    core_services.partner_grant(actor=hr_admin, user=partner, department=org.sales)

    resolved = services.appeal_resolve(
        actor=fresh(partner), appeal=appeal, status=Appeal.Status.DISMISSED, outcome="Stands"
    )

    assert resolved.resolved_by == partner


def test_no_appeal_once_the_cycle_is_closed(employee, released):
    at_phase(released.cycle, P.CLOSED)
    with pytest.raises(ValidationError, match="closed"):
        services.appeal_file(actor=employee, appraisal=released, reason="Too late")
    assert not Appeal.objects.exists()
