"""A department's goals: its own goals, its positions' KPIs with their copies, the weights
rule per owner, and the add actions for those who may."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from goals.models import Goal
from tests.factories import CycleFactory, EmployeeFactory, PositionFactory, UserFactory
from tests.goals.test_views_lists import (
    bulk_goals,
    create_links,
    linked_goals,
    page,
    same_queries_at_two_sizes,
)

L, S = Goal.Level, Goal.Status
POSITION_RULE = "This position's KPIs' weights must total 100; they are at"


def url(department):
    return reverse("goals:department", args=[department.pk])


def section(html, heading_id) -> str:
    found = re.search(
        rf'<section class="card" aria-labelledby="{heading_id}">.*?</section>', html, re.S
    )
    return found.group(0)


def own_goals(html) -> str:
    return section(html, "department-goals-heading")


def kpis(html) -> str:
    return section(html, "position-kpis-heading")


def weights_rules(html) -> list[tuple[bool, str]]:
    """(is a warning, text) of each weights rule on the page."""
    return [
        ("alert-warning" in cls, " ".join(text.split()))
        for cls, text in re.findall(r'<p class="goals-weights ([^"]*)"[^>]*>(.*?)</p>', html, re.S)
    ]


def test_it_lists_a_departments_goals_with_what_they_serve(client, org, cascade, manager):
    client.force_login(manager)
    html = page(client, url(org.sales))
    goals = own_goals(html)
    assert linked_goals(goals) == ["Sales revenue"]
    assert f'href="{reverse("goals:detail", args=[cascade.grow.pk])}">Grow revenue</a>' in goals
    assert '<td class="num">100</td>' in goals and "Approved" in goals
    assert weights_rules(goals) == [
        (False, "The department's goals' weights must total 100; they are at 100.")
    ]
    # Sales has no positions of its own.
    assert "This department has no positions." in kpis(html)


def test_it_lists_the_position_kpis_with_their_copies(client, org, cascade, employee):
    client.force_login(employee)
    html = page(client, url(org.sales_east))
    section_html = kpis(html)
    assert "<h3>Account executive" in section_html and "2 holders" in section_html
    assert linked_goals(section_html) == ["Bookings"]
    assert '<td class="goals-serves">Sales revenue</td>' in section_html
    assert '<td class="num">2 of 2</td>' in section_html
    assert weights_rules(section_html) == [(False, f"{POSITION_RULE} 100.")]
    # Sales East has no goals of its own.
    assert "No department goals for FY2026 to show." in own_goals(html)


def test_it_counts_only_live_copies(client, org, cascade, manager):
    Goal.objects.filter(pk=cascade.peer_copy.pk).update(status=S.CANCELLED)
    EmployeeFactory(department=org.sales_east, position=org.position)
    client.force_login(manager)
    section_html = kpis(page(client, url(org.sales_east)))
    assert '<td class="num">1 of 3</td>' in section_html
    assert "3 holders" in section_html


def test_it_warns_when_an_owners_weights_are_off(client, org, cascade, cycle, manager):
    bulk_goals(cycle, 1, level=L.POSITION, position=org.position, weight=10, prefix="Calls")
    bulk_goals(cycle, 1, level=L.DEPARTMENT, department=org.sales, weight=5, prefix="Churn")
    client.force_login(manager)
    assert weights_rules(own_goals(page(client, url(org.sales)))) == [
        (True, "The department's goals' weights must total 100; they are at 105.")
    ]
    section_html = kpis(page(client, url(org.sales_east)))
    assert weights_rules(section_html) == [(True, f"{POSITION_RULE} 110.")]
    assert linked_goals(section_html) == ["Bookings", "Calls 0000"]


@pytest.mark.parametrize("persona", ["manager", "hr_admin", "executive"])
def test_it_offers_the_add_actions_to_those_who_may(client, org, cascade, cycle, persona, request):
    """The department's head and the heads above it (the CEO heads the company), and HR."""
    vacant = PositionFactory(title="Sales engineer", department=org.sales_east)
    client.force_login(request.getfixturevalue(persona))
    html = page(client, url(org.sales_east))
    links = create_links(html)
    c = str(cycle.pk)
    assert {"level": "department", "owner": str(org.sales_east.pk), "cycle": c} in links
    assert {"level": "position", "owner": str(org.position.pk), "cycle": c} in links
    assert {"level": "position", "owner": str(vacant.pk), "cycle": c} in links
    assert "Add a department goal" in html
    assert "Add a KPI for Account executive" in html
    # A position without KPIs is pointed out to those who can fill the gap.
    gaps = re.search(r"Positions without KPIs for this cycle</h3>(.*?)</ul>", html, re.S)
    assert "Sales engineer" in gaps.group(1) and "Account executive" not in gaps.group(1)


