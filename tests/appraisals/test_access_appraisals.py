"""Who sees which appraisal, and what of it (``perfcycle.access``, appraisals section).

Employee numbers: E0001 Cora Chief (HQ head, executive), E0002 Mona Manager (Sales head),
E0003 Emil Employee and E0004 Petra Peer (Sales East, report to Mona), E0005 Otto Other
(Engineering head), E0006 Olga Outsider (reports to Otto), E0007 Hana HR (hr_admin).
"""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from appraisals import services
from appraisals.models import Appraisal
from perfcycle import access
from perfcycle import services as core_services
from perfcycle.models import Cycle
from tests.conftest import fresh
from tests.factories import CycleFactory, EmployeeFactory

from .conftest import at_phase, launch

P = Cycle.Status
ALL = {"E0001", "E0002", "E0003", "E0004", "E0005", "E0006", "E0007"}


def numbers(user, cycle):
    return set(
        access.appraisals_visible_to(fresh(user))
        .filter(cycle=cycle)
        .values_list("employee__employee_number", flat=True)
    )


def of(cycle, employee) -> Appraisal:
    return Appraisal.objects.get(cycle=cycle, employee=employee)


@pytest.fixture
def partner(org, hr_admin):
    """An HR business partner for Sales (with Sales East), sitting in People."""
    person = EmployeeFactory(department=org.people, manager=org.hr, employee_number="E0008")
    core_services.partner_grant(actor=hr_admin, user=person.user, department=org.sales)
    return fresh(person.user)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("hr_admin", ALL),
        ("executive", ALL),
        ("manager", {"E0002", "E0003", "E0004"}),  # self, reports, Sales subtree
        ("employee", {"E0003"}),
        ("peer", {"E0004"}),
        ("outsider", {"E0006"}),
    ],
)
def test_each_role_sees_its_appraisals(request, appraisal_cycle, persona, expected):
    assert numbers(request.getfixturevalue(persona), appraisal_cycle) == expected


@pytest.mark.parametrize("persona", ["hr_admin", "manager", "employee", "peer", "outsider"])
def test_the_reviewers_scopes_lie_within_what_they_see(request, org, appraisal_cycle, persona):
    """The reviews to write and the approvals waiting are asked of narrower scopes; each
    is a part of the visible appraisals, never more."""
    user = request.getfixturevalue(persona)
    deeper = EmployeeFactory(department=org.sales_east, manager=org.employee)
    services.appraisal_add(actor=org.hr.user, cycle=appraisal_cycle, employee=deeper, reason="J")
    user = fresh(user)
    visible = set(access.appraisals_visible_to(user))
    reviewed = set(access.appraisals_reviewed_by(user))
    below = set(access.appraisals_reviewed_below(user))
    assert reviewed <= visible and below <= visible
    me = access.roles(user).employee
    assert reviewed == {a for a in Appraisal.objects.all() if me and a.reviewer_id == me.pk}
    if persona == "manager":  # Emil reviews the newcomer: the approval is Mona's
        assert of(appraisal_cycle, deeper) in below


def test_a_manager_sees_the_whole_chain_below_them(org, executive, appraisal_cycle):
    other = org.other_manager.user
    assert numbers(executive, appraisal_cycle) == ALL
    assert numbers(other, appraisal_cycle) == {"E0005", "E0006"}
    deeper = EmployeeFactory(
        department=org.engineering, manager=org.outsider, employee_number="E0100"
    )
    services.appraisal_add(
        actor=org.hr.user, cycle=appraisal_cycle, employee=deeper, reason="Joined"
    )
    assert numbers(other, appraisal_cycle) == {"E0005", "E0006", "E0100"}
    assert numbers(org.outsider.user, appraisal_cycle) == {"E0006", "E0100"}


def test_a_reviewer_hr_assigned_outside_the_line_sees_that_appraisal(
    org, hr_admin, manager, appraisal_cycle
):
    services.appraisal_reassign(
        actor=hr_admin,
        appraisal=of(appraisal_cycle, org.outsider),
        reviewer=org.manager,
        reason="Otto is on leave",
    )
    assert numbers(manager, appraisal_cycle) == {"E0002", "E0003", "E0004", "E0006"}


def test_a_department_head_sees_their_departments_people_outside_their_line(
    org, hr_admin, appraisal_cycle
):
    # reports to the CEO, but sits in Engineering, which Otto heads
    dotted = EmployeeFactory(department=org.engineering, manager=org.ceo, employee_number="E0101")
    services.appraisal_add(actor=hr_admin, cycle=appraisal_cycle, employee=dotted, reason="Joined")

    assert "E0101" in numbers(org.other_manager.user, appraisal_cycle)
    assert "E0101" not in numbers(org.manager.user, appraisal_cycle)


def test_an_hr_partner_sees_their_departments(appraisal_cycle, partner):
    # (the partner joined after the launch, so has no appraisal of their own)
    assert numbers(partner, appraisal_cycle) == {"E0002", "E0003", "E0004"}


def test_a_calibration_panel_member_sees_the_sessions_appraisals(org, hr_admin, appraisal_cycle):
    at_phase(appraisal_cycle, P.MANAGER_REVIEW)
    other = org.other_manager.user
    session = services.calibration_session_open(
        actor=hr_admin,
        cycle=appraisal_cycle,
        name="Sales",
        departments=[org.sales],
        participants=[other],
    )

    assert numbers(other, appraisal_cycle) == {"E0002", "E0003", "E0004", "E0005", "E0006"}
    assert list(access.calibration_sessions_visible_to(fresh(other))) == [session]
    assert not access.calibration_sessions_visible_to(fresh(org.peer.user)).exists()


