"""The coverage report: which company objectives, departments, positions and people the
cascade has not reached yet, for HR, executives and HR partners, with CSV exports and a
bounded number of queries."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals import selectors, services
from goals.models import Goal
from perfcycle import services as core_services
from perfcycle.models import Employee
from tests.conftest import fresh
from tests.factories import CycleFactory, DepartmentFactory, EmployeeFactory, PositionFactory

L = Goal.Level


@pytest.fixture
def gaps(org, cascade, hr_admin):
    """The cascade with its gaps made plain.

    * "Delight customers" has no department goal; "Grow revenue" has Sales'.
    * Sales has a goal; Sales East, Engineering and People have none (HQ is the top).
    * The engineers' position has a holder and no KPI; the account executive has Bookings.
    * Emil's copy of Bookings weighs 70; Petra's 100.
    * Olga Outsider has only a proposal; the others in the company have no goal at all.
    * Headquarters (the top, left out of the report) has a goal and a vacant position's KPI.
    """
    engineer = PositionFactory(title="Engineer", department=org.engineering)
    org.outsider.position = engineer
    org.outsider.save()
    PositionFactory(title="Vacant role", department=org.engineering)  # nobody holds it
    services.goal_update(
        actor=hr_admin,
        goal=cascade.employee_copy,
        data={"weight": Decimal(70)},
        expected_version=cascade.employee_copy.version,
    )
    # Olga proposes a goal serving a KPI of a (vacant) position at headquarters.
    hq_goal = services.goal_create(
        actor=hr_admin,
        cycle=cascade.grow.cycle,
        level=L.DEPARTMENT,
        owner=org.hq,
        parent=cascade.grow,
        data={"title": "Hire well", "weight": Decimal(100), "kind": Goal.Kind.MILESTONE},
    )
    hires = services.goal_create(
        actor=hr_admin,
        cycle=cascade.grow.cycle,
        level=L.POSITION,
        owner=PositionFactory(title="Chief of staff", department=org.hq),
        parent=hq_goal,
        data={"title": "Hires", "weight": Decimal(100), "kind": Goal.Kind.MILESTONE},
    )
    services.goal_create(
        actor=org.outsider.user,
        cycle=cascade.grow.cycle,
        level=L.PERSONAL,
        owner=org.outsider,
        parent=hires,
        data={"title": "Interview weekly", "weight": Decimal(100), "kind": Goal.Kind.MILESTONE},
    )
    return cascade


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


def url(cycle, name="goals:coverage", *args):
    return f"{reverse(name, args=args)}?cycle={cycle.pk}"


def section(html, key):
    match = re.search(rf'<section id="coverage-{key}".*?</section>', html, re.S)
    assert match, key
    return match.group(0)


def count_of(html, key):
    heading = re.search(r"<h2.*?</h2>", section(html, key), re.S).group(0)
    return int(re.search(r'<span class="badge [^"]+">([\d,]+)</span>', heading).group(1))


def cells(html, key):
    """The first cell of every row of a section's table."""
    body = re.search(r"<tbody>.*?</tbody>", section(html, key), re.S)
    if not body:
        return []
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>", body.group(0), re.S)
    return [re.sub(r"<[^>]+>", "", row).strip() for row in rows]


def export(client, cycle, key):
    response = client.get(url(cycle, "goals:coverage_export", key))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


# --- what HR sees ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["hr_admin", "executive"])
def test_it_lists_what_the_cascade_does_not_reach(persona, request, client, gaps):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(url(gaps.grow.cycle))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/static/css/goals-tree.css"' in html

    assert cells(html, "objectives") == ["Delight customers"]
    assert f'href="{reverse("goals:detail", args=[gaps.delight.pk])}"' in section(
        html, "objectives"
    )
    assert cells(html, "departments") == ["Engineering", "People", "Sales East"]
    assert cells(html, "positions") == ["Engineer"]
    assert "Vacant role" not in html and "Account executive" not in section(html, "positions")

    weights = section(html, "weights")
    assert cells(html, "weights") == ["Emil Employee"]
    assert re.search(
        r"<td>Sales East</td>\s*<td class=\"num\">70</td>\s*<td class=\"num\">-30</td>", weights
    )
    assert "Petra Peer" not in weights

    people = cells(html, "people")
    assert people == ["Cora Chief", "Hana HR", "Mona Manager", "Olga Outsider", "Otto Other"]
    olga = re.search(r"<tr>\s*<td><a[^>]*>Olga Outsider</a>.*?</tr>", section(html, "people"), re.S)
    assert '<td class="num">1</td>' in olga.group(0)  # her proposal awaits approval

    assert [count_of(html, k) for k in ("objectives", "departments", "positions")] == [1, 3, 1]
    assert [count_of(html, k) for k in ("weights", "people")] == [1, 5]
    assert "and 1 more" not in html.lower()


