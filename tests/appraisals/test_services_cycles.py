"""Cycle services: settings, launch, late joiners and leavers, reviewers, phases."""

import datetime
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appraisals import services
from appraisals.models import (
    Appeal,
    Appraisal,
    CalibrationSession,
    CycleCompetency,
    CycleLaunch,
    CycleSettings,
    Review,
)
from appraisals.services import cycles as cycle_services
from goals import services as goal_services
from perfcycle.models import Cycle, RatingLevel
from perfcycle.services import StaleEdit
from tests.factories import (
    CycleDeadlineFactory,
    CycleFactory,
    EmployeeFactory,
    RatingScaleFactory,
)

from .conftest import GUIDELINE, at_phase, launch, self_review

P = Cycle.Status
A = Appraisal.Stage
DAY = datetime.date


def settings_of(cycle) -> CycleSettings:
    return CycleSettings.objects.get(cycle=cycle)


def competency_rows(cycle):
    return list(
        CycleCompetency.objects.filter(cycle=cycle)
        .order_by("order")
        .values_list("competency__name", "weight", "order")
    )


def level(cycle, value):
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


@pytest.fixture
def configured(hr_admin, cycle, competencies):
    """The cycle (goal setting) with 70/30 sections, two competencies and a guideline."""
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=cycle,
        data={"kpi_weight": 70, "competency_weight": 30, "guideline": GUIDELINE},
        competencies=[(competencies.teamwork, 1), (competencies.customer, 1)],
        expected_version=None,
    )
    return cycle


@pytest.fixture
def kpi_only(hr_admin, cycle):
    """The cycle scored on KPI results alone (no competencies needed to launch)."""
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=cycle,
        data={"kpi_weight": 100, "competency_weight": 0},
        expected_version=None,
    )
    return cycle


# --- creating a cycle from last year's ----------------------------------------------


def test_it_creates_a_cycle_from_an_earlier_ones_settings(org, hr_admin, configured, competencies):
    template = configured
    CycleDeadlineFactory(cycle=template, phase=P.GOAL_SETTING, due_on=DAY(2026, 2, 15))
    CycleDeadlineFactory(cycle=template, phase=P.SELF_REVIEW, due_on=DAY(2026, 11, 30))
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=template,
        data={
            "kpi_weight": 60,
            "competency_weight": 40,
            "manager_goal_share": 30,
            "hired_before": DAY(2025, 10, 1),
            "guideline_tolerance": 3,
            "second_level_approval": True,
            "appeal_days": 10,
        },
        competencies=[(competencies.customer, 2), (competencies.teamwork, 1)],
        departments=[org.sales],
        expected_version=None,
    )

    new = services.cycle_create_from(
        actor=hr_admin,
        name="FY2027",
        period_start=DAY(2027, 1, 1),
        period_end=DAY(2027, 12, 31),
        template=template,
    )

    assert new.status == P.DRAFT and new.rating_scale_id == template.rating_scale_id
    copied = settings_of(new)
    assert (copied.kpi_weight, copied.competency_weight, copied.manager_goal_share) == (60, 40, 30)
    assert copied.guideline == GUIDELINE and copied.guideline_tolerance == 3
    assert copied.second_level_approval and copied.appeal_days == 10
    # the period moved by 365 days; the cut-off and the deadlines move with it
    assert copied.hired_before == DAY(2026, 10, 1)
    assert dict(new.deadlines.values_list("phase", "due_on")) == {
        P.GOAL_SETTING: DAY(2027, 2, 15),
        P.SELF_REVIEW: DAY(2027, 11, 30),
    }
    assert list(copied.departments.all()) == [org.sales]
    assert competency_rows(new) == [("Customer focus", 2, 0), ("Teamwork", 1, 1)]
    # the template is untouched, and the copy has its history
    assert competency_rows(template) == [("Customer focus", 2, 0), ("Teamwork", 1, 1)]
    assert settings_of(template).hired_before == DAY(2025, 10, 1)
    row = copied.history.get()
    assert row.history_user == hr_admin and "FY2026" in row.history_change_reason


def test_a_cycle_on_another_scale_starts_without_a_guideline(hr_admin, configured):
    other = RatingScaleFactory(levels=["Low", "Middle", "High"])

    new = services.cycle_create_from(
        actor=hr_admin,
        name="FY2027",
        period_start=DAY(2027, 1, 1),
        period_end=DAY(2027, 12, 31),
        template=configured,
        rating_scale=other,
    )

    assert new.rating_scale == other and settings_of(new).guideline == {}
    assert settings_of(new).kpi_weight == 70


def test_only_hr_creates_a_cycle(manager, configured):
    with pytest.raises(PermissionDenied):
        services.cycle_create_from(
            actor=manager,
            name="FY2027",
            period_start=DAY(2027, 1, 1),
            period_end=DAY(2027, 12, 31),
            template=configured,
        )
    assert Cycle.objects.count() == 1


# --- settings -----------------------------------------------------------------------


