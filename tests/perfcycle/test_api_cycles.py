"""/api/v1/cycles/: HR sets up cycles with a deadline per phase; staff read running ones."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from perfcycle import services
from perfcycle.models import Cycle
from tests.factories import (
    CycleDeadlineFactory,
    CycleFactory,
    EmployeeFactory,
    RatingScaleFactory,
    UserFactory,
)

URL = "/api/v1/cycles/"


def detail(cycle) -> str:
    return f"{URL}{cycle.pk}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def scale(db):
    return RatingScaleFactory(name="Five points")


@pytest.fixture
def running(scale):
    cycle = CycleFactory(name="FY2026", rating_scale=scale, status=Cycle.Status.GOAL_SETTING)
    CycleDeadlineFactory(
        cycle=cycle, phase=Cycle.Status.GOAL_SETTING, due_on=datetime.date(2026, 2, 15)
    )
    CycleDeadlineFactory(
        cycle=cycle, phase=Cycle.Status.SELF_REVIEW, due_on=datetime.date(2026, 11, 30)
    )
    return cycle


@pytest.fixture
def draft(scale):
    return CycleFactory(
        name="FY2027",
        rating_scale=scale,
        status=Cycle.Status.DRAFT,
        period_start=datetime.date(2027, 1, 1),
        period_end=datetime.date(2027, 12, 31),
    )


@pytest.fixture
def partner(org, hr_admin):
    person = EmployeeFactory(department=org.people, employee_number="E0100")
    services.partner_grant(actor=hr_admin, user=person.user, department=org.sales)
    return person.user


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()["results"]}


def new_cycle(scale, **overrides) -> dict:
    data = {
        "name": "FY2028",
        "period_start": "2028-01-01",
        "period_end": "2028-12-31",
        "rating_scale": scale.pk,
        "deadlines": {"goal_setting": "2028-02-01", "self_review": "2028-11-15"},
    }
    data.update(overrides)
    return data


def test_it_shows_hr_the_drafts_too(org, hr_admin, running, draft):
    client = client_for(hr_admin)
    assert names(client.get(URL)) == {"FY2026", "FY2027"}
    assert client.get(detail(draft)).status_code == 200


@pytest.mark.parametrize(
    "persona", ["executive", "manager", "employee", "peer", "outsider", "partner"]
)
def test_it_shows_staff_the_cycles_that_are_under_way(request, running, draft, persona):
    client = client_for(request.getfixturevalue(persona))
    assert names(client.get(URL)) == {"FY2026"}
    assert client.get(detail(running)).status_code == 200
    assert client.get(detail(draft)).status_code == 404


def test_it_shows_nothing_to_a_user_without_an_employee_record(org, running):
    client = client_for(UserFactory())
    assert client.get(URL).json()["results"] == []
    assert client.get(detail(running)).status_code == 404


def test_it_shows_deadlines_by_phase(org, employee, running, scale):
    assert client_for(employee).get(detail(running)).json() == {
        "id": running.pk,
        "name": "FY2026",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "status": "goal_setting",
        "rating_scale": {"id": scale.pk, "name": "Five points"},
        "deadlines": {"goal_setting": "2026-02-15", "self_review": "2026-11-30"},
        "version": 1,
    }


def test_it_filters_by_status(org, hr_admin, running, draft):
    client = client_for(hr_admin)
    assert names(client.get(URL, {"status": "draft"})) == {"FY2027"}
    assert names(client.get(URL, {"status": "goal_setting"})) == {"FY2026"}
    assert client.get(URL, {"status": "finished"}).status_code == 400


def test_it_lists_with_the_same_number_of_queries_at_any_size(
    org, hr_admin, running, scale, django_assert_num_queries
):
    client = client_for(hr_admin)
    with CaptureQueriesContext(connection) as first:
        assert client.get(URL).status_code == 200
    for year in range(2030, 2045):
        cycle = CycleFactory(
            name=f"FY{year}",
            rating_scale=RatingScaleFactory(),
            period_start=datetime.date(year, 1, 1),
            period_end=datetime.date(year, 12, 31),
        )
        CycleDeadlineFactory(cycle=cycle, due_on=datetime.date(year, 2, 1))
    with django_assert_num_queries(len(first)):
        assert len(client.get(URL).json()["results"]) == 16


def test_it_lets_hr_create_a_cycle_with_deadlines(org, hr_admin, scale):
    response = client_for(hr_admin).post(URL, new_cycle(scale), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["deadlines"] == {"goal_setting": "2028-02-01", "self_review": "2028-11-15"}
    cycle = Cycle.objects.get(pk=body["id"])
    assert cycle.deadlines.count() == 2


def test_it_ignores_a_status_sent_on_create(org, hr_admin, scale):
    data = new_cycle(scale, status="closed")
    response = client_for(hr_admin).post(URL, data, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "draft"


def test_it_lets_hr_edit_a_cycle_and_its_deadlines(org, hr_admin, running):
    response = client_for(hr_admin).patch(
        detail(running),
        {"name": "FY2026 (revised)", "deadlines": {"calibration": "2026-12-10"}, "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "FY2026 (revised)"
    assert body["version"] == 2
    assert body["deadlines"] == {
        "goal_setting": "2026-02-15",
        "self_review": "2026-11-30",
        "calibration": "2026-12-10",
    }


@pytest.mark.parametrize("persona", ["executive", "manager", "employee", "outsider", "partner"])
def test_it_refuses_cycle_changes_to_anyone_but_hr(request, org, running, scale, persona):
    client = client_for(request.getfixturevalue(persona))
    assert client.post(URL, new_cycle(scale), format="json").status_code == 403
    response = client.patch(detail(running), {"name": "Hijacked", "version": 1})
    assert response.status_code == 403
    assert not Cycle.objects.filter(name__in=["FY2028", "Hijacked"]).exists()


def test_it_hides_a_draft_from_an_editor_who_cannot_see_it(org, manager, draft):
    response = client_for(manager).patch(detail(draft), {"name": "Peek", "version": 1})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"period_start": "the first of January"}, "period_start"),
        ({"period_end": "2027-06-30"}, "period_end"),
        ({"period_end": "2028-01-01"}, "period_end"),
        ({"rating_scale": 999999}, "rating_scale"),
        ({"deadlines": {"goal_setting": "2028-12-01", "self_review": "2028-03-01"}}, "deadlines"),
        ({"deadlines": {"goal_setting": "2027-12-01"}}, "deadlines"),
        ({"deadlines": {"holiday": "2028-05-01"}}, "deadlines"),
        ({"deadlines": {"goal_setting": "soon"}}, "deadlines"),
        ({"deadlines": ["2028-02-01"]}, "deadlines"),
        ({"name": "FY2026"}, "name"),
        ({"name": ""}, "name"),
    ],
)
def test_it_answers_bad_input_with_field_errors(org, hr_admin, running, scale, overrides, field):
    response = client_for(hr_admin).post(URL, new_cycle(scale, **overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Cycle.objects.filter(period_start__year=2028).exists()


def test_it_refuses_an_edit_that_ends_the_period_before_it_starts(org, hr_admin, running):
    response = client_for(hr_admin).patch(
        detail(running), {"period_end": "2025-12-31", "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "period_end" in response.json()


def test_it_refuses_a_change_to_a_closed_cycle(org, hr_admin, running):
    Cycle.objects.filter(pk=running.pk).update(status=Cycle.Status.CLOSED)
    response = client_for(hr_admin).patch(detail(running), {"name": "Late", "version": 1})
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_it_needs_the_version_and_refuses_a_stale_one(org, hr_admin, running):
    client = client_for(hr_admin)
    assert "version" in client.patch(detail(running), {"name": "A"}).json()
    assert client.patch(detail(running), {"name": "A", "version": 1}).status_code == 200
    response = client.patch(detail(running), {"name": "B"}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 409
    assert response.json()["current_version"] == 2


def test_it_does_not_delete_cycles(org, hr_admin, running):
    assert client_for(hr_admin).delete(detail(running)).status_code == 405


def test_it_needs_a_login(org, running):
    assert APIClient().get(URL).status_code in (401, 403)
    assert APIClient().get(detail(running)).status_code in (401, 403)


def test_it_clears_a_deadline_with_null(hr_admin):
    from rest_framework.test import APIClient

    from perfcycle import services
    from tests.factories import RatingScaleFactory

    cycle = services.cycle_create(
        actor=hr_admin, name="FY2031", period_start=datetime.date(2031, 1, 1),
        period_end=datetime.date(2031, 12, 31), rating_scale=RatingScaleFactory(),
        deadlines={"goal_setting": datetime.date(2031, 2, 1),
                   "self_review": datetime.date(2032, 1, 10)},
    )  # fmt: skip
    client = APIClient()
    client.force_authenticate(hr_admin)
    response = client.patch(
        f"/api/v1/cycles/{cycle.pk}/",
        {"version": cycle.version, "deadlines": {"self_review": None}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["deadlines"] == {"goal_setting": "2031-02-01"}