@pytest.mark.parametrize("persona", ["employee", "peer", "outsider"])
def test_it_offers_no_add_actions_to_others(client, org, cascade, persona, request):
    PositionFactory(title="Sales engineer", department=org.sales_east)
    client.force_login(request.getfixturevalue(persona))
    html = page(client, url(org.sales_east))
    assert create_links(html) == []
    assert "Positions without KPIs" not in html


@pytest.mark.parametrize("persona", ["executive", "hr_admin"])
def test_it_shows_the_whole_organisation_to_executives_and_hr(
    client, org, cascade, persona, request
):
    client.force_login(request.getfixturevalue(persona))
    assert linked_goals(own_goals(page(client, url(org.sales)))) == ["Sales revenue"]
    assert linked_goals(kpis(page(client, url(org.sales_east)))) == ["Bookings"]


def test_it_shows_only_the_goals_a_person_may_read(client, org, cascade, outsider):
    """Departments are open to everyone who works here; their goals follow the policy:
    Olga, in Engineering, does not read the Sales goals."""
    client.force_login(outsider)
    html = page(client, url(org.sales))
    assert linked_goals(html) == []
    assert "No department goals for FY2026 to show." in html
    assert "Sales revenue" not in html
    html = page(client, url(org.sales_east))
    assert "Bookings" not in html
    assert "No position KPIs for FY2026 to show." in html


def test_it_hides_departments_from_an_account_without_an_employee_record(client, org, cascade):
    client.force_login(UserFactory())
    assert client.get(url(org.sales)).status_code == 404


def test_it_answers_404_for_a_department_that_does_not_exist(client, org, employee):
    client.force_login(employee)
    assert client.get(reverse("goals:department", args=[999999])).status_code == 404


def test_it_shows_another_cycle_and_reports_a_bad_one(client, org, cascade, manager):
    earlier = CycleFactory(name="FY2025")
    bulk_goals(earlier, 1, level=L.DEPARTMENT, department=org.sales, prefix="Last year")
    client.force_login(manager)
    assert linked_goals(page(client, url(org.sales), cycle=earlier.pk)) == ["Last year 0000"]
    html = page(client, url(org.sales), cycle="nonsense")
    assert "That cycle is not available." in html
    assert "Sales revenue" not in html


def test_it_pages_both_lists_independently(client, org, cascade, cycle, manager):
    bulk_goals(cycle, 30, level=L.DEPARTMENT, department=org.sales_east, prefix="Goal")
    bulk_goals(cycle, 30, level=L.POSITION, position=org.position, prefix="KPI")
    client.force_login(manager)
    html = page(client, url(org.sales_east), cycle=cycle.pk)
    assert len(linked_goals(own_goals(html))) == 25
    assert len(linked_goals(kpis(html))) == 25
    next_kpis = re.search(r'href="(\?[^"]*kpi_page=2[^"]*)"', kpis(html)).group(1)
    next_kpis = next_kpis.replace("&amp;", "&")
    assert f"cycle={cycle.pk}" in next_kpis
    html = page(client, url(org.sales_east) + next_kpis)
    assert len(linked_goals(own_goals(html))) == 25  # the goals stay on their first page
    assert len(linked_goals(kpis(html))) == 6  # 30 + Bookings, 25 on the first page
    html = page(client, url(org.sales_east), goals_page=2)
    assert len(linked_goals(own_goals(html))) == 5


def test_it_keeps_the_department_queries_constant(
    client, org, cascade, cycle, manager, django_assert_num_queries
):
    other = PositionFactory(department=org.sales_east, title="Sales engineer")
    bulk_goals(cycle, 10, level=L.DEPARTMENT, department=org.sales_east, parent=cascade.grow)
    kpis_ = bulk_goals(cycle, 20, level=L.POSITION, position=org.position, parent=cascade.sales)
    for person in (org.employee, org.peer):
        bulk_goals(cycle, 1, level=L.PERSONAL, employee=person, source=kpis_[0])

    def grow():
        bulk_goals(cycle, 400, level=L.DEPARTMENT, department=org.sales_east, prefix="More")
        more = bulk_goals(cycle, 600, level=L.POSITION, position=other, parent=cascade.sales)
        for person in (org.employee, org.peer):
            Goal.objects.bulk_create(
                Goal(
                    cycle=cycle,
                    level=L.PERSONAL,
                    employee=person,
                    source=kpi,
                    title=kpi.title,
                    weight=Decimal(1),
                    kind=Goal.Kind.MILESTONE,
                    status=S.ACTIVE,
                )
                for kpi in more[:500]
            )
        for _ in range(5):
            PositionFactory(department=org.sales_east)

    client.force_login(manager)
    same_queries_at_two_sizes(client, url(org.sales_east), grow, django_assert_num_queries)
    assert Goal.objects.count() >= 2000