def test_it_saves_settings_with_a_version_and_history(org, hr_admin, configured):
    before = settings_of(configured)

    saved = services.cycle_settings_update(
        actor=hr_admin,
        cycle=configured,
        data={"appeal_days": 21},
        departments=[org.sales],
        expected_version=before.version,
        reason="Longer appeals",
    )

    assert saved.version == before.version + 1 and saved.appeal_days == 21
    assert services.settings_for(configured).appeal_days == 21  # the cached copy follows
    latest = saved.history.first()
    assert latest.history_user == hr_admin and latest.history_change_reason == "Longer appeals"
    with pytest.raises(StaleEdit):
        services.cycle_settings_update(
            actor=hr_admin,
            cycle=configured,
            data={"appeal_days": 7},
            expected_version=before.version,
        )
    assert settings_of(configured).appeal_days == 21


def _without_teamwork(competencies):
    return [(competencies.customer, 5)]


@pytest.mark.parametrize(
    ("data", "chosen", "field"),
    [
        pytest.param(
            {"kpi_weight": 60, "competency_weight": 30},
            _without_teamwork,
            "competency_weight",
            id="weights-total-90",
        ),
        pytest.param(
            {"guideline": {"1": 10, "2": 20, "3": 40, "4": 20, "5": 5}},
            _without_teamwork,
            "guideline",
            id="guideline-totals-95",
        ),
        pytest.param(
            {"guideline": {"1": 10, "2": 20, "3": 40, "4": 20, "6": 10}},
            _without_teamwork,
            "guideline",
            id="guideline-level-off-the-scale",
        ),
        pytest.param(
            {"guideline": {"1": 10, "2": 20, "3": 40, "4": 20, "5": "ten"}},
            None,
            "guideline",
            id="guideline-share-not-a-number",
        ),
        pytest.param(
            {"appeal_days": 21},
            lambda competencies: [],
            "competencies",
            id="competency-weight-but-no-competencies",
        ),
        pytest.param(
            {"appeal_days": 21},
            lambda c: [(c.teamwork, 1), (c.teamwork, 2)],
            "competencies",
            id="competency-twice",
        ),
        pytest.param(
            {"appeal_days": 21},
            lambda c: [(c.teamwork, 0)],
            "competencies",
            id="competency-weight-0",
        ),
    ],
)
def test_it_refuses_bad_settings_and_saves_nothing(
    org, hr_admin, configured, competencies, data, chosen, field
):
    before = settings_of(configured)
    rows_before = competency_rows(configured)
    history_before = CycleSettings.history.count() + CycleCompetency.history.count()

    with pytest.raises(ValidationError) as refused:
        services.cycle_settings_update(
            actor=hr_admin,
            cycle=configured,
            data={**data, "guideline_tolerance": 9},
            competencies=chosen(competencies) if chosen else None,
            departments=[org.sales],
            expected_version=before.version,
        )

    assert field in refused.value.message_dict
    after = settings_of(configured)
    assert after.version == before.version and after.guideline_tolerance == 5
    assert (after.kpi_weight, after.competency_weight, after.guideline) == (70, 30, GUIDELINE)
    assert after.appeal_days == 14 and not after.departments.exists()
    assert competency_rows(configured) == rows_before
    assert CycleSettings.history.count() + CycleCompetency.history.count() == history_before


def test_competencies_may_go_when_their_weight_goes(hr_admin, configured):
    saved = services.cycle_settings_update(
        actor=hr_admin,
        cycle=configured,
        data={"kpi_weight": 100, "competency_weight": 0},
        competencies=[],
        expected_version=None,
    )
    assert saved.competency_weight == 0 and competency_rows(configured) == []


@pytest.mark.parametrize("phase", [P.SELF_REVIEW, P.MANAGER_REVIEW, P.CALIBRATION, P.FEEDBACK])
@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"data": {"kpi_weight": 60, "competency_weight": 40}}, id="section-weights"),
        pytest.param({"data": {"manager_goal_share": 30}}, id="manager-share"),
        pytest.param({"data": {"hired_before": DAY(2025, 6, 30)}}, id="cut-off"),
        pytest.param({"competencies": "customer only"}, id="competencies"),
        pytest.param({"departments": "sales"}, id="departments"),
    ],
)
def test_what_moves_a_score_is_fixed_once_the_reviews_start(
    org, hr_admin, configured, competencies, phase, change
):
    at_phase(configured, phase)
    kwargs = dict(change)
    if kwargs.get("competencies") == "customer only":
        kwargs["competencies"] = [(competencies.customer, 1)]
    if kwargs.get("departments") == "sales":
        kwargs["departments"] = [org.sales]
    kwargs.setdefault("data", {})
    before = settings_of(configured)

    with pytest.raises(ValidationError) as refused:
        services.cycle_settings_update(
            actor=hr_admin, cycle=configured, expected_version=None, **kwargs
        )

    assert "reviews are under way" in str(refused.value)
    assert settings_of(configured).version == before.version


