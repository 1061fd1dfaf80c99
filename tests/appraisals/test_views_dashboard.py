"""The cycle dashboard: completion by stage and by department, the overdue reviews and
the rating distribution so far, for HR, executives and HR partners (their departments
only); the overdue CSV; a query count that does not grow with the appraisals.

The state the tests set up (``progress``), in a cycle in manager review whose
self-review deadline has passed and whose manager-review deadline was yesterday::

    Cora Chief     HQ           withdrawn
    Mona Manager   Sales        self + manager submitted, ready    proposed 4
    Emil Employee  Sales East   self + manager submitted, final    final 3, released, acknowledged
    Petra Peer     Sales East   self + manager submitted, ready    proposed 4, calibrated 3
    Otto Other     Engineering  self + manager submitted, ready    proposed 5
    Olga Outsider  Engineering  self-review returned (overdue), manager review to do
    Hana HR        People       self submitted, manager review to do
"""

import csv
import datetime
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appraisals import reports
from appraisals.models import Appraisal, Review
from perfcycle import services as core_services
from perfcycle.models import Cycle, Department, RatingLevel
from tests.conftest import fresh
from tests.factories import CycleDeadlineFactory, DepartmentFactory, EmployeeFactory

from .conftest import GUIDELINE, at_phase, launch

A, K, S = Appraisal.Stage, Review.Kind, Review.Status
P = Cycle.Status


def level(cycle, value):
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def set_state(appraisal, *, own=None, manager=None, **fields):
    """Test set-up: put an appraisal and its reviews in a state directly."""
    if own:
        Review.objects.filter(appraisal=appraisal, kind=K.SELF).update(status=own)
    if manager:
        Review.objects.filter(appraisal=appraisal, kind=K.MANAGER).update(status=manager)
    if fields:
        Appraisal.objects.filter(pk=appraisal.pk).update(**fields)


@pytest.fixture
def progress(org, appraisal_cycle):
    cycle = appraisal_cycle
    of = {a.employee_id: a for a in Appraisal.objects.filter(cycle=cycle)}
    now = timezone.now()
    set_state(of[org.ceo.pk], stage=A.WITHDRAWN, withdrawn_reason="Left")
    set_state(
        of[org.manager.pk],
        own=S.SUBMITTED,
        manager=S.SUBMITTED,
        stage=A.READY,
        manager_level=level(cycle, 4),
    )
    set_state(
        of[org.employee.pk],
        own=S.SUBMITTED,
        manager=S.SUBMITTED,
        stage=A.FINAL,
        manager_level=level(cycle, 3),
        final_level=level(cycle, 3),
        released_at=now,
        acknowledged_at=now,
    )
    set_state(
        of[org.peer.pk],
        own=S.SUBMITTED,
        manager=S.SUBMITTED,
        stage=A.READY,
        manager_level=level(cycle, 4),
        calibrated_level=level(cycle, 3),
    )
    set_state(
        of[org.other_manager.pk],
        own=S.SUBMITTED,
        manager=S.SUBMITTED,
        stage=A.READY,
        manager_level=level(cycle, 5),
    )
    set_state(of[org.outsider.pk], own=S.RETURNED, stage=A.SELF_REVIEW)
    set_state(of[org.hr.pk], own=S.SUBMITTED, stage=A.MANAGER_REVIEW)
    today = timezone.localdate()
    CycleDeadlineFactory(cycle=cycle, phase=P.SELF_REVIEW, due_on=today - datetime.timedelta(10))
    CycleDeadlineFactory(cycle=cycle, phase=P.MANAGER_REVIEW, due_on=today - datetime.timedelta(1))
    return at_phase(cycle, P.MANAGER_REVIEW)


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
    core_services.partner_grant(actor=org.hr.user, user=person.user, department=org.sales)
    return fresh(person.user)


def url(cycle, name="appraisals:dashboard", *args):
    return reverse(name, args=[cycle.pk, *args])


def stages(completion):
    return {s.key: (s.count, s.percent) for s in completion.stages}


def section(html, key):
    match = re.search(rf'<section id="dashboard-{key}".*?</section>', html, re.S)
    assert match, key
    return match.group(0)