@pytest.mark.parametrize("persona", ["peer", "outsider"])
def test_a_peer_or_an_outsider_cannot_open_emils_appraisal(request, appraisal, persona):
    user = request.getfixturevalue(persona)
    assert not access.can_view_appraisal(fresh(user), appraisal)
    assert not access.sees_assessment(user, appraisal)


# --- what the employee sees of their own ---------------------------------------------


def test_the_employee_sees_the_assessment_only_after_release(
    hr_admin, manager, employee, appraisal
):
    assert access.can_view_appraisal(fresh(employee), appraisal)
    assert not access.sees_assessment(employee, appraisal)
    assert access.sees_assessment(fresh(manager), appraisal)
    assert access.sees_assessment(fresh(hr_admin), appraisal)
    assert not access.can_acknowledge(employee, appraisal)

    Appraisal.objects.filter(pk=appraisal.pk).update(released_at=timezone.now())
    appraisal.refresh_from_db()

    assert access.sees_assessment(employee, appraisal)
    assert access.can_acknowledge(employee, appraisal)
    assert not access.can_acknowledge(fresh(manager), appraisal)


def test_an_hr_administrators_own_appraisal_is_hidden_from_them_until_release(
    org, hr_admin, appraisal_cycle
):
    own = of(appraisal_cycle, org.hr)
    assert access.can_view_appraisal(fresh(hr_admin), own)
    assert not access.sees_assessment(hr_admin, own)


# --- draft cycles -------------------------------------------------------------------


@pytest.fixture
def draft_cycle(org, hr_admin):
    the_cycle = CycleFactory(name="FY2027 (draft)", status=P.DRAFT)
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=the_cycle,
        data={"kpi_weight": 100, "competency_weight": 0},
        expected_version=None,
    )
    launch(the_cycle, hr_admin)
    return the_cycle


@pytest.mark.parametrize(
    "persona",
    [
        "executive",
        "manager",
        "employee",
        "peer",
        "outsider",
        "partner",
    ],
)
def test_a_draft_cycles_appraisals_are_hidden_from_everyone_but_hr(request, draft_cycle, persona):
    assert Appraisal.objects.filter(cycle=draft_cycle).count() == 7
    assert numbers(request.getfixturevalue(persona), draft_cycle) == set()


def test_hr_sees_a_draft_cycles_appraisals(hr_admin, draft_cycle):
    assert numbers(hr_admin, draft_cycle) == ALL


# --- who may do what ----------------------------------------------------------------


def test_who_writes_which_review(org, hr_admin, manager, executive, employee, peer, appraisal):
    assert access.can_write_self_review(employee, appraisal)
    assert not any(access.can_write_self_review(u, appraisal) for u in (manager, hr_admin, peer))
    assert access.can_open_manager_review(manager, appraisal)
    assert access.can_open_manager_review(executive, appraisal)  # higher in the chain
    assert not any(
        access.can_open_manager_review(u, appraisal)
        for u in (employee, peer, hr_admin, org.other_manager.user)
    )


def test_who_approves_and_administers(
    org, hr_admin, manager, executive, employee, partner, appraisal
):
    assert access.can_approve_review(executive, appraisal)  # above Mona, the reviewer
    assert not any(
        access.can_approve_review(u, appraisal) for u in (manager, employee, hr_admin, partner)
    )
    assert access.can_administer_appraisal(hr_admin, appraisal)
    assert access.can_administer_appraisal(partner, appraisal)  # partners Sales
    assert not any(
        access.can_administer_appraisal(u, appraisal) for u in (manager, executive, employee)
    )
    outsiders = of(appraisal.cycle, org.outsider)
    assert not access.can_administer_appraisal(partner, outsiders)


def test_a_partner_assigns_reviewers_from_their_departments_or_the_line_only(
    org, hr_admin, partner, appraisal
):
    # Emil (Sales East): a Sales colleague or someone above him, yes; Engineering, no.
    assert access.can_assign_reviewer(partner, appraisal, org.peer)
    assert access.can_assign_reviewer(partner, appraisal, org.ceo)
    assert not access.can_assign_reviewer(partner, appraisal, org.outsider)
    assert access.can_assign_reviewer(hr_admin, appraisal, org.outsider)
    with pytest.raises(ValidationError) as refused:
        services.appraisal_reassign(
            actor=partner, appraisal=appraisal, reviewer=org.outsider, reason="Cover"
        )
    assert "reviewer" in refused.value.message_dict
    appraisal.refresh_from_db()
    assert appraisal.reviewer == org.manager


def test_nobody_administers_their_own_appraisal(org, hr_admin, appraisal_cycle):
    own = Appraisal.objects.get(cycle=appraisal_cycle, employee=org.hr)
    assert not access.can_administer_appraisal(hr_admin, own)
    assert not access.appraisals_administrable_by(hr_admin).filter(pk=own.pk).exists()
    with pytest.raises(PermissionDenied):
        services.appraisal_withdraw(actor=hr_admin, appraisal=own, reason="Mine")