@pytest.mark.parametrize("phase", [P.SELF_REVIEW, P.MANAGER_REVIEW, P.CALIBRATION, P.FEEDBACK])
def test_the_guideline_approval_and_appeal_window_may_change_until_the_end(
    hr_admin, configured, phase
):
    at_phase(configured, phase)
    guideline = {"1": 5, "2": 25, "3": 40, "4": 25, "5": 5}

    saved = services.cycle_settings_update(
        actor=hr_admin,
        cycle=configured,
        # the form sends the fixed fields too, unchanged: that is no change
        data={
            "kpi_weight": 70,
            "competency_weight": 30,
            "guideline": guideline,
            "guideline_tolerance": 2,
            "second_level_approval": True,
            "appeal_days": 30,
        },
        expected_version=None,
    )

    assert saved.guideline == guideline and saved.guideline_tolerance == 2
    assert saved.second_level_approval and saved.appeal_days == 30


def test_a_closed_cycles_settings_do_not_change(hr_admin, configured):
    at_phase(configured, P.CLOSED)
    with pytest.raises(ValidationError):
        services.cycle_settings_update(
            actor=hr_admin, cycle=configured, data={"appeal_days": 30}, expected_version=None
        )
    assert settings_of(configured).appeal_days == 14


def test_only_hr_changes_settings(manager, configured):
    with pytest.raises(PermissionDenied):
        services.cycle_settings_update(
            actor=manager, cycle=configured, data={"appeal_days": 30}, expected_version=None
        )


# --- launch -------------------------------------------------------------------------


@pytest.fixture
def people(org):
    """Beside the org: a leaver, a newcomer hired after the cut-off, and someone whose
    manager has left."""
    leaver = EmployeeFactory(
        department=org.sales_east,
        manager=org.manager,
        is_active=False,
        user__full_name="Lena Leaver",
    )
    newcomer = EmployeeFactory(
        department=org.sales_east,
        manager=org.manager,
        hire_date=DAY(2026, 3, 1),
        employee_number="E0100",
        user__full_name="Nina New",
    )
    orphan = EmployeeFactory(department=org.sales, manager=leaver, user__full_name="Oscar Orphan")
    return leaver, newcomer, orphan


def test_launch_creates_an_appraisal_for_everyone_eligible(org, hr_admin, kpi_only, people):
    leaver, newcomer, orphan = people
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=kpi_only,
        data={"hired_before": DAY(2025, 12, 31)},
        departments=[org.sales],
        expected_version=None,
    )

    done = launch(kpi_only, hr_admin)

    assert done.status == CycleLaunch.Status.DONE and done.progress == 100
    assert (done.eligible, done.created, done.existing) == (4, 4, 0)
    # HQ, Engineering (2) and People are outside Sales; the leaver is in it but inactive
    assert done.excluded_counts == {"outside_departments": 4, "inactive": 1}
    assert done.excluded == [
        {
            "employee": newcomer.pk,
            "number": "E0100",
            "name": "Nina New",
            "reason": "Hired on 2026-03-01, after the cut-off 2025-12-31.",
        }
    ]
    made = {
        a.employee: (a.reviewer, a.department, a.stage)
        for a in Appraisal.objects.filter(cycle=kpi_only)
    }
    assert made == {
        org.manager: (org.ceo, org.sales, A.SELF_REVIEW),  # the CEO is outside, still reviews
        org.employee: (org.manager, org.sales_east, A.SELF_REVIEW),
        org.peer: (org.manager, org.sales_east, A.SELF_REVIEW),
        orphan: (None, org.sales, A.SELF_REVIEW),  # the manager left: HR assigns one
    }
    assert Review.objects.filter(appraisal__cycle=kpi_only, status=Review.Status.DRAFT).count() == 8
    row = Appraisal.history.filter(employee=org.employee).get()
    assert row.history_user == hr_admin and row.history_change_reason == "Launched"


def test_a_launch_writes_who_when_and_why_in_the_history_of_every_row(
    org, hr_admin, kpi_only, people
):
    started = timezone.now()
    done = launch(kpi_only, hr_admin)

    appraisals = Appraisal.objects.filter(cycle=kpi_only)
    reviews = Review.objects.filter(appraisal__cycle=kpi_only)
    assert (appraisals.count(), reviews.count()) == (done.created, 2 * done.created) == (9, 18)
    for model, rows in ((Appraisal, appraisals), (Review, reviews)):
        tracked = model.history.model.tracked_fields
        written = model.history.filter(id__in=rows.values("pk"))
        assert written.count() == rows.count()  # one row each
        by_id = {row.id: row for row in written}
        for row in rows:
            history = by_id[row.pk]
            assert (history.history_type, history.history_user) == ("+", hr_admin)
            assert history.history_change_reason == "Launched"
            assert started <= history.history_date <= done.finished_at
            assert {f.attname: getattr(history, f.attname) for f in tracked} == {
                f.attname: getattr(row, f.attname) for f in tracked
            }
    _leaver, _newcomer, orphan = people
    first = Appraisal.history.get(employee=orphan)
    assert (first.reviewer, first.department, first.stage) == (None, org.sales, A.SELF_REVIEW)
    first = Appraisal.history.get(employee=org.employee)
    assert (first.reviewer, first.department) == (org.manager, org.sales_east)
    kinds = Review.history.filter(appraisal__employee=org.employee).values_list("kind", "status")
    assert sorted(kinds) == [("manager", "draft"), ("self", "draft")]


