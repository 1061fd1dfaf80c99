"""The goal lists: My goals and the company objectives (my team's goals and a department's
goals have files of their own), plus what every list page shares: login, methods, the
cycle selection.

The helpers here (not tests) are reused by tests/goals/test_views_lists_*.py.
"""

import datetime
import re
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals import services
from goals.models import CheckIn, Goal
from perfcycle.models import Cycle
from tests.factories import CycleFactory, UserFactory
from tests.goals.conftest import goal_data

L, S = Goal.Level, Goal.Status
MINE = reverse("goals:mine")
COMPANY = reverse("goals:company")


# --- helpers ------------------------------------------------------------------------------


def bulk_goals(cycle, n, *, level=L.PERSONAL, status=S.ACTIVE, weight=1, prefix="Bulk", **fields):
    """``n`` goals written straight to the table (fast; the lists only read them)."""
    return Goal.objects.bulk_create(
        Goal(
            cycle=cycle,
            level=level,
            title=f"{prefix} {i:04d}",
            weight=Decimal(weight),
            kind=Goal.Kind.MILESTONE,
            status=status,
            progress=Decimal(i % 120),
            **fields,
        )
        for i in range(n)
    )


def same_queries_at_two_sizes(client, url, grow, django_assert_num_queries, **headers):
    """Measure ``url``, grow the data, and require exactly the same number of queries."""
    with CaptureQueriesContext(connection) as small:
        assert client.get(url, **headers).status_code == 200
    grow()
    with django_assert_num_queries(len(small)):
        assert client.get(url, **headers).status_code == 200
    return len(small)


