"""/api/v1/me/: who the API thinks I am, with my employee record and roles."""

import pytest
from rest_framework.test import APIClient

from perfcycle import services
from tests.factories import EmployeeFactory, UserFactory

URL = "/api/v1/me/"


def me(user) -> dict:
    client = APIClient()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    ("persona", "roles"),
    [
        ("hr_admin", ["hr_admin", "employee"]),
        ("executive", ["executive", "manager", "employee"]),
        ("manager", ["manager", "employee"]),
        ("employee", ["employee"]),
        ("outsider", ["employee"]),
    ],
)
def test_it_tells_each_persona_their_roles(request, persona, roles):
    user = request.getfixturevalue(persona)
    body = me(user)
    assert body["roles"] == roles
    assert body["employee"] == user.employee.pk
    assert body["email"] == user.email
    assert body["id"] == user.pk


def test_it_names_an_hr_business_partner(org, hr_admin):
    person = EmployeeFactory(department=org.people, employee_number="E0100")
    services.partner_grant(actor=hr_admin, user=person.user, department=org.sales)
    assert me(person.user)["roles"] == ["employee", "hr_partner"]


def test_it_answers_for_a_user_without_an_employee_record(db):
    body = me(UserFactory(full_name="Ada Admin"))
    assert body["employee"] is None
    assert body["roles"] == []
    assert body["full_name"] == "Ada Admin"


def test_it_needs_a_login(db):
    assert APIClient().get(URL).status_code in (401, 403)


def test_it_only_reads(org, employee):
    client = APIClient()
    client.force_login(employee)
    assert client.post(URL, {"full_name": "X"}).status_code == 405
    assert client.delete(URL).status_code == 405