def test_a_second_launch_adds_only_the_people_without_one(org, hr_admin, kpi_only):
    first = launch(kpi_only, hr_admin)
    late = EmployeeFactory(department=org.engineering, manager=org.other_manager)

    again = launch(kpi_only, hr_admin)

    assert (first.created, again.created, again.existing, again.eligible) == (7, 1, 7, 8)
    assert Appraisal.objects.filter(cycle=kpi_only).count() == 8
    assert Appraisal.objects.get(cycle=kpi_only, employee=late).reviewer == org.other_manager


def test_running_the_same_launch_twice_does_nothing_the_second_time(
    hr_admin, kpi_only, django_assert_num_queries
):
    request = services.cycle_launch_request(actor=hr_admin, cycle=kpi_only)
    first = services.cycle_launch_run(launch_id=request.pk)
    appraisals = list(Appraisal.objects.values_list("pk", flat=True))
    history = Appraisal.history.count()

    with django_assert_num_queries(1):  # the claim, which finds nothing queued
        assert services.cycle_launch_run(launch_id=request.pk) is None

    again = CycleLaunch.objects.get(pk=request.pk)
    assert (again.status, again.created, again.finished_at) == (
        CycleLaunch.Status.DONE,
        first.created,
        first.finished_at,
    )
    assert list(Appraisal.objects.values_list("pk", flat=True)) == appraisals
    assert Appraisal.history.count() == history


def test_a_launch_whose_worker_died_is_taken_over_when_the_task_is_redelivered(
    org, hr_admin, kpi_only
):
    request = services.cycle_launch_request(actor=hr_admin, cycle=kpi_only)
    # The first worker claimed it and wrote one person's appraisal, then died.
    CycleLaunch.objects.filter(pk=request.pk).update(status=CycleLaunch.Status.RUNNING)
    services.appraisal_add(
        actor=hr_admin, cycle=kpi_only, employee=org.employee, reason="written before the crash"
    )
    # A duplicate delivery does not touch a running launch ...
    assert services.cycle_launch_run(launch_id=request.pk) is None
    # ... the redelivered task takes it over and finishes it, creating nobody twice.
    done = services.cycle_launch_run(launch_id=request.pk, resume=True)
    assert done.status == CycleLaunch.Status.DONE
    assert (done.created, done.existing) == (6, 1)
    assert Appraisal.objects.filter(cycle=kpi_only).count() == 7
    assert Review.objects.filter(appraisal__cycle=kpi_only).count() == 14


def test_only_one_launch_is_under_way_at_a_time(hr_admin, kpi_only):
    services.cycle_launch_request(actor=hr_admin, cycle=kpi_only)
    with pytest.raises(ValidationError) as refused:
        services.cycle_launch_request(actor=hr_admin, cycle=kpi_only)
    assert "already under way" in str(refused.value)
    assert CycleLaunch.objects.count() == 1


@pytest.mark.parametrize("phase", [P.MANAGER_REVIEW, P.CALIBRATION, P.FEEDBACK, P.CLOSED])
def test_launch_is_refused_once_the_reviews_are_under_way(hr_admin, kpi_only, phase):
    at_phase(kpi_only, phase)
    with pytest.raises(ValidationError) as refused:
        services.cycle_launch_request(actor=hr_admin, cycle=kpi_only)
    assert "Launching is not possible" in str(refused.value)
    assert not CycleLaunch.objects.exists()


@pytest.mark.parametrize("phase", [P.DRAFT, P.GOAL_SETTING, P.IN_PROGRESS, P.SELF_REVIEW])
def test_launch_is_possible_until_self_review(hr_admin, kpi_only, phase):
    at_phase(kpi_only, phase)
    assert launch(kpi_only, hr_admin).created == 7


def test_launch_is_refused_without_score_bands(hr_admin, kpi_only):
    RatingLevel.objects.filter(scale=kpi_only.rating_scale, value=3).update(min_score=None)
    with pytest.raises(ValidationError) as refused:
        services.cycle_launch_request(actor=hr_admin, cycle=kpi_only)
    assert "no score bands" in str(refused.value)
    assert not CycleLaunch.objects.exists()


def test_launch_is_refused_when_competencies_weigh_but_none_are_chosen(hr_admin, cycle):
    # a new cycle's defaults: 70/30 with no competencies chosen yet
    with pytest.raises(ValidationError) as refused:
        services.cycle_launch_request(actor=hr_admin, cycle=cycle)
    assert "none are chosen" in str(refused.value)