def page(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def detail_url_pattern() -> str:
    """A regular expression matching any goal page's URL."""
    return re.escape(reverse("goals:detail", args=[987654321])).replace("987654321", r"\d+")


def linked_goals(html) -> list[str]:
    """Titles of the goals linked from the main tables, in order."""
    found = re.findall(rf'<td><a href="{detail_url_pattern()}">([^<]+)</a></td>', html)
    return [unescape(title) for title in found]


def create_links(html) -> list[dict]:
    """The query strings of every link to the create page."""
    hrefs = re.findall(rf'href="({re.escape(reverse("goals:create"))}\?[^"]*)"', html)
    return [
        {k: v[0] for k, v in parse_qs(urlparse(h.replace("&amp;", "&")).query).items()}
        for h in hrefs
    ]


def other_cycle(status=Cycle.Status.GOAL_SETTING, name="FY2025", year=2025):
    return CycleFactory(
        name=name,
        status=status,
        period_start=datetime.date(year, 1, 1),
        period_end=datetime.date(year, 12, 31),
    )


# --- every list page ----------------------------------------------------------------------


LIST_URLS = [
    ("goals:mine", []),
    ("goals:team", []),
    ("goals:team_export", []),
    ("goals:company", []),
    ("goals:department", ["sales"]),
]


def _url(org, name, args):
    return reverse(name, args=[getattr(org, a).pk for a in args])


@pytest.mark.parametrize(("name", "args"), LIST_URLS)
def test_it_sends_anonymous_visitors_to_the_login(client, org, name, args):
    response = client.get(_url(org, name, args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "args"), LIST_URLS)
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_refuses_methods_other_than_get(client, org, manager, name, args, method):
    client.force_login(manager)
    assert getattr(client, method)(_url(org, name, args)).status_code == 405


# --- my goals -----------------------------------------------------------------------------


def test_it_lists_my_goals_with_what_they_serve(client, cascade, employee):
    client.force_login(employee)
    html = page(client, MINE)
    assert linked_goals(html) == ["Bookings"]
    assert f'href="{reverse("goals:detail", args=[cascade.employee_copy.pk])}"' in html
    # The copy serves the position KPI, which serves the Sales department goal.
    assert f'href="{reverse("goals:detail", args=[cascade.bookings.pk])}"' in html
    assert "which serves Sales revenue" in html
    assert "Approved" in html
    assert "FY2026" in html
    # Only my own goals: not Petra's copy.
    assert reverse("goals:detail", args=[cascade.peer_copy.pk]) + '"' not in html


def test_it_says_the_weights_rule_quietly_when_it_holds(client, cascade, employee):
    client.force_login(employee)
    html = page(client, MINE)
    rule = re.search(r'<p class="goals-weights ([^"]*)"[^>]*>(.*?)</p>', html, re.S)
    assert "Your goals' weights must total 100; they are at 100." in rule.group(2)
    assert "alert-warning" not in rule.group(1)


def test_it_warns_when_my_weights_do_not_total_100(client, cascade, employee):
    Goal.objects.filter(pk=cascade.employee_copy.pk).update(weight=Decimal(85))
    # A proposal does not count until it is approved.
    services.goal_create(
        actor=employee,
        cycle=cascade.employee_copy.cycle,
        level=L.PERSONAL,
        owner=employee.employee,
        parent=cascade.bookings,
        data=goal_data("Learn the new CRM", 15),
    )
    client.force_login(employee)
    html = page(client, MINE)
    rule = re.search(r'<p class="goals-weights ([^"]*)"[^>]*>(.*?)</p>', html, re.S)
    assert "Your goals' weights must total 100; they are at 85." in rule.group(2)
    assert "alert-warning" in rule.group(1)
    assert linked_goals(html) == ["Bookings", "Learn the new CRM"]
    assert "Proposed" in html


def test_it_shows_the_latest_check_in_and_the_progress(client, cascade, employee):
    services.checkin_record(
        actor=employee,
        goal=cascade.employee_copy,
        confidence=CheckIn.Confidence.AT_RISK,
        actual=Decimal(90),
    )
    client.force_login(employee)
    html = page(client, MINE)
    row = re.search(r"<tr>\s*<td><a[^>]*>Bookings</a></td>.*?</tr>", html, re.S).group(0)
    assert "At risk" in row and "badge-warning" in row
    assert "<time datetime=" in row
    assert '<progress class="progress progress-small" max="100" value="' in row
    assert "No check-in yet" not in row


def test_it_says_when_a_goal_has_no_check_in_yet(client, cascade, employee):
    client.force_login(employee)
    html = page(client, MINE)
    assert "No check-in yet" in html
    assert "No progress recorded" in html


def test_it_offers_to_propose_a_goal_prefilled_for_me(client, cascade, cycle, employee):
    client.force_login(employee)
    html = page(client, MINE)
    me = str(employee.employee.pk)
    links = create_links(html)
    expected = {"level": "personal", "owner": me, "cycle": str(cycle.pk)}
    assert expected in links
    # Each of my position's KPIs offers a proposal that serves it.
    assert {**expected, "parent": str(cascade.bookings.pk)} in links
    assert "Propose a goal" in html


def test_it_shows_what_my_goals_serve(client, cascade, employee):
    client.force_login(employee)
    html = page(client, MINE)
    served = re.search(
        r'<section class="card" aria-labelledby="served-heading">.*?</section>', html, re.S
    )
    text = served.group(0)
    assert "Your position's KPIs (Account executive)" in text
    titles = re.findall(rf'<a href="{detail_url_pattern()}">([^<]+)</a>', text)
    # Position KPI, then Sales (the department above Sales East), then the company.
    assert titles == ["Bookings", "Sales revenue", "Grow revenue", "Delight customers"]
    assert f'href="{reverse("goals:department", args=[employee.employee.department_id])}' in text


def test_it_explains_an_empty_list_and_what_to_do(client, cascade, outsider):
    client.force_login(outsider)
    html = page(client, MINE)
    assert "You have no goals for FY2026 yet." in html
    assert "Your manager copies your position's KPIs to you" in html
    assert "Propose a goal" in html
    assert "goals-weights" not in html
    # Olga holds no position: the page says so rather than showing an empty list.
    assert "You hold no position" in html


def test_it_explains_itself_to_an_account_without_an_employee_record(client, cascade):
    client.force_login(UserFactory())
    html = page(client, MINE)
    assert "Your login is not linked to an employee record." in html
    assert "Propose a goal" not in html


def test_it_stops_offering_proposals_once_goal_setting_has_closed(client, cascade, cycle, employee):
    Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.IN_PROGRESS)
    client.force_login(employee)
    html = page(client, MINE)
    assert "Propose a goal" not in html
    assert not create_links(html)
    assert "Goal setting for this cycle has closed" in html


