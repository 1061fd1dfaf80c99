"""My team's goals: the manager's list with its filters, paging, the proposals waiting for
the manager's decision, and the CSV export."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from goals import services
from goals.models import CheckIn, Goal
from tests.factories import CycleFactory, EmployeeFactory, UserFactory
from tests.goals.conftest import goal_data
from tests.goals.test_views_lists import (
    bulk_goals,
    detail_url_pattern,
    linked_goals,
    page,
    same_queries_at_two_sizes,
)

L, S = Goal.Level, Goal.Status
TEAM = reverse("goals:team")
EXPORT = reverse("goals:team_export")
HTMX = {"HTTP_HX_REQUEST": "true"}


def people(html) -> list[str]:
    """The person of each row, in order."""
    return re.findall(r'<a href="/people/\d+/">([^<]+)</a>', results(html))


def results(html) -> str:
    return re.search(r'<div id="team-results">.*', html, re.S).group(0)


def decisions(html) -> str:
    found = re.search(r'<section class="card goals-decisions".*?</section>', html, re.S)
    return found.group(0) if found else ""


def export(client, **params) -> list[list[str]]:
    response = client.get(EXPORT, params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def propose(user, parent, title="My own idea", weight=10, cycle=None):
    """A personal goal its owner proposes (status: proposed)."""
    return services.goal_create(
        actor=user,
        cycle=cycle or parent.cycle,
        level=L.PERSONAL,
        owner=user.employee,
        parent=parent,
        data=goal_data(title, weight),
    )


# --- who may look -------------------------------------------------------------------------


def test_it_lists_the_goals_of_the_managers_people(client, cascade, manager):
    client.force_login(manager)
    html = page(client, TEAM)
    assert people(html) == ["Emil Employee", "Petra Peer"]
    assert linked_goals(html) == ["Bookings", "Bookings"]
    assert "2 goals found" in html
    assert "which serves Sales revenue" in html
    assert "Approved" in html
    # A link per goal to its page, where the manager acts on it.
    for goal in (cascade.employee_copy, cascade.peer_copy):
        assert f'href="{reverse("goals:detail", args=[goal.pk])}"' in html


def test_it_follows_the_whole_subtree(client, org, cascade, cycle, executive):
    """The CEO heads the company: everyone below, at any depth, is on the list."""
    bulk_goals(cycle, 1, prefix="Ship the API", employee=org.outsider)
    bulk_goals(cycle, 1, prefix="Hire two engineers", employee=org.other_manager)
    client.force_login(executive)
    html = page(client, TEAM)
    assert people(html) == ["Emil Employee", "Olga Outsider", "Otto Other", "Petra Peer"]


def test_it_leaves_out_the_managers_own_goals_and_other_teams(client, org, cascade, cycle, manager):
    bulk_goals(cycle, 1, prefix="Mona's own goal", employee=org.manager)
    bulk_goals(cycle, 1, prefix="Olga's goal", employee=org.outsider)
    client.force_login(manager)
    html = page(client, TEAM)
    assert people(html) == ["Emil Employee", "Petra Peer"]
    assert "Mona&#x27;s own goal" not in html and "Olga" not in html


def test_it_keeps_drafts_with_their_author(client, cascade, cycle, employee, manager):
    services.goal_create(
        actor=employee,
        cycle=cycle,
        level=L.PERSONAL,
        owner=employee.employee,
        parent=cascade.bookings,
        data=goal_data("Half-formed idea", 5),
        submit=False,
    )
    client.force_login(manager)
    assert "Half-formed idea" not in page(client, TEAM)


@pytest.mark.parametrize("persona", ["employee", "peer", "outsider", "hr_admin"])
def test_it_refuses_people_without_a_team(client, cascade, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(TEAM).status_code == 403
    assert client.get(EXPORT).status_code == 403


def test_it_refuses_an_account_without_an_employee_record(client, cascade):
    client.force_login(UserFactory())
    assert client.get(TEAM).status_code == 403
    assert client.get(EXPORT).status_code == 403


# --- waiting for a decision ---------------------------------------------------------------


def test_it_lists_proposals_waiting_for_the_managers_decision(client, cascade, employee, manager):
    proposal = propose(employee, cascade.bookings, "Learn the new CRM")
    client.force_login(manager)
    block = decisions(page(client, TEAM))
    assert "Waiting for your decision" in block
    assert re.findall(rf'<a href="{detail_url_pattern()}">([^<]+)</a>', block) == [
        "Learn the new CRM"
    ]
    assert f'href="{reverse("goals:detail", args=[proposal.pk])}"' in block
    assert "proposed by Emil Employee, weight 10" in block
    assert "serves Bookings" in block
    assert '<span class="badge badge-warning">1</span>' in block


def test_it_never_asks_managers_to_decide_on_their_own_proposals(
    client, org, cascade, cycle, manager, executive
):
    bulk_goals(cycle, 1, prefix="Mona's proposal", status=S.PROPOSED, employee=org.manager)
    client.force_login(manager)
    block = decisions(page(client, TEAM))
    assert "Mona" not in block
    assert "No proposed goal waits for your decision." in block
    # Her own manager decides on it.
    client.force_login(executive)
    assert "Mona&#x27;s proposal 0000" in decisions(page(client, TEAM))


def test_it_shows_the_oldest_proposals_and_links_to_all_of_them(
    client, org, cascade, cycle, manager
):
    bulk_goals(cycle, 12, status=S.PROPOSED, employee=org.employee, parent=cascade.bookings)
    client.force_login(manager)
    block = decisions(page(client, TEAM))
    assert len(re.findall(rf'<a href="{detail_url_pattern()}">', block)) == 10
    assert "See all 12 proposed goals" in block
    link = re.search(r'<a href="\?([^"]+)">See all', block).group(1).replace("&amp;", "&")
    assert f"cycle={cycle.pk}" in link and "status=proposed" in link
    html = page(client, TEAM + "?" + link)
    assert "12 goals found" in html


# --- filters ------------------------------------------------------------------------------


def test_it_filters_by_person(client, cascade, manager):
    client.force_login(manager)
    assert people(page(client, TEAM, q="petra")) == ["Petra Peer"]
    assert people(page(client, TEAM, q="E0003")) == ["Emil Employee"]
    html = page(client, TEAM, q="nobody")
    assert people(html) == []
    assert "No goal matches." in html


def test_it_filters_by_status(client, cascade, employee, manager):
    propose(employee, cascade.bookings, "Learn the new CRM")
    client.force_login(manager)
    assert linked_goals(page(client, TEAM, status="proposed")) == ["Learn the new CRM"]
    assert linked_goals(page(client, TEAM, status="approved")) == ["Bookings", "Bookings"]
    # Drafts are not on this page, so not among the choices either; a bad status is reported
    # and ignored.
    html = page(client, TEAM, status="draft")
    assert 'class="field-error"' in html
    assert len(linked_goals(html)) == 3


def test_it_filters_goals_at_risk(client, cascade, employee, peer, manager):
    services.checkin_record(
        actor=employee,
        goal=cascade.employee_copy,
        confidence=CheckIn.Confidence.OFF_TRACK,
        actual=Decimal(50),
    )
    services.checkin_record(
        actor=peer,
        goal=cascade.peer_copy,
        confidence=CheckIn.Confidence.ON_TRACK,
        actual=Decimal(100),
    )
    client.force_login(manager)
    html = page(client, TEAM, at_risk="on")
    assert people(html) == ["Emil Employee"]
    assert "Off track" in results(html)
    assert people(page(client, TEAM)) == ["Emil Employee", "Petra Peer"]


def test_it_filters_by_department_with_its_sub_departments(client, org, cascade, cycle, manager):
    colleague = EmployeeFactory(
        department=org.sales, manager=org.manager, user__full_name="Sam Sales"
    )
    bulk_goals(cycle, 1, prefix="Key accounts", employee=colleague)
    client.force_login(manager)
    everyone = ["Emil Employee", "Petra Peer", "Sam Sales"]
    assert people(page(client, TEAM)) == everyone
    assert people(page(client, TEAM, department=org.sales_east.pk)) == everyone[:2]
    assert people(page(client, TEAM, department=org.sales.pk)) == everyone
    # Only the team's departments are offered; another is reported and ignored.
    html = page(client, TEAM, department=org.engineering.pk)
    assert 'class="field-error"' in html
    assert people(html) == everyone


def test_it_filters_people_whose_weights_are_off(client, org, cascade, cycle, manager):
    bulk_goals(cycle, 1, prefix="Extra", weight=20, employee=org.peer, parent=cascade.bookings)
    client.force_login(manager)
    html = page(client, TEAM, weights_off="on")
    assert people(html) == ["Petra Peer", "Petra Peer"]
    assert "Weights at 120" in html
    # Emil's weights total 100: no badge.
    row = re.search(r"<tr>\s*<td>\s*<a[^>]*>Emil Employee</a>.*?</tr>", page(client, TEAM), re.S)
    assert "Weights at" not in row.group(0)


def test_it_counts_a_person_with_only_proposals_as_off(client, org, cascade, cycle, manager):
    colleague = EmployeeFactory(department=org.sales_east, manager=org.manager)
    bulk_goals(cycle, 1, status=S.PROPOSED, employee=colleague, parent=cascade.bookings)
    client.force_login(manager)
    html = page(client, TEAM, weights_off="on")
    assert people(html) == [colleague.user.full_name]
    assert "Weights at 0" in html


def test_it_keeps_the_filters_in_the_export_link(client, cascade, manager):
    client.force_login(manager)
    html = page(client, TEAM, q="petra", at_risk="on", page="1")
    link = re.search(r'href="(/goals/team/export\.csv[^"]*)"', html)
    # Nothing at risk: no export offered for an empty list.
    assert link is None
    html = page(client, TEAM, q="petra")
    link = re.search(r'href="(/goals/team/export\.csv[^"]*)"', html).group(1)
    assert "q=petra" in link


def test_it_pages_the_goals(client, org, cascade, cycle, manager):
    bulk_goals(cycle, 30, employee=org.peer, parent=cascade.bookings)
    client.force_login(manager)
    first = page(client, TEAM)
    assert len(linked_goals(first)) == 25
    assert "Page 1 of 2" in first
    assert 'href="?page=2"' in first
    assert len(linked_goals(page(client, TEAM, page=2))) == 7


def test_it_answers_htmx_with_the_results_only(client, cascade, manager):
    client.force_login(manager)
    response = client.get(TEAM, {"q": "emil"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith('<div id="team-results">')
    assert "Emil Employee" in html and "Petra Peer" not in html


def test_it_explains_an_empty_team_list(client, org, manager):
    CycleFactory(name="FY2027")
    client.force_login(manager)
    html = page(client, TEAM)
    assert "Your team has no goals for FY2027 yet." in html
    assert f'href="{reverse("goals:department", args=[org.sales.pk])}' in html
    assert "Export CSV" not in html


def test_it_shows_another_cycle(client, org, cascade, manager):
    earlier = CycleFactory(name="FY2025")
    bulk_goals(earlier, 1, prefix="Last year", employee=org.employee)
    client.force_login(manager)
    assert linked_goals(page(client, TEAM, cycle=earlier.pk)) == ["Last year 0000"]
    html = page(client, TEAM, cycle="999999")
    assert "That cycle is not available." in html
    assert client.get(EXPORT, {"cycle": "999999"}).status_code == 200


def test_it_keeps_the_team_queries_constant(
    client, org, cascade, cycle, manager, django_assert_num_queries
):
    bulk_goals(cycle, 20, employee=org.employee, parent=cascade.bookings)
    bulk_goals(cycle, 20, employee=org.peer, parent=cascade.bookings, status=S.PROPOSED)
    bulk_goals(cycle, 4, employee=org.outsider)

    def grow():
        for i in range(8):
            person = EmployeeFactory(department=org.sales_east, manager=org.manager)
            bulk_goals(cycle, 200, employee=person, parent=cascade.bookings, prefix=f"P{i}")
        bulk_goals(cycle, 200, employee=org.peer, parent=cascade.bookings, status=S.PROPOSED)
        bulk_goals(cycle, 150, employee=org.outsider)

    client.force_login(manager)
    url = f"{TEAM}?at_risk=&weights_off=on&department={org.sales.pk}"
    same_queries_at_two_sizes(client, TEAM, grow, django_assert_num_queries)
    assert Goal.objects.count() >= 2000
    # The same with every filter on, and for the HTMX fragment.
    bulk_goals(cycle, 10, employee=org.employee, prefix="Even more")
    same_queries_at_two_sizes(
        client, url, lambda: bulk_goals(cycle, 500, employee=org.peer), django_assert_num_queries
    )
    same_queries_at_two_sizes(
        client,
        url + "&q=e",
        lambda: bulk_goals(cycle, 500, employee=org.employee),
        django_assert_num_queries,
        **HTMX,
    )


# --- the CSV export -----------------------------------------------------------------------


def test_it_exports_the_team_goals(client, cascade, employee, manager):
    services.checkin_record(
        actor=employee,
        goal=cascade.employee_copy,
        confidence=CheckIn.Confidence.AT_RISK,
        actual=Decimal(90),
    )
    client.force_login(manager)
    rows = export(client)
    assert rows[0] == [
        "Person",
        "Employee number",
        "Department",
        "Goal",
        "Serves",
        "Weight",
        "Status",
        "Latest check-in",
        "Confidence",
        "Attainment",
        "Progress",
        "Due date",
        "Person's weights total",
    ]
    assert len(rows) == 3
    emil = rows[1]
    assert emil[:7] == [
        "Emil Employee",
        "E0003",
        "Sales East",
        "Bookings",
        "Bookings",
        "100",
        "Approved",
    ]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", emil[7])
    assert emil[8] == "At risk"
    assert Decimal(emil[9]) == Goal.objects.get(pk=cascade.employee_copy.pk).attainment
    assert emil[12] == "100"
    assert rows[2][0] == "Petra Peer" and rows[2][7:10] == ["", "", ""]


def test_it_exports_with_the_same_filters(client, cascade, manager):
    client.force_login(manager)
    rows = export(client, q="petra")
    assert [r[0] for r in rows[1:]] == ["Petra Peer"]
    assert len(export(client, status="missed")) == 1  # the header only


def test_it_exports_every_goal_not_only_one_page(client, org, cascade, cycle, manager):
    bulk_goals(cycle, 60, employee=org.peer, parent=cascade.bookings)
    client.force_login(manager)
    assert len(export(client)) == 1 + 62


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_it_defuses_formulas_in_the_export(client, org, cascade, cycle, manager, start):
    org.peer.user.full_name = f'{start}HYPERLINK("http://evil.example")'
    org.peer.user.save()
    bulk_goals(cycle, 1, prefix=f"{start}cmd|' /C calc'!A0", employee=org.peer)
    client.force_login(manager)
    rows = export(client, q="HYPERLINK")
    assert rows[1][0] == f'\'{start}HYPERLINK("http://evil.example")'
    assert {r[3] for r in rows[1:]} == {"Bookings", f"'{start}cmd|' /C calc'!A0 0000"}
