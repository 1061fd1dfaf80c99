"""Department results: each department's result from its own goals, its people's ratings
and its contribution to each company objective; the ranking for HR and executives, a
head's own departments, a partner's; the CSV export; bounded queries.

The numbers, worked by hand (KPIs 80/100/120: 90 scores 75, 100 scores 100, 110 scores
110, 120 scores 120)::

    Grow revenue (company)                                 progress (5550+3000+12000)/200
    ├── Sales revenue  Sales        w60  attainment 100    progress 92.5  = 102.75
    │   └── Bookings KPI -> Emil 110, Petra 90 (75)        (110+75)/2 = 92.5
    ├── Sales margin   Sales        w40  attainment 75     progress 75
    ├── Platform       Engineering  w100 attainment 120    progress 120
    ├── Legacy deal    Sales        w0   attainment 50     cancelled: left out
    └── Sales NPS      Sales        w0   never measured: left out
    Delight customers (company)                            progress 50
    └── East visits    Sales East   w100 50% complete      progress 50

    Results: Engineering 120, Sales (60*100 + 40*75)/100 = 90, Sales East 50.
    Contributions to Grow revenue: Sales (60*92.5 + 40*75)/200 = 42.75 points, 41.6%;
    Engineering 100*120/200 = 60 points, 58.4%. To Delight customers: Sales East 50, 100%.
"""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appraisals import reports
from appraisals.models import Appraisal
from goals import services as goal_services
from goals.models import CheckIn, Goal
from perfcycle import services as core_services
from perfcycle.models import Department, Employee, RatingLevel
from tests.conftest import fresh
from tests.factories import DepartmentFactory, EmployeeFactory
from tests.goals.conftest import goal_data

from .conftest import GUIDELINE, record

L = Goal.Level


def level(cycle, value):
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def add_goal(actor, cycle, owner, parent, title, weight, **data):
    return goal_services.goal_create(
        actor=actor,
        cycle=cycle,
        level=L.DEPARTMENT,
        owner=owner,
        parent=parent,
        data=goal_data(title, weight, **data),
    )


@pytest.fixture
def results(org, hr_admin, appraisal_cycle, cascade):
    cycle = appraisal_cycle
    sales = goal_services.goal_update(
        actor=hr_admin,
        goal=cascade.sales,
        data={"weight": Decimal(60)},
        expected_version=cascade.sales.version,
    )
    margin = add_goal(hr_admin, cycle, org.sales, cascade.grow, "Sales margin", 40)
    legacy = add_goal(hr_admin, cycle, org.sales, cascade.grow, "Legacy deal", 0)
    add_goal(hr_admin, cycle, org.sales, cascade.grow, "Sales NPS", 0)  # never measured
    platform = add_goal(hr_admin, cycle, org.engineering, cascade.grow, "Platform", 100)
    visits = goal_services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=L.DEPARTMENT,
        owner=org.sales_east,
        parent=cascade.delight,
        data={"title": "East visits", "weight": Decimal(100), "kind": Goal.Kind.MILESTONE},
    )
    record(hr_admin, cascade.employee_copy, 110)
    record(hr_admin, cascade.peer_copy, 90)
    record(hr_admin, sales, 100)
    record(hr_admin, margin, 90)
    record(hr_admin, platform, 120)
    record(hr_admin, legacy, 80)
    goal_services.goal_cancel(actor=hr_admin, goal=legacy, reason="Deal fell through")
    goal_services.checkin_record(
        actor=hr_admin,
        goal=visits,
        percent_complete=Decimal(50),
        confidence=CheckIn.Confidence.ON_TRACK,
    )
    # Ratings as they stand: Emil proposed 4; Petra proposed 4, calibrated to 3; Mona final 5.
    appraisals = Appraisal.objects.filter(cycle=cycle)
    appraisals.filter(employee=org.employee).update(manager_level=level(cycle, 4))
    appraisals.filter(employee=org.peer).update(
        manager_level=level(cycle, 4), calibrated_level=level(cycle, 3)
    )
    appraisals.filter(employee=org.manager).update(
        manager_level=level(cycle, 4), final_level=level(cycle, 5), stage=Appraisal.Stage.FINAL
    )
    return cycle


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