def test_it_counts_cancelled_goals_as_no_cover(client, gaps, org, hr_admin):
    services.goal_create(
        actor=hr_admin,
        cycle=gaps.grow.cycle,
        level=L.DEPARTMENT,
        owner=org.engineering,
        parent=gaps.delight,
        data={"title": "Happy users", "weight": Decimal(100), "kind": Goal.Kind.MILESTONE},
    )
    client.force_login(hr_admin)
    html = client.get(url(gaps.grow.cycle)).content.decode()
    assert cells(html, "objectives") == []
    assert "Every company objective is served by at least one department goal." in html
    assert cells(html, "departments") == ["People", "Sales East"]

    happy = Goal.objects.get(title="Happy users")
    services.goal_cancel(actor=hr_admin, goal=happy, reason="Dropped")
    html = client.get(url(gaps.grow.cycle)).content.decode()
    assert cells(html, "objectives") == ["Delight customers"]
    assert cells(html, "departments") == ["Engineering", "People", "Sales East"]


def test_it_says_so_when_everything_is_covered(client, org, hr_admin):
    cycle = CycleFactory(name="FY2031", status="goal_setting")
    client.force_login(hr_admin)
    html = client.get(url(cycle)).content.decode()
    assert "Every company objective is served by at least one department goal." in html
    assert "approved goals total 100." in section(html, "weights")
    assert 'href="/goals/coverage/objectives.csv' not in html
    assert cells(html, "positions") == ["Account executive"]
    # Nobody has goals yet: every active person is listed, leavers are not.
    assert count_of(html, "people") == 7


def test_it_leaves_people_who_left_out(client, gaps, org, hr_admin):
    org.other_manager.is_active = False
    org.other_manager.save()
    client.force_login(hr_admin)
    html = client.get(url(gaps.grow.cycle)).content.decode()
    assert "Otto Other" not in section(html, "people")


def test_it_caps_each_list_and_offers_the_full_list(client, gaps, org, hr_admin):
    DepartmentFactory.create_batch(30, parent=org.engineering)
    client.force_login(hr_admin)
    html = client.get(url(gaps.grow.cycle)).content.decode()
    departments = section(html, "departments")
    assert count_of(html, "departments") == 33
    assert len(cells(html, "departments")) == 25
    assert "And 8 more." in departments
    full = url(gaps.grow.cycle, "goals:coverage_export", "departments")
    assert f'href="{full}"' in departments
    rows = export(client, gaps.grow.cycle, "departments")
    assert rows[0] == ["Department", "Code", "Part of", "Head", "People"]
    assert len(rows) == 34
    assert ["Engineering", "ENG", "Headquarters", "Otto Other", "2"] in rows


def test_it_applies_the_rule_that_closes_goal_setting(gaps, org):
    """The report asks the database what ``weight_problems`` works out in Python."""
    cycle = gaps.grow.cycle
    common = {"cycle": cycle, "level": L.PERSONAL, "kind": Goal.Kind.MILESTONE}
    Goal.objects.bulk_create(
        [
            # Petra at 120; a proposal does not count yet.
            Goal(employee=org.peer, title="Extra", weight=Decimal(20), status="active", **common),
            Goal(employee=org.peer, title="Idea", weight=Decimal(30), status="proposed", **common),
            # Mona in thirds: exactly 100.
            *(
                Goal(
                    employee=org.manager, title=f"Third {w}", weight=w, status="approved", **common
                )
                for w in (Decimal("33.33"), Decimal("33.33"), Decimal("33.34"))
            ),
            # Otto's only goal was cancelled: nothing counts, so he is not "off".
            Goal(
                employee=org.other_manager,
                title="Gone",
                weight=Decimal(50),
                status="cancelled",
                **common,
            ),
        ]
    )
    people = Employee.objects.filter(is_active=True)
    ours = selectors.coverage_weights(Goal.objects.all(), cycle=cycle, people=people)
    theirs = [p for p in selectors.weight_problems(cycle=cycle) if p.level == L.PERSONAL]
    assert {(r["employee"], r["total"]) for r in ours} == {(p.owner_id, p.total) for p in theirs}
    assert [r["name"] for r in ours] == ["Emil Employee", "Petra Peer"]


# --- the CSV exports -----------------------------------------------------------------------


def test_it_exports_each_section(client, gaps, hr_admin):
    client.force_login(hr_admin)
    cycle = gaps.grow.cycle
    objectives = export(client, cycle, "objectives")
    assert objectives == [
        ["Company objective", "Weight", "Status", "Strategy line"],
        ["Delight customers", "40", "Approved", ""],
    ]
    assert export(client, cycle, "positions") == [
        ["Position", "Department", "Holders"],
        ["Engineer", "Engineering", "1"],
    ]
    assert export(client, cycle, "weights") == [
        ["Name", "Employee number", "Department", "Total weight", "Off by"],
        ["Emil Employee", "E0003", "Sales East", "70", "-30"],
    ]
    people = export(client, cycle, "people")
    assert people[0][0] == "Name" and people[0][-1] == "Goals awaiting approval"
    assert ["Olga Outsider", "outsider@example.com", "E0006", "Engineering", "Engineer", "1"] in (
        people
    )
    assert len(people) == 6


