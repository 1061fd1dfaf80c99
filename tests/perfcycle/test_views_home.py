"""The home page: one section per role, right numbers, bounded queries."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from perfcycle import services
from perfcycle.models import Cycle, OrgImport
from tests.conftest import fresh
from tests.factories import (
    CycleDeadlineFactory,
    CycleFactory,
    DepartmentFactory,
    EmployeeFactory,
    PositionFactory,
    UserFactory,
)

SECTIONS = ["home-employee", "home-manager", "home-hr", "home-executive", "home-partner"]
PERSONA_SECTIONS = {
    "employee": {"home-employee"},
    "manager": {"home-employee", "home-manager"},
    "hr_admin": {"home-employee", "home-hr"},
    "executive": {"home-employee", "home-manager", "home-executive"},
    "partner": {"home-employee", "home-partner"},
}


@pytest.fixture
def partner(org, hr_admin):
    """Petra Peer, HR business partner of Sales (and so of Sales East)."""
    services.partner_grant(actor=hr_admin, user=org.peer.user, department=org.sales)
    return fresh(org.peer.user)


@pytest.fixture
def cycle(db):
    cycle = CycleFactory(name="FY2026", status=Cycle.Status.GOAL_SETTING)
    CycleDeadlineFactory(
        cycle=cycle, phase=Cycle.Status.GOAL_SETTING, due_on=datetime.date(2026, 2, 15)
    )
    return cycle


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def grow(org, n: int) -> None:
    """More of everything each section lists or counts."""
    for _ in range(n):
        department = DepartmentFactory(parent=org.sales)
        position = PositionFactory(department=department)
        EmployeeFactory(department=department, position=position, manager=org.manager)
        EmployeeFactory(department=org.engineering, manager=org.other_manager)
        EmployeeFactory(department=org.people, manager=org.ceo)
        DepartmentFactory(parent=org.engineering)
    OrgImport.objects.create(filename=f"org-{n}.csv", status=OrgImport.Status.APPLIED, rows=n)


@pytest.mark.parametrize("persona", list(PERSONA_SECTIONS))
def test_it_shows_one_section_per_role(persona, request, client, cycle):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    html = client.get(reverse("home")).content.decode()
    shown = {s for s in SECTIONS if f'id="{s}"' in html}
    assert shown == PERSONA_SECTIONS[persona]


@pytest.mark.parametrize("persona", list(PERSONA_SECTIONS))
def test_it_keeps_the_query_count_whatever_the_size_of_the_organisation(
    persona, request, client, org, cycle, django_assert_num_queries
):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    grow(org, 1)
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("home")).status_code == 200
    assert len(small) <= 25
    grow(org, 12)
    with django_assert_num_queries(len(small)):
        assert client.get(reverse("home")).status_code == 200


def test_it_shows_my_place_and_what_is_due(client, employee, cycle):
    client.force_login(employee)
    mine = section(client.get(reverse("home")).content.decode(), "home-employee")
    assert "My work" in mine
    assert "Account executive" in mine
    assert "Sales East" in mine
    assert "Mona Manager" in mine
    assert "FY2026" in mine
    assert "Goal setting" in mine
    assert "Feb. 15, 2026" in mine


def test_it_says_when_no_cycle_is_running(client, employee):
    client.force_login(employee)
    mine = section(client.get(reverse("home")).content.decode(), "home-employee")
    assert "No performance cycle is running" in mine


def test_it_shows_a_manager_their_direct_reports_and_whole_team(client, org, manager):
    EmployeeFactory(department=org.sales_east, manager=org.employee, user__full_name="Gina Grand")
    client.force_login(manager)
    team = section(client.get(reverse("home")).content.decode(), "home-manager")
    assert "Emil Employee" in team and "Petra Peer" in team
    assert "Gina Grand" not in team  # not a direct report ...
    numbers = re.findall(r"<dd>(\d+)</dd>", team)
    assert numbers == ["2", "3"]  # ... but counted in the whole team


def test_it_shows_hr_the_organisation_numbers_and_the_last_import(client, org, hr_admin):
    EmployeeFactory(department=org.people, manager=None, user__full_name="Nora Nomanager")
    EmployeeFactory(department=org.people, manager=org.ceo, is_active=False)
    OrgImport.objects.create(filename="hris.csv", status=OrgImport.Status.REJECTED, rows=12)
    client.force_login(hr_admin)
    hr = section(client.get(reverse("home")).content.decode(), "home-hr")
    numbers = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", hr))
    assert numbers == {
        "Active employees": "8",
        "Departments": "5",
        "Positions": "1",
        "People without a manager": "1",  # the CEO heads the top department: not counted
        "Departments without a head": "2",  # Sales East, People
    }
    assert "hris.csv" in hr and "Rejected" in hr and "badge-danger" in hr
    assert reverse("org_import") in hr


def test_it_shows_the_executive_headcount_by_division(client, org, executive):
    DepartmentFactory(parent=org.engineering, name="Platform")
    EmployeeFactory(department=org.engineering.children.get(), manager=org.other_manager)
    client.force_login(executive)
    company = section(client.get(reverse("home")).content.decode(), "home-executive")
    rows = re.findall(
        r'<a href="/org/departments/\d+/">([^<]+)</a>.*?<td class="num">(\d+)</td>', company, re.S
    )
    assert rows == [("Engineering", "3"), ("People", "1"), ("Sales", "3"), ("Headquarters", "1")]


def test_it_shows_a_partner_their_departments_with_headcounts(client, partner):
    client.force_login(partner)
    mine = section(client.get(reverse("home")).content.decode(), "home-partner")
    rows = re.findall(
        r'<a href="/org/departments/\d+/">([^<]+)</a>.*?<td class="num">(\d+)</td>', mine, re.S
    )
    assert rows == [("Sales", "1"), ("Sales East", "2")]


def test_it_tells_an_account_without_an_employee_record_what_to_do(client, db):
    client.force_login(UserFactory())
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "not linked to an employee record" in response.content.decode()


def test_it_sends_visitors_to_the_login_page(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_refuses_a_post(client, employee):
    client.force_login(employee)
    assert client.post(reverse("home")).status_code == 405


def test_it_renders_the_shell_with_the_cycle_search_language_and_logout(client, employee, cycle):
    client.force_login(employee)
    html = client.get(reverse("home")).content.decode()
    assert 'class="skip-link" href="#main"' in html
    assert '<main id="main"' in html
    assert "FY2026" in html and 'class="badge badge-info">Goal setting<' in html
    assert f'action="{reverse("directory")}"' in html
    assert f'action="{reverse("set_language")}"' in html
    assert re.search(r'<form method="post" action="/logout/">.*?Log out</button>', html, re.S)
    assert "hx-headers" in html and "X-CSRFToken" in html
    assert "htmx.min.js" in html
    # Nothing inline: no <script> body, no style attribute, no on* handler.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html and not re.search(r"\son[a-z]+=", html)


def test_it_shows_only_the_navigation_the_role_may_use(client, employee, hr_admin):
    client.force_login(employee)
    html = client.get(reverse("home")).content.decode()
    assert reverse("directory") in html and reverse("department_tree") in html
    assert reverse("org_import") not in html and reverse("admin:index") not in html

    hr_admin.is_staff = True
    hr_admin.save()
    client.force_login(hr_admin)
    html = client.get(reverse("home")).content.decode()
    assert reverse("org_import") in html and reverse("admin:index") in html
