"""/api/v1/departments/: the tree is open to staff; only HR reshapes it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from perfcycle import services
from perfcycle.models import Department
from tests.factories import DepartmentFactory, EmployeeFactory, UserFactory

URL = "/api/v1/departments/"


def detail(department) -> str:
    return f"{URL}{department.pk}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def listed_codes(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["code"] for row in response.json()["results"]}


@pytest.fixture
def partner(org, hr_admin):
    person = EmployeeFactory(department=org.people, employee_number="E0100")
    services.partner_grant(actor=hr_admin, user=person.user, department=org.sales)
    return person.user


ALL = {"HQ", "SALES", "SALES-E", "ENG", "HR"}


@pytest.mark.parametrize(
    "persona", ["hr_admin", "executive", "manager", "employee", "peer", "outsider", "partner"]
)
def test_it_shows_the_whole_tree_to_everyone_who_works_here(request, persona):
    user = request.getfixturevalue(persona)
    assert listed_codes(client_for(user).get(URL)) == ALL


def test_it_shows_nothing_to_a_user_without_an_employee_record(org):
    client = client_for(UserFactory())
    assert client.get(URL).json()["results"] == []
    assert client.get(detail(org.sales)).status_code == 404


def test_it_shows_the_read_shape(org, employee):
    response = client_for(employee).get(detail(org.sales))
    assert response.status_code == 200
    assert response.json() == {
        "id": org.sales.pk,
        "code": "SALES",
        "name": "Sales",
        "parent": org.hq.pk,
        "head": {"id": org.manager.pk, "name": "Mona Manager"},
        "version": 1,
    }


def test_it_filters_by_parent_and_searches(org, employee):
    client = client_for(employee)
    assert listed_codes(client.get(URL, {"parent": org.hq.pk})) == {"SALES", "ENG", "HR"}
    assert listed_codes(client.get(URL, {"search": "east"})) == {"SALES-E"}
    assert listed_codes(client.get(URL, {"search": "eng"})) == {"ENG"}
    assert client.get(URL, {"parent": "top"}).status_code == 400


def test_it_lists_with_the_same_number_of_queries_at_any_size(
    org, employee, django_assert_num_queries
):
    client = client_for(employee)
    with CaptureQueriesContext(connection) as first:
        assert client.get(URL).status_code == 200
    for _ in range(20):
        DepartmentFactory(parent=org.sales, head=EmployeeFactory(department=org.sales))
    with django_assert_num_queries(len(first)):
        assert len(client.get(URL).json()["results"]) == 25


def test_it_lets_hr_create_and_rename_a_department(org, hr_admin):
    client = client_for(hr_admin)
    response = client.post(
        URL,
        {"code": "SALES-W", "name": "Sales West", "parent": org.sales.pk, "head": org.peer.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = Department.objects.get(code="SALES-W")
    assert created.parent == org.sales and created.head == org.peer

    response = client.patch(detail(created), {"name": "Sales Pacific", "version": 1})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Sales Pacific"
    assert response.json()["version"] == 2


@pytest.mark.parametrize(
    "persona", ["executive", "manager", "employee", "peer", "outsider", "partner"]
)
def test_it_refuses_changes_to_the_tree_from_anyone_but_hr(request, org, persona):
    client = client_for(request.getfixturevalue(persona))
    response = client.post(URL, {"code": "NEW", "name": "New", "parent": org.hq.pk})
    assert response.status_code == 403
    response = client.patch(detail(org.sales), {"name": "Renamed", "version": 1})
    assert response.status_code == 403
    assert not Department.objects.filter(code="NEW").exists()
    org.sales.refresh_from_db()
    assert org.sales.name == "Sales"


def test_it_refuses_to_put_a_department_under_its_own_subtree(org, hr_admin):
    response = client_for(hr_admin).patch(
        detail(org.sales), {"parent": org.sales_east.pk, "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "parent" in response.json()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"code": "SALES", "name": "Again"}, "code"),
        ({"code": "has space", "name": "Bad code"}, "code"),
        ({"code": "NEW", "name": "New", "parent": 999999}, "parent"),
        ({"code": "NEW", "name": "New", "parent": "hq"}, "parent"),
        ({"code": "NEW", "name": "New", "head": 999999}, "head"),
        ({"code": "NEW"}, "name"),
        ({"code": "X" * 40, "name": "Long"}, "code"),
    ],
)
def test_it_answers_bad_input_with_field_errors(org, hr_admin, data, field):
    response = client_for(hr_admin).post(URL, data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_it_needs_the_version_and_refuses_a_stale_one(org, hr_admin):
    client = client_for(hr_admin)
    assert "version" in client.patch(detail(org.sales), {"name": "A"}).json()
    assert client.patch(detail(org.sales), {"name": "A", "version": 1}).status_code == 200
    response = client.put(
        detail(org.sales), {"code": "SALES", "name": "B", "version": 1}, HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 409
    assert response.json()["current_version"] == 2


def test_it_does_not_delete_departments(org, hr_admin):
    assert client_for(hr_admin).delete(detail(org.people)).status_code == 405
    assert Department.objects.filter(pk=org.people.pk).exists()


def test_it_needs_a_login(org):
    client = APIClient()
    assert client.get(URL).status_code in (401, 403)
    assert client.get(detail(org.sales)).status_code in (401, 403)