def test_only_hr_launches(manager, kpi_only):
    with pytest.raises(PermissionDenied):
        services.cycle_launch_request(actor=manager, cycle=kpi_only)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_creates_the_appraisals(org, hr_admin, celery_worker_thread):
    the_cycle = Cycle.objects.create(
        name="FY2026",
        period_start=DAY(2026, 1, 1),
        period_end=DAY(2026, 12, 31),
        rating_scale=RatingScaleFactory(),
        status=P.GOAL_SETTING,
    )
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=the_cycle,
        data={"kpi_weight": 100, "competency_weight": 0},
        expected_version=None,
    )

    queued = services.cycle_launch_request(actor=hr_admin, cycle=the_cycle)

    record = CycleLaunch.objects.get(pk=queued.pk)
    deadline = time.monotonic() + 15
    while not record.finished and time.monotonic() < deadline:
        time.sleep(0.1)
        record.refresh_from_db()
    assert record.status == CycleLaunch.Status.DONE, record.error
    assert record.created == 7 and record.progress == 100
    assert Appraisal.objects.filter(cycle=the_cycle).count() == 7
    assert Review.objects.filter(appraisal__cycle=the_cycle).count() == 14


# --- late joiners, leavers, reviewers ------------------------------------------------


@pytest.fixture
def joiner(org):
    return EmployeeFactory(
        department=org.sales_east,
        manager=org.manager,
        hire_date=DAY(2026, 6, 1),
        user__full_name="Jo Joiner",
    )


@pytest.mark.parametrize("phase", [P.GOAL_SETTING, P.SELF_REVIEW, P.MANAGER_REVIEW])
def test_hr_adds_a_late_joiner(org, hr_admin, appraisal_cycle, joiner, phase):
    at_phase(appraisal_cycle, phase)

    added = services.appraisal_add(
        actor=hr_admin, cycle=appraisal_cycle, employee=joiner, reason="Joined in June"
    )

    assert (added.stage, added.reviewer, added.department) == (
        A.SELF_REVIEW,
        org.manager,
        org.sales_east,
    )
    assert added.reviews.count() == 2
    row = added.history.get()
    assert row.history_user == hr_admin and row.history_change_reason == "Joined in June"


@pytest.mark.parametrize("phase", [P.CALIBRATION, P.FEEDBACK, P.CLOSED])
def test_a_late_joiner_is_refused_once_calibration_starts(hr_admin, appraisal_cycle, joiner, phase):
    at_phase(appraisal_cycle, phase)
    with pytest.raises(ValidationError):
        services.appraisal_add(
            actor=hr_admin, cycle=appraisal_cycle, employee=joiner, reason="Joined"
        )
    assert not Appraisal.objects.filter(employee=joiner).exists()


def test_adding_someone_twice_or_a_leaver_is_refused(org, hr_admin, appraisal_cycle, joiner):
    with pytest.raises(ValidationError) as refused:
        services.appraisal_add(
            actor=hr_admin, cycle=appraisal_cycle, employee=org.employee, reason="Again"
        )
    assert "already has an appraisal" in refused.value.message_dict["employee"][0]
    joiner.is_active = False
    joiner.save()
    with pytest.raises(ValidationError) as refused:
        services.appraisal_add(
            actor=hr_admin, cycle=appraisal_cycle, employee=joiner, reason="Joined"
        )
    assert "has left" in refused.value.message_dict["employee"][0]
    assert Appraisal.objects.filter(cycle=appraisal_cycle).count() == 7


def test_adding_needs_a_reason_and_hr_rights(org, hr_admin, manager, appraisal_cycle, joiner):
    with pytest.raises(ValidationError) as refused:
        services.appraisal_add(actor=hr_admin, cycle=appraisal_cycle, employee=joiner, reason=" ")
    assert "reason" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        services.appraisal_add(actor=manager, cycle=appraisal_cycle, employee=joiner, reason="x")
    assert not Appraisal.objects.filter(employee=joiner).exists()


def test_a_withdrawn_appraisal_is_reinstated(hr_admin, appraisal):
    services.appraisal_withdraw(actor=hr_admin, appraisal=appraisal, reason="Left in May")
    appraisal.refresh_from_db()
    assert appraisal.stage == A.WITHDRAWN and appraisal.withdrawn_reason == "Left in May"
    assert appraisal.history.first().history_change_reason == "Left in May"

    back = services.appraisal_add(
        actor=hr_admin, cycle=appraisal.cycle, employee=appraisal.employee, reason="Came back"
    )

    assert back.pk == appraisal.pk
    assert (back.stage, back.withdrawn_reason) == (A.SELF_REVIEW, "")
    latest = back.history.first()
    assert latest.history_user == hr_admin and latest.history_change_reason == "Came back"


