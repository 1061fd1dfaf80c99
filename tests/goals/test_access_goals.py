"""Who sees and changes which goals: every persona against the demo cascade."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from goals import services
from goals.models import Goal
from perfcycle import access
from perfcycle.models import Cycle
from perfcycle.services import partner_grant
from tests.conftest import fresh
from tests.factories import PositionFactory, UserFactory
from tests.goals.conftest import goal_data

L = Goal.Level


@pytest.fixture
def engineering_goal(org, cascade, cycle, hr_admin):
    return services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=L.DEPARTMENT,
        owner=org.engineering,
        parent=cascade.grow,
        data=goal_data("Ship the platform"),
    )


def visible(user):
    return set(access.goals_visible_to(fresh(user)).values_list("title", "employee"))


def test_an_employee_sees_what_they_are_aligned_to_and_nothing_personal_of_others(
    org, cascade, engineering_goal, employee
):
    seen = set(access.goals_visible_to(fresh(employee)))
    assert {cascade.grow, cascade.delight, cascade.sales, cascade.bookings} <= seen
    assert cascade.employee_copy in seen
    assert cascade.peer_copy not in seen
    assert engineering_goal not in seen  # another branch's department goal


def test_a_manager_sees_the_whole_subtree(org, cascade, engineering_goal, manager):
    seen = set(access.goals_visible_to(fresh(manager)))
    assert {cascade.employee_copy, cascade.peer_copy, cascade.sales} <= seen
    assert engineering_goal not in seen


def test_hr_and_executives_see_everything(org, cascade, engineering_goal, hr_admin, executive):
    for user in (hr_admin, executive):
        assert access.goals_visible_to(fresh(user)).count() == Goal.objects.count()


def test_the_outsider_sees_company_objectives_and_their_own_branch_only(
    org, cascade, engineering_goal, outsider
):
    seen = set(access.goals_visible_to(fresh(outsider)))
    assert seen == {cascade.grow, cascade.delight, engineering_goal}


def test_a_login_without_an_employee_record_sees_nothing(cascade):
    assert not access.goals_visible_to(UserFactory()).exists()


def test_draft_cycles_are_hidden_from_everyone_but_hr(cascade, cycle, employee, hr_admin):
    Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.DRAFT)
    assert not access.goals_visible_to(fresh(employee)).exists()
    assert access.goals_visible_to(fresh(hr_admin)).exists()


def test_a_former_manager_loses_sight_after_a_reorganisation(org, cascade, manager):
    org.employee.manager = org.other_manager
    org.employee.department = org.engineering
    org.employee.save()
    org.sales.head = None
    org.sales.save()
    assert cascade.employee_copy not in set(access.goals_visible_to(fresh(manager)))


def test_owners_edit_their_own_goal_only_while_it_is_a_draft_or_proposal(
    org, cascade, cycle, employee, manager
):
    proposal = services.goal_create(
        actor=employee,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Extra", 0),
    )
    assert access.can_change_goal(fresh(employee), proposal)
    assert not access.can_decide_goal(fresh(employee), proposal)
    assert not access.can_change_goal(fresh(employee), cascade.employee_copy)
    assert access.can_decide_goal(fresh(manager), proposal)


def test_a_manager_never_approves_their_own_goal(org, cascade, cycle, manager, executive):
    lead = PositionFactory(title="Sales lead", department=org.sales)
    lead_kpi = services.goal_create(
        actor=executive,
        cycle=cycle,
        level=L.POSITION,
        owner=lead,
        parent=cascade.sales,
        data=goal_data("Team bookings"),
    )
    own = services.goal_create(
        actor=manager,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.manager,
        parent=lead_kpi,
        data=goal_data("Coach the team", 0),
    )
    assert own.status == Goal.Status.PROPOSED
    assert not access.can_decide_goal(fresh(manager), own)
    # The CEO (the executive persona) is above the manager in the reporting line.
    assert access.can_decide_goal(fresh(executive), own)


def test_executives_set_company_objectives_but_not_department_goals(org, executive):
    user = fresh(executive)
    assert access.can_create_goal(user, level=L.COMPANY)
    # The CEO heads HQ, so the whole organisation is theirs as a department head.
    assert access.can_create_goal(user, level=L.DEPARTMENT, owner=org.sales)


def test_a_department_head_creates_goals_in_their_subtree_only(org, manager):
    user = fresh(manager)
    assert access.can_create_goal(user, level=L.DEPARTMENT, owner=org.sales_east)
    assert access.can_create_goal(user, level=L.POSITION, owner=org.position)
    assert not access.can_create_goal(user, level=L.DEPARTMENT, owner=org.engineering)
    assert not access.can_create_goal(user, level=L.COMPANY)


def test_an_employee_proposes_for_themselves_only(org, employee):
    user = fresh(employee)
    assert access.can_create_goal(user, level=L.PERSONAL, owner=org.employee)
    assert not access.can_create_goal(user, level=L.PERSONAL, owner=org.peer)
    assert not access.can_create_goal(user, level=L.DEPARTMENT, owner=org.sales_east)


def test_an_hr_partner_manages_goals_in_their_departments(org, cascade, engineering_goal, hr_admin):
    partner = UserFactory()
    partner_grant(actor=hr_admin, user=partner, department=org.sales)
    partner = fresh(partner)
    assert access.can_change_goal(partner, cascade.peer_copy)
    assert access.can_reopen_goal(partner, cascade.peer_copy)
    assert not access.can_change_goal(partner, engineering_goal)
    assert not access.can_reopen_goal(partner, cascade.grow)
    assert cascade.peer_copy in set(access.goals_visible_to(partner))
    assert engineering_goal not in set(access.goals_visible_to(partner))


def test_a_group_grant_works_like_a_user_grant(org, cascade, hr_admin):
    from guardian.shortcuts import assign_perm

    group = Group.objects.create(name="Sales partners")
    assign_perm(access.PARTNER_PERMISSION, group, org.sales)
    partner = UserFactory()
    partner.groups.add(group)
    assert access.can_change_goal(fresh(partner), cascade.employee_copy)


def test_only_hr_reopens_and_closes(org, cascade, cycle, manager, hr_admin):
    assert access.can_reopen_goal(fresh(hr_admin), cascade.sales)
    assert not access.can_reopen_goal(fresh(manager), cascade.employee_copy)
    assert access.can_close_goal_setting(fresh(hr_admin), cycle)
    assert not access.can_close_goal_setting(fresh(manager), cycle)


def test_team_members_are_the_subtree_without_the_manager(org, manager, employee):
    team = set(access.team_members(fresh(manager)))
    assert team == {org.employee, org.peer}
    assert not access.team_members(fresh(employee)).exists()


def test_visibility_is_a_fixed_number_of_queries(
    org, cascade, employee, django_assert_max_num_queries
):
    user = fresh(employee)
    access.roles(user)
    with django_assert_max_num_queries(2):
        seen = list(access.goals_visible_to(user))
    assert cascade.employee_copy in seen and cascade.peer_copy not in seen


def test_a_check_in_is_taken_back_by_its_author_or_hr(cascade, employee, manager, hr_admin):
    checkin = services.checkin_record(
        actor=employee, goal=cascade.employee_copy, actual=Decimal(90), confidence="on_track"
    )
    assert access.can_delete_checkin(fresh(employee), checkin)
    assert access.can_delete_checkin(fresh(hr_admin), checkin)
    assert not access.can_delete_checkin(fresh(manager), checkin)


def test_only_an_employees_own_goal_is_a_proposal(org, employee, manager, hr_admin):
    assert access.proposes_own_goal(fresh(employee), level=L.PERSONAL, owner=org.employee)
    assert not access.proposes_own_goal(fresh(manager), level=L.PERSONAL, owner=org.employee)
    assert not access.proposes_own_goal(fresh(hr_admin), level=L.PERSONAL, owner=org.hr)


def test_after_goal_setting_goals_are_added_by_hr_or_the_departments_partner(
    org, manager, hr_admin
):
    partner = UserFactory()
    partner_grant(actor=hr_admin, user=partner, department=org.sales)
    partner = fresh(partner)
    assert access.can_add_goal_late(fresh(hr_admin), level=L.PERSONAL, owner=org.outsider)
    assert access.can_add_goal_late(partner, level=L.PERSONAL, owner=org.employee)
    assert not access.can_add_goal_late(partner, level=L.PERSONAL, owner=org.outsider)
    assert not access.can_add_goal_late(fresh(manager), level=L.PERSONAL, owner=org.employee)


def test_bulk_check_ins_refuse_a_goal_out_of_reach_and_write_nothing(cascade, employee):
    from django.core.exceptions import PermissionDenied

    from goals.models import CheckIn

    with pytest.raises(PermissionDenied):
        services.checkins_record_bulk(
            actor=fresh(employee),
            entries=[
                {"goal": cascade.employee_copy, "actual": Decimal(90), "confidence": "on_track"},
                {"goal": cascade.peer_copy, "actual": Decimal(90), "confidence": "on_track"},
            ],
        )
    assert not CheckIn.objects.exists()
