"""/api/v1/positions/: HR and HR business partners keep the jobs of their departments."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from perfcycle import services
from perfcycle.models import Position
from tests.factories import EmployeeFactory, PositionFactory, UserFactory

URL = "/api/v1/positions/"


def detail(position) -> str:
    return f"{URL}{position.pk}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def partner(org, hr_admin):
    person = EmployeeFactory(department=org.people, employee_number="E0100")
    services.partner_grant(actor=hr_admin, user=person.user, department=org.sales)
    return person.user


@pytest.fixture
def engineer(org):
    return PositionFactory(title="Engineer", department=org.engineering)


@pytest.mark.parametrize(
    "persona", ["hr_admin", "executive", "manager", "employee", "outsider", "partner"]
)
def test_it_lists_positions_to_everyone_who_works_here(request, org, engineer, persona):
    response = client_for(request.getfixturevalue(persona)).get(URL)
    assert response.status_code == 200
    assert {row["title"] for row in response.json()["results"]} == {
        "Account executive",
        "Engineer",
    }


def test_it_shows_nothing_to_a_user_without_an_employee_record(org):
    client = client_for(UserFactory())
    assert client.get(URL).json()["results"] == []
    assert client.get(detail(org.position)).status_code == 404


def test_it_shows_the_read_shape_and_filters_by_department(org, engineer, employee):
    client = client_for(employee)
    assert client.get(detail(org.position)).json() == {
        "id": org.position.pk,
        "title": "Account executive",
        "department": {"id": org.sales_east.pk, "code": "SALES-E", "name": "Sales East"},
        "grade": "G5",
        "version": 1,
    }
    rows = client.get(URL, {"department": org.engineering.pk}).json()["results"]
    assert [row["title"] for row in rows] == ["Engineer"]
    rows = client.get(URL, {"search": "account"}).json()["results"]
    assert [row["title"] for row in rows] == ["Account executive"]


def test_it_lists_with_the_same_number_of_queries_at_any_size(
    org, employee, django_assert_num_queries
):
    client = client_for(employee)
    with CaptureQueriesContext(connection) as first:
        assert client.get(URL).status_code == 200
    PositionFactory.create_batch(20)
    with django_assert_num_queries(len(first)):
        assert len(client.get(URL).json()["results"]) == 21


def test_it_lets_hr_create_and_edit_a_position(org, hr_admin):
    client = client_for(hr_admin)
    response = client.post(URL, {"title": "Engineer", "department": org.engineering.pk})
    assert response.status_code == 201, response.content
    position = Position.objects.get(pk=response.json()["id"])
    response = client.patch(detail(position), {"grade": "G7", "version": 1})
    assert response.status_code == 200, response.content
    assert response.json()["grade"] == "G7"


def test_it_lets_a_partner_keep_positions_in_their_departments_only(org, partner, engineer):
    client = client_for(partner)
    response = client.post(URL, {"title": "Sales lead", "department": org.sales_east.pk})
    assert response.status_code == 201
    response = client.post(URL, {"title": "Architect", "department": org.engineering.pk})
    assert response.status_code == 403
    assert client.patch(detail(org.position), {"grade": "G6", "version": 1}).status_code == 200
    assert client.patch(detail(engineer), {"grade": "G6", "version": 1}).status_code == 403
    # Nor may they move one of theirs out to a department they do not partner.
    response = client.patch(detail(org.position), {"department": org.engineering.pk, "version": 2})
    assert response.status_code == 403
    assert not Position.objects.filter(title="Architect").exists()


@pytest.mark.parametrize("persona", ["executive", "manager", "employee", "outsider"])
def test_it_refuses_position_changes_without_hr_rights(request, org, persona):
    client = client_for(request.getfixturevalue(persona))
    response = client.post(URL, {"title": "New job", "department": org.sales_east.pk})
    assert response.status_code == 403
    assert client.patch(detail(org.position), {"grade": "G1", "version": 1}).status_code == 403
    assert not Position.objects.filter(title="New job").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "Account executive"}, "non_field_errors"),
        ({"title": "New", "department": 999999}, "department"),
        ({"title": "", "department": None}, "title"),
        ({"department": None}, "title"),
    ],
)
def test_it_answers_bad_input_with_field_errors(org, hr_admin, data, field):
    data.setdefault("department", org.sales_east.pk)
    if data["department"] is None:
        data.pop("department")
    response = client_for(hr_admin).post(URL, data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_it_needs_the_version_and_refuses_a_stale_one(org, hr_admin):
    client = client_for(hr_admin)
    assert "version" in client.patch(detail(org.position), {"grade": "G6"}).json()
    assert client.patch(detail(org.position), {"grade": "G6", "version": 1}).status_code == 200
    response = client.patch(detail(org.position), {"grade": "G7", "version": 1})
    assert response.status_code == 409


def test_it_does_not_delete_positions(org, hr_admin):
    assert client_for(hr_admin).delete(detail(org.position)).status_code == 405


def test_it_needs_a_login(org):
    assert APIClient().get(URL).status_code in (401, 403)