def test_a_reinstated_appraisal_keeps_the_stage_its_reviews_reached(
    org, hr_admin, employee, appraisal, cascade, competencies
):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    services.review_save(
        actor=employee,
        review=self_review(appraisal),
        data={
            "overall_comment": "Done.",
            "goals": {cascade.employee_copy.pk: {"score": 3}},
            "competencies": {
                competencies.teamwork.pk: {"rating": 3},
                competencies.customer.pk: {"rating": 3},
            },
        },
        expected_version=1,
        submit=True,
    )
    services.appraisal_withdraw(actor=hr_admin, appraisal=appraisal, reason="Mistake")

    back = services.appraisal_add(
        actor=hr_admin, cycle=appraisal.cycle, employee=org.employee, reason="Undo"
    )

    # the submitted self-review stays submitted, so the manager review is next
    assert back.stage == A.MANAGER_REVIEW


def test_withdrawing_and_reassigning_need_a_reason(org, hr_admin, appraisal):
    with pytest.raises(ValidationError) as refused:
        services.appraisal_withdraw(actor=hr_admin, appraisal=appraisal, reason="")
    assert "reason" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.appraisal_reassign(
            actor=hr_admin, appraisal=appraisal, reviewer=org.other_manager, reason="  "
        )
    assert "reason" in refused.value.message_dict
    appraisal.refresh_from_db()
    assert appraisal.stage == A.SELF_REVIEW and appraisal.reviewer == org.manager
    assert appraisal.history.count() == 1


def test_only_hr_withdraws_and_reassigns(org, manager, appraisal):
    with pytest.raises(PermissionDenied):
        services.appraisal_withdraw(actor=manager, appraisal=appraisal, reason="Left")
    with pytest.raises(PermissionDenied):
        services.appraisal_reassign(
            actor=manager, appraisal=appraisal, reviewer=org.ceo, reason="Busy"
        )


def test_a_final_appraisal_is_not_withdrawn(hr_admin, appraisal):
    Appraisal.objects.filter(pk=appraisal.pk).update(stage=A.FINAL)
    with pytest.raises(ValidationError):
        services.appraisal_withdraw(actor=hr_admin, appraisal=appraisal, reason="Left")


def test_hr_reassigns_the_reviewer(org, hr_admin, appraisal):
    moved = services.appraisal_reassign(
        actor=hr_admin, appraisal=appraisal, reviewer=org.other_manager, reason="Mona is on leave"
    )
    assert moved.reviewer == org.other_manager and moved.reviewer_assigned
    latest = moved.history.first()
    assert latest.history_user == hr_admin and latest.history_change_reason == "Mona is on leave"


def test_nobody_reviews_themself_or_is_reviewed_by_a_leaver(org, hr_admin, appraisal):
    with pytest.raises(ValidationError) as refused:
        services.appraisal_reassign(
            actor=hr_admin, appraisal=appraisal, reviewer=org.employee, reason="x"
        )
    assert "reviewer" in refused.value.message_dict
    org.other_manager.is_active = False
    org.other_manager.save()
    with pytest.raises(ValidationError) as refused:
        services.appraisal_reassign(
            actor=hr_admin, appraisal=appraisal, reviewer=org.other_manager, reason="x"
        )
    assert "has left" in refused.value.message_dict["reviewer"][0]


# --- advancing the phase ------------------------------------------------------------


def _everyone_has_a_reviewer(org, the_cycle):
    Appraisal.objects.filter(cycle=the_cycle, reviewer__isnull=True).update(reviewer=org.hr)


def _set_hard(case, *, org, hr_admin, the_cycle, cascade):
    """Put ``the_cycle`` (launched) in a phase with a blocker HR may not override."""
    if case == "draft-no-bands":
        at_phase(the_cycle, P.DRAFT)
        RatingLevel.objects.filter(scale=the_cycle.rating_scale, value=1).update(min_score=None)
        return "no score bands"
    if case == "goal-setting-weights-off":
        goal_services.goal_update(
            actor=hr_admin,
            goal=cascade.employee_copy,
            data={"weight": 50},
            expected_version=None,
        )
        return "goal weights do not total 100"
    if case == "in-progress-not-launched":
        at_phase(the_cycle, P.IN_PROGRESS)
        Review.objects.filter(appraisal__cycle=the_cycle).delete()
        Appraisal.objects.filter(cycle=the_cycle).delete()
        return "has not been launched"
    if case == "launch-running":
        at_phase(the_cycle, P.SELF_REVIEW)
        CycleLaunch.objects.create(cycle=the_cycle, status=CycleLaunch.Status.RUNNING)
        return "still creating appraisals"
    if case == "feedback-appeal-open":
        at_phase(the_cycle, P.FEEDBACK)
        appraisal = Appraisal.objects.get(cycle=the_cycle, employee=org.employee)
        Appeal.objects.create(appraisal=appraisal, reason="Unfair")
        return "appeal is open"
    raise AssertionError(case)


HARD = [
    "draft-no-bands",
    "goal-setting-weights-off",
    "in-progress-not-launched",
    "launch-running",
    "feedback-appeal-open",
]


