"""Core write services: validation, optimistic concurrency, and the audit trail."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from perfcycle import services
from perfcycle.models import Cycle, Department, Employee, User
from tests.conftest import fresh
from tests.factories import EmployeeFactory, PositionFactory, RatingScaleFactory

D = datetime.date


def test_it_records_who_changed_an_employee_and_why(org, hr_admin):
    services.employee_update(
        actor=hr_admin,
        employee=org.employee,
        data={"manager": org.ceo},
        expected_version=org.employee.version,
        reason="Promoted to the CEO's staff",
    )
    latest = org.employee.history.latest()
    assert latest.history_user == hr_admin
    assert latest.history_change_reason == "Promoted to the CEO's staff"
    assert latest.manager_id == org.ceo.pk
    assert latest.prev_record.manager_id == org.manager.pk


def test_it_refuses_a_stale_edit_instead_of_overwriting(org, hr_admin):
    started_with = org.employee.version
    services.employee_update(
        actor=hr_admin,
        employee=org.employee,
        data={"hire_date": D(2019, 5, 1)},
        expected_version=started_with,
    )
    with pytest.raises(services.StaleEdit):
        services.employee_update(
            actor=hr_admin,
            employee=org.employee,
            data={"hire_date": D(2018, 1, 1)},
            expected_version=started_with,
        )
    org.employee.refresh_from_db()
    assert org.employee.hire_date == D(2019, 5, 1)
    assert org.employee.version == started_with + 1


def test_it_writes_nothing_when_nothing_changed(org, hr_admin):
    before = org.employee.history.count()
    services.employee_update(
        actor=hr_admin,
        employee=org.employee,
        data={"manager": org.manager},
        expected_version=org.employee.version,
    )
    assert org.employee.history.count() == before


@pytest.mark.parametrize("new_manager", ["employee", "peer_report"])
def test_it_refuses_a_reporting_cycle(org, hr_admin, new_manager):
    if new_manager == "peer_report":
        services.employee_update(
            actor=hr_admin,
            employee=org.peer,
            data={"manager": org.employee},
            expected_version=org.peer.version,
        )
        target = Employee.objects.get(pk=org.peer.pk)
    else:
        target = org.employee
    with pytest.raises(ValidationError) as error:
        services.employee_update(
            actor=hr_admin,
            employee=org.manager,
            data={"manager": target},
            expected_version=org.manager.version,
        )
    assert "manager" in error.value.message_dict
    org.manager.refresh_from_db()
    assert org.manager.manager == org.ceo


def test_it_refuses_a_person_as_their_own_manager(org, hr_admin):
    with pytest.raises(ValidationError, match="own manager"):
        services.employee_update(
            actor=hr_admin,
            employee=org.employee,
            data={"manager": org.employee},
            expected_version=org.employee.version,
        )


def test_it_refuses_a_department_under_its_own_subtree(org, hr_admin):
    with pytest.raises(ValidationError) as error:
        services.department_update(
            actor=hr_admin,
            department=org.sales,
            data={"parent": org.sales_east},
            expected_version=org.sales.version,
        )
    assert "parent" in error.value.message_dict
    assert Department.objects.get(pk=org.sales.pk).parent == org.hq


def test_it_refuses_a_position_from_another_department(org, hr_admin):
    foreign = PositionFactory(department=org.engineering)
    with pytest.raises(ValidationError) as error:
        services.employee_update(
            actor=hr_admin,
            employee=org.employee,
            data={"position": foreign},
            expected_version=org.employee.version,
        )
    assert "position" in error.value.message_dict


def test_it_creates_an_employee_with_a_login_that_must_set_its_password(org, hr_admin):
    person = services.employee_create(
        actor=hr_admin,
        email="  New.Person@Example.com ",
        full_name="New Person",
        employee_number="E0100",
        department=org.sales_east,
        hire_date=D(2026, 3, 1),
        position=org.position,
        manager=org.manager,
    )
    assert person.user.email == "new.person@example.com"
    assert not person.user.has_usable_password()
    assert person.history.latest().history_user == hr_admin


def test_it_refuses_an_e_mail_already_in_use_whatever_its_case(org, hr_admin):
    with pytest.raises(ValidationError) as error:
        services.employee_create(
            actor=hr_admin,
            email="EMPLOYEE@example.com",
            full_name="Twin",
            employee_number="E0101",
            department=org.sales_east,
            hire_date=D(2026, 3, 1),
        )
    assert "email" in error.value.message_dict
    assert not Employee.objects.filter(employee_number="E0101").exists()
    assert User.objects.filter(email__iexact="employee@example.com").count() == 1


@pytest.mark.parametrize("persona", ["manager", "employee", "executive"])
def test_it_refuses_org_changes_from_anyone_but_hr(request, org, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.employee_update(
            actor=user,
            employee=org.employee,
            data={"hire_date": D(2000, 1, 1)},
            expected_version=org.employee.version,
        )
    with pytest.raises(PermissionDenied):
        services.department_create(actor=user, code="NEW", name="New")
    with pytest.raises(PermissionDenied):
        services.cycle_create(
            actor=user,
            name="X",
            period_start=D(2027, 1, 1),
            period_end=D(2027, 12, 31),
            rating_scale=RatingScaleFactory(),
        )


def test_it_creates_a_cycle_with_ordered_deadlines(hr_admin):
    cycle = services.cycle_create(
        actor=hr_admin,
        name="FY2027",
        period_start=D(2027, 1, 1),
        period_end=D(2027, 12, 31),
        rating_scale=RatingScaleFactory(),
        deadlines={"goal_setting": D(2027, 2, 1), "self_review": D(2028, 1, 10)},
    )
    assert cycle.status == Cycle.Status.DRAFT
    assert {d.phase: d.due_on for d in cycle.deadlines.all()} == {
        "goal_setting": D(2027, 2, 1),
        "self_review": D(2028, 1, 10),
    }


@pytest.mark.parametrize(
    ("start", "end", "deadlines", "field"),
    [
        (D(2027, 1, 1), D(2026, 12, 31), {}, "period_end"),
        (
            D(2027, 1, 1),
            D(2027, 12, 31),
            {"self_review": D(2027, 3, 1), "goal_setting": D(2027, 4, 1)},
            "deadlines",
        ),
        (D(2027, 1, 1), D(2027, 12, 31), {"goal_setting": D(2026, 12, 1)}, "deadlines"),
        (D(2027, 1, 1), D(2027, 12, 31), {"draft": D(2027, 2, 1)}, "deadlines"),
    ],
)
def test_it_refuses_a_cycle_with_bad_dates(hr_admin, start, end, deadlines, field):
    with pytest.raises(ValidationError) as error:
        services.cycle_create(
            actor=hr_admin,
            name="Bad",
            period_start=start,
            period_end=end,
            rating_scale=RatingScaleFactory(),
            deadlines=deadlines,
        )
    assert field in error.value.message_dict
    assert not Cycle.objects.filter(name="Bad").exists()


@pytest.mark.parametrize(
    "levels",
    [
        [{"value": 1, "label": "Only"}],
        [{"value": 1, "label": "Low"}, {"value": 1, "label": "High"}],
        [{"value": 1, "label": "Same"}, {"value": 2, "label": "same"}],
    ],
)
def test_it_refuses_a_rating_scale_that_cannot_rate(hr_admin, levels):
    with pytest.raises(ValidationError) as error:
        services.rating_scale_create(actor=hr_admin, name="Broken", levels=levels)
    assert "levels" in error.value.message_dict


def test_it_creates_a_scale_that_is_not_one_to_five(hr_admin):
    scale = services.rating_scale_create(
        actor=hr_admin,
        name="Four point",
        levels=[{"value": v, "label": f"Level {v}"} for v in range(1, 5)],
    )
    assert list(scale.levels.values_list("value", flat=True)) == [1, 2, 3, 4]


def test_it_refuses_an_unknown_language(employee):
    with pytest.raises(ValidationError):
        services.user_set_language(user=employee, language="xx")
    services.user_set_language(user=employee, language="zh-hans")
    employee.refresh_from_db()
    assert employee.language == "zh-hans"


def test_it_closes_a_leaver_s_login_and_reopens_it_when_they_return(org, hr_admin):
    left = services.employee_update(
        actor=hr_admin,
        employee=org.peer,
        data={"is_active": False},
        expected_version=org.peer.version,
        reason="Resigned",
    )
    left.user.refresh_from_db()
    assert not left.user.is_active
    back = services.employee_update(
        actor=hr_admin,
        employee=left,
        data={"is_active": True},
        expected_version=left.version,
        reason="Rehired",
    )
    back.user.refresh_from_db()
    assert back.user.is_active
    assert [h.history_change_reason for h in back.history.all()[:2]] == ["Rehired", "Resigned"]


@pytest.fixture
def cycle(hr_admin):
    return services.cycle_create(
        actor=hr_admin,
        name="FY2027",
        period_start=D(2027, 1, 1),
        period_end=D(2027, 12, 31),
        rating_scale=RatingScaleFactory(),
        deadlines={"goal_setting": D(2027, 2, 1), "self_review": D(2028, 1, 10)},
    )


def test_it_moves_a_cycle_s_version_on_when_only_a_deadline_changes(hr_admin, cycle):
    updated = services.cycle_update(
        actor=hr_admin,
        cycle=cycle,
        data={},
        expected_version=cycle.version,
        deadlines={"goal_setting": D(2027, 2, 15)},
    )
    assert updated.version == cycle.version + 1
    with pytest.raises(services.StaleEdit):
        services.cycle_update(
            actor=hr_admin,
            cycle=cycle,
            data={},
            expected_version=cycle.version,
            deadlines={"goal_setting": D(2027, 3, 1)},
        )
    assert cycle.deadlines.get(phase="goal_setting").due_on == D(2027, 2, 15)


def test_it_checks_a_new_deadline_against_the_ones_that_stay(hr_admin, cycle):
    with pytest.raises(ValidationError) as error:
        services.cycle_update(
            actor=hr_admin,
            cycle=cycle,
            data={},
            expected_version=cycle.version,
            deadlines={"in_progress": D(2028, 6, 1)},
        )
    assert "deadlines" in error.value.message_dict
    assert not cycle.deadlines.filter(phase="in_progress").exists()


def test_it_clears_a_deadline(hr_admin, cycle):
    services.cycle_update(
        actor=hr_admin,
        cycle=cycle,
        data={},
        expected_version=cycle.version,
        deadlines={"self_review": None},
    )
    assert list(cycle.deadlines.values_list("phase", flat=True)) == ["goal_setting"]


def test_it_refuses_a_partner_moving_someone_out_of_their_departments(org, hr_admin):
    partner = EmployeeFactory(department=org.people).user
    services.partner_grant(actor=hr_admin, user=partner, department=org.sales)
    partner = fresh(partner)
    # As a model form would hand it over: the instance already carries the new department.
    org.employee.department = org.engineering
    with pytest.raises(PermissionDenied):
        services.employee_update(
            actor=partner,
            employee=org.employee,
            data={"department": org.engineering, "position": None},
            expected_version=org.employee.version,
        )
    assert Employee.objects.get(pk=org.employee.pk).department == org.sales_east


def test_it_gives_hr_roles_the_admin(org, hr_admin):
    person = EmployeeFactory(department=org.people).user
    services.role_grant(actor=hr_admin, user=person, group_name="hr_admin")
    other = EmployeeFactory(department=org.people).user
    services.partner_grant(actor=hr_admin, user=other, department=org.sales)
    person.refresh_from_db()
    other.refresh_from_db()
    assert person.is_staff and other.is_staff


def test_it_refuses_moving_the_period_past_deadlines_that_stay(hr_admin, cycle):
    with pytest.raises(ValidationError) as error:
        services.cycle_update(
            actor=hr_admin,
            cycle=cycle,
            data={"period_start": D(2027, 6, 1)},
            expected_version=cycle.version,
        )
    assert "deadlines" in error.value.message_dict
    cycle.refresh_from_db()
    assert cycle.period_start == D(2027, 1, 1)


def test_it_renames_a_scale_and_refuses_a_stale_rename(hr_admin):
    scale = services.rating_scale_create(
        actor=hr_admin, name="Five", levels=[{"value": v, "label": f"L{v}"} for v in (1, 2, 3)]
    )
    renamed = services.rating_scale_update(
        actor=hr_admin,
        scale=scale,
        data={"name": "Three"},
        expected_version=scale.version,
        reason="Fix the name",
    )
    assert renamed.version == scale.version + 1
    assert renamed.history.latest().history_change_reason == "Fix the name"
    with pytest.raises(services.StaleEdit):
        services.rating_scale_update(
            actor=hr_admin, scale=scale, data={"name": "Other"}, expected_version=scale.version
        )


def test_it_refuses_a_scale_rename_from_anyone_but_hr(hr_admin, manager):
    scale = services.rating_scale_create(
        actor=hr_admin, name="Five", levels=[{"value": v, "label": f"L{v}"} for v in (1, 2)]
    )
    with pytest.raises(PermissionDenied):
        services.rating_scale_update(
            actor=manager, scale=scale, data={"name": "X"}, expected_version=scale.version
        )


@pytest.mark.parametrize("phase", ["goal_setting", "self_review", "feedback"])
def test_a_running_cycle_keeps_its_rating_scale(hr_admin, cycle, phase):
    Cycle.objects.filter(pk=cycle.pk).update(status=phase)
    original = cycle.rating_scale_id
    with pytest.raises(ValidationError) as refused:
        services.cycle_update(
            actor=hr_admin,
            cycle=cycle,
            data={"rating_scale": RatingScaleFactory()},
            expected_version=None,
        )
    assert "rating_scale" in refused.value.message_dict
    assert Cycle.objects.get(pk=cycle.pk).rating_scale_id == original


def test_a_draft_cycle_may_change_its_rating_scale(hr_admin, cycle):
    other = RatingScaleFactory()
    updated = services.cycle_update(
        actor=hr_admin, cycle=cycle, data={"rating_scale": other}, expected_version=None
    )
    assert updated.rating_scale == other
