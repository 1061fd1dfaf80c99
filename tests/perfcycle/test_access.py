"""The access policy, role by role, against every core object, including who must NOT see."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from perfcycle import access, services
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Cycle, Employee
from tests.conftest import fresh
from tests.factories import (
    CycleFactory,
    DepartmentFactory,
    EmployeeFactory,
    PositionFactory,
    RatingScaleFactory,
    UserFactory,
)


@pytest.fixture
def partner(org):
    """An HR business partner for Sales (and so Sales East), sitting in People."""
    person = EmployeeFactory(
        department=org.people,
        manager=org.hr,
        employee_number="E0008",
        user__full_name="Pia Partner",
        user__email="partner@example.com",
    )
    services.partner_grant(actor=org.hr.user, user=person.user, department=org.sales)
    return fresh(person.user)


def numbers(queryset):
    return set(queryset.values_list("employee_number", flat=True))


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
def test_it_scopes_employee_records_to_each_role(request, persona, expected):
    user = request.getfixturevalue(persona)
    assert numbers(access.employees_visible_to(user)) == expected


def test_it_lets_a_manager_see_the_whole_chain_below_not_only_direct_reports(org, executive):
    grandchild = EmployeeFactory(department=org.sales_east, manager=org.employee)
    great = EmployeeFactory(department=org.engineering, manager=grandchild)
    visible = access.employees_visible_to(org.manager.user)
    assert visible.filter(pk=great.pk).exists()
    # The CEO sees it as an executive; the employee in the middle sees it as its manager.
    assert access.can_view_employee(fresh(org.employee.user), great)


def test_it_lets_an_other_branch_manager_see_only_their_branch(org):
    user = org.other_manager.user
    assert numbers(access.employees_visible_to(user)) == {"E0005", "E0006"}
    assert not access.can_view_employee(user, org.employee)
    assert not access.can_view_employee(user, org.manager)


def test_it_refuses_a_peer_the_record_of_a_colleague(org, peer):
    assert not access.can_view_employee(peer, org.employee)
    assert access.can_view_employee(peer, org.peer)


def test_it_refuses_a_report_the_record_of_their_manager(org, employee):
    assert not access.can_view_employee(employee, org.manager)


def test_it_lets_a_department_head_see_the_department_without_reporting_lines(org):
    org.sales_east.head = org.peer
    org.sales_east.save()
    user = fresh(org.peer.user)
    assert access.roles(user).is_manager
    assert numbers(access.employees_visible_to(user)) == {"E0003", "E0004"}


def test_it_takes_access_away_from_a_former_manager_after_a_reorganisation(org, hr_admin):
    moved = services.employee_update(
        actor=hr_admin,
        employee=org.employee,
        data={"manager": org.other_manager, "department": org.engineering, "position": None},
        expected_version=org.employee.version,
        reason="Moved to Engineering",
    )
    assert not access.can_view_employee(fresh(org.manager.user), moved)
    assert access.can_view_employee(fresh(org.other_manager.user), moved)


def test_it_keeps_a_head_s_view_of_the_department_when_only_the_manager_changes(org, hr_admin):
    services.employee_update(
        actor=hr_admin,
        employee=org.employee,
        data={"manager": org.ceo},
        expected_version=org.employee.version,
    )
    # Mona no longer manages Emil, but still heads Sales, where Emil works.
    assert access.can_view_employee(fresh(org.manager.user), org.employee)


def test_it_ends_a_manager_s_view_when_their_last_report_leaves_their_line(org, hr_admin):
    for person in (org.outsider,):
        services.employee_update(
            actor=hr_admin,
            employee=person,
            data={"manager": org.ceo},
            expected_version=person.version,
        )
    org.engineering.head = None
    org.engineering.save()
    user = fresh(org.other_manager.user)
    assert not access.roles(user).is_manager
    assert numbers(access.employees_visible_to(user)) == {"E0005"}


def test_it_gives_a_partner_hr_rights_over_the_partnered_subtree_only(org, partner):
    assert numbers(access.employees_visible_to(partner)) == {"E0002", "E0003", "E0004", "E0008"}
    assert access.can_change_employee(partner, org.employee)
    assert not access.can_change_employee(partner, org.outsider)
    assert not access.can_view_employee(partner, org.outsider)
    assert access.can_manage_department_people(partner, org.sales_east)
    assert not access.can_manage_department_people(partner, org.engineering)
    assert access.can_change_position(partner, org.position)
    assert not access.can_change_position(partner, PositionFactory(department=org.engineering))


def test_it_gives_partner_rights_through_a_group_grant(org, hr_admin):
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    panel = Group.objects.create(name="Engineering partners")
    assign_perm("perfcycle.partner_department", panel, org.engineering)
    person = EmployeeFactory(department=org.people)
    person.user.groups.add(panel)
    user = fresh(person.user)
    assert access.can_view_employee(user, org.outsider)
    assert not access.can_view_employee(user, org.employee)


def test_it_withdraws_partner_rights_when_the_grant_is_revoked(org, partner, hr_admin):
    services.partner_revoke(actor=hr_admin, user=partner, department=org.sales)
    user = fresh(partner)
    assert not access.can_view_employee(user, org.employee)
    assert not access.can_change_employee(user, org.employee)


@pytest.mark.parametrize("persona", ["executive", "manager", "employee", "peer", "outsider"])
def test_it_refuses_changes_to_employees_outside_hr(request, org, persona):
    user = request.getfixturevalue(persona)
    assert not access.employees_changeable_by(user).exists()
    assert not access.can_change_employee(user, org.employee)


def test_it_lets_hr_change_anyone(org, hr_admin):
    assert access.employees_changeable_by(hr_admin).count() == len(ALL)


@pytest.mark.parametrize(
    ("persona", "may_change"),
    [
        ("hr_admin", True),
        ("executive", False),
        ("manager", False),
        ("employee", False),
        ("outsider", False),
        ("partner", False),
    ],
)
def test_it_shows_the_organisation_to_all_but_lets_only_hr_reshape_it(
    request, org, persona, may_change
):
    user = request.getfixturevalue(persona)
    scale = RatingScaleFactory()
    assert access.departments_visible_to(user).count() == 5
    assert access.positions_visible_to(user).count() == 1
    assert list(access.rating_scales_visible_to(user)) == [scale]
    assert access.can_change_department(user, org.sales) is may_change
    assert access.can_change_rating_scale(user) is may_change
    assert access.can_change_cycle(user) is may_change


def test_it_hides_draft_cycles_from_everyone_but_hr(org, hr_admin, executive, employee):
    scale = RatingScaleFactory()
    draft = CycleFactory(rating_scale=scale, status=Cycle.Status.DRAFT, name="Next year")
    running = CycleFactory(rating_scale=scale, status=Cycle.Status.IN_PROGRESS, name="This year")
    assert set(access.cycles_visible_to(hr_admin)) == {draft, running}
    assert set(access.cycles_visible_to(executive)) == {running}
    assert set(access.cycles_visible_to(employee)) == {running}


def test_it_shows_nothing_to_a_login_without_an_employee_record_or_role(org):
    stranger = UserFactory()
    assert not access.employees_visible_to(stranger).exists()
    assert not access.directory_visible_to(stranger).exists()
    assert not access.departments_visible_to(stranger).exists()
    assert not access.cycles_visible_to(stranger).exists()
    assert not access.positions_visible_to(stranger).exists()


def test_it_shows_nothing_to_a_deactivated_login(org):
    user = org.manager.user
    user.is_active = False
    user.save()
    user = fresh(user)
    assert not access.employees_visible_to(user).exists()
    assert not access.roles(user).is_manager


def test_it_lets_every_employee_use_the_directory_of_active_colleagues(org, employee, hr_admin):
    services.employee_update(
        actor=hr_admin,
        employee=org.outsider,
        data={"is_active": False},
        expected_version=org.outsider.version,
        reason="Left the company",
    )
    directory = numbers(access.directory_visible_to(employee))
    assert "E0006" not in directory
    assert "E0002" in directory
    # The directory is a card, not the record: the employee still may not open the manager.
    assert not access.can_view_employee(employee, org.manager)


def test_it_asks_the_database_once_for_a_subtree_whatever_its_depth(org):
    top = org.manager
    boss = top
    for _ in range(40):
        boss = EmployeeFactory(department=org.sales_east, manager=boss)
    with CaptureQueriesContext(connection) as ctx:
        below = list(access.reports_under(top).values_list("pk", flat=True))
    assert len(ctx.captured_queries) == 1
    assert boss.pk in below and len(below) == 42  # 40 new + employee + peer

    with CaptureQueriesContext(connection) as ctx:
        chain = ancestor_ids(Employee, "manager", boss.pk)
    assert len(ctx.captured_queries) == 1
    assert chain[-2:] == [top.pk, org.ceo.pk]
    assert len(chain) == 41


def test_it_decides_roles_in_a_fixed_number_of_queries(org, django_assert_max_num_queries):
    for _ in range(30):
        EmployeeFactory(department=org.sales_east, manager=org.manager)
    user = fresh(org.manager.user)
    with django_assert_max_num_queries(3):
        r = access.roles(user)
    assert r.is_manager and r.employee == org.manager
    with django_assert_max_num_queries(0):
        access.roles(user)


@pytest.mark.parametrize("size", [5, 60])
def test_it_scopes_a_manager_in_one_query_whatever_the_team_size(org, size):
    for i in range(size):
        dept = DepartmentFactory(parent=org.sales_east) if i % 10 == 0 else org.sales_east
        EmployeeFactory(department=dept, manager=org.employee if i % 2 else org.manager)
    user = fresh(org.manager.user)
    access.roles(user)
    with CaptureQueriesContext(connection) as ctx:
        reach = access.reach(user)
    assert len(ctx.captured_queries) == 2  # the reach (a head's people: one more), once
    assert len(reach.below) == size + 2
    with CaptureQueriesContext(connection) as ctx:
        count = len(list(access.employees_visible_to(user)))
        access.appraisals_visible_to(user).count()
    assert len(ctx.captured_queries) == 2
    assert count == size + 3


def test_a_long_reach_is_queried_as_the_tree_itself(org, monkeypatch):
    """Past ``INLINE_IDS`` the reach goes to the database as the tree query, with the
    same answer."""
    for _ in range(6):
        EmployeeFactory(department=org.sales_east, manager=org.employee)
    user = fresh(org.manager.user)
    inline = set(access.employees_visible_to(user))
    monkeypatch.setattr(access, "INLINE_IDS", 2)
    user = fresh(org.manager.user)
    with CaptureQueriesContext(connection) as ctx:
        as_tree = set(access.employees_visible_to(user))
    assert as_tree == inline and len(inline) == 9
    assert "RECURSIVE" in ctx.captured_queries[-1]["sql"]


def test_it_lets_people_be_placed_only_where_the_user_has_hr_rights(org, hr_admin, partner):
    assert access.departments_staffable_by(hr_admin).count() == 5
    assert set(access.departments_staffable_by(partner)) == {org.sales, org.sales_east}
    assert not access.departments_staffable_by(fresh(org.manager.user)).exists()


def test_it_keeps_accounts_with_hr_and_superusers_out_of_hr_s_reach(org, hr_admin, manager):
    boss = UserFactory(is_superuser=True)
    assert access.can_manage_account(hr_admin, org.employee.user)
    assert not access.can_manage_account(hr_admin, boss)
    assert access.can_manage_account(boss, boss)
    assert not access.can_manage_account(manager, org.employee.user)
    assert not access.can_grant_superuser(hr_admin) and access.can_grant_superuser(boss)
    assert not access.can_delete_records(hr_admin) and access.can_delete_records(boss)


def test_it_lists_direct_reports_only(org):
    assert set(access.direct_reports(org.ceo)) == {org.manager, org.other_manager, org.hr}
