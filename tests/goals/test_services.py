"""The goal rules, each enforced in goals.services: alignment, weights, the next-period
rule, locking, copies of position KPIs, check-ins and rolled-up progress."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from goals import services
from goals.models import CheckIn, Goal
from goals.selectors import weight_problems, weights_total
from perfcycle.models import Cycle
from perfcycle.services import StaleEdit
from tests.conftest import fresh
from tests.factories import CycleFactory, EmployeeFactory, PositionFactory
from tests.goals.conftest import goal_data

L, S = Goal.Level, Goal.Status


def errors_of(exc_info) -> dict:
    return exc_info.value.message_dict


# --- alignment ------------------------------------------------------------------------


def test_a_department_goal_must_serve_a_company_objective(org, cycle, cascade, hr_admin):
    with pytest.raises(ValidationError) as exc:
        services.goal_create(
            actor=hr_admin,
            cycle=cycle,
            level=L.DEPARTMENT,
            owner=org.engineering,
            parent=cascade.sales,  # a department goal, not one level up
            data=goal_data(),
        )
    assert "parent" in errors_of(exc)


def test_every_goal_below_company_level_serves_one(org, cycle, hr_admin):
    with pytest.raises(ValidationError) as exc:
        services.goal_create(
            actor=hr_admin, cycle=cycle, level=L.DEPARTMENT, owner=org.sales, data=goal_data()
        )
    assert "parent" in errors_of(exc)
    assert not Goal.objects.exists()


def test_the_parent_must_be_in_the_same_cycle(org, cascade, hr_admin):
    other = CycleFactory(
        name="FY2027",
        period_start=datetime.date(2027, 1, 1),
        period_end=datetime.date(2027, 12, 31),
    )
    with pytest.raises(ValidationError) as exc:
        services.goal_create(
            actor=hr_admin,
            cycle=other,
            level=L.DEPARTMENT,
            owner=org.sales,
            parent=cascade.grow,
            data=goal_data(),
        )
    assert "same cycle" in str(errors_of(exc)["parent"])


def test_a_position_kpi_serves_its_own_department_or_one_above(org, cascade, cycle, hr_admin):
    engineer = PositionFactory(title="Engineer", department=org.engineering)
    with pytest.raises(ValidationError) as exc:
        services.goal_create(
            actor=hr_admin,
            cycle=cycle,
            level=L.POSITION,
            owner=engineer,
            parent=cascade.sales,
            data=goal_data(),
        )
    assert "parent" in errors_of(exc)


def test_no_goal_can_become_its_own_ancestor(cascade, hr_admin):
    with pytest.raises(ValidationError) as exc:
        services.goal_update(
            actor=hr_admin,
            goal=cascade.sales,
            data={"parent": cascade.sales},
            expected_version=cascade.sales.version,
        )
    assert "parent" in errors_of(exc)


def test_a_company_objective_serves_nothing(cascade, hr_admin):
    with pytest.raises(ValidationError) as exc:
        services.goal_update(
            actor=hr_admin,
            goal=cascade.delight,
            data={"parent": cascade.grow},
            expected_version=cascade.delight.version,
        )
    assert "parent" in errors_of(exc)


# --- bad input -------------------------------------------------------------------------


def test_a_weight_above_100_is_refused_and_nothing_is_saved(org, cascade, cycle, hr_admin):
    before = Goal.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.goal_create(
            actor=hr_admin,
            cycle=cycle,
            level=L.DEPARTMENT,
            owner=org.engineering,
            parent=cascade.grow,
            data=goal_data(weight=150),
        )
    assert "weight" in errors_of(exc)
    assert Goal.objects.count() == before


def test_a_position_kpi_out_of_order_creates_no_copies(org, cascade, cycle, hr_admin):
    before = Goal.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.goal_create(
            actor=hr_admin,
            cycle=cycle,
            level=L.POSITION,
            owner=org.position,
            parent=cascade.sales,
            data=goal_data(threshold=Decimal(120)),
        )
    assert "threshold" in errors_of(exc)
    assert Goal.objects.count() == before


def test_fields_the_service_does_not_set_are_refused(cascade, hr_admin):
    with pytest.raises(ValidationError) as exc:
        services.goal_update(
            actor=hr_admin,
            goal=cascade.sales,
            data={"status": S.ACHIEVED},
            expected_version=cascade.sales.version,
        )
    assert "status" in errors_of(exc)


# --- weights and closing goal setting ---------------------------------------------------


def test_weights_total_counts_only_live_goals(org, cascade, cycle, hr_admin):
    assert weights_total(cycle=cycle, level=L.COMPANY, owner=None) == 100
    services.goal_cancel(
        actor=hr_admin, goal=cascade.delight, reason="Merged into growth", expected_version=None
    )
    assert weights_total(cycle=cycle, level=L.COMPANY, owner=None) == 60


def test_closing_goal_setting_names_the_owners_whose_weights_are_off(org, cascade, cycle, hr_admin):
    services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=L.DEPARTMENT,
        owner=org.engineering,
        parent=cascade.grow,
        data=goal_data("Ship the platform", 85),
    )
    with pytest.raises(ValidationError) as exc:
        services.goal_setting_close(actor=hr_admin, cycle=cycle)
    message = " ".join(exc.value.messages)
    assert "Engineering at 85 (-15)" in message
    assert "Sales" not in message  # Sales is at 100
    cycle.refresh_from_db()
    assert cycle.status == Cycle.Status.GOAL_SETTING
    assert not Goal.objects.filter(locked_at__isnull=False).exists()


def test_closing_waits_for_decisions_on_proposals(org, cascade, cycle, employee, hr_admin):
    services.goal_create(
        actor=employee,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Learn the new CRM", 0, kind=Goal.Kind.MILESTONE),
    )
    with pytest.raises(ValidationError) as exc:
        services.goal_setting_close(actor=hr_admin, cycle=cycle)
    assert "1 proposed goal still waits" in " ".join(exc.value.messages)


def test_closing_activates_and_locks_every_goal_and_moves_the_cycle_on(cascade, cycle, hr_admin):
    result = services.goal_setting_close(actor=hr_admin, cycle=cycle)
    assert result.activated == Goal.objects.count() == result.locked
    assert set(Goal.objects.values_list("status", flat=True)) == {S.ACTIVE}
    assert not Goal.objects.filter(locked_at__isnull=True).exists()
    cycle.refresh_from_db()
    assert cycle.status == Cycle.Status.IN_PROGRESS
    record = cascade.sales.history.first()
    assert record.history_change_reason == "Goal setting closed"
    assert record.history_user == hr_admin


def test_only_hr_closes_goal_setting(cascade, cycle, executive):
    with pytest.raises(PermissionDenied):
        services.goal_setting_close(actor=executive, cycle=cycle)


# --- locks and reopening ---------------------------------------------------------------


def test_a_locked_goal_needs_hr_to_reopen_it_and_the_history_shows_the_change(
    cascade, cycle, hr_admin, manager
):
    services.goal_setting_close(actor=hr_admin, cycle=cycle)
    copy = Goal.objects.get(pk=cascade.employee_copy.pk)
    with pytest.raises(ValidationError, match="locked"):
        services.goal_update(
            actor=manager, goal=copy, data={"weight": Decimal(90)}, expected_version=None
        )
    with pytest.raises(PermissionDenied):
        services.goal_reopen(actor=fresh(manager), goal=copy, reason="New territory")
    services.goal_reopen(actor=hr_admin, goal=copy, reason="New territory from March")
    services.goal_update(
        actor=fresh(manager),
        goal=copy,
        data={"target": Decimal(130), "stretch": Decimal(150)},
        expected_version=None,
        reason="Bigger territory",
    )
    services.goal_lock(actor=hr_admin, goal=copy)
    reasons = list(copy.history.values_list("history_change_reason", flat=True))
    assert reasons[:3] == ["Locked again", "Bigger territory", "Reopened: New territory from March"]
    changed = copy.history.all()[1]
    assert changed.target == 130 and changed.history_user == manager


def test_after_goal_setting_only_hr_adds_goals_and_they_start_locked(
    org, cascade, cycle, hr_admin, manager
):
    services.goal_setting_close(actor=hr_admin, cycle=cycle)
    with pytest.raises(ValidationError, match="closed"):
        services.goal_create(
            actor=fresh(manager),
            cycle=cycle,
            level=L.PERSONAL,
            owner=org.employee,
            parent=cascade.bookings,
            data=goal_data("Late goal", 10),
        )
    late = services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Late goal", 10),
    )
    assert late.status == S.ACTIVE and late.is_locked


def test_a_closed_cycle_takes_no_changes(cascade, cycle, hr_admin, employee):
    Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.CLOSED)
    with pytest.raises(ValidationError, match="closed"):
        services.checkin_record(
            actor=employee, goal=cascade.employee_copy, actual=Decimal(1), confidence="on_track"
        )


# --- the next-period rule -----------------------------------------------------------------


@pytest.fixture
def next_cycle(cycle):
    return CycleFactory(
        name="FY2027",
        period_start=datetime.date(2027, 1, 1),
        period_end=datetime.date(2027, 12, 31),
    )


def continue_objective(actor, next_cycle, previous, **changes):
    return services.goal_create(
        actor=actor,
        cycle=next_cycle,
        level=L.COMPANY,
        data=goal_data("Grow revenue", 60, previous=previous, **changes),
    )


def test_a_continued_goal_must_raise_its_target_or_say_why(cascade, next_cycle, hr_admin):
    with pytest.raises(ValidationError) as exc:
        continue_objective(hr_admin, next_cycle, cascade.grow)  # target 100 again
    message = errors_of(exc)["target_reason"][0]
    assert "Last period's target was 100" in message and "(100)" in message
    assert not Goal.objects.filter(cycle=next_cycle).exists()
    kept = continue_objective(
        hr_admin, next_cycle, cascade.grow, target_reason="A new competitor halves the market"
    )
    assert kept.previous == cascade.grow


def test_a_higher_target_needs_no_reason(cascade, next_cycle, hr_admin):
    goal = continue_objective(
        hr_admin, next_cycle, cascade.grow, target=Decimal(110), stretch=Decimal(130)
    )
    assert goal.target == 110


def test_lower_is_better_goals_must_go_lower(cascade, next_cycle, hr_admin):
    old = services.goal_create(
        actor=hr_admin,
        cycle=cascade.grow.cycle,
        level=L.COMPANY,
        data=goal_data(
            "Cut defects",
            0,
            direction="lower",
            threshold=Decimal(10),
            target=Decimal(5),
            stretch=Decimal(2),
        ),
    )
    lower = {"direction": "lower", "threshold": Decimal(10), "stretch": Decimal(1)}
    with pytest.raises(ValidationError):
        continue_objective(hr_admin, next_cycle, old, target=Decimal(6), **lower)
    assert continue_objective(hr_admin, next_cycle, old, target=Decimal(4), **lower).target == 4


def test_a_goal_continues_one_from_an_earlier_cycle(cascade, cycle, hr_admin):
    with pytest.raises(ValidationError) as exc:
        continue_objective(hr_admin, cycle, cascade.grow, target=Decimal(110), stretch=None)
    assert "previous" in errors_of(exc)


# --- proposals and their decisions ----------------------------------------------------


@pytest.fixture
def proposal(org, cascade, cycle, employee):
    return services.goal_create(
        actor=employee,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Win two logos in the north", 20),
    )


def test_an_employees_own_goal_is_a_proposal_for_the_manager(proposal, manager, employee):
    assert proposal.status == S.PROPOSED
    with pytest.raises(PermissionDenied):
        services.goal_approve(actor=employee, goal=proposal)
    approved = services.goal_approve(actor=manager, goal=proposal)
    assert approved.status == S.APPROVED


def test_returning_needs_a_comment_and_makes_it_a_draft_again(proposal, manager, employee):
    with pytest.raises(ValidationError) as exc:
        services.goal_return(actor=manager, goal=proposal, comment="  ")
    assert "comment" in errors_of(exc)
    returned = services.goal_return(actor=manager, goal=proposal, comment="Make it measurable")
    assert returned.status == S.DRAFT and returned.review_comment == "Make it measurable"
    edited = services.goal_update(
        actor=fresh(employee),
        goal=returned,
        data={"title": "Win two logos worth 50k"},
        expected_version=returned.version,
    )
    assert services.goal_submit(actor=employee, goal=edited).status == S.PROPOSED


def test_rejecting_cancels_with_the_reason(proposal, manager):
    rejected = services.goal_reject(actor=manager, goal=proposal, comment="Not this year")
    assert rejected.status == S.CANCELLED
    assert rejected.history.first().history_change_reason == "Not this year"


def test_the_peer_and_outsider_cannot_decide(proposal, peer, outsider):
    for user in (peer, outsider):
        with pytest.raises(PermissionDenied):
            services.goal_approve(actor=user, goal=proposal)


def test_an_employee_cannot_edit_their_goal_once_approved(proposal, manager, employee):
    services.goal_approve(actor=manager, goal=proposal)
    with pytest.raises(PermissionDenied):
        services.goal_update(
            actor=fresh(employee), goal=proposal, data={"weight": 50}, expected_version=None
        )


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (S.APPROVED, "submit"),
        (S.ACTIVE, "return"),
        (S.CANCELLED, "approve"),
        (S.ACHIEVED, "reject"),
        (S.DRAFT, "resume"),
        (S.CANCELLED, "cancel"),
    ],
)
def test_transitions_refuse_goals_in_the_wrong_status(cascade, hr_admin, status, action):
    from goals import states

    goal = cascade.employee_copy
    goal.status = status
    with pytest.raises(ValidationError):
        states.target_status(goal, action)


def test_a_stale_edit_is_refused(cascade, hr_admin):
    services.goal_update(
        actor=hr_admin, goal=cascade.sales, data={"title": "First"}, expected_version=1
    )
    with pytest.raises(StaleEdit):
        services.goal_update(
            actor=hr_admin, goal=cascade.sales, data={"title": "Second"}, expected_version=1
        )
    assert Goal.objects.get(pk=cascade.sales.pk).title == "First"


# --- position KPIs and their copies -----------------------------------------------------


def test_a_position_kpi_is_copied_to_every_active_holder(org, cascade):
    copies = Goal.objects.filter(source=cascade.bookings)
    assert {c.employee_id for c in copies} == {org.employee.pk, org.peer.pk}
    copy = cascade.employee_copy
    assert copy.parent == cascade.bookings and copy.target == 100 and copy.status == S.APPROVED
    assert copy.history.first().history_change_reason.startswith("Copied from position KPI")


def test_cascading_again_copies_only_to_new_holders(org, cascade, hr_admin):
    EmployeeFactory(department=org.sales_east, position=org.position, manager=org.manager)
    assert services.position_kpi_cascade(actor=hr_admin, goal=cascade.bookings) == 1
    assert services.position_kpi_cascade(actor=hr_admin, goal=cascade.bookings) == 0
    assert Goal.objects.filter(source=cascade.bookings).count() == 3


def test_a_change_is_pushed_to_the_copies_nobody_adjusted(cascade, hr_admin, manager):
    services.goal_update(
        actor=manager,
        goal=cascade.peer_copy,
        data={"target": Decimal(90)},
        expected_version=None,
        reason="Part-time from May",
    )
    assert Goal.objects.get(pk=cascade.peer_copy.pk).adjusted
    services.goal_update(
        actor=hr_admin,
        goal=cascade.bookings,
        data={"target": Decimal(110)},
        expected_version=None,
    )
    result = services.position_kpi_push(actor=hr_admin, goal=cascade.bookings)
    assert (result.updated, result.adjusted) == (1, 1)
    assert Goal.objects.get(pk=cascade.employee_copy.pk).target == 110
    assert Goal.objects.get(pk=cascade.peer_copy.pk).target == 90


def test_a_department_head_decomposes_into_position_kpis_but_not_elsewhere(
    org, cascade, cycle, manager, outsider
):
    kpi = services.goal_create(
        actor=manager,
        cycle=cycle,
        level=L.POSITION,
        owner=org.position,
        parent=cascade.sales,
        data=goal_data("Pipeline coverage", 0),
    )
    assert kpi.copies.count() == 2
    engineer = PositionFactory(title="Engineer", department=org.engineering)
    with pytest.raises(PermissionDenied):
        services.goal_create(
            actor=manager,
            cycle=cycle,
            level=L.POSITION,
            owner=engineer,
            parent=cascade.sales,
            data=goal_data(),
        )


def test_decomposing_an_objective_creates_one_goal_per_department(org, cascade, hr_admin):
    created = services.company_objective_decompose(
        actor=hr_admin, objective=cascade.grow, departments=[org.sales, org.engineering]
    )
    # Sales already serves the objective; Engineering gets a copy of it.
    assert [g.department for g in created] == [org.engineering]
    goal = created[0]
    assert goal.parent == cascade.grow and goal.weight == 60 and goal.target == 100


def test_only_hr_and_heads_decompose(org, cascade, employee):
    with pytest.raises(PermissionDenied):
        services.company_objective_decompose(
            actor=employee, objective=cascade.grow, departments=[org.sales_east]
        )


# --- check-ins and rolled-up progress ------------------------------------------------------


def test_a_check_in_sets_attainment_and_rolls_progress_up(cascade, employee, peer):
    services.checkin_record(
        actor=employee, goal=cascade.employee_copy, actual=Decimal(90), confidence="on_track"
    )
    services.checkin_record(
        actor=peer, goal=cascade.peer_copy, actual=Decimal(110), confidence="at_risk"
    )
    goals = Goal.objects.in_bulk(
        [cascade.employee_copy.pk, cascade.peer_copy.pk, cascade.bookings.pk, cascade.grow.pk]
    )
    assert goals[cascade.employee_copy.pk].attainment == 75
    assert goals[cascade.peer_copy.pk].attainment == 110
    assert goals[cascade.peer_copy.pk].last_confidence == "at_risk"
    # Equal weights: the KPI's progress is the mean of its copies, and so on up.
    assert goals[cascade.bookings.pk].progress == Decimal("92.50")
    assert goals[cascade.grow.pk].progress == Decimal("92.50")


def test_progress_is_weighted_and_ignores_cancelled_goals(org, cascade, cycle, hr_admin):
    extra = services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=L.DEPARTMENT,
        owner=org.engineering,
        parent=cascade.grow,
        data=goal_data("Platform revenue", 100),
    )
    services.goal_update(
        actor=hr_admin, goal=cascade.sales, data={"weight": Decimal(100)}, expected_version=None
    )
    services.checkin_record(actor=hr_admin, goal=extra, actual=Decimal(80), confidence="on_track")
    services.checkin_record(
        actor=hr_admin, goal=cascade.employee_copy, actual=Decimal(100), confidence="on_track"
    )
    services.checkin_record(
        actor=hr_admin, goal=cascade.peer_copy, actual=Decimal(100), confidence="on_track"
    )
    assert Goal.objects.get(pk=cascade.grow.pk).progress == 75  # (100 + 50) / 2
    services.goal_cancel(actor=hr_admin, goal=extra, reason="Platform sold")
    assert Goal.objects.get(pk=cascade.grow.pk).progress == 100


def test_an_actual_for_a_cancelled_goal_is_refused(cascade, hr_admin, employee):
    services.goal_cancel(actor=hr_admin, goal=cascade.employee_copy, reason="Moved to support")
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(
            actor=employee, goal=cascade.employee_copy, actual=Decimal(5), confidence="on_track"
        )
    assert "actual" in errors_of(exc)
    assert not CheckIn.objects.exists()


def test_a_kpi_needs_an_actual_and_a_milestone_a_percent(cascade, hr_admin):
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(
            actor=hr_admin, goal=cascade.grow, percent_complete=Decimal(50), confidence="on_track"
        )
    assert "actual" in errors_of(exc)
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(
            actor=hr_admin,
            goal=cascade.delight,
            percent_complete=Decimal(150),
            confidence="on_track",
        )
    assert "percent_complete" in errors_of(exc)
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(
            actor=hr_admin, goal=cascade.delight, percent_complete=Decimal(50), confidence="meh"
        )
    assert "confidence" in errors_of(exc)
    assert not CheckIn.objects.exists()


def test_only_the_owner_and_those_above_record_progress(cascade, peer, outsider, manager):
    for user in (peer, outsider):
        with pytest.raises(PermissionDenied):
            services.checkin_record(
                actor=user, goal=cascade.employee_copy, actual=Decimal(1), confidence="on_track"
            )
    services.checkin_record(
        actor=manager, goal=cascade.employee_copy, actual=Decimal(1), confidence="off_track"
    )


def test_deleting_a_check_in_restores_the_previous_reading(cascade, employee):
    first = services.checkin_record(
        actor=employee, goal=cascade.employee_copy, actual=Decimal(90), confidence="on_track"
    )
    second = services.checkin_record(
        actor=employee, goal=cascade.employee_copy, actual=Decimal(100), confidence="on_track"
    )
    assert first.recorded_at <= second.recorded_at
    services.checkin_delete(actor=employee, checkin=second, reason="Typo")
    goal = Goal.objects.get(pk=cascade.employee_copy.pk)
    assert goal.last_actual == 90 and goal.attainment == 75
    # The peer's copy has no reading yet: progress counts what has been measured.
    assert Goal.objects.get(pk=cascade.grow.pk).progress == 75


def test_bulk_check_ins_match_single_ones(cascade, hr_admin):
    services.checkins_record_bulk(
        actor=hr_admin,
        entries=[
            {"goal": cascade.employee_copy, "actual": Decimal(90), "confidence": "on_track"},
            {"goal": cascade.peer_copy, "actual": Decimal(110), "confidence": "at_risk"},
        ],
    )
    assert Goal.objects.get(pk=cascade.grow.pk).progress == Decimal("92.50")
    assert CheckIn.objects.count() == 2
    assert CheckIn.history.count() == 2


def test_weight_problems_lists_owners_off_100(org, cascade, cycle, hr_admin):
    services.goal_update(
        actor=hr_admin, goal=cascade.peer_copy, data={"weight": Decimal(70)}, expected_version=None
    )
    problems = weight_problems(cycle=cycle)
    assert [(p.owner_name, p.total, p.difference) for p in problems] == [
        ("Petra Peer", Decimal(70), Decimal(-30))
    ]


def test_deleting_is_for_drafts_and_proposals_only(proposal, cascade, employee, hr_admin):
    with pytest.raises(ValidationError, match="cancel"):
        services.goal_delete(actor=hr_admin, goal=cascade.employee_copy)
    services.goal_delete(actor=employee, goal=proposal)
    assert not Goal.objects.filter(pk=proposal.pk).exists()


def test_goals_weighted_zero_count_equally_in_the_roll_up(cascade, hr_admin):
    for copy in (cascade.employee_copy, cascade.peer_copy):
        services.goal_update(
            actor=hr_admin, goal=copy, data={"weight": Decimal(0)}, expected_version=None
        )
    services.checkin_record(
        actor=hr_admin, goal=cascade.employee_copy, actual=Decimal(90), confidence="on_track"
    )
    services.checkin_record(
        actor=hr_admin, goal=cascade.peer_copy, actual=Decimal(100), confidence="on_track"
    )
    assert Goal.objects.get(pk=cascade.bookings.pk).progress == Decimal("87.50")


def test_a_draft_locked_at_the_close_is_submitted_only_after_hr_reopens_it(
    org, cascade, cycle, employee, manager, hr_admin
):
    draft = services.goal_create(
        actor=employee,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Mentor a new hire", 0, kind=Goal.Kind.MILESTONE),
        submit=False,
    )
    services.goal_setting_close(actor=hr_admin, cycle=cycle)
    with pytest.raises(ValidationError, match="locked"):
        services.goal_submit(actor=fresh(employee), goal=draft)
    services.goal_reopen(actor=hr_admin, goal=draft, reason="Agreed in the March review")
    assert services.goal_submit(actor=fresh(employee), goal=draft).status == S.PROPOSED


def test_weight_problems_is_one_query_however_many_owners_are_off(
    org, cascade, cycle, django_assert_num_queries
):
    for count in (3, 300):
        Goal.objects.bulk_create(
            Goal(
                cycle=cycle,
                level=L.PERSONAL,
                employee=EmployeeFactory(department=org.sales_east),
                parent=cascade.bookings,
                title="Extra",
                weight=Decimal(40),
                status=S.APPROVED,
                kind=Goal.Kind.MILESTONE,
            )
            for _ in range(count)
        )
        with django_assert_num_queries(1):
            problems = weight_problems(cycle=cycle)
        assert len(problems) == Goal.objects.filter(title="Extra").count()
        assert problems[0].total == 40