# --- the page ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["hr_admin", "executive"])
def test_it_shows_completion_for_the_whole_cycle(persona, request, client, progress):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(url(progress))
    assert response.status_code == 200
    completion = response.context["completion"]
    assert (completion.total, completion.withdrawn, response.context["rated"]) == (6, 1, 4)
    assert stages(completion) == {
        "self_review": (5, Decimal("83.3")),
        "manager_review": (4, Decimal("66.7")),
        "approved": (4, Decimal("66.7")),
        "final": (1, Decimal("16.7")),
        "released": (1, Decimal("16.7")),
        "acknowledged": (1, Decimal("16.7")),
    }
    html = response.content.decode()
    assert "Self-reviews submitted" in html and 'value="83.3"' in html


def test_it_shows_completion_by_department(client, hr_admin, progress):
    client.force_login(hr_admin)
    rows = client.get(url(progress)).context["by_department"]
    table = {
        r["name"]: (r["appraisals"], r["self_done"], r["manager_done"], r["final"]) for r in rows
    }
    # Headquarters' only appraisal is withdrawn: no row.
    assert table == {
        "Engineering": (2, 1, 1, 0),
        "People": (1, 1, 0, 0),
        "Sales": (1, 1, 1, 0),
        "Sales East": (2, 2, 2, 1),
    }
    assert [r["name"] for r in rows] == ["Engineering", "People", "Sales", "Sales East"]
    assert rows[0]["self_done_percent"] == Decimal("50.0")


def test_it_lists_the_overdue_reviews(client, hr_admin, org, progress):
    client.force_login(hr_admin)
    response = client.get(url(progress))
    overdue = response.context["overdue"]
    own, theirs = overdue[K.SELF], overdue[K.MANAGER]
    assert own.applies and own.count == 1
    assert [a.employee for a in own.rows] == [org.outsider]
    assert own.rows[0].review_status == S.RETURNED
    assert theirs.applies and (theirs.count, theirs.days_late) == (2, 1)
    assert [(a.employee, a.reviewer) for a in theirs.rows] == [
        (org.outsider, org.other_manager),
        (org.hr, org.ceo),
    ]
    html = response.content.decode()
    assert "Olga Outsider" in section(html, "overdue-self")
    assert "Returned" in section(html, "overdue-self")
    assert "Hana HR" in section(html, "overdue-manager")
    assert "Cora Chief" in section(html, "overdue-manager")  # Hana's reviewer
    assert "1 day ago." in section(html, "overdue-manager")


def test_nothing_is_overdue_before_the_deadline(client, hr_admin, org, appraisal_cycle):
    cycle = at_phase(appraisal_cycle, P.SELF_REVIEW)
    tomorrow = timezone.localdate() + datetime.timedelta(1)
    CycleDeadlineFactory(cycle=cycle, phase=P.SELF_REVIEW, due_on=tomorrow)
    client.force_login(hr_admin)
    response = client.get(url(cycle))
    own = response.context["overdue"][K.SELF]
    assert not own.applies and own.count == 0 and own.rows == []
    assert "Not due yet" in section(response.content.decode(), "overdue-self")
    # The deadline passed: everyone who has not submitted is overdue.
    own = reports.overdue(cycle, Department.objects.all(), today=tomorrow + datetime.timedelta(1))
    assert own[K.SELF].applies and own[K.SELF].count == 7
    assert not own[K.MANAGER].applies


def test_it_caps_the_overdue_lists_and_counts_them_all(org, appraisal_cycle):
    cycle = at_phase(appraisal_cycle, P.MANAGER_REVIEW)
    lists = reports.overdue(cycle, Department.objects.all(), limit=3)
    assert lists[K.SELF].count == 7 and len(lists[K.SELF].rows) == 3
    assert lists[K.SELF].more == 4
    assert lists[K.SELF].due_on is None and lists[K.SELF].days_late is None


@pytest.mark.parametrize("departments", ["everywhere", "sales"])
def test_the_capped_list_is_the_first_by_department_and_name(org, appraisal_cycle, departments):
    cycle = at_phase(appraisal_cycle, P.MANAGER_REVIEW)
    scope = Department.objects.all()
    if departments == "sales":
        scope = scope.filter(pk__in=[org.sales.pk, org.sales_east.pk])
    everyone = list(reports.overdue_queryset(cycle, scope, K.SELF))
    order = [(a.department.name, a.employee.user.full_name, a.pk) for a in everyone]
    assert order == sorted(order) and len(everyone) > 2
    found = reports.overdue(cycle, scope, limit=2)[K.SELF]
    assert [a.pk for a in found.rows] == [a.pk for a in everyone[:2]]
    assert found.count == len(everyone)