def url(cycle, name="appraisals:department_results", *args):
    return reverse(name, args=[cycle.pk, *args])


def by_name(data):
    return {row.department.name: row for row in data.rows}


# --- the numbers ---------------------------------------------------------------------


def test_it_works_out_results_and_contributions_by_hand(org, cascade, results):
    data = reports.department_results(
        results, Department.objects.all(), guideline=GUIDELINE, tolerance=5, ranked=True
    )
    rows = by_name(data)
    cascade.grow.refresh_from_db()
    cascade.delight.refresh_from_db()
    assert cascade.grow.progress == Decimal("102.75")
    assert cascade.delight.progress == Decimal("50.00")
    assert [o.title for o in data.objectives] == ["Grow revenue", "Delight customers"]

    assert rows["Engineering"].result == Decimal("120.00")
    assert rows["Sales"].result == Decimal("90.00")
    assert rows["Sales East"].result == Decimal("50.00")
    assert rows["Headquarters"].result is None and rows["People"].result is None
    # Sales: three live goals (the cancelled one is left out), two measured.
    assert (rows["Sales"].goals, rows["Sales"].measured) == (3, 2)

    sales_grow, sales_delight = rows["Sales"].contributions
    assert (sales_grow.points, sales_grow.share, sales_grow.goals) == (
        Decimal("42.75"),
        Decimal("41.6"),
        2,
    )
    assert (sales_delight.points, sales_delight.goals) == (Decimal("0.00"), 0)
    engineering_grow = rows["Engineering"].contributions[0]
    assert (engineering_grow.points, engineering_grow.share) == (Decimal("60.00"), Decimal("58.4"))
    east_delight = rows["Sales East"].contributions[1]
    assert (east_delight.points, east_delight.share) == (Decimal("50.00"), Decimal("100.0"))
    # The departments' points add up to the objective's progress.
    assert sum(r.contributions[0].points for r in data.rows) == Decimal("102.75")

    # Ranked by result; ties share a rank; no result, no rank, last by name.
    assert [(r.rank, r.department.name) for r in data.rows] == [
        (1, "Engineering"),
        (2, "Sales"),
        (3, "Sales East"),
        (None, "Headquarters"),
        (None, "People"),
    ]


def test_it_shows_each_departments_current_ratings(org, results):
    rows = by_name(reports.department_results(results, Department.objects.all()))
    east = {r.level.value: r.count for r in rows["Sales East"].distribution}
    # Emil: proposed 4. Petra: proposed 4, calibrated 3 (calibrated wins).
    assert east == {1: 0, 2: 0, 3: 1, 4: 1, 5: 0}
    sales = {r.level.value: r.count for r in rows["Sales"].distribution}
    assert sales == {1: 0, 2: 0, 3: 0, 4: 0, 5: 1}  # Mona: final 5 over proposed 4
    assert (rows["Engineering"].appraisals, rows["Engineering"].rated) == (2, 0)


def test_it_keeps_the_viewers_own_rating_out_until_release(client, hr_admin, org, results):
    Appraisal.objects.filter(cycle=results, employee=org.hr).update(manager_level=level(results, 2))
    client.force_login(hr_admin)
    people = url(results, "appraisals:department_result", org.people.pk)
    result = client.get(people).context["result"]
    assert (result.appraisals, result.rated) == (1, 0)
    client.force_login(org.ceo.user)
    assert client.get(people).context["result"].rated == 1


def test_it_counts_goals_equally_when_every_weight_is_zero(org, hr_admin, appraisal_cycle, cascade):
    cycle = appraisal_cycle
    first = add_goal(hr_admin, cycle, org.people, cascade.grow, "Hire well", 0)
    second = add_goal(hr_admin, cycle, org.people, cascade.grow, "Train well", 0)
    add_goal(hr_admin, cycle, org.people, cascade.grow, "Not measured", 0)
    record(hr_admin, first, 100)
    record(hr_admin, second, 90)
    rows = by_name(reports.department_results(cycle, Department.objects.filter(pk=org.people.pk)))
    assert rows["People"].result == Decimal("87.50")  # (100 + 75) / 2
    assert rows["People"].measured == 2


