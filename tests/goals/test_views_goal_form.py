"""Creating and editing a goal: level-aware fields, owners through the policy, weight
help, bad input, the service's rules on the form, stale edits and the next-period rule."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from goals import services
from goals.models import Goal
from tests.factories import CycleFactory
from tests.goals.conftest import goal_data

L, S = Goal.Level, Goal.Status


def create_url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("goals:create") + (f"?{query}" if query else "")


def form(**overrides) -> dict:
    data = {
        "title": "Win two logos in the north",
        "description": "",
        "weight": "20",
        "due_date": "2026-06-30",
        "kind": "kpi",
        "unit": "logos",
        "direction": "higher",
        "baseline": "",
        "threshold": "1",
        "target": "2",
        "stretch": "3",
        "range_low": "",
        "range_high": "",
        "tolerance": "",
        "previous": "",
        "target_reason": "",
    }
    data.update(overrides)
    return data


def edit_data(goal: Goal, **overrides) -> dict:
    goal.refresh_from_db()

    def text(value):
        return "" if value is None else str(value)

    data = {
        name: text(getattr(goal, name))
        for name in ("title", "description", "weight", "due_date", "target_reason", "unit")
    }
    data.update({name: text(getattr(goal, name)) for name in Goal.KPI_FIELDS})
    data.update(
        parent=text(goal.parent_id),
        previous=text(goal.previous_id),
        version=str(goal.version),
        change_reason="",
    )
    if goal.level == L.COMPANY:
        data.update(strategy_ref=goal.strategy_ref, strategy_url=goal.strategy_url)
        del data["parent"]
    data.update(overrides)
    return data


def last_message(response) -> str:
    return [str(m) for m in response.wsgi_request._messages][-1]


def field_error(html: str, name: str) -> list[str]:
    return re.findall(rf'id="id_{name}_error_\d+">([^<]+)<', html)


# --- creating -----------------------------------------------------------------------------


def test_an_employee_proposes_a_goal_serving_their_kpi(client, org, cascade, employee):
    client.force_login(employee)
    url = create_url(parent=cascade.bookings.pk)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "New personal goal" in html
    assert f'<input type="hidden" name="owner" value="{org.employee.pk}"' in html
    assert f'<option value="{cascade.bookings.pk}" selected>Bookings — Account executive' in html
    assert 'value="propose">Propose</button>' in html and 'value="draft">Save as draft' in html
    response = client.post(
        url, form(owner=org.employee.pk, parent=cascade.bookings.pk, save="propose")
    )
    assert response.status_code == 302
    goal = Goal.objects.get(title="Win two logos in the north")
    assert response["Location"] == reverse("goals:detail", args=[goal.pk])
    assert last_message(response) == "Your goal was sent to your manager for approval."
    assert (goal.status, goal.employee, goal.parent) == (S.PROPOSED, org.employee, cascade.bookings)
    assert goal.due_date == datetime.date(2026, 6, 30) and goal.target == 2


def test_an_employee_saves_a_draft(client, org, cascade, employee):
    client.force_login(employee)
    response = client.post(
        create_url(parent=cascade.bookings.pk),
        form(owner=org.employee.pk, parent=cascade.bookings.pk, save="draft"),
    )
    assert response.status_code == 302
    assert Goal.objects.get(title="Win two logos in the north").status == S.DRAFT


def test_a_department_head_sets_a_position_kpi_copied_to_its_holders(client, org, cascade, manager):
    client.force_login(manager)
    url = create_url(level="position", parent=cascade.sales.pk)
    html = client.get(url).content.decode()
    assert f'<option value="{org.position.pk}">Account executive — Sales East</option>' in html
    assert f'<option value="{cascade.sales.pk}" selected>Sales revenue — Sales</option>' in html
    response = client.post(
        url,
        form(
            title="New logos",
            weight="0",
            owner=org.position.pk,
            parent=cascade.sales.pk,
        ),
    )
    assert response.status_code == 302
    kpi = Goal.objects.get(title="New logos", level=L.POSITION)
    assert kpi.position == org.position and kpi.status == S.APPROVED
    assert Goal.objects.filter(source=kpi).count() == 2
    assert (
        last_message(response) == "The KPI was created and copied to 2 people holding the position."
    )


def test_an_executive_traces_a_company_objective_to_the_strategy(client, cycle, executive):
    client.force_login(executive)
    url = create_url(level="company", cycle=cycle.pk)
    html = client.get(url).content.decode()
    assert 'name="strategy_ref"' in html and 'name="parent"' not in html
    assert 'name="owner"' not in html
    response = client.post(
        url,
        form(
            title="Enter Japan",
            weight="100",
            strategy_ref="Plan 2026, line 7: first office abroad",
            strategy_url="https://intranet.example.com/plan",
        ),
    )
    assert response.status_code == 302
    goal = Goal.objects.get(title="Enter Japan")
    assert goal.level == L.COMPANY and goal.strategy_ref.startswith("Plan 2026, line 7")
    assert goal.strategy_url == "https://intranet.example.com/plan"


def test_it_asks_which_level_when_none_is_given(client, cascade, employee, hr_admin):
    client.force_login(employee)
    html = client.get(create_url()).content.decode()
    assert re.findall(r"level=(\w+)&amp;", html) == ["personal"]
    client.force_login(hr_admin)
    html = client.get(create_url()).content.decode()
    assert re.findall(r"level=(\w+)&amp;", html) == [
        "company",
        "department",
        "position",
        "personal",
    ]


def test_the_weight_help_says_where_the_owner_stands(client, cascade, employee, hr_admin):
    client.force_login(employee)
    html = client.get(create_url(parent=cascade.bookings.pk)).content.decode()
    assert (
        "Weights of this owner&#x27;s goals must total 100; they are at 100 without this goal."
        in html
    )
    client.force_login(hr_admin)
    html = client.get(reverse("goals:edit", args=[cascade.employee_copy.pk])).content.decode()
    assert "they are at 0 without this goal." in html
    html = client.get(reverse("goals:edit", args=[cascade.grow.pk])).content.decode()
    assert (
        "Weights of the company objectives must total 100; they are at 40 without this one." in html
    )


def test_bad_input_gets_field_errors_a_400_and_nothing_is_saved(client, org, cascade, employee):
    client.force_login(employee)
    before = Goal.objects.count()
    response = client.post(
        create_url(parent=cascade.bookings.pk),
        form(owner=org.employee.pk, parent=cascade.bookings.pk, weight="150", threshold="lots"),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert field_error(html, "weight") == ["Ensure this value is less than or equal to 100."]
    assert field_error(html, "threshold") == ["Enter a number."]
    assert 'class="error-summary"' in html
    # What was typed stays in the form.
    assert 'value="Win two logos in the north"' in html and 'value="150"' in html
    assert Goal.objects.count() == before


def test_the_services_rules_land_next_to_their_fields(client, org, cascade, employee):
    client.force_login(employee)
    before = Goal.objects.count()
    response = client.post(
        create_url(parent=cascade.bookings.pk),
        form(owner=org.employee.pk, parent=cascade.bookings.pk, threshold="5", target="2"),
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "threshold") == [
        "When higher is better, the threshold must be below the target."
    ]
    assert Goal.objects.count() == before


def test_owners_come_through_the_policy(client, org, cascade, employee, manager):
    client.force_login(employee)
    # Someone the employee cannot see is not found; levels above them are not theirs.
    assert client.get(create_url(level="personal", owner=org.peer.pk)).status_code == 404
    assert client.get(create_url(level="company")).status_code == 403
    assert client.get(create_url(level="department")).status_code == 403
    assert client.get(create_url(level="personal", owner="x")).status_code == 404
    client.force_login(manager)
    url = create_url(level="department", owner=org.engineering.pk, parent=cascade.grow.pk)
    assert client.get(url).status_code == 403
    url = create_url(level="personal", owner=org.employee.pk, parent=cascade.bookings.pk)
    assert client.get(url).status_code == 200


def test_create_refuses_the_wrong_method(client, cascade, employee):
    client.force_login(employee)
    assert client.put(create_url(parent=cascade.bookings.pk)).status_code == 405


# --- editing ------------------------------------------------------------------------------


def test_an_edit_saves_and_the_history_keeps_the_reason(client, cascade, hr_admin):
    client.force_login(hr_admin)
    url = reverse("goals:edit", args=[cascade.sales.pk])
    response = client.post(
        url, edit_data(cascade.sales, target="110", change_reason="Price rise in March")
    )
    assert response.status_code == 302
    assert last_message(response) == "The goal was saved."
    assert Goal.objects.get(pk=cascade.sales.pk).target == 110
    html = client.get(reverse("goals:detail", args=[cascade.sales.pk])).content.decode()
    history = re.search(r'id="goal-history".*?</section>', html, re.S).group(0)
    assert "Target: 100 → 110" in history and "Price rise in March" in history


def test_an_unchanged_form_changes_nothing(client, cascade, hr_admin):
    services.goal_update(
        actor=hr_admin,
        goal=cascade.sales,
        data={"description": "Line one\nLine two"},
        expected_version=None,
    )
    version = Goal.objects.get(pk=cascade.sales.pk).version
    client.force_login(hr_admin)
    # Browsers send a textarea's line breaks as CRLF.
    data = edit_data(cascade.sales, description="Line one\r\nLine two")
    response = client.post(reverse("goals:edit", args=[cascade.sales.pk]), data)
    assert response.status_code == 302
    assert Goal.objects.get(pk=cascade.sales.pk).version == version


def test_edits_are_for_those_who_may_change_the_goal(client, cascade, employee, outsider):
    client.force_login(outsider)
    assert client.get(reverse("goals:edit", args=[cascade.sales.pk])).status_code == 404
    client.force_login(employee)
    # Once approved, the employee's copy is their manager's to change.
    assert client.get(reverse("goals:edit", args=[cascade.employee_copy.pk])).status_code == 403
    response = client.post(
        reverse("goals:edit", args=[cascade.employee_copy.pk]),
        edit_data(cascade.employee_copy, target="1"),
    )
    assert response.status_code == 403
    assert Goal.objects.get(pk=cascade.employee_copy.pk).target == 100


def test_a_stale_edit_shows_a_conflict_and_keeps_the_input(client, cascade, hr_admin, manager):
    client.force_login(hr_admin)
    data = edit_data(cascade.sales, title="Sales revenue, north", target="120", stretch="130")
    services.goal_update(
        actor=manager, goal=cascade.sales, data={"title": "Sales bookings"}, expected_version=None
    )
    response = client.post(reverse("goals:edit", args=[cascade.sales.pk]), data)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else saved this goal after you opened it" in html
    assert f'href="{reverse("goals:edit", args=[cascade.sales.pk])}" target="_blank"' in html
    assert 'value="Sales revenue, north"' in html and 'value="120"' in html
    saved = Goal.objects.get(pk=cascade.sales.pk)
    assert saved.title == "Sales bookings" and saved.target == 100


def test_a_locked_goal_says_it_needs_reopening(client, cascade, cycle, hr_admin):
    services.goal_setting_close(actor=hr_admin, cycle=cycle)
    client.force_login(hr_admin)
    url = reverse("goals:edit", args=[cascade.sales.pk])
    assert "changes need HR to reopen it first" in client.get(url).content.decode()
    response = client.post(url, edit_data(cascade.sales, target="110"))
    assert response.status_code == 400
    assert "Goal setting has closed and this goal is locked." in response.content.decode()
    assert Goal.objects.get(pk=cascade.sales.pk).target == 100


# --- the next-period rule -----------------------------------------------------------------


@pytest.fixture
def next_cycle(cycle):
    return CycleFactory(
        name="FY2027",
        period_start=datetime.date(2027, 1, 1),
        period_end=datetime.date(2027, 12, 31),
    )


def continue_grow(client, next_cycle, grow, **overrides):
    data = form(
        title="Grow revenue",
        weight="60",
        unit="k CNY",
        threshold="80",
        target="100",
        stretch="120",
        previous=grow.pk,
        strategy_ref="Plan 2027, line 1",
        strategy_url="",
    )
    data.update(overrides)
    return client.post(create_url(level="company", cycle=next_cycle.pk), data)


def test_a_continued_goal_must_beat_last_periods_target_or_say_why(
    client, cascade, next_cycle, hr_admin
):
    client.force_login(hr_admin)
    html = client.get(create_url(level="company", cycle=next_cycle.pk)).content.decode()
    assert f'<option value="{cascade.grow.pk}">Grow revenue (FY2026, target 100)</option>' in html
    response = continue_grow(client, next_cycle, cascade.grow)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="alert alert-warning" role="alert"' in html
    assert "its target does not go beyond last period" in html
    assert field_error(html, "target_reason") == [
        "Last period&#x27;s target was 100; this target (100) does not go beyond it. Raise "
        "the target, or record the reason (for example a change in the market)."
    ]
    assert 'value="Plan 2027, line 1"' in html  # nothing typed is lost
    assert f'<option value="{cascade.grow.pk}" selected>' in html
    assert not Goal.objects.filter(cycle=next_cycle).exists()

    response = continue_grow(
        client, next_cycle, cascade.grow, target_reason="A new competitor halves the market"
    )
    assert response.status_code == 302
    kept = Goal.objects.get(cycle=next_cycle)
    assert kept.previous == cascade.grow and kept.target_reason.startswith("A new competitor")


def test_a_higher_target_needs_no_reason(client, cascade, next_cycle, hr_admin):
    client.force_login(hr_admin)
    response = continue_grow(client, next_cycle, cascade.grow, target="110", stretch="130")
    assert response.status_code == 302
    goal = Goal.objects.get(cycle=next_cycle)
    assert goal.target == 110 and goal.previous == cascade.grow and goal.target_reason == ""


def test_only_earlier_goals_of_the_same_owner_can_be_continued(
    client, org, cascade, next_cycle, hr_admin
):
    services.goal_create(
        actor=hr_admin,
        cycle=next_cycle,
        level=L.COMPANY,
        data=goal_data("Grow revenue", 100, target=Decimal(110), stretch=Decimal(130)),
    )
    client.force_login(hr_admin)
    url = create_url(level="department", owner=org.sales.pk, cycle=next_cycle.pk)
    html = client.get(url).content.decode()
    options = re.search(r'<select name="previous".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\d+)"', options) == [str(cascade.sales.pk)]
    url = create_url(level="department", owner=org.engineering.pk, cycle=next_cycle.pk)
    html = client.get(url).content.decode()
    assert 'name="previous"' not in html  # nothing of Engineering's to continue


def test_hr_picks_anyone_as_the_owner_of_a_personal_goal(client, org, cascade, hr_admin):
    client.force_login(hr_admin)
    response = client.get(create_url(level="personal", cycle=cascade.bookings.cycle_id))
    assert response.status_code == 200
    html = response.content.decode()
    for person in (org.employee, org.peer, org.outsider):
        assert f'<option value="{person.pk}"' in html


def test_a_manager_picks_their_team_and_themself_only(client, org, cascade, manager):
    client.force_login(manager)
    html = client.get(create_url(level="personal", cycle=cascade.bookings.cycle_id)).content
    html = html.decode()
    for person in (org.manager, org.employee, org.peer):
        assert f'<option value="{person.pk}"' in html
    assert f'<option value="{org.outsider.pk}"' not in html