@pytest.mark.parametrize("persona", ["hr_admin", "executive", "manager", "employee", "peer"])
def test_it_shows_my_goals_to_every_role(client, cascade, persona, request):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    html = page(client, MINE)
    assert "<h1>My goals" in html
    has_copy = persona in ("employee", "peer")
    assert (linked_goals(html) == ["Bookings"]) is has_copy


def test_it_shows_the_cycle_asked_for(client, cascade, cycle, employee):
    earlier = other_cycle()
    bulk_goals(earlier, 1, prefix="Last year's goal", employee=employee.employee)
    client.force_login(employee)
    assert linked_goals(page(client, MINE)) == ["Bookings"]
    html = page(client, MINE, cycle=earlier.pk)
    assert linked_goals(html) == ["Last year's goal 0000"]
    assert re.search(rf'<option value="{earlier.pk}" selected>FY2025', html)


@pytest.mark.parametrize("value", ["999999", "not-a-number", "draft"])
def test_it_says_when_a_cycle_is_not_available(client, cascade, employee, value):
    if value == "draft":
        value = str(other_cycle(status=Cycle.Status.DRAFT).pk)
    client.force_login(employee)
    html = page(client, MINE, cycle=value)
    assert "That cycle is not available." in html
    assert 'class="field-error"' in html
    assert not linked_goals(html)


def test_it_pages_my_goals(client, cascade, cycle, employee):
    bulk_goals(cycle, 30, employee=employee.employee, parent=cascade.bookings)
    client.force_login(employee)
    first = page(client, MINE)
    assert len(linked_goals(first)) == 25
    assert "Page 1 of 2" in first
    assert len(linked_goals(page(client, MINE, page=2))) == 6


def test_it_keeps_my_goals_queries_constant(
    client, cascade, cycle, employee, peer, django_assert_num_queries
):
    me, other = employee.employee, peer.employee
    bulk_goals(cycle, 25, employee=me, parent=cascade.bookings)
    bulk_goals(cycle, 25, employee=other, parent=cascade.bookings)

    def grow():
        bulk_goals(cycle, 900, employee=me, parent=cascade.bookings, prefix="More")
        bulk_goals(cycle, 900, employee=other, parent=cascade.bookings, prefix="More")
        bulk_goals(cycle, 100, level=L.COMPANY, prefix="Objective")
        bulk_goals(cycle, 50, level=L.POSITION, position=me.position, parent=cascade.sales)

    client.force_login(employee)
    same_queries_at_two_sizes(client, MINE, grow, django_assert_num_queries)
    assert Goal.objects.count() >= 2000


# --- company objectives -------------------------------------------------------------------


def test_it_lists_the_company_objectives(client, cascade, employee):
    client.force_login(employee)
    html = page(client, COMPANY)
    assert linked_goals(html) == ["Grow revenue", "Delight customers"]
    assert "Plan 2026, line 3: grow revenue by 20%" in html
    rows = re.findall(r"<tr>\s*<td><a.*?</tr>", html, re.S)
    grow, delight = rows
    assert '<td class="num">60</td>' in grow and '<td class="num">1</td>' in grow
    assert '<td class="num">40</td>' in delight and "None yet" in delight
    rule = re.search(r'<p class="goals-weights ([^"]*)"[^>]*>(.*?)</p>', html, re.S)
    assert "weights must total 100; they are at 100." in rule.group(2)
    assert "alert-warning" not in rule.group(1)


