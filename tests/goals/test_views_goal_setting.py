"""Decomposing a company objective into department goals, and closing goal setting."""

import re
from decimal import Decimal

from django.urls import reverse
from guardian.shortcuts import assign_perm

from goals import services
from goals.models import Goal
from perfcycle import access
from perfcycle.models import Cycle, Position
from tests.factories import CycleFactory, UserFactory
from tests.goals.conftest import goal_data

L, S = Goal.Level, Goal.Status


def last_message(response) -> str:
    return [str(m) for m in response.wsgi_request._messages][-1]


def listed_departments(html: str) -> dict[str, bool]:
    """Department name -> whether its checkbox can be ticked."""
    rows = re.findall(
        r'<input type="checkbox" name="departments" value="\d+" id="department-\d+"( disabled)?'
        r"[^>]*>\s*<label[^>]*>([^<]+?) <span",
        html,
    )
    return {name: not disabled for disabled, name in rows}


# --- decompose ----------------------------------------------------------------------------


def test_hr_decomposes_an_objective_into_department_goals(client, org, cascade, hr_admin):
    client.force_login(hr_admin)
    url = reverse("goals:decompose", args=[cascade.grow.pk])
    html = client.get(url).content.decode()
    assert listed_departments(html) == {
        "Engineering": True,
        "Headquarters": True,
        "People": True,
        "Sales": False,  # already has "Sales revenue" serving it
        "Sales East": True,
    }
    assert "Has a goal serving it" in html
    assert "4 departments have no goal serving this objective yet." in html
    response = client.post(
        url, {"departments": [org.engineering.pk, org.people.pk, org.sales.pk], "weight": "30"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("goals:detail", args=[cascade.grow.pk])
    assert last_message(response) == "Created 2 department goals."
    created = Goal.objects.filter(parent=cascade.grow).exclude(pk=cascade.sales.pk)
    assert {(g.department, g.weight, g.title) for g in created} == {
        (org.engineering, Decimal(30), "Grow revenue"),
        (org.people, Decimal(30), "Grow revenue"),
    }


def test_a_department_head_decomposes_only_into_their_departments(client, org, cascade, manager):
    client.force_login(manager)
    url = reverse("goals:decompose", args=[cascade.grow.pk])
    html = client.get(url).content.decode()
    assert listed_departments(html) == {"Sales": False, "Sales East": True}
    response = client.post(url, {"departments": [org.engineering.pk]})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not Goal.objects.filter(department=org.engineering).exists()
    response = client.post(url, {"departments": [org.sales_east.pk]})
    assert response.status_code == 302
    assert last_message(response) == "Created 1 department goal."
    goal = Goal.objects.get(department=org.sales_east)
    assert goal.weight == cascade.grow.weight  # the objective's weight, by default


def test_an_hr_partner_decomposes_into_the_departments_they_partner(client, org, cascade):
    partner = UserFactory(full_name="Pia Partner")
    assign_perm(access.PARTNER_PERMISSION, partner, org.sales)
    client.force_login(partner)
    html = client.get(reverse("goals:decompose", args=[cascade.grow.pk])).content.decode()
    assert listed_departments(html) == {"Sales": False, "Sales East": True}


def test_decomposing_needs_a_department_and_a_sensible_weight(client, cascade, hr_admin, org):
    client.force_login(hr_admin)
    url = reverse("goals:decompose", args=[cascade.grow.pk])
    before = Goal.objects.count()
    response = client.post(url, {"weight": "20"})
    assert response.status_code == 400
    assert "Choose at least one department." in response.content.decode()
    response = client.post(url, {"departments": [org.people.pk], "weight": "150"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Ensure this value is less than or equal to 100." in html
    assert f'value="{org.people.pk}" id="department-{org.people.pk}" checked' in html
    assert Goal.objects.count() == before


def test_decomposing_is_for_those_who_set_department_goals(
    client, cascade, employee, outsider, hr_admin
):
    url = reverse("goals:decompose", args=[cascade.grow.pk])
    client.force_login(employee)
    assert client.get(url).status_code == 403
    assert client.post(url, {"departments": [1]}).status_code == 403
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    # Only company objectives are decomposed here; goals out of scope are not found.
    assert client.get(reverse("goals:decompose", args=[cascade.sales.pk])).status_code == 404
    client.force_login(hr_admin)
    assert client.get(reverse("goals:decompose", args=[cascade.sales.pk])).status_code == 404
    assert client.put(url).status_code == 405


# --- close goal setting -------------------------------------------------------------------


def off_weights(org, cascade, cycle, employee, manager):
    """Emil at 120 (a 20% goal approved beside his 100% copy) and one proposal waiting."""
    extra = services.goal_create(
        actor=employee,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Win two logos", 20),
    )
    services.goal_approve(actor=manager, goal=extra)
    waiting = services.goal_create(
        actor=employee,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Mentor a new joiner", 0),
    )
    return extra, waiting


def test_it_shows_what_blocks_closing_and_refuses_until_fixed(
    client, org, cascade, cycle, employee, manager, hr_admin
):
    extra, waiting = off_weights(org, cascade, cycle, employee, manager)
    client.force_login(hr_admin)
    url = reverse("goals:close_goal_setting", args=[cycle.pk])
    html = client.get(url).content.decode()
    row = re.search(r"<tr>\s*<td>\s*<a href=\"/people/\d+/\">Emil Employee</a>.*?</tr>", html, re.S)
    cells = re.findall(r'<td class="num">([^<]+)</td>', row.group(0))
    assert cells == ["120", "+20"]
    assert re.search(r"Proposals waiting for a decision</dt><dd>1</dd>", html)
    response = client.post(url)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Goal setting cannot close yet:" in html
    assert "Weights must total 100 for every owner. Off: Emil Employee at 120 (+20)." in html
    assert "1 proposed goal still waits for a manager&#x27;s decision." in html
    assert Cycle.objects.get(pk=cycle.pk).status == Cycle.Status.GOAL_SETTING

    services.goal_cancel(actor=manager, goal=extra, reason="Folded into bookings")
    services.goal_reject(actor=manager, goal=waiting, comment="Next year")
    response = client.post(url)
    assert response.status_code == 302
    assert last_message(response) == (
        "Goal setting for FY2026 is closed: 6 goals became active and 6 goals are locked."
    )
    assert Cycle.objects.get(pk=cycle.pk).status == Cycle.Status.IN_PROGRESS
    assert Goal.objects.get(pk=cascade.sales.pk).is_locked
    html = client.get(url).content.decode()
    assert "This cycle is not in goal setting; it is in progress (coaching)." in html
    assert ">Close goal setting</button>" not in html


def test_it_pages_the_owners_whose_weights_are_off(client, org, cycle, hr_admin):
    Goal.objects.bulk_create(
        Goal(
            cycle=cycle,
            level=L.POSITION,
            position=position,
            title="KPI",
            weight=Decimal(50),
            status=S.APPROVED,
            kind=Goal.Kind.MILESTONE,
        )
        for position in [
            org.position,
            *(Position.objects.create(title=f"Role {i}", department=org.sales) for i in range(30)),
        ]
    )
    client.force_login(hr_admin)
    url = reverse("goals:close_goal_setting", args=[cycle.pk])
    html = client.get(url).content.decode()
    assert "Owners whose weights are off</dt><dd>31</dd>" in html
    assert html.count('<td class="num">-50</td>') == 25
    assert "Page 1 of 2" in html


def test_only_hr_closes_goal_setting(client, cycle, cascade, manager, executive, outsider):
    url = reverse("goals:close_goal_setting", args=[cycle.pk])
    for user in (manager, executive, outsider):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
    assert Cycle.objects.get(pk=cycle.pk).status == Cycle.Status.GOAL_SETTING


def test_close_goal_setting_refuses_unknown_cycles_and_the_wrong_method(
    client, cycle, hr_admin, employee
):
    client.force_login(hr_admin)
    assert client.get(reverse("goals:close_goal_setting", args=[99999])).status_code == 404
    assert client.put(reverse("goals:close_goal_setting", args=[cycle.pk])).status_code == 405
    # A draft cycle is HR's work in progress: others do not even find it.
    draft = CycleFactory(name="FY2030", status=Cycle.Status.DRAFT)
    client.force_login(employee)
    assert client.get(reverse("goals:close_goal_setting", args=[draft.pk])).status_code == 404