# --- the pages -------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["hr_admin", "executive"])
def test_it_ranks_every_department_for_hr_and_executives(persona, request, client, results):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(url(results))
    assert response.status_code == 200
    html = response.content.decode()
    assert [r.department.name for r in response.context["page_obj"]] == [
        "Engineering",
        "Sales",
        "Sales East",
        "Headquarters",
        "People",
    ]
    assert response.context["ranked"]
    assert "Rank" in html and "42.75" in html and "41.6% of it" in html
    assert url(results, "appraisals:department_results_export") in html


def test_it_shows_a_head_their_department_and_its_subtree_unranked(client, manager, results):
    client.force_login(manager)
    response = client.get(url(results))
    assert response.status_code == 200
    rows = list(response.context["page_obj"])
    assert [r.department.name for r in rows] == ["Sales", "Sales East"]
    assert not response.context["ranked"] and all(r.rank is None for r in rows)
    html = response.content.decode()
    assert "Engineering" not in html
    assert url(results, "appraisals:department_results_export") not in html


def test_it_shows_a_partner_their_departments(client, partner, results):
    client.force_login(partner)
    response = client.get(url(results))
    assert response.status_code == 200
    assert [r.department.name for r in response.context["page_obj"]] == ["Sales", "Sales East"]
    assert not response.context["ranked"]


@pytest.mark.parametrize("persona", ["employee", "outsider"])
def test_it_refuses_people_without_departments_to_report_on(persona, request, client, results):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url(results)).status_code == 403


def test_it_asks_anonymous_visitors_to_log_in(client, results):
    response = client.get(url(results))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_answers_only_get(client, hr_admin, org, results):
    client.force_login(hr_admin)
    assert client.post(url(results)).status_code == 405
    detail = url(results, "appraisals:department_result", org.sales.pk)
    assert client.post(detail).status_code == 405
    assert client.post(url(results, "appraisals:department_results_export")).status_code == 405


def test_it_is_a_404_for_an_unknown_cycle(client, hr_admin, results):
    client.force_login(hr_admin)
    assert client.get(reverse("appraisals:department_results", args=[99999])).status_code == 404


# --- one department ----------------------------------------------------------------------


def test_it_shows_a_departments_goals_and_contributions(client, manager, org, results):
    client.force_login(manager)
    response = client.get(url(results, "appraisals:department_result", org.sales.pk))
    assert response.status_code == 200
    result = response.context["result"]
    assert result.result == Decimal("90.00")
    titles = [g.title for g in response.context["goals"]]
    assert titles == ["Sales revenue", "Sales margin", "Legacy deal", "Sales NPS"]
    html = response.content.decode()
    assert "42.75" in html and "41.6%" in html and "not counted in the result" in html
    # Sales' one rating is Mona's own final 5, not released yet: hidden from her.
    assert (result.appraisals, result.rated) == (1, 0)


def test_it_shows_the_subtree_to_the_head(client, manager, org, results):
    client.force_login(manager)
    response = client.get(url(results, "appraisals:department_result", org.sales_east.pk))
    assert response.status_code == 200
    contributions = response.context["result"].contributions
    assert [(c.objective.title, c.points, c.share) for c in contributions if c.goals] == [
        ("Delight customers", Decimal("50.00"), Decimal("100.0"))
    ]


@pytest.mark.parametrize(
    "persona, department",
    [
        ("manager", "engineering"),
        ("partner", "engineering"),
        ("outsider", "sales"),
        ("employee", "sales_east"),
    ],
)
def test_it_is_a_404_outside_the_users_departments(
    persona, department, request, client, org, results
):
    client.force_login(request.getfixturevalue(persona))
    target = getattr(org, department)
    response = client.get(url(results, "appraisals:department_result", target.pk))
    assert response.status_code == 404


