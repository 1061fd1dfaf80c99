"""/api/v1/calibration-sessions/, /calibration-adjustments/ and /appeals/: HR opens a
session with a panel, the panel moves ratings with reasons, HR closes the session (the
ratings become final); employees appeal and HR resolves. Wrong phases are 409s, lists do
not grow in queries with their length."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from appraisals import services
from appraisals.models import Appeal, Appraisal, CalibrationAdjustment, CalibrationSession
from perfcycle.models import Cycle, RatingLevel
from tests.factories import DepartmentFactory, EmployeeFactory

from .conftest import at_phase, launch

P = Cycle.Status
A = Appraisal.Stage
SESSIONS = "/api/v1/calibration-sessions/"
MOVES = "/api/v1/calibration-adjustments/"
APPEALS = "/api/v1/appeals/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def level(cycle, value) -> RatingLevel:
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def ready(appraisal, value=4) -> Appraisal:
    """Set-up: the manager review is in, proposing ``value``."""
    Appraisal.objects.filter(pk=appraisal.pk).update(
        stage=A.READY, manager_level=level(appraisal.cycle, value)
    )
    appraisal.refresh_from_db()
    return appraisal


def open_session(org, hr_admin, cycle, manager, name="Sales") -> CalibrationSession:
    return services.calibration_session_open(
        actor=hr_admin, cycle=cycle, name=name, departments=[org.sales], participants=[manager]
    )


# --- sessions -----------------------------------------------------------------------


def test_it_opens_a_session_with_a_panel(org, hr_admin, appraisal):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    response = client_for(hr_admin).post(
        SESSIONS,
        {
            "cycle": cycle.pk,
            "name": "Sales division",
            "departments": [org.sales.pk],
            "participants": [org.manager.pk, org.ceo.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["status"], body["appraisals"]) == ("Sales division", "open", 3)
    assert [d["id"] for d in body["departments"]] == [org.sales.pk]
    assert {(p["employee"], p["name"]) for p in body["participants"]} == {
        (org.manager.pk, "Mona Manager"),
        (org.ceo.pk, "Cora Chief"),
    }
    assert body["created_by"]["name"] == "Hana HR"
    assert Appraisal.objects.get(pk=appraisal.pk).session_id == body["id"]


def test_it_refuses_a_session_in_the_wrong_phase_or_without_departments(org, hr_admin, appraisal):
    client = client_for(hr_admin)
    data = {"cycle": appraisal.cycle_id, "name": "Sales", "departments": [org.sales.pk]}
    response = client.post(SESSIONS, data, format="json")
    assert response.status_code == 409
    assert "goal setting" in response.json()["detail"]
    at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    response = client.post(SESSIONS, {**data, "departments": []}, format="json")
    assert response.status_code == 400 and "departments" in response.json()
    assert not CalibrationSession.objects.exists()


def test_it_shows_sessions_to_hr_and_the_panel_only(
    org, hr_admin, manager, employee, outsider, appraisal
):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    session = open_session(org, hr_admin, cycle, manager)
    assert ids(client_for(hr_admin).get(SESSIONS)) == {session.pk}
    assert ids(client_for(manager).get(SESSIONS, {"cycle": cycle.pk})) == {session.pk}
    for user in (employee, outsider):
        assert ids(client_for(user).get(SESSIONS)) == set()
        assert client_for(user).get(f"{SESSIONS}{session.pk}/").status_code == 404
        assert client_for(user).post(f"{SESSIONS}{session.pk}/close/").status_code == 404


def test_it_lets_only_hr_open_a_session_or_change_the_panel(org, hr_admin, manager, appraisal):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    data = {"cycle": cycle.pk, "name": "Sales", "departments": [org.sales.pk]}
    assert client_for(manager).post(SESSIONS, data, format="json").status_code == 403
    session = open_session(org, hr_admin, cycle, manager)
    url = f"{SESSIONS}{session.pk}/participants/"
    assert client_for(manager).put(url, {"participants": []}, format="json").status_code == 403

    response = client_for(hr_admin).put(
        url, {"participants": [org.other_manager.pk]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [p["employee"] for p in response.json()["participants"]] == [org.other_manager.pk]
    assert client_for(manager).get(f"{SESSIONS}{session.pk}/").status_code == 404


def test_it_closes_a_session_and_the_ratings_become_final(org, hr_admin, manager, appraisal):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    ready(appraisal, 4)
    session = open_session(org, hr_admin, cycle, manager)
    client = client_for(hr_admin)
    early = client.post(f"{SESSIONS}{session.pk}/close/")
    assert early.status_code == 409
    assert "manager review" in early.json()["detail"]

    at_phase(cycle, P.CALIBRATION)
    assert client_for(manager).post(f"{SESSIONS}{session.pk}/close/").status_code == 403
    stale = client.post(f"{SESSIONS}{session.pk}/close/", {"version": 7}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    response = client.post(f"{SESSIONS}{session.pk}/close/", {"version": 1}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["session"]["status"] == "closed"
    assert body["finalised"] == 1
    assert set(body["not_ready"]) == {"Mona Manager", "Petra Peer"}
    appraisal.refresh_from_db()
    assert (appraisal.stage, appraisal.final_level.value) == (A.FINAL, 4)
    again = client.post(f"{SESSIONS}{session.pk}/close/")
    assert again.status_code == 409 and "already closed" in again.json()["detail"]


def test_it_lists_sessions_in_the_same_number_of_queries_at_two_sizes(
    org, hr_admin, manager, appraisal_cycle, django_assert_num_queries
):
    def grow(count):
        departments = [DepartmentFactory(parent=org.hq) for _ in range(count)]
        for department in departments:
            EmployeeFactory(department=department, manager=org.ceo)
        at_phase(appraisal_cycle, P.IN_PROGRESS)
        launch(appraisal_cycle, hr_admin)
        at_phase(appraisal_cycle, P.MANAGER_REVIEW)
        for department in departments:
            services.calibration_session_open(
                actor=hr_admin,
                cycle=appraisal_cycle,
                name=department.name,
                departments=[department],
                participants=[manager, org.other_manager.user],
            )

    client = client_for(hr_admin)
    grow(2)
    with CaptureQueriesContext(connection) as small:
        assert client.get(SESSIONS).json()["count"] == 2
    grow(10)
    with django_assert_num_queries(len(small)):
        response = client.get(SESSIONS)
    assert response.json()["count"] == 12
    assert all(len(row["participants"]) == 2 for row in response.json()["results"])


# --- moving ratings -----------------------------------------------------------------


def move(session, appraisal, to_level=3, reason="Team results were average", **extra) -> dict:
    return {
        "session": session.pk,
        "appraisal": appraisal.pk,
        "to_level": to_level,
        "reason": reason,
        **extra,
    }


def test_it_lets_the_panel_move_a_rating_with_a_reason(org, hr_admin, manager, appraisal):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    ready(appraisal, 4)
    session = open_session(org, hr_admin, cycle, manager)
    at_phase(cycle, P.CALIBRATION)
    response = client_for(manager).post(MOVES, move(session, appraisal), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["from_level"]["value"], body["to_level"]["value"]) == (4, 3)
    assert (body["actor"]["name"], body["reason"]) == ("Mona Manager", "Team results were average")
    assert body["employee"]["id"] == org.employee.pk
    assert Appraisal.objects.get(pk=appraisal.pk).calibrated_level.value == 3

    listed = client_for(hr_admin).get(MOVES, {"session": session.pk})
    assert ids(listed) == {body["id"]}
    assert ids(client_for(hr_admin).get(MOVES, {"session": session.pk + 1})) == set()


def test_it_keeps_rating_moves_from_the_employee(org, hr_admin, manager, employee, appraisal):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    ready(appraisal, 4)
    session = open_session(org, hr_admin, cycle, manager)
    at_phase(cycle, P.CALIBRATION)
    services.calibration_move(
        actor=manager, session=session, appraisal=appraisal, to_level=level(cycle, 3), reason="r"
    )
    adjustment = CalibrationAdjustment.objects.get()
    assert ids(client_for(employee).get(MOVES)) == set()
    assert client_for(employee).get(f"{MOVES}{adjustment.pk}/").status_code == 404
    response = client_for(employee).post(MOVES, move(session, appraisal, 5), format="json")
    assert response.status_code == 400  # the session does not exist for them
    assert Appraisal.objects.get(pk=appraisal.pk).calibrated_level.value == 3


def test_it_refuses_bad_moves(org, hr_admin, manager, appraisal):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    ready(appraisal, 4)
    session = open_session(org, hr_admin, cycle, manager)
    client = client_for(manager)
    wrong_phase = client.post(MOVES, move(session, appraisal), format="json")
    assert wrong_phase.status_code == 409
    assert "calibration" in wrong_phase.json()["detail"]
    at_phase(cycle, P.CALIBRATION)
    for data, status, field in [
        (move(session, appraisal, reason=""), 400, "reason"),
        (move(session, appraisal, to_level=9), 400, "to_level"),
        (move(session, appraisal, to_level=4), 400, "to_level"),
        (move(session, appraisal, version=5), 409, "current_version"),
    ]:
        response = client.post(MOVES, data, format="json")
        assert response.status_code == status, (data, response.content)
        assert field in response.json()
    assert not CalibrationAdjustment.objects.exists()


def test_it_does_not_edit_or_delete_moves(org, hr_admin, manager, appraisal):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    ready(appraisal, 4)
    session = open_session(org, hr_admin, cycle, manager)
    at_phase(cycle, P.CALIBRATION)
    services.calibration_move(
        actor=manager, session=session, appraisal=appraisal, to_level=level(cycle, 3), reason="r"
    )
    url = f"{MOVES}{CalibrationAdjustment.objects.get().pk}/"
    client = client_for(hr_admin)
    assert client.patch(url, {"reason": "x"}).status_code == 405
    assert client.delete(url).status_code == 405


# --- appeals ------------------------------------------------------------------------


def appealed(appraisal, employee) -> Appeal:
    Appraisal.objects.filter(pk=appraisal.pk).update(
        stage=A.FINAL, final_level=level(appraisal.cycle, 3), released_at=timezone.now()
    )
    appraisal.refresh_from_db()
    return services.appeal_file(actor=employee, appraisal=appraisal, reason="My numbers")


def test_it_shows_appeals_to_the_employee_and_hr(org, hr_admin, manager, employee, peer, appraisal):
    appeal = appealed(appraisal, employee)
    assert ids(client_for(employee).get(APPEALS)) == {appeal.pk}
    assert ids(client_for(hr_admin).get(APPEALS, {"status": "open"})) == {appeal.pk}
    for user in (manager, peer):
        assert ids(client_for(user).get(APPEALS)) == set()
        assert client_for(user).get(f"{APPEALS}{appeal.pk}/").status_code == 404
    body = client_for(employee).get(f"{APPEALS}{appeal.pk}/").json()
    assert (body["status"], body["reason"], body["employee"]["id"]) == (
        "open",
        "My numbers",
        org.employee.pk,
    )


def test_it_lets_hr_resolve_an_appeal(org, hr_admin, employee, appraisal):
    appeal = appealed(appraisal, employee)
    url = f"{APPEALS}{appeal.pk}/resolve/"
    assert client_for(employee).post(url, {"status": "dismissed", "outcome": "x"}).status_code == (
        403
    )
    client = client_for(hr_admin)
    for data, field in [
        ({"status": "upheld", "outcome": "Recounted"}, "new_level"),
        ({"status": "upheld", "outcome": "Recounted", "new_level": 9}, "new_level"),
        ({"status": "open", "outcome": "Recounted"}, "status"),
        ({"status": "dismissed", "outcome": ""}, "outcome"),
    ]:
        response = client.post(url, data, format="json")
        assert response.status_code == 400, (data, response.content)
        assert field in response.json()
    response = client.post(
        url, {"status": "upheld", "outcome": "Recounted", "new_level": 4}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["new_level"]["value"], body["resolved_by"]["name"]) == (
        "upheld",
        4,
        "Hana HR",
    )
    assert Appraisal.objects.get(pk=appraisal.pk).final_level.value == 4
    again = client.post(url, {"status": "dismissed", "outcome": "Again"}, format="json")
    assert again.status_code == 409
    assert "already resolved" in again.json()["detail"]


def test_a_panel_member_reads_nothing_of_their_own_rating_before_release(
    org, hr_admin, manager, appraisal
):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    own = Appraisal.objects.get(cycle=cycle, employee=org.manager)
    ready(own, 4)
    ready(appraisal, 4)
    session = open_session(org, hr_admin, cycle, manager)  # Mona sits on her own panel
    at_phase(cycle, P.CALIBRATION)
    services.calibration_move(
        actor=hr_admin, session=session, appraisal=own, to_level=level(cycle, 2), reason="r"
    )
    mona = client_for(manager)
    assert ids(mona.get(MOVES)) == set()
    assert ids(mona.get(MOVES, {"session": session.pk})) == set()
    # Which session holds her appraisal is not given away by filtering either.
    listed = mona.get("/api/v1/appraisals/", {"session": session.pk, "employee": org.manager.pk})
    assert ids(listed) == set()
    others = set(session.appraisals.exclude(pk=own.pk).values_list("pk", flat=True))
    assert appraisal.pk in others
    assert ids(mona.get("/api/v1/appraisals/", {"session": session.pk})) == others
    # HR reads the move.
    assert len(ids(client_for(hr_admin).get(MOVES))) == 1