def test_it_shows_the_rating_distribution_against_the_guideline(client, hr_admin, progress):
    client.force_login(hr_admin)
    response = client.get(url(progress))
    rows = [
        (r.level.value, r.count, r.percent, r.guideline, r.status)
        for r in response.context["distribution"]
    ]
    # Rated: Emil final 3, Petra calibrated 3, Mona proposed 4, Otto proposed 5.
    assert rows == [
        (1, 0, Decimal("0.0"), Decimal(10), "under"),
        (2, 0, Decimal("0.0"), Decimal(20), "under"),
        (3, 2, Decimal("50.0"), Decimal(40), "over"),
        (4, 1, Decimal("25.0"), Decimal(20), "ok"),  # 5 points off: within the tolerance
        (5, 1, Decimal("25.0"), Decimal(10), "over"),
    ]
    html = section(response.content.decode(), "distribution")
    assert "Over by 10 points" in html and "Under by 20 points" in html
    assert "Within the guideline" in html and "reports-level-over" in html


def test_it_keeps_the_viewers_own_rating_out_until_release(client, hr_admin, org, progress):
    mine = Appraisal.objects.get(cycle=progress, employee=org.hr)
    set_state(mine, manager_level=level(progress, 1))
    client.force_login(hr_admin)
    response = client.get(url(progress))
    assert response.context["rated"] == 4
    assert [r.count for r in response.context["distribution"]][0] == 0
    # Another HR administrator sees it; so does Hana once it is released.
    client.force_login(org.ceo.user)
    assert [r.count for r in client.get(url(progress)).context["distribution"]][0] == 1
    set_state(mine, released_at=timezone.now())
    client.force_login(hr_admin)
    assert client.get(url(progress)).context["rated"] == 5


def test_it_shows_a_partner_only_their_departments(client, partner, org, progress):
    client.force_login(partner)
    response = client.get(url(progress))
    assert response.status_code == 200
    completion = response.context["completion"]
    assert (completion.total, response.context["rated"]) == (3, 3)
    assert [r["name"] for r in response.context["by_department"]] == ["Sales", "Sales East"]
    assert response.context["overdue"][K.SELF].count == 0
    assert [r.count for r in response.context["distribution"]] == [0, 0, 2, 1, 0]
    html = response.content.decode()
    assert "Olga Outsider" not in html and "Hana HR" not in html
    assert "The departments you partner." in html


def test_it_says_what_to_do_before_launch(client, hr_admin, cycle):
    client.force_login(hr_admin)
    response = client.get(url(cycle))
    assert response.status_code == 200
    assert "No appraisals in this cycle yet." in response.content.decode()


@pytest.mark.parametrize("persona", ["employee", "manager", "outsider"])
def test_it_refuses_everyone_else(persona, request, client, progress):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url(progress)).status_code == 403
    assert client.get(url(progress, "appraisals:dashboard_overdue_export", "self")).status_code == (
        403
    )


def test_it_is_a_404_for_an_unknown_cycle(client, hr_admin, progress):
    client.force_login(hr_admin)
    assert client.get(reverse("appraisals:dashboard", args=[99999])).status_code == 404


def test_it_hides_a_draft_cycle_from_a_partner(client, partner, progress):
    at_phase(progress, P.DRAFT)
    client.force_login(partner)
    assert client.get(url(progress)).status_code == 404


def test_it_answers_only_get(client, hr_admin, progress):
    client.force_login(hr_admin)
    assert client.post(url(progress)).status_code == 405
    export_url = url(progress, "appraisals:dashboard_overdue_export", "manager")
    assert client.post(export_url).status_code == 405


def test_it_asks_anonymous_visitors_to_log_in(client, progress):
    response = client.get(url(progress))
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- the overdue CSV -------------------------------------------------------------------------


def export(client, cycle, kind):
    response = client.get(url(cycle, "appraisals:dashboard_overdue_export", kind))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_it_exports_the_overdue_lists(client, hr_admin, progress):
    client.force_login(hr_admin)
    header, *rows = export(client, progress, "manager")
    assert header == [
        "Name",
        "Employee number",
        "Department",
        "Reviewer",
        "Review status",
        "Appraisal stage",
    ]
    assert rows == [
        ["Olga Outsider", "E0006", "Engineering", "Otto Other", "Draft", "Self-review"],
        ["Hana HR", "E0007", "People", "Cora Chief", "Draft", "Manager review"],
    ]
    assert [row[0] for row in export(client, progress, "self")[1:]] == ["Olga Outsider"]


def test_it_is_a_404_for_an_unknown_list(client, hr_admin, progress):
    client.force_login(hr_admin)
    assert client.get(url(progress, "appraisals:dashboard_overdue_export", "x")).status_code == 404


