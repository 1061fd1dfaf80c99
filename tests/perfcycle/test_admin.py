"""The Django admin for HR: who gets in, and that saves go through the services."""

import pytest
from django.urls import reverse

from perfcycle import access, services
from perfcycle.models import Cycle, Employee, RatingScale, User
from tests.conftest import fresh
from tests.factories import RatingScaleFactory


@pytest.fixture
def hr_staff(hr_admin):
    hr_admin.is_staff = True
    hr_admin.save()
    return hr_admin


def employee_form(employee, **changes):
    data = {
        "full_name": employee.user.full_name,
        "email": employee.user.email,
        "employee_number": employee.employee_number,
        "department": employee.department_id,
        "position": employee.position_id or "",
        "manager": employee.manager_id or "",
        "hire_date": employee.hire_date.isoformat(),
        "is_active": "on" if employee.is_active else "",
        "change_reason": "",
        "expected_version": employee.version,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def change_url(obj):
    return reverse(f"admin:perfcycle_{obj._meta.model_name}_change", args=[obj.pk])


def test_it_keeps_people_without_staff_status_out(client, hr_admin):
    client.force_login(hr_admin)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_shows_hr_the_configuration_models(client, hr_staff, org):
    client.force_login(hr_staff)
    html = client.get(reverse("admin:index")).content.decode()
    for name in ("department", "position", "employee", "cycle", "ratingscale", "user", "orgimport"):
        assert f"/admin/perfcycle/{name}/" in html, name
    for name in ("department", "position", "employee", "cycle", "ratingscale", "user"):
        url = reverse(f"admin:perfcycle_{name}_changelist")
        assert client.get(url).status_code == 200, name
    response = client.get(reverse("admin:perfcycle_employee_changelist"), {"q": "petra"})
    assert "Petra Peer" in response.content.decode()


def test_it_shows_a_staff_member_without_an_hr_role_nothing(client, employee, org):
    employee.is_staff = True
    employee.save()
    client.force_login(employee)
    html = client.get(reverse("admin:index")).content.decode()
    assert "/admin/perfcycle/" not in html
    assert client.get(reverse("admin:perfcycle_employee_changelist")).status_code == 403
    assert client.get(change_url(org.peer)).status_code == 403


def test_it_saves_an_employee_through_the_service_with_reason_and_history(client, hr_staff, org):
    client.force_login(hr_staff)
    data = employee_form(org.employee, manager=org.ceo.pk, change_reason="New reporting line")
    response = client.post(change_url(org.employee), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    employee = Employee.objects.get(pk=org.employee.pk)
    assert employee.manager == org.ceo
    assert employee.version == org.employee.version + 1
    latest = employee.history.first()
    assert latest.history_user == hr_staff
    assert latest.history_change_reason == "New reporting line"


def test_it_refuses_a_stale_edit_in_the_admin(client, hr_staff, org):
    client.force_login(hr_staff)
    stale = employee_form(org.employee, hire_date="2021-03-01")
    services.employee_update(
        actor=hr_staff,
        employee=org.employee,
        data={"hire_date": "2022-01-01"},
        expected_version=org.employee.version,
    )
    response = client.post(change_url(org.employee), stale)
    assert response.status_code == 200
    assert "Someone else changed this record" in response.content.decode()
    assert str(Employee.objects.get(pk=org.employee.pk).hire_date) == "2022-01-01"


def test_it_refuses_a_reporting_cycle_next_to_the_field(client, hr_staff, org):
    client.force_login(hr_staff)
    response = client.post(
        change_url(org.manager), employee_form(org.manager, manager=org.employee.pk)
    )
    assert response.status_code == 200
    assert "reporting cycle" in response.content.decode()
    assert Employee.objects.get(pk=org.manager.pk).manager == org.ceo


def test_it_adds_an_employee_with_their_account(client, hr_staff, org):
    client.force_login(hr_staff)
    data = {
        "full_name": "Nina New",
        "email": "Nina@Example.com",
        "employee_number": "E0100",
        "department": org.sales_east.pk,
        "position": org.position.pk,
        "manager": org.manager.pk,
        "hire_date": "2026-03-01",
        "is_active": "on",
        "change_reason": "",
        "expected_version": "",
    }
    response = client.post(reverse("admin:perfcycle_employee_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    nina = Employee.objects.select_related("user").get(employee_number="E0100")
    assert nina.user.email == "nina@example.com" and nina.manager == org.manager
    assert nina.history.first().history_user == hr_staff


def test_it_limits_a_partner_to_the_people_of_their_departments(client, hr_admin, org):
    partner = org.peer.user
    services.partner_grant(actor=hr_admin, user=partner, department=org.sales)
    partner.is_staff = True
    partner.save()
    client.force_login(fresh(partner))
    html = client.get(reverse("admin:perfcycle_employee_changelist")).content.decode()
    assert "Emil Employee" in html and "Mona Manager" in html
    assert "Olga Outsider" not in html
    assert client.get(change_url(org.employee)).status_code == 200
    assert client.get(change_url(org.outsider)).status_code != 200
    # Partners do not reshape the department tree.
    assert client.get(change_url(org.sales)).status_code == 200  # may look
    html = client.get(change_url(org.sales)).content.decode()
    assert 'name="_save"' not in html


def test_it_lets_hr_grant_the_partner_role_on_a_department(client, hr_staff, org):
    client.force_login(hr_staff)
    url = reverse(
        "admin:perfcycle_department_permissions_manage_user", args=[org.sales.pk, org.peer.user.pk]
    )
    page = client.get(url).content.decode()
    assert access.PARTNER_PERMISSION in page
    assert "change_department" not in page  # only the partner role is offered
    response = client.post(url, {"permissions": [access.PARTNER_PERMISSION]})
    assert response.status_code == 302
    assert access.roles(fresh(org.peer.user)).is_partner
    assert access.partnered_departments(org.peer.user).filter(pk=org.sales_east.pk).exists()


def test_it_saves_a_department_through_the_service(client, hr_staff, org):
    client.force_login(hr_staff)
    data = {
        "code": "SALES",
        "name": "Sales & Marketing",
        "parent": org.hq.pk,
        "head": org.manager.pk,
        "change_reason": "Renamed",
        "expected_version": org.sales.version,
    }
    assert client.post(change_url(org.sales), data).status_code == 302
    org.sales.refresh_from_db()
    assert org.sales.name == "Sales & Marketing" and org.sales.version == 2
    data.update(parent=org.sales_east.pk, expected_version=2)
    response = client.post(change_url(org.sales), data)
    assert response.status_code == 200 and "cannot sit under itself" in response.content.decode()


def test_it_creates_a_rating_scale_with_its_levels(client, hr_staff):
    client.force_login(hr_staff)
    data = {
        "name": "Three points",
        "description": "",
        "change_reason": "",
        "expected_version": "",
        "levels-TOTAL_FORMS": "3",
        "levels-INITIAL_FORMS": "0",
        "levels-MIN_NUM_FORMS": "2",
        "levels-MAX_NUM_FORMS": "1000",
    }
    for i, label in enumerate(["Low", "Solid", "High"]):
        data[f"levels-{i}-value"] = str(i + 1)
        data[f"levels-{i}-label"] = label
    response = client.post(reverse("admin:perfcycle_ratingscale_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    scale = RatingScale.objects.get(name="Three points")
    assert list(scale.levels.values_list("label", flat=True)) == ["Low", "Solid", "High"]


def cycle_form(scale, deadlines, **extra):
    data = {
        "name": "FY2027",
        "period_start": "2027-01-01",
        "period_end": "2027-12-31",
        "status": Cycle.Status.DRAFT,
        "rating_scale": scale.pk,
        "change_reason": "",
        "expected_version": "",
        "deadlines-TOTAL_FORMS": str(len(deadlines)),
        "deadlines-INITIAL_FORMS": "0",
        "deadlines-MIN_NUM_FORMS": "0",
        "deadlines-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for i, (phase, due) in enumerate(deadlines):
        data[f"deadlines-{i}-phase"] = phase
        data[f"deadlines-{i}-due_on"] = due
    return data


def test_it_creates_a_cycle_with_deadlines_in_phase_order(client, hr_staff):
    client.force_login(hr_staff)
    scale = RatingScaleFactory()
    backwards = cycle_form(scale, [("goal_setting", "2027-03-01"), ("self_review", "2027-02-01")])
    response = client.post(reverse("admin:perfcycle_cycle_add"), backwards)
    assert response.status_code == 200 and "Phases run in order" in response.content.decode()
    forwards = cycle_form(scale, [("goal_setting", "2027-02-01"), ("self_review", "2027-11-01")])
    response = client.post(reverse("admin:perfcycle_cycle_add"), forwards)
    assert response.status_code == 302
    cycle = Cycle.objects.get(name="FY2027")
    assert cycle.deadlines.count() == 2
    edit = cycle_form(scale, [], name="FY 2027", expected_version=cycle.version)
    edit.update(change_reason="Typo", status=None)
    edit = {k: v for k, v in edit.items() if v is not None}
    edit["deadlines-INITIAL_FORMS"] = "0"
    assert client.post(change_url(cycle), edit).status_code == 302
    cycle.refresh_from_db()
    assert cycle.name == "FY 2027" and cycle.version == 2
    assert cycle.history.first().history_change_reason == "Typo"
    # After creation the phase is not edited here: the cycle workflow moves it.
    assert 'name="status"' not in client.get(change_url(cycle)).content.decode()


def test_it_shows_imports_read_only(client, hr_staff):
    client.force_login(hr_staff)
    assert client.get(reverse("admin:perfcycle_orgimport_add")).status_code == 403


def test_it_keeps_superuser_powers_with_superusers(client, hr_staff, employee):
    client.force_login(hr_staff)
    html = client.get(change_url(employee)).content.decode()
    assert 'name="is_superuser"' not in html and 'name="groups"' in html
    data = {
        "email": "newbie@example.com",
        "full_name": "Newbie",
        "usable_password": "false",
        "password1": "",
        "password2": "",
    }
    response = client.post(reverse("admin:perfcycle_user_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not User.objects.get(email="newbie@example.com").has_usable_password()


def test_it_keeps_superuser_accounts_out_of_hr_reach(client, hr_staff, db):
    root = User.objects.create_superuser(email="root@example.com", password="x" * 16)
    client.force_login(hr_staff)
    data = {"email": "mine@example.com", "full_name": "Root", "is_active": "on"}
    client.post(change_url(root), data)
    root.refresh_from_db()
    assert root.email == "root@example.com"
    url = reverse("admin:auth_user_password_change", args=[root.pk])  # Django's fixed name
    response = client.post(url, {"password1": "y" * 16, "password2": "y" * 16})
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.check_password("x" * 16)