@pytest.mark.parametrize("case", HARD)
@pytest.mark.parametrize("force", [False, True])
def test_a_hard_blocker_refuses_even_with_force(
    org, hr_admin, appraisal_cycle, cascade, case, force
):
    message = _set_hard(
        case, org=org, hr_admin=hr_admin, the_cycle=appraisal_cycle, cascade=cascade
    )
    phase = Cycle.objects.get(pk=appraisal_cycle.pk).status
    history = appraisal_cycle.history.count()

    with pytest.raises(ValidationError) as refused:
        services.cycle_advance(
            actor=hr_admin, cycle=appraisal_cycle, force=force, reason="We must go on"
        )

    assert any(message in text for text in refused.value.messages)
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == phase
    assert appraisal_cycle.history.count() == history


def _set_soft(case, *, org, the_cycle):
    """Put ``the_cycle`` (launched) in a phase with a blocker HR may override."""
    if case == "in-progress-no-reviewer":  # the CEO has no manager, so no reviewer
        at_phase(the_cycle, P.IN_PROGRESS)
        return P.SELF_REVIEW, "1 appraisal has no reviewer."
    if case == "self-reviews-outstanding":
        at_phase(the_cycle, P.SELF_REVIEW)
        _everyone_has_a_reviewer(org, the_cycle)
        return P.MANAGER_REVIEW, "7 self-reviews outstanding."
    if case == "manager-reviews-outstanding":
        at_phase(the_cycle, P.MANAGER_REVIEW)
        _everyone_has_a_reviewer(org, the_cycle)
        Appraisal.objects.filter(cycle=the_cycle).update(stage=A.MANAGER_REVIEW)
        Appraisal.objects.filter(cycle=the_cycle, employee=org.employee).update(stage=A.READY)
        return P.CALIBRATION, "6 manager reviews outstanding."
    if case == "calibration-not-calibrated":
        at_phase(the_cycle, P.CALIBRATION)
        Appraisal.objects.filter(cycle=the_cycle).update(
            stage=A.READY, manager_level=level(the_cycle, 3)
        )
        return P.FEEDBACK, "7 appraisals were not calibrated in any session"
    if case == "feedback-not-released":
        at_phase(the_cycle, P.FEEDBACK)
        Appraisal.objects.filter(cycle=the_cycle).update(
            stage=A.FINAL, final_level=level(the_cycle, 3)
        )
        return P.CLOSED, "7 final results have not been released."
    raise AssertionError(case)


SOFT = [
    "in-progress-no-reviewer",
    "self-reviews-outstanding",
    "manager-reviews-outstanding",
    "calibration-not-calibrated",
    "feedback-not-released",
]


@pytest.mark.parametrize("case", SOFT)
def test_a_soft_blocker_refuses_without_force(org, hr_admin, appraisal_cycle, case):
    _target, message = _set_soft(case, org=org, the_cycle=appraisal_cycle)
    phase = appraisal_cycle.status

    with pytest.raises(ValidationError) as refused:
        services.cycle_advance(actor=hr_admin, cycle=appraisal_cycle, reason="Why not")

    assert any(message in text for text in refused.value.messages)
    assert "advance anyway" in refused.value.messages[-1]
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == phase


@pytest.mark.parametrize("case", SOFT)
def test_forcing_needs_a_reason(org, hr_admin, appraisal_cycle, case):
    _set_soft(case, org=org, the_cycle=appraisal_cycle)
    phase = appraisal_cycle.status

    with pytest.raises(ValidationError) as refused:
        services.cycle_advance(actor=hr_admin, cycle=appraisal_cycle, force=True, reason=" ")

    assert "reason" in refused.value.message_dict
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == phase


@pytest.mark.parametrize("case", SOFT)
def test_forcing_with_a_reason_advances_and_the_history_keeps_it(
    org, hr_admin, appraisal_cycle, case
):
    target, _message = _set_soft(case, org=org, the_cycle=appraisal_cycle)

    advanced = services.cycle_advance(
        actor=hr_admin, cycle=appraisal_cycle, force=True, reason="The board meets on Monday"
    )

    assert advanced.status == target
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == target
    latest = appraisal_cycle.history.first()
    assert latest.status == target and latest.history_user == hr_admin
    assert latest.history_change_reason == "The board meets on Monday"


def test_a_phase_without_blockers_advances_with_the_step_in_the_history(hr_admin, kpi_only):
    at_phase(kpi_only, P.DRAFT)

    advanced = services.cycle_advance(actor=hr_admin, cycle=kpi_only)

    assert advanced.status == P.GOAL_SETTING
    latest = kpi_only.history.first()
    assert latest.history_user == hr_admin
    assert latest.history_change_reason == "Advanced from Draft to Goal setting"


def test_leaving_goal_setting_closes_it_through_the_goals_app(hr_admin, appraisal_cycle, cascade):
    advanced = services.cycle_advance(actor=hr_admin, cycle=appraisal_cycle)

    assert advanced.status == P.IN_PROGRESS
    assert Cycle.objects.get(pk=appraisal_cycle.pk).status == P.IN_PROGRESS
    cascade.employee_copy.refresh_from_db()
    assert cascade.employee_copy.is_locked


