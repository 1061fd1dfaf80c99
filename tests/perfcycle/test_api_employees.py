"""/api/v1/employees/: who sees whom, who may change what, and bad input as field errors."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from perfcycle import services
from perfcycle.models import Employee
from tests.factories import DepartmentFactory, EmployeeFactory, PositionFactory, UserFactory

URL = "/api/v1/employees/"


def detail(employee) -> str:
    return f"{URL}{employee.pk}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def listed_numbers(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["employee_number"] for row in response.json()["results"]}


@pytest.fixture
def partner(org, hr_admin):
    """An HR business partner for Sales (and so Sales East), working in People."""
    person = EmployeeFactory(
        department=org.people,
        manager=org.hr,
        employee_number="E0100",
        user__full_name="Pia Partner",
        user__email="partner@example.com",
    )
    services.partner_grant(actor=hr_admin, user=person.user, department=org.sales)
    return person.user


def new_person(org, **overrides) -> dict:
    data = {
        "email": "new.person@example.com",
        "full_name": "Nora New",
        "employee_number": "E0200",
        "department": org.sales_east.pk,
        "position": org.position.pk,
        "manager": org.manager.pk,
        "hire_date": "2026-03-01",
    }
    data.update(overrides)
    return data


# --- reading ------------------------------------------------------------------------

ALL = {"E0001", "E0002", "E0003", "E0004", "E0005", "E0006", "E0007"}


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("hr_admin", ALL),
        ("executive", ALL),
        ("manager", {"E0002", "E0003", "E0004"}),
        ("employee", {"E0003"}),
        ("peer", {"E0004"}),
        ("outsider", {"E0006"}),
    ],
)
def test_it_lists_only_the_people_each_persona_may_see(request, persona, expected):
    user = request.getfixturevalue(persona)
    assert listed_numbers(client_for(user).get(URL)) == expected


def test_it_lets_a_manager_open_everyone_in_their_subtree(org, manager):
    client = client_for(manager)
    for person in (org.manager, org.employee, org.peer):
        assert client.get(detail(person)).status_code == 200


def test_it_hides_a_colleague_from_a_peer(org, peer):
    response = client_for(peer).get(detail(org.employee))
    assert response.status_code == 404


def test_it_hides_sales_from_the_manager_of_another_branch(org):
    client = client_for(org.other_manager.user)
    assert listed_numbers(client.get(URL)) == {"E0005", "E0006"}
    assert client.get(detail(org.employee)).status_code == 404
    assert client.get(detail(org.manager)).status_code == 404


def test_it_shows_the_read_shape(org, hr_admin):
    response = client_for(hr_admin).get(detail(org.employee))
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json() == {
        "id": org.employee.pk,
        "employee_number": "E0003",
        "full_name": "Emil Employee",
        "email": "employee@example.com",
        "department": {"id": org.sales_east.pk, "code": "SALES-E", "name": "Sales East"},
        "position": {"id": org.position.pk, "title": "Account executive"},
        "manager": {"id": org.manager.pk, "name": "Mona Manager"},
        "hire_date": "2020-01-06",
        "is_active": True,
        "version": 1,
    }


def test_it_shows_nothing_to_a_user_without_an_employee_record(org):
    stranger = UserFactory()
    client = client_for(stranger)
    assert client.get(URL).json()["results"] == []
    assert client.get(detail(org.employee)).status_code == 404


def test_it_takes_access_away_from_a_former_manager(org, hr_admin, peer):
    hr = client_for(hr_admin)
    response = hr.patch(detail(org.employee), {"manager": org.peer.pk, "version": 1})
    assert response.status_code == 200, response.content
    assert client_for(peer).get(detail(org.employee)).status_code == 200

    response = hr.patch(detail(org.employee), {"manager": org.manager.pk, "version": 2})
    assert response.status_code == 200, response.content
    assert client_for(peer).get(detail(org.employee)).status_code == 404


def test_it_takes_access_away_after_a_move_to_another_branch(org, hr_admin, manager):
    response = client_for(hr_admin).patch(
        detail(org.employee),
        {
            "department": org.engineering.pk,
            "position": None,
            "manager": org.other_manager.pk,
            "version": 1,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert client_for(manager).get(detail(org.employee)).status_code == 404
    assert client_for(org.other_manager.user).get(detail(org.employee)).status_code == 200


def test_it_shows_a_partner_the_people_of_their_departments(org, partner):
    client = client_for(partner)
    assert listed_numbers(client.get(URL)) == {"E0002", "E0003", "E0004", "E0100"}
    assert client.get(detail(org.employee)).status_code == 200
    assert client.get(detail(org.outsider)).status_code == 404


# --- filters, search, ordering --------------------------------------------------------


def test_it_filters_by_department_and_subtree(org, hr_admin):
    client = client_for(hr_admin)
    assert listed_numbers(client.get(URL, {"department": org.sales.pk})) == {"E0002"}
    subtree = client.get(URL, {"department_subtree": org.sales.pk})
    assert listed_numbers(subtree) == {"E0002", "E0003", "E0004"}
    whole = client.get(URL, {"department_subtree": org.hq.pk})
    assert listed_numbers(whole) == ALL


def test_it_filters_by_manager_position_and_activity(org, hr_admin):
    client = client_for(hr_admin)
    assert listed_numbers(client.get(URL, {"manager": org.manager.pk})) == {"E0003", "E0004"}
    assert listed_numbers(client.get(URL, {"position": org.position.pk})) == {"E0003", "E0004"}
    Employee.objects.filter(pk=org.peer.pk).update(is_active=False)
    assert listed_numbers(client.get(URL, {"is_active": "false"})) == {"E0004"}
    assert "E0004" not in listed_numbers(client.get(URL, {"is_active": "true"}))


def test_it_filters_within_the_users_scope_only(org, manager):
    response = client_for(manager).get(URL, {"department_subtree": org.hq.pk})
    assert listed_numbers(response) == {"E0002", "E0003", "E0004"}


def test_it_searches_name_email_and_number(org, hr_admin):
    client = client_for(hr_admin)
    assert listed_numbers(client.get(URL, {"search": "petra"})) == {"E0004"}
    assert listed_numbers(client.get(URL, {"search": "OUTSIDER@example"})) == {"E0006"}
    assert listed_numbers(client.get(URL, {"search": "E0007"})) == {"E0007"}


def test_it_orders_by_name(org, hr_admin):
    response = client_for(hr_admin).get(URL, {"ordering": "-full_name"})
    names = [row["full_name"] for row in response.json()["results"]]
    assert names == sorted(names, reverse=True)


@pytest.mark.parametrize(
    "query",
    [
        {"department": "sales"},
        {"department_subtree": "1.5"},
        {"manager": "x"},
    ],
)
def test_it_rejects_a_malformed_filter(org, hr_admin, query):
    response = client_for(hr_admin).get(URL, query)
    assert response.status_code == 400
    assert set(response.json()) == set(query)


def test_it_lists_with_the_same_number_of_queries_at_any_size(
    org, hr_admin, manager, django_assert_num_queries
):
    def queries(client) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx)

    hr, boss = client_for(hr_admin), client_for(manager)
    hr_count, manager_count = queries(hr), queries(boss)
    for n in range(15):
        position = PositionFactory(department=org.sales_east)
        EmployeeFactory(department=org.sales_east, manager=org.employee, position=position)
        DepartmentFactory(parent=org.sales_east, code=f"SUB{n}")
    with django_assert_num_queries(hr_count):
        assert len(hr.get(URL).json()["results"]) == 22
    with django_assert_num_queries(manager_count):
        assert len(boss.get(URL).json()["results"]) == 18


# --- writing ------------------------------------------------------------------------


def test_it_lets_hr_create_a_person(org, hr_admin):
    response = client_for(hr_admin).post(URL, new_person(org), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["employee_number"] == "E0200"
    assert body["manager"] == {"id": org.manager.pk, "name": "Mona Manager"}
    created = Employee.objects.get(pk=body["id"])
    assert created.user.email == "new.person@example.com"
    assert created.history.first().history_user == hr_admin


def test_it_lets_a_partner_add_people_to_their_departments_only(org, partner):
    client = client_for(partner)
    assert client.post(URL, new_person(org), format="json").status_code == 201
    elsewhere = new_person(
        org,
        email="eng@example.com",
        employee_number="E0201",
        department=org.engineering.pk,
        position=None,
        manager=org.other_manager.pk,
    )
    assert client.post(URL, elsewhere, format="json").status_code == 403
    assert not Employee.objects.filter(employee_number="E0201").exists()


@pytest.mark.parametrize("persona", ["manager", "employee", "executive", "outsider"])
def test_it_refuses_a_create_to_people_without_hr_rights(request, org, persona):
    user = request.getfixturevalue(persona)
    response = client_for(user).post(URL, new_person(org), format="json")
    assert response.status_code == 403
    assert not Employee.objects.filter(employee_number="E0200").exists()


def test_it_lets_hr_edit_with_the_version_read(org, hr_admin):
    response = client_for(hr_admin).patch(
        detail(org.employee), {"full_name": "Emil Renamed", "version": 1}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["full_name"] == "Emil Renamed"
    assert response.json()["version"] == 2
    assert response["ETag"] == '"2"'


def test_it_takes_the_version_from_if_match(org, hr_admin):
    response = client_for(hr_admin).patch(
        detail(org.employee), {"is_active": False}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False


def test_it_replaces_a_record_with_put(org, hr_admin):
    data = new_person(
        org,
        email="emil@example.com",
        full_name="Emil E.",
        employee_number="E0003",
        version=1,
    )
    response = client_for(hr_admin).put(detail(org.employee), data, format="json")
    assert response.status_code == 200, response.content
    org.employee.refresh_from_db()
    assert org.employee.user.email == "emil@example.com"
    assert org.employee.hire_date.isoformat() == "2026-03-01"


def test_it_lets_a_partner_edit_their_people_but_not_others(org, partner):
    client = client_for(partner)
    response = client.patch(detail(org.employee), {"full_name": "E. E.", "version": 1})
    assert response.status_code == 200, response.content
    response = client.patch(detail(org.outsider), {"full_name": "O. O.", "version": 1})
    assert response.status_code == 404
    # Moving someone out to a department they do not partner is refused.
    response = client.patch(
        detail(org.peer),
        {"department": org.engineering.pk, "position": None, "version": 1},
        format="json",
    )
    assert response.status_code == 403
    org.peer.refresh_from_db()
    assert org.peer.department == org.sales_east


@pytest.mark.parametrize(
    ("persona", "target", "status"),
    [
        ("manager", "employee", 403),
        ("executive", "employee", 403),
        ("employee", "employee", 403),
        ("peer", "employee", 404),
        ("outsider", "employee", 404),
    ],
)
def test_it_refuses_an_edit_by_the_wrong_person(request, org, persona, target, status):
    user = request.getfixturevalue(persona)
    person = getattr(org, target)
    response = client_for(user).patch(detail(person), {"full_name": "X", "version": 1})
    assert response.status_code == status
    person.refresh_from_db()
    assert person.user.full_name != "X"


def test_it_needs_the_version_to_edit(org, hr_admin):
    response = client_for(hr_admin).patch(detail(org.employee), {"full_name": "X"})
    assert response.status_code == 400
    assert "version" in response.json()


@pytest.mark.parametrize("version", ["two", 0, -1, True, [1]])
def test_it_rejects_a_version_that_is_not_a_number(org, hr_admin, version):
    response = client_for(hr_admin).patch(
        detail(org.employee), {"full_name": "X", "version": version}, format="json"
    )
    assert response.status_code == 400
    assert "version" in response.json()


def test_it_refuses_a_stale_edit_with_409(org, hr_admin):
    client = client_for(hr_admin)
    first = client.patch(detail(org.employee), {"full_name": "First", "version": 1})
    assert first.status_code == 200
    response = client.patch(detail(org.employee), {"full_name": "Second", "version": 1})
    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    org.employee.refresh_from_db()
    assert org.employee.user.full_name == "First"


def test_it_does_not_delete_people(org, hr_admin):
    response = client_for(hr_admin).delete(detail(org.employee))
    assert response.status_code == 405
    assert Employee.objects.filter(pk=org.employee.pk).exists()


def test_it_needs_a_login(org):
    client = APIClient()
    assert client.get(URL).status_code in (401, 403)
    assert client.get(detail(org.employee)).status_code in (401, 403)
    assert client.post(URL, new_person(org), format="json").status_code in (401, 403)


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hire_date": "next tuesday"}, "hire_date"),
        ({"department": 999999}, "department"),
        ({"department": "sales"}, "department"),
        ({"department": 10**30}, "department"),
        ({"position": 999999}, "position"),
        ({"manager": 999999}, "manager"),
        ({"email": "not-an-address"}, "email"),
        ({"employee_number": "E0003"}, "employee_number"),
        ({"employee_number": "has spaces"}, "employee_number"),
        ({"email": "EMPLOYEE@Example.COM"}, "email"),
        ({"full_name": ""}, "full_name"),
    ],
)
def test_it_answers_bad_input_with_field_errors(org, hr_admin, overrides, field):
    response = client_for(hr_admin).post(URL, new_person(org, **overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Employee.objects.filter(employee_number="E0200").exists()


def test_it_names_every_missing_field(org, hr_admin):
    response = client_for(hr_admin).post(URL, {}, format="json")
    assert response.status_code == 400
    assert {"email", "full_name", "employee_number", "department", "hire_date"} <= set(
        response.json()
    )


def test_it_refuses_a_position_of_another_department(org, hr_admin):
    other = PositionFactory(department=org.engineering)
    response = client_for(hr_admin).post(URL, new_person(org, position=other.pk), format="json")
    assert response.status_code == 400
    assert "position" in response.json()


def test_it_refuses_a_reporting_cycle(org, hr_admin):
    response = client_for(hr_admin).patch(
        detail(org.manager), {"manager": org.employee.pk, "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "manager" in response.json()
    response = client_for(hr_admin).patch(
        detail(org.manager), {"manager": org.manager.pk, "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "manager" in response.json()


def test_it_refuses_an_e_mail_taken_by_someone_else_on_edit(org, hr_admin):
    response = client_for(hr_admin).patch(
        detail(org.employee), {"email": "Peer@Example.com", "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "email" in response.json()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("[1, 2, 3]", "application/json"),
        ('"just a string"', "application/json"),
        ("{not json", "application/json"),
        ("null", "application/json"),
        ('{"department": {"id": 1}, "hire_date": [2026], "manager": "", "email": 5}', None),
    ],
)
def test_it_never_answers_garbage_with_a_500(org, hr_admin, body, content_type):
    client = client_for(hr_admin)
    kind = content_type or "application/json"
    assert client.post(URL, body, content_type=kind).status_code == 400
    assert client.patch(detail(org.employee), body, content_type=kind).status_code == 400
    assert client.put(detail(org.employee), body, content_type=kind).status_code == 400


def test_it_answers_an_id_that_is_not_a_number_with_404(org, hr_admin):
    client = client_for(hr_admin)
    assert client.get(f"{URL}abc/").status_code == 404
    assert client.get(f"{URL}{10**30}/").status_code == 404
