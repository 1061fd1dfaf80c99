"""/api/v1/appraisals/: who reads which appraisals, what the employee does not see before
release, the filters, HR's actions (late joiner, reassign, withdraw), second-level
approval, the employee's acknowledgement and appeal, 409 for the wrong stage, and a list
whose query count does not grow with the number of appraisals."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from appraisals.models import Appeal, Appraisal, CycleSettings
from perfcycle.models import Cycle, RatingLevel
from tests.factories import EmployeeFactory

from .conftest import at_phase, launch

P = Cycle.Status
A = Appraisal.Stage
URL = "/api/v1/appraisals/"
ASSESSMENT = (
    "session",
    "kpi_score",
    "competency_score",
    "overall_score",
    "computed_level",
    "manager_level",
    "calibrated_level",
    "final_level",
)


def detail(appraisal) -> str:
    return f"{URL}{appraisal.pk}/"


def act(appraisal, name: str) -> str:
    return f"{URL}{appraisal.pk}/{name}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def listed(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["employee"]["id"] for row in response.json()["results"]}


def level(cycle, value) -> RatingLevel:
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def assessed(appraisal, *, released: bool) -> Appraisal:
    """Set-up: a final appraisal with scores and ratings, released or not."""
    cycle = appraisal.cycle
    Appraisal.objects.filter(pk=appraisal.pk).update(
        stage=A.FINAL,
        kpi_score=Decimal("110"),
        competency_score=Decimal("75"),
        overall_score=Decimal("99.5"),
        computed_level=level(cycle, 3),
        manager_level=level(cycle, 4),
        final_level=level(cycle, 4),
        finalised_at=timezone.now(),
        released_at=timezone.now() if released else None,
    )
    appraisal.refresh_from_db()
    return appraisal


# --- reading ------------------------------------------------------------------------


def test_it_lets_each_person_read_the_appraisals_in_their_scope(
    org, appraisal_cycle, hr_admin, executive, manager, employee, outsider
):
    everyone = {
        p.pk
        for p in (org.ceo, org.manager, org.employee, org.peer, org.other_manager)
        + (org.outsider, org.hr)
    }
    assert listed(client_for(hr_admin).get(URL)) == everyone
    assert listed(client_for(executive).get(URL)) == everyone
    assert listed(client_for(manager).get(URL)) == {org.manager.pk, org.employee.pk, org.peer.pk}
    assert listed(client_for(employee).get(URL)) == {org.employee.pk}
    assert listed(client_for(outsider).get(URL)) == {org.outsider.pk}


def test_it_answers_404_for_an_appraisal_outside_the_scope(
    org, appraisal_cycle, appraisal, outsider, peer
):
    for user in (outsider, peer):
        client = client_for(user)
        assert client.get(detail(appraisal)).status_code == 404
        for name in ("reassign", "withdraw", "approve", "acknowledge", "appeal"):
            assert client.post(act(appraisal, name), {"reason": "x"}).status_code == 404
    assert Appraisal.objects.get(pk=appraisal.pk).stage == A.SELF_REVIEW


def test_it_shows_the_read_shape(org, appraisal, manager):
    response = client_for(manager).get(detail(appraisal))
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    body = response.json()
    assert body["employee"] == {"id": org.employee.pk, "name": "Emil Employee"}
    assert body["reviewer"] == {"id": org.manager.pk, "name": "Mona Manager"}
    assert body["department"]["id"] == org.sales_east.pk
    assert (body["stage"], body["cycle"], body["assessment_visible"]) == (
        "self_review",
        appraisal.cycle_id,
        True,
    )


def test_it_hides_scores_and_ratings_from_the_employee_until_release(
    org, appraisal, employee, manager
):
    assessed(appraisal, released=False)
    mine = client_for(employee).get(detail(appraisal)).json()
    assert mine["assessment_visible"] is False
    assert all(mine[name] is None for name in ASSESSMENT)
    assert mine["stage"] == "final"
    (row,) = client_for(employee).get(URL).json()["results"]
    assert all(row[name] is None for name in ASSESSMENT)
    # The manager sees them all along.
    theirs = client_for(manager).get(detail(appraisal)).json()
    assert theirs["overall_score"] == "99.50"
    assert theirs["final_level"] == {"value": 4, "label": theirs["final_level"]["label"]}

    Appraisal.objects.filter(pk=appraisal.pk).update(released_at=timezone.now())
    mine = client_for(employee).get(detail(appraisal)).json()
    assert mine["assessment_visible"] is True
    assert mine["overall_score"] == "99.50"
    assert mine["final_level"]["value"] == 4


def test_it_hides_the_assessment_of_hr_staff_own_appraisal_from_them_too(org, appraisal, hr_admin):
    own = Appraisal.objects.get(cycle=appraisal.cycle, employee=org.hr)
    assessed(own, released=False)
    body = client_for(hr_admin).get(detail(own)).json()
    assert body["overall_score"] is None and body["assessment_visible"] is False


def test_it_filters_and_searches(org, appraisal_cycle, hr_admin):
    client = client_for(hr_admin)
    assert listed(client.get(URL, {"department": org.sales_east.pk})) == {
        org.employee.pk,
        org.peer.pk,
    }
    assert listed(client.get(URL, {"department_subtree": org.sales.pk})) == {
        org.manager.pk,
        org.employee.pk,
        org.peer.pk,
    }
    assert listed(client.get(URL, {"reviewer": org.other_manager.pk})) == {org.outsider.pk}
    assert listed(client.get(URL, {"employee": org.peer.pk})) == {org.peer.pk}
    assert listed(client.get(URL, {"cycle": appraisal_cycle.pk, "search": "petra"})) == {
        org.peer.pk
    }
    Appraisal.objects.filter(employee=org.peer).update(stage=A.MANAGER_REVIEW)
    assert listed(client.get(URL, {"stage": "manager_review"})) == {org.peer.pk}
    assert client.get(URL, {"stage": "nonsense"}).status_code == 400
    assert client.get(URL, {"cycle": "x"}).status_code == 400


def test_it_lists_appraisals_in_the_same_number_of_queries_at_two_sizes(
    org, hr_admin, manager, appraisal_cycle, django_assert_num_queries
):
    def grow(count):
        for _ in range(count):
            EmployeeFactory(department=org.sales_east, manager=org.manager)
        launch(appraisal_cycle, hr_admin)

    query = {"cycle": appraisal_cycle.pk, "page_size": 500}
    for user in (hr_admin, manager):
        client = client_for(user)
        grow(3)
        with CaptureQueriesContext(connection) as small:
            small_count = client.get(URL, query).json()["count"]
        grow(30)
        with django_assert_num_queries(len(small)):
            response = client.get(URL, query)
        assert response.json()["count"] == small_count + 30


# --- HR's actions -------------------------------------------------------------------


def test_it_adds_a_late_joiner(org, hr_admin, appraisal_cycle):
    joiner = EmployeeFactory(
        department=org.sales_east, manager=org.manager, user__full_name="Lena Late"
    )
    response = client_for(hr_admin).post(
        URL,
        {"cycle": appraisal_cycle.pk, "employee": joiner.pk, "reason": "Joined in March"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["employee"] == {"id": joiner.pk, "name": "Lena Late"}
    assert body["reviewer"]["id"] == org.manager.pk
    assert body["stage"] == "self_review"
    assert Appraisal.objects.get(pk=body["id"]).reviews.count() == 2


def test_it_refuses_a_late_joiner_without_a_reason_or_twice(org, hr_admin, appraisal_cycle):
    client = client_for(hr_admin)
    data = {"cycle": appraisal_cycle.pk, "employee": org.employee.pk, "reason": ""}
    response = client.post(URL, data, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = client.post(URL, {**data, "reason": "Again"}, format="json")
    assert response.status_code == 400 and "employee" in response.json()
    assert Appraisal.objects.filter(cycle=appraisal_cycle, employee=org.employee).count() == 1


def test_it_refuses_a_late_joiner_in_the_wrong_phase_with_a_409(org, hr_admin, appraisal_cycle):
    at_phase(appraisal_cycle, P.CALIBRATION)
    joiner = EmployeeFactory(department=org.sales_east, manager=org.manager)
    response = client_for(hr_admin).post(
        URL, {"cycle": appraisal_cycle.pk, "employee": joiner.pk, "reason": "Late"}
    )
    assert response.status_code == 409
    assert "calibration" in response.json()["detail"]
    assert not Appraisal.objects.filter(employee=joiner).exists()


def test_it_does_not_let_a_manager_add_or_administer(org, manager, appraisal):
    joiner = EmployeeFactory(department=org.sales_east, manager=org.manager)
    client = client_for(manager)
    response = client.post(URL, {"cycle": appraisal.cycle_id, "employee": joiner.pk, "reason": "x"})
    assert response.status_code == 403
    response = client.post(act(appraisal, "reassign"), {"reviewer": org.ceo.pk, "reason": "x"})
    assert response.status_code == 403
    assert client.post(act(appraisal, "withdraw"), {"reason": "x"}).status_code == 403
    assert Appraisal.objects.get(pk=appraisal.pk).reviewer == org.manager


def test_it_reassigns_the_reviewer(org, hr_admin, appraisal):
    response = client_for(hr_admin).post(
        act(appraisal, "reassign"),
        {"reviewer": org.ceo.pk, "reason": "Mona is on leave", "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reviewer"]["id"] == org.ceo.pk and body["reviewer_assigned"] is True
    assert response["ETag"] == '"2"'
    response = client_for(hr_admin).post(
        act(appraisal, "reassign"), {"reviewer": org.employee.pk, "reason": "x"}
    )
    assert response.status_code == 400 and "reviewer" in response.json()


def test_it_refuses_a_stale_reassignment_with_a_409(org, hr_admin, appraisal):
    client = client_for(hr_admin)
    client.post(act(appraisal, "reassign"), {"reviewer": org.ceo.pk, "reason": "a"})
    response = client.post(
        act(appraisal, "reassign"), {"reviewer": org.hr.pk, "reason": "b", "version": 1}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert Appraisal.objects.get(pk=appraisal.pk).reviewer == org.ceo


def test_it_withdraws_with_a_reason_and_refuses_it_twice_with_a_409(org, hr_admin, appraisal):
    client = client_for(hr_admin)
    assert client.post(act(appraisal, "withdraw"), {"reason": ""}).status_code == 400
    response = client.post(act(appraisal, "withdraw"), {"reason": "Left the company"})
    assert response.status_code == 200
    assert response.json()["stage"] == "withdrawn"
    assert response.json()["withdrawn_reason"] == "Left the company"
    again = client.post(act(appraisal, "withdraw"), {"reason": "Again"})
    assert again.status_code == 409
    assert "withdrawn" in again.json()["detail"]
    assert again.json()["reasons"] == [again.json()["detail"]]


# --- approval, acknowledgement, appeal ----------------------------------------------


def test_it_lets_the_reviewers_manager_approve(org, appraisal, executive, manager):
    CycleSettings.objects.filter(cycle=appraisal.cycle).update(second_level_approval=True)
    Appraisal.objects.filter(pk=appraisal.pk).update(stage=A.APPROVAL)
    assert client_for(manager).post(act(appraisal, "approve")).status_code == 403
    response = client_for(executive).post(act(appraisal, "approve"), {"comment": "Fair."})
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "ready"
    again = client_for(executive).post(act(appraisal, "approve"))
    assert again.status_code == 409


def test_it_lets_the_employee_acknowledge_and_appeal_after_release(org, appraisal, employee):
    client = client_for(employee)
    assessed(appraisal, released=False)
    assert client.post(act(appraisal, "acknowledge")).status_code == 403
    assert client.post(act(appraisal, "appeal"), {"reason": "My numbers"}).status_code == 403

    Appraisal.objects.filter(pk=appraisal.pk).update(released_at=timezone.now())
    response = client.post(act(appraisal, "acknowledge"), {"comment": "Read it."})
    assert response.status_code == 200
    assert response.json()["acknowledged_at"] and response.json()["employee_comment"] == "Read it."

    assert client.post(act(appraisal, "appeal"), {"reason": ""}).status_code == 400
    response = client.post(act(appraisal, "appeal"), {"reason": "Q4 bookings were missed."})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["appraisal"], body["status"], body["reason"]) == (
        appraisal.pk,
        "open",
        "Q4 bookings were missed.",
    )
    again = client.post(act(appraisal, "appeal"), {"reason": "Again"})
    assert again.status_code == 409
    assert Appeal.objects.filter(appraisal=appraisal).count() == 1


def test_it_refuses_an_appeal_after_the_window_with_a_409(org, appraisal, employee):
    assessed(appraisal, released=True)
    Appraisal.objects.filter(pk=appraisal.pk).update(
        released_at=timezone.now() - timezone.timedelta(days=30)
    )
    response = client_for(employee).post(act(appraisal, "appeal"), {"reason": "Late"})
    assert response.status_code == 409
    assert "window closed" in response.json()["detail"]
    assert not Appeal.objects.exists()


def test_it_answers_a_get_on_an_action_with_405(org, appraisal, hr_admin):
    client = client_for(hr_admin)
    for name in ("reassign", "withdraw", "approve", "acknowledge", "appeal"):
        assert client.get(act(appraisal, name)).status_code == 405
    assert client.delete(detail(appraisal)).status_code == 405
    assert client.patch(detail(appraisal), {"stage": "final"}).status_code == 405


def test_it_needs_a_login(appraisal):
    assert APIClient().get(URL).status_code == 401


GARBAGE = [
    "[1, 2]",
    '"text"',
    "{not json",
    "null",
    '{"reason": {"a": 1}, "reviewer": [1], "version": 1.5, "goals": "all", "to_level": "x"}',
    '{"goals": [{"goal": 99999999999999999999999, "score": 1e99}], "competencies": [null]}',
    '{"departments": "x", "participants": {"a": 1}, "guideline": [1], "force": "maybe"}',
]


@pytest.mark.parametrize("body", GARBAGE)
def test_it_never_answers_garbage_with_a_500(org, hr_admin, appraisal, body):
    from appraisals.models import CalibrationSession, Review

    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    Appraisal.objects.filter(pk=appraisal.pk).update(stage=A.READY)
    session = CalibrationSession.objects.create(cycle=cycle, name="S")
    review = Review.objects.get(appraisal=appraisal, kind=Review.Kind.MANAGER)
    client = client_for(hr_admin)
    posts = [
        URL,
        act(appraisal, "reassign"),
        act(appraisal, "withdraw"),
        act(appraisal, "approve"),
        f"/api/v1/cycles/{cycle.pk}/advance/",
        f"/api/v1/reviews/{review.pk}/submit/",
        f"/api/v1/reviews/{review.pk}/return/",
        "/api/v1/calibration-sessions/",
        f"/api/v1/calibration-sessions/{session.pk}/close/",
        "/api/v1/calibration-adjustments/",
    ]
    for url in posts:
        response = client.post(url, body, content_type="application/json")
        assert 400 <= response.status_code < 500, (url, response.content)
    for url in (f"/api/v1/reviews/{review.pk}/", f"/api/v1/cycles/{cycle.pk}/settings/"):
        response = client.patch(url, body, content_type="application/json")
        assert 400 <= response.status_code < 500, (url, response.content)
    response = client.put(
        f"/api/v1/calibration-sessions/{session.pk}/participants/",
        body,
        content_type="application/json",
    )
    assert 400 <= response.status_code < 500, response.content