def test_leaving_calibration_finalises_the_ready_appraisals(org, hr_admin, appraisal_cycle):
    at_phase(appraisal_cycle, P.MANAGER_REVIEW)
    Appraisal.objects.filter(cycle=appraisal_cycle).update(
        stage=A.READY, manager_level=level(appraisal_cycle, 3)
    )
    Appraisal.objects.filter(cycle=appraisal_cycle, employee=org.outsider).update(
        stage=A.MANAGER_REVIEW, manager_level=None
    )
    session = services.calibration_session_open(
        actor=hr_admin, cycle=appraisal_cycle, name="Sales", departments=[org.sales]
    )
    at_phase(appraisal_cycle, P.CALIBRATION)
    employee_appraisal = Appraisal.objects.get(cycle=appraisal_cycle, employee=org.employee)
    services.calibration_move(
        actor=hr_admin,
        session=session,
        appraisal=employee_appraisal,
        to_level=level(appraisal_cycle, 2),
        reason="Below the team",
    )

    services.cycle_advance(
        actor=hr_admin, cycle=appraisal_cycle, force=True, reason="Calibration is over"
    )

    final = {
        a.employee: (a.stage, a.final_level and a.final_level.value)
        for a in Appraisal.objects.filter(cycle=appraisal_cycle)
    }
    assert final[org.employee] == (A.FINAL, 2)  # calibrated
    assert final[org.peer] == (A.FINAL, 3)  # the manager's rating, in the session
    assert final[org.ceo] == (A.FINAL, 3)  # the manager's rating, in no session
    assert final[org.outsider] == (A.MANAGER_REVIEW, None)  # not ready: stays open
    session.refresh_from_db()
    assert session.status == CalibrationSession.Status.CLOSED and session.closed_at
    latest = session.history.first()
    assert latest.status == CalibrationSession.Status.CLOSED and latest.history_user == hr_admin
    row = Appraisal.history.filter(employee=org.peer).first()
    assert row.stage == A.FINAL and row.history_user == hr_admin


def test_a_closed_cycle_does_not_advance(hr_admin, appraisal_cycle):
    at_phase(appraisal_cycle, P.CLOSED)
    with pytest.raises(ValidationError) as refused:
        services.cycle_advance(actor=hr_admin, cycle=appraisal_cycle, force=True, reason="x")
    assert "closed" in str(refused.value)


def test_only_hr_advances(manager, executive, kpi_only):
    for actor in (manager, executive):
        with pytest.raises(PermissionDenied):
            services.cycle_advance(actor=actor, cycle=kpi_only)
    assert Cycle.objects.get(pk=kpi_only.pk).status == P.GOAL_SETTING


def test_a_launch_the_broker_could_not_take_is_marked_failed_so_hr_can_launch_again(
    hr_admin, kpi_only, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = services.cycle_launch_request(actor=hr_admin, cycle=kpi_only)
    request.refresh_from_db()
    assert request.status == CycleLaunch.Status.FAILED
    assert "could not be reached" in request.error
    assert not Appraisal.objects.exists()
    # Nothing is left "under way": HR may launch again once the broker is back.
    assert not CycleLaunch.objects.filter(status=CycleLaunch.Status.QUEUED).exists()


def _queries_to_launch(hr_admin, name: str) -> int:
    the_cycle = CycleFactory(name=name)
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=the_cycle,
        data={"kpi_weight": 100, "competency_weight": 0},
        expected_version=None,
    )
    request = services.cycle_launch_request(actor=hr_admin, cycle=the_cycle)
    with CaptureQueriesContext(connection) as captured:
        done = services.cycle_launch_run(launch_id=request.pk)
    assert done.created == Appraisal.objects.filter(cycle=the_cycle).count()
    assert Review.objects.filter(appraisal__cycle=the_cycle).count() == 2 * done.created
    return len(captured.captured_queries)


def test_a_launch_is_bulk_work_whatever_the_number_of_people(org, hr_admin):
    few = _queries_to_launch(hr_admin, "Few")  # the 7 people of the org
    for _ in range(60):
        EmployeeFactory(department=org.sales_east, manager=org.manager)
    many = _queries_to_launch(hr_admin, "Many")  # 67 people, in one batch as the 7
    assert many == few


def test_a_launch_costs_the_same_statements_for_each_batch(org, hr_admin, monkeypatch):
    monkeypatch.setattr(cycle_services, "_BATCH", 10)
    one = _queries_to_launch(hr_admin, "One batch")  # the 7 people of the org
    for _ in range(10):
        EmployeeFactory(department=org.sales_east, manager=org.manager)
    two = _queries_to_launch(hr_admin, "Two batches")  # 17 people
    for _ in range(10):
        EmployeeFactory(department=org.engineering, manager=org.other_manager)
    three = _queries_to_launch(hr_admin, "Three batches")  # 27 people
    assert two - one == three - two <= 8