# --- the CSV export ----------------------------------------------------------------------


def export(client, cycle):
    response = client.get(url(cycle, "appraisals:department_results_export"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_it_exports_the_ranking(client, executive, results):
    client.force_login(executive)
    header, *rows = export(client, results)
    assert header[:5] == ["Rank", "Department", "Code", "Part of", "Result"]
    assert "Grow revenue: contribution in points" in header
    assert "Delight customers: share in percent" in header
    first = dict(zip(header, rows[0], strict=True))
    assert (first["Rank"], first["Department"], first["Result"]) == ("1", "Engineering", "120")
    sales = dict(zip(header, rows[1], strict=True))
    assert sales["Grow revenue: contribution in points"] == "42.75"
    assert sales["Grow revenue: share in percent"] == "41.6"
    assert sales["5 – Outstanding"] == "1"
    assert [row[1] for row in rows] == [
        "Engineering",
        "Sales",
        "Sales East",
        "Headquarters",
        "People",
    ]


@pytest.mark.parametrize("persona", ["manager", "partner", "employee"])
def test_it_keeps_the_export_to_hr_and_executives(persona, request, client, results):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url(results, "appraisals:department_results_export")).status_code == 403


# --- bounded queries -------------------------------------------------------------------------


def grow_org(org, cycle, n, prefix):
    """``n`` more departments under Engineering, each with two measured goals serving the
    first company objective and three appraised (and rated) people."""
    grow = Goal.objects.get(cycle=cycle, title="Grow revenue")
    levels = list(RatingLevel.objects.filter(scale=cycle.rating_scale))
    for i in range(n):
        department = DepartmentFactory(parent=org.engineering, name=f"{prefix} team {i}")
        Goal.objects.bulk_create(
            Goal(
                cycle=cycle,
                level=L.DEPARTMENT,
                department=department,
                parent=grow,
                title=f"{prefix} goal {i}-{j}",
                weight=Decimal(50),
                kind=Goal.Kind.MILESTONE,
                status=Goal.Status.ACTIVE,
                attainment=Decimal(40 + i + j),
                progress=Decimal(40 + i + j),
            )
            for j in range(2)
        )
        people = [EmployeeFactory(department=department, manager=org.other_manager) for _ in "abc"]
        Appraisal.objects.bulk_create(
            Appraisal(
                cycle=cycle,
                employee=person,
                department=department,
                manager_level=levels[(i + k) % len(levels)],
            )
            for k, person in enumerate(people)
        )


@pytest.mark.parametrize("persona", ["hr_admin", "manager"])
def test_it_keeps_the_queries_constant(
    persona, request, client, org, results, django_assert_num_queries
):
    user = request.getfixturevalue(persona)
    if persona == "manager":
        # Mona heads Sales; grow her subtree instead of Engineering's.
        org.engineering.parent = org.sales_east
        org.engineering.save()
    grow_org(org, results, 3, "Small")
    client.force_login(user)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url(results)).status_code == 200
    grow_org(org, results, 60, "Big")
    assert Employee.objects.count() > 180
    with django_assert_num_queries(len(small)):
        response = client.get(url(results))
    assert len(response.context["results"].rows) > 60
    assert response.context["page_obj"].paginator.num_pages == 2


def test_the_detail_and_export_keep_their_queries_constant(
    client, hr_admin, org, results, django_assert_num_queries
):
    grow_org(org, results, 2, "Small")
    client.force_login(hr_admin)
    detail = url(results, "appraisals:department_result", org.sales.pk)
    with CaptureQueriesContext(connection) as small_detail:
        assert client.get(detail).status_code == 200
    with CaptureQueriesContext(connection) as small_export:
        export(client, results)
    grow_org(org, results, 30, "Big")
    with django_assert_num_queries(len(small_detail)):
        assert client.get(detail).status_code == 200
    with django_assert_num_queries(len(small_export)):
        rows = export(client, results)
    assert len(rows) > 35