def test_it_defuses_formulas_in_the_export(client, gaps, org, hr_admin):
    EmployeeFactory(department=org.people, user__full_name="=HYPERLINK(1)")
    EmployeeFactory(department=org.people, user__full_name="-2+3")
    client.force_login(hr_admin)
    names = [row[0] for row in export(client, gaps.grow.cycle, "people")]
    assert "'=HYPERLINK(1)" in names and "=HYPERLINK(1)" not in names
    assert "'-2+3" in names


def test_it_refuses_an_unknown_section_or_cycle(client, gaps, hr_admin):
    client.force_login(hr_admin)
    assert client.get(url(gaps.grow.cycle, "goals:coverage_export", "salaries")).status_code == 404
    bad = reverse("goals:coverage_export", args=["people"]) + "?cycle=999999"
    assert client.get(bad).status_code == 404


# --- who may see it -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["employee", "manager", "outsider"])
def test_it_is_forbidden_to_everyone_else(persona, request, client, gaps):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url(gaps.grow.cycle)).status_code == 403
    assert client.get(url(gaps.grow.cycle, "goals:coverage_export", "people")).status_code == 403


def test_it_shows_a_partner_their_departments_only(client, gaps, org, partner):
    client.force_login(partner)
    html = client.get(url(gaps.grow.cycle)).content.decode()
    assert "Company objectives none of your departments serve" in html
    assert cells(html, "objectives") == ["Delight customers"]
    assert cells(html, "departments") == ["Sales East"]
    assert cells(html, "positions") == []
    assert cells(html, "weights") == ["Emil Employee"]
    assert cells(html, "people") == ["Mona Manager"]
    people = export(client, gaps.grow.cycle, "people")
    assert [row[0] for row in people[1:]] == ["Mona Manager"]


def test_it_reports_a_cycle_that_is_not_there(client, gaps, hr_admin):
    client.force_login(hr_admin)
    response = client.get(reverse("goals:coverage") + "?cycle=nope")
    assert response.status_code == 200
    html = response.content.decode()
    assert "There is no cycle to show." in html
    assert 'class="field-error"' in html


def test_it_defaults_to_the_running_cycle(client, gaps, hr_admin):
    client.force_login(hr_admin)
    html = client.get(reverse("goals:coverage")).content.decode()
    assert cells(html, "objectives") == ["Delight customers"]


@pytest.mark.parametrize("name", ["goals:coverage", "goals:coverage_export"])
def test_it_refuses_a_post_and_asks_visitors_to_log_in(name, client, gaps, hr_admin):
    target = reverse(name, args=["people"] if name.endswith("export") else [])
    assert client.get(target)["Location"].startswith(reverse("login"))
    client.force_login(hr_admin)
    assert client.post(target).status_code == 405


# --- a bounded number of queries ------------------------------------------------------------


def grow(org, gaps, n, prefix):
    """``n`` more goals, and more of everything the report lists."""
    cycle = gaps.grow.cycle
    for i in range(3):
        department = DepartmentFactory(parent=org.engineering, name=f"{prefix} team {i}")
        position = PositionFactory(department=department, title=f"{prefix} role {i}")
        EmployeeFactory(department=department, position=position, manager=org.other_manager)
    common = {"cycle": cycle, "status": Goal.Status.ACTIVE, "kind": Goal.Kind.MILESTONE}
    goals = [
        Goal(level=L.COMPANY, title=f"{prefix} objective {i}", weight=Decimal(0), **common)
        for i in range(n // 10)
    ]
    goals += [
        Goal(
            level=L.PERSONAL,
            employee=org.employee if i % 2 else org.peer,
            parent=gaps.bookings,
            title=f"{prefix} personal {i}",
            weight=Decimal(1),
            **common,
        )
        for i in range(n - n // 10)
    ]
    Goal.objects.bulk_create(goals, batch_size=500)


@pytest.mark.parametrize("persona", ["hr_admin", "partner"])
def test_it_keeps_the_queries_constant(
    persona, request, client, gaps, org, django_assert_num_queries
):
    user = request.getfixturevalue(persona)
    grow(org, gaps, 50, "Small")
    client.force_login(user)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url(gaps.grow.cycle)).status_code == 200
    grow(org, gaps, 1950, "Big")
    assert Goal.objects.count() > 2000
    with django_assert_num_queries(len(small)):
        html = client.get(url(gaps.grow.cycle)).content.decode()
    assert count_of(html, "objectives") > 25 and "more." in section(html, "objectives")