def test_it_links_the_strategy_line(client, cascade, executive):
    Goal.objects.filter(pk=cascade.grow.pk).update(strategy_url="https://intranet.example/plan")
    client.force_login(executive)
    html = page(client, COMPANY)
    assert 'href="https://intranet.example/plan" rel="noopener noreferrer"' in html


def test_it_warns_when_the_objectives_do_not_total_100(client, cascade, executive):
    Goal.objects.filter(pk=cascade.delight.pk).update(status=S.CANCELLED)
    client.force_login(executive)
    html = page(client, COMPANY)
    rule = re.search(r'<p class="goals-weights ([^"]*)"[^>]*>(.*?)</p>', html, re.S)
    assert "they are at 60." in rule.group(2)
    assert "alert-warning" in rule.group(1)
    # A cancelled objective is still listed, last, with its status.
    assert linked_goals(html) == ["Grow revenue", "Delight customers"]
    assert "Cancelled" in html


@pytest.mark.parametrize(
    ("persona", "may_add"),
    [("executive", True), ("hr_admin", True), ("manager", False), ("employee", False)],
)
def test_it_offers_to_add_an_objective_to_executives_and_hr(
    client, cascade, cycle, persona, may_add, request
):
    client.force_login(request.getfixturevalue(persona))
    html = page(client, COMPANY)
    assert linked_goals(html) == ["Grow revenue", "Delight customers"]
    assert ("Add an objective" in html) is may_add
    links = create_links(html)
    assert links == ([{"level": "company", "cycle": str(cycle.pk)}] if may_add else [])


def test_it_filters_the_objectives_by_status(client, cascade, employee):
    Goal.objects.filter(pk=cascade.delight.pk).update(status=S.ACTIVE)
    client.force_login(employee)
    assert linked_goals(page(client, COMPANY, status="active")) == ["Delight customers"]
    html = page(client, COMPANY, status="missed")
    assert not linked_goals(html)
    assert "No objective matches." in html
    # A status that does not exist is reported and ignored.
    html = page(client, COMPANY, status="bogus")
    assert 'class="field-error"' in html
    assert linked_goals(html) == ["Grow revenue", "Delight customers"]


def test_it_explains_a_cycle_without_objectives(client, org, executive, employee):
    CycleFactory(name="FY2027")
    client.force_login(executive)
    html = page(client, COMPANY)
    assert "No company objectives for FY2027 yet." in html
    assert "Add an objective" in html
    client.force_login(employee)
    html = page(client, COMPANY)
    assert "The executives set them" in html
    assert "Add an objective" not in html


def test_it_shows_no_objectives_to_an_account_without_an_employee_record(client, cascade):
    client.force_login(UserFactory())
    html = page(client, COMPANY)
    assert "There is no performance cycle to show yet." in html
    assert not linked_goals(html)


def test_it_pages_the_objectives(client, cascade, cycle, employee):
    bulk_goals(cycle, 30, level=L.COMPANY)
    client.force_login(employee)
    assert len(linked_goals(page(client, COMPANY))) == 25
    assert len(linked_goals(page(client, COMPANY, page=2))) == 7


def test_it_keeps_the_company_queries_constant(
    client, org, cascade, cycle, executive, django_assert_num_queries
):
    objectives = bulk_goals(cycle, 48, level=L.COMPANY)
    bulk_goals(cycle, 2, level=L.DEPARTMENT, department=org.sales, parent=objectives[0])

    def grow():
        more = bulk_goals(cycle, 950, level=L.COMPANY, prefix="More")
        for objective in more[:10]:
            bulk_goals(cycle, 100, level=L.DEPARTMENT, department=org.sales, parent=objective)

    client.force_login(executive)
    same_queries_at_two_sizes(client, COMPANY, grow, django_assert_num_queries)
    assert Goal.objects.count() >= 2000