# --- the distribution selector ------------------------------------------------------------


def test_the_current_rating_is_final_else_calibrated_else_proposed(org, appraisal_cycle):
    cycle = appraisal_cycle
    of = {a.employee_id: a for a in Appraisal.objects.filter(cycle=cycle)}
    set_state(
        of[org.employee.pk],
        manager_level=level(cycle, 2),
        calibrated_level=level(cycle, 3),
        final_level=level(cycle, 5),
    )
    set_state(of[org.peer.pk], manager_level=level(cycle, 2), calibrated_level=level(cycle, 3))
    set_state(of[org.manager.pk], manager_level=level(cycle, 2))
    set_state(of[org.hr.pk], manager_level=level(cycle, 1), stage=A.WITHDRAWN)  # not counted
    rows = reports.rating_distribution(
        Appraisal.objects.filter(cycle=cycle), cycle.rating_scale, GUIDELINE, 5
    )
    assert [r.count for r in rows] == [0, 1, 1, 0, 1]
    assert [str(r.percent) for r in rows] == ["0.0", "33.3", "33.3", "0.0", "33.3"]
    # 33.3% against 10/20/40/20/10, 5 points either way allowed
    assert [r.status for r in rows] == ["under", "over", "under", "under", "over"]


def test_without_a_guideline_every_level_is_ok(org, appraisal_cycle):
    cycle = appraisal_cycle
    Appraisal.objects.filter(cycle=cycle).update(manager_level=level(cycle, 3))
    rows = reports.rating_distribution(
        Appraisal.objects.filter(cycle=cycle), cycle.rating_scale, {}, 0
    )
    assert [(r.count, r.guideline, r.status) for r in rows][2] == (7, None, "ok")
    assert {r.status for r in rows} == {"ok"}


def test_nobody_rated_is_neither_over_nor_under(org, appraisal_cycle):
    cycle = appraisal_cycle
    rows = reports.rating_distribution(
        Appraisal.objects.filter(cycle=cycle), cycle.rating_scale, GUIDELINE, 5
    )
    assert [(r.count, r.percent, r.status) for r in rows] == [(0, Decimal(0), "ok")] * 5


# --- bounded queries ---------------------------------------------------------------------------


def grow(org, cycle, hr_admin, n):
    """``n`` more people, launched, in new departments and old, in every state."""
    at_phase(cycle, P.GOAL_SETTING)
    departments = [org.sales_east, org.engineering]
    departments += [DepartmentFactory(parent=org.hq, name=f"Team {i}") for i in range(3)]
    for i in range(n):
        EmployeeFactory(department=departments[i % len(departments)], manager=org.other_manager)
    launch(cycle, hr_admin)
    appraisals = list(Appraisal.objects.filter(cycle=cycle).order_by("pk"))
    levels = list(RatingLevel.objects.filter(scale=cycle.rating_scale))
    for i, appraisal in enumerate(appraisals):
        if i % 4 == 0 or appraisal.employee_id == org.employee.pk:
            continue  # nothing done yet
        if i % 4 == 1:
            set_state(appraisal, own=S.SUBMITTED, stage=A.MANAGER_REVIEW)
        else:
            set_state(
                appraisal,
                own=S.SUBMITTED,
                manager=S.SUBMITTED,
                stage=A.READY,
                manager_level=levels[i % len(levels)],
            )
    at_phase(cycle, P.CALIBRATION)


@pytest.mark.parametrize("persona", ["hr_admin", "partner"])
def test_it_keeps_the_queries_constant(
    persona, request, client, org, hr_admin, appraisal_cycle, django_assert_num_queries
):
    user = request.getfixturevalue(persona)
    cycle = appraisal_cycle
    CycleDeadlineFactory(cycle=cycle, phase=P.SELF_REVIEW, due_on=datetime.date(2026, 1, 1))
    grow(org, cycle, hr_admin, 0)
    assert Appraisal.objects.filter(cycle=cycle).count() in (7, 8)  # the partner is in People
    client.force_login(user)
    with CaptureQueriesContext(connection) as small:
        response = client.get(url(cycle))
    assert response.status_code == 200
    assert response.context["overdue"][K.SELF].count > 0
    grow(org, cycle, hr_admin, 33)
    assert Appraisal.objects.filter(cycle=cycle).count() >= 40
    with django_assert_num_queries(len(small)):
        response = client.get(url(cycle))
    assert response.context["completion"].total > response.context["rated"] > 0
