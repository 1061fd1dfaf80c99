"""The Django admin for HR: who gets in, and that saves go through the services."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from perfcycle import access, services
from perfcycle.models import Cycle, Employee, OrgImport, RatingScale, User
from tests.conftest import fresh
from tests.factories import (
    CycleDeadlineFactory,
    CycleFactory,
    DepartmentFactory,
    EmployeeFactory,
    PositionFactory,
    RatingScaleFactory,
    UserFactory,
)


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


def test_it_lets_hr_with_staff_status_into_the_admin(client, hr_staff):
    client.force_login(hr_staff)
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize("persona", ["employee", "manager"])
def test_it_keeps_staff_without_an_hr_role_out(client, org, persona):
    user = getattr(org, persona).user
    user.is_staff = True
    user.save()
    client.force_login(user)
    for url in (
        reverse("admin:index"),
        reverse("admin:perfcycle_employee_changelist"),
        change_url(org.peer),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    page = client.get(response["Location"]).content.decode()
    assert "not authorized to access this page" in page


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


# --- choices follow the access policy ------------------------------------------------


@pytest.fixture
def partner(hr_admin, org):
    """Petra partners Sales (and Sales East); she has staff status for the admin."""
    user = org.peer.user
    services.partner_grant(actor=hr_admin, user=user, department=org.sales)
    user.is_staff = True
    user.save()
    return fresh(user)


def form_errors(response, field):
    return response.context["adminform"].form.errors.get(field, [])


def test_it_offers_a_partner_only_what_they_may_assign(client, partner, org):
    client.force_login(partner)
    engineering_role = PositionFactory(title="Engineer", department=org.engineering)
    org.outsider.is_active = False
    org.outsider.save()
    for field, value in (
        ("department", org.engineering.pk),
        ("position", engineering_role.pk),
        ("manager", org.outsider.pk),  # neither in the directory nor visible to her
    ):
        response = client.post(
            change_url(org.employee), employee_form(org.employee, **{field: value})
        )
        assert response.status_code == 200, field
        assert "Select a valid choice" in " ".join(form_errors(response, field)), field
    assert Employee.objects.get(pk=org.employee.pk).version == org.employee.version
    form = client.get(change_url(org.employee)).context["adminform"].form
    assert set(form.fields["department"].queryset) == {org.sales, org.sales_east}
    assert set(form.fields["position"].queryset) == {org.position}


def test_it_lets_the_autocomplete_offer_only_assignable_records(client, partner, org):
    client.force_login(partner)
    url = reverse("admin:autocomplete")
    params = {"app_label": "perfcycle", "model_name": "employee", "field_name": "department"}
    found = {r["text"] for r in client.get(url, {**params, "term": ""}).json()["results"]}
    assert found == {str(org.sales), str(org.sales_east)}


def test_it_offers_hr_every_department(client, hr_staff, org):
    client.force_login(hr_staff)
    form = client.get(change_url(org.employee)).context["adminform"].form
    assert form.fields["department"].queryset.count() == 5


@pytest.mark.parametrize(
    "field, value",
    [
        ("manager", "abc"),
        ("department", "abc"),
        ("position", "1.5"),
        ("manager", "99999999999999999999999"),
        ("department", str(2**63)),
    ],
)
def test_it_answers_an_invalid_id_with_a_field_error(client, hr_staff, org, field, value):
    client.force_login(hr_staff)
    response = client.post(change_url(org.employee), employee_form(org.employee, **{field: value}))
    assert response.status_code == 200
    assert form_errors(response, field)
    assert Employee.objects.get(pk=org.employee.pk).version == org.employee.version


# --- changelists: the same number of queries however many rows -----------------------


def _grow(model_name, size, org):
    scale = RatingScaleFactory()
    for i in range(size):
        if model_name == "employee":
            boss = EmployeeFactory(department=org.sales_east, position=org.position)
            EmployeeFactory(department=org.sales, manager=boss, position=org.position)
        elif model_name == "department":
            DepartmentFactory(parent=org.sales, head=EmployeeFactory(department=org.sales))
        elif model_name == "position":
            PositionFactory(department=DepartmentFactory(parent=org.hq))
        elif model_name == "cycle":
            CycleFactory(rating_scale=RatingScaleFactory())
        elif model_name == "ratingscale":
            RatingScaleFactory()
        elif model_name == "orgimport":
            OrgImport.objects.create(
                filename=f"org{i}.csv", status=OrgImport.Status.APPLIED, actor=UserFactory()
            )
        elif model_name == "user":
            UserFactory()
    return scale


@pytest.mark.parametrize(
    "model_name",
    ["employee", "department", "position", "cycle", "ratingscale", "orgimport", "user"],
)
def test_it_lists_with_the_same_queries_at_any_size(
    client, hr_staff, org, model_name, django_assert_num_queries
):
    client.force_login(hr_staff)
    url = reverse(f"admin:perfcycle_{model_name}_changelist")
    _grow(model_name, 2, org)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    _grow(model_name, 12, org)
    with django_assert_num_queries(len(small)):
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 12


# --- cycles and rating scales go through the services -------------------------------


def cycle_edit(cycle, deadlines=(), **changes):
    data = {
        "name": cycle.name,
        "period_start": cycle.period_start.isoformat(),
        "period_end": cycle.period_end.isoformat(),
        "rating_scale": cycle.rating_scale_id,
        "change_reason": "",
        "expected_version": cycle.version,
        "deadlines-TOTAL_FORMS": str(len(deadlines)),
        "deadlines-INITIAL_FORMS": str(sum(1 for d in deadlines if d[0])),
        "deadlines-MIN_NUM_FORMS": "0",
        "deadlines-MAX_NUM_FORMS": "1000",
    }
    for i, (pk, phase, due) in enumerate(deadlines):
        data[f"deadlines-{i}-id"] = pk or ""
        data[f"deadlines-{i}-cycle"] = cycle.pk
        data[f"deadlines-{i}-phase"] = phase
        data[f"deadlines-{i}-due_on"] = due
    data.update(changes)
    return data


def test_it_refuses_to_edit_a_closed_cycle(client, hr_staff):
    cycle = CycleFactory(status=Cycle.Status.CLOSED)
    client.force_login(hr_staff)
    response = client.post(change_url(cycle), cycle_edit(cycle, name="Renamed"))
    assert response.status_code == 200
    assert "A closed cycle cannot be changed." in response.content.decode()
    cycle.refresh_from_db()
    assert cycle.name != "Renamed" and cycle.version == 1


def test_it_checks_edited_deadlines_with_the_service(client, hr_staff):
    cycle = CycleFactory(period_start=datetime.date(2026, 1, 1))
    kept = CycleDeadlineFactory(cycle=cycle, phase="goal_setting", due_on=datetime.date(2026, 2, 1))
    client.force_login(hr_staff)
    backwards = cycle_edit(
        cycle, [(kept.pk, "goal_setting", "2026-02-01"), (None, "self_review", "2026-01-15")]
    )
    response = client.post(change_url(cycle), backwards)
    assert response.status_code == 200 and "Phases run in order" in response.content.decode()
    early = cycle_edit(cycle, [(kept.pk, "goal_setting", "2025-12-01")])
    response = client.post(change_url(cycle), early)
    assert response.status_code == 200
    assert "deadline falls before the period starts" in response.content.decode()
    shorter = cycle_edit(cycle, [(kept.pk, "goal_setting", "2026-02-01")], period_end="2025-06-01")
    response = client.post(change_url(cycle), shorter)
    assert response.status_code == 200
    assert "The period must end after it starts." in " ".join(form_errors(response, "period_end"))
    assert cycle.deadlines.get().due_on == datetime.date(2026, 2, 1)
    moved = cycle_edit(
        cycle, [(kept.pk, "goal_setting", "2026-02-10"), (None, "self_review", "2026-10-01")]
    )
    assert client.post(change_url(cycle), moved).status_code == 302
    cycle.refresh_from_db()
    assert cycle.version == 2
    assert dict(cycle.deadlines.values_list("phase", "due_on")) == {
        "goal_setting": datetime.date(2026, 2, 10),
        "self_review": datetime.date(2026, 10, 1),
    }


def test_it_refuses_a_stale_cycle_edit(client, hr_staff):
    cycle = CycleFactory()
    client.force_login(hr_staff)
    stale = cycle_edit(cycle, name="Mine")
    services.cycle_update(
        actor=hr_staff, cycle=cycle, data={"name": "Theirs"}, expected_version=cycle.version
    )
    response = client.post(change_url(cycle), stale)
    assert response.status_code == 200
    assert "Someone else changed this record" in response.content.decode()
    cycle.refresh_from_db()
    assert cycle.name == "Theirs"


def test_it_fixes_a_rating_scales_levels_once_created(client, hr_staff):
    scale = RatingScaleFactory(levels=["Low", "High"])
    client.force_login(hr_staff)
    html = client.get(change_url(scale)).content.decode()
    assert "The levels are fixed once the scale exists" in html
    assert 'name="levels-0-label"' not in html
    data = {
        "name": "Renamed scale",
        "description": "",
        "change_reason": "",
        "expected_version": scale.version,
        "levels-TOTAL_FORMS": "2",
        "levels-INITIAL_FORMS": "2",
        "levels-MIN_NUM_FORMS": "2",
        "levels-MAX_NUM_FORMS": "1000",
    }
    for i, level in enumerate(scale.levels.all()):
        data.update({f"levels-{i}-id": level.pk, f"levels-{i}-label": "Changed"})
    assert client.post(change_url(scale), data).status_code == 302
    scale.refresh_from_db()
    assert scale.name == "Renamed scale" and scale.version == 2
    assert list(scale.levels.values_list("label", flat=True)) == ["Low", "High"]
