"""The goal page: its chain, owner, KPI in words, what serves it, check-ins with their
chart, history; recording and deleting check-ins; the workflow actions."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from goals import services
from goals.models import CheckIn, Goal
from perfcycle.models import Cycle, Position
from tests.conftest import fresh
from tests.factories import CycleFactory, EmployeeFactory
from tests.goals.conftest import goal_data

L, S = Goal.Level, Goal.Status


def detail(client, goal, **params):
    return client.get(reverse("goals:detail", args=[goal.pk]), params)


def html_of(response) -> str:
    return response.content.decode()


def act(client, goal, action, **data):
    goal.refresh_from_db()
    payload = {"version": goal.version, **data}
    return client.post(reverse("goals:action", args=[goal.pk, action]), payload)


def last_message(response) -> str:
    return [str(m) for m in response.wsgi_request._messages][-1]


def check_in(actor, goal, actual=None, percent=None, days_ago=0, **kwargs):
    return services.checkin_record(
        actor=actor,
        goal=goal,
        actual=Decimal(actual) if actual is not None else None,
        percent_complete=Decimal(percent) if percent is not None else None,
        confidence=kwargs.pop("confidence", "on_track"),
        recorded_at=timezone.now() - datetime.timedelta(days=days_ago),
        **kwargs,
    )


# --- the page ---------------------------------------------------------------------------


def test_it_shows_the_goal_with_its_chain_owner_kpi_and_what_serves_it(
    client, org, cascade, manager
):
    client.force_login(manager)
    response = detail(client, cascade.bookings)
    assert response.status_code == 200
    html = html_of(response)
    crumbs = re.search(r'<nav class="breadcrumb".*?</nav>', html, re.S).group(0)
    assert re.findall(r'<a href="(/goals/\d+/)">([^<]+)</a>', crumbs) == [
        (reverse("goals:detail", args=[cascade.grow.pk]), "Grow revenue"),
        (reverse("goals:detail", args=[cascade.sales.pk]), "Sales revenue"),
    ]
    assert '<li aria-current="page">Bookings</li>' in crumbs
    assert "Position KPI · FY2026" in html
    owner = f'<a href="{reverse("department_detail", args=[org.sales_east.pk])}">Account executive'
    assert owner in html
    assert "Higher is better · threshold 80 · target 100 · stretch 120 k CNY" in html
    assert '<span class="badge badge-info">Approved</span>' in html
    # The personal copies serve it, each with its owner, status and progress.
    children = re.search(r'id="goal-children".*?</section>', html, re.S).group(0)
    for copy, name in ((cascade.employee_copy, "Emil Employee"), (cascade.peer_copy, "Petra Peer")):
        assert f'href="{reverse("goals:detail", args=[copy.pk])}"' in children
        assert name in children
    assert "No progress recorded" in children
    # The manager heads Sales: the KPI's copies and definition are theirs to manage.
    assert "Push changes to 2 unadjusted copies" in html
    assert "Copy to new holders" in html
    assert f'href="{reverse("goals:edit", args=[cascade.bookings.pk])}"' in html


def test_it_links_the_owner_to_the_department_page_or_the_persons_profile(
    client, org, cascade, manager
):
    client.force_login(manager)
    sales = html_of(detail(client, cascade.sales))
    assert f'<a href="{reverse("department_detail", args=[org.sales.pk])}">Sales</a>' in sales
    copy = html_of(detail(client, cascade.employee_copy))
    profile = reverse("employee_profile", args=[org.employee.pk])
    assert f'<a href="{profile}">Emil Employee</a>' in copy


def test_it_traces_a_company_objective_to_the_strategy(client, cascade, executive):
    services.goal_update(
        actor=executive,
        goal=cascade.grow,
        data={"strategy_url": "https://intranet.example.com/plan-2026"},
        expected_version=None,
    )
    client.force_login(executive)
    html = html_of(detail(client, cascade.grow))
    assert "Plan 2026, line 3: grow revenue by 20%" in html
    assert 'href="https://intranet.example.com/plan-2026"' in html
    assert f'href="{reverse("goals:decompose", args=[cascade.grow.pk])}"' in html
    assert "Company objective · FY2026" in html


def test_it_shows_where_a_copy_comes_from_and_whether_it_was_adjusted(
    client, cascade, employee, manager
):
    client.force_login(employee)
    html = html_of(detail(client, cascade.employee_copy))
    assert f'<a href="{reverse("goals:detail", args=[cascade.bookings.pk])}">Bookings</a>' in html
    assert "not adjusted: changes to the KPI are pushed here" in html
    services.goal_update(
        actor=manager,
        goal=cascade.employee_copy,
        data={"target": Decimal(90), "threshold": Decimal(70)},
        expected_version=None,
        reason="Joined mid-year",
    )
    html = html_of(detail(client, cascade.employee_copy))
    assert "Adjusted</span> changes to the KPI are no longer pushed here" in html
    # The history says who changed what, and why.
    history = re.search(r'id="goal-history".*?</section>', html, re.S).group(0)
    assert "Mona Manager" in history and "Joined mid-year" in history
    assert "Target: 100 → 90" in history and "Threshold: 80 → 70" in history
    assert "Adjusted: no → yes" in history


def test_it_shows_the_goal_of_last_period_that_a_goal_continues(client, cascade, hr_admin):
    later = CycleFactory(
        name="FY2027",
        period_start=datetime.date(2027, 1, 1),
        period_end=datetime.date(2027, 12, 31),
    )
    goal = services.goal_create(
        actor=hr_admin,
        cycle=later,
        level=L.COMPANY,
        data=goal_data("Grow revenue", 60, previous=cascade.grow, target=Decimal(110)),
    )
    client.force_login(hr_admin)
    html = html_of(detail(client, goal))
    assert f'<a href="{reverse("goals:detail", args=[cascade.grow.pk])}">Grow revenue</a>' in html
    assert "(FY2026) · last period's target 100 k CNY" in html


def test_it_hides_goals_outside_the_users_scope(client, cascade, outsider, peer):
    client.force_login(outsider)
    for goal in (cascade.sales, cascade.bookings, cascade.employee_copy):
        assert detail(client, goal).status_code == 404
    assert client.get(reverse("goals:detail", args=[999999])).status_code == 404
    client.force_login(peer)
    assert detail(client, cascade.employee_copy).status_code == 404
    assert detail(client, cascade.peer_copy).status_code == 200


def test_it_refuses_the_wrong_method(client, cascade, employee):
    client.force_login(employee)
    goal = cascade.employee_copy
    assert client.post(reverse("goals:detail", args=[goal.pk])).status_code == 405
    assert client.get(reverse("goals:checkin", args=[goal.pk])).status_code == 405
    assert client.get(reverse("goals:action", args=[goal.pk, "submit"])).status_code == 405
    checkin = check_in(employee, goal, 90)
    assert client.get(reverse("goals:checkin_delete", args=[checkin.pk])).status_code == 405
    assert client.put(reverse("goals:edit", args=[goal.pk])).status_code == 405


def test_it_sends_anonymous_visitors_to_log_in(client, cascade):
    response = detail(client, cascade.grow)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_plots_one_point_per_check_in_with_the_100_percent_line(client, cascade, employee):
    goal = cascade.employee_copy
    for days_ago, actual in ((40, 70), (30, 85), (20, 90), (10, 105), (0, 130)):
        check_in(employee, goal, actual, days_ago=days_ago)
    client.force_login(employee)
    html = html_of(detail(client, goal))
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="goal-chart-title goal-chart-desc"' in svg
    points = re.findall(r'<circle class="chart-point" cx="([\d.]+)" cy="([\d.]+)"', svg)
    assert len(points) == 5
    xs = [float(x) for x, _y in points]
    ys = [float(y) for _x, y in points]
    assert xs == sorted(xs) and len(set(xs)) == 5  # oldest to newest, left to right
    # 70 is below the threshold (0%); 130 is past the stretch (capped at 120%, the top).
    target_y = float(re.search(r'class="chart-target"[^>]*y1="([\d.]+)"', svg).group(1))
    assert ys[0] == max(ys) and ys[-1] == min(ys) < target_y
    assert "Attainment at 5 check-ins" in svg and "first 0%, latest 120%" in svg
    assert re.search(r'<polyline class="chart-line" fill="none" points="[\d., ]+">', svg)
    # The table is the text alternative: one row per check-in, with its attainment.
    table = re.search(r'id="checkins".*?</table>', html, re.S).group(0)
    assert table.count("<tr>") == 1 + 5
    for value in ("0%", "62.5%", "75%", "105%", "120%"):
        assert f'<td class="num">{value}</td>' in table


def test_it_draws_no_chart_before_the_first_check_in(client, cascade, employee):
    client.force_login(employee)
    html = html_of(detail(client, cascade.employee_copy))
    assert "<svg" not in html
    assert "No progress recorded yet. Record the first check-in above." in html


def test_the_detail_page_runs_the_same_queries_at_5_and_200_check_ins_and_children(
    client, org, cascade, manager, django_assert_num_queries
):
    goal = cascade.sales

    def grow(children, checkins):
        start = Goal.objects.filter(parent=goal).count()
        positions = Position.objects.bulk_create(
            Position(title=f"Role {start + i}", department=org.sales_east) for i in range(children)
        )
        Goal.objects.bulk_create(
            Goal(
                cycle=goal.cycle,
                level=L.POSITION,
                position=position,
                parent=goal,
                title=f"KPI {position.title}",
                weight=Decimal(100),
                status=S.APPROVED,
                kind=Goal.Kind.MILESTONE,
                progress=Decimal(i % 100),
            )
            for i, position in enumerate(positions)
        )
        now = timezone.now()
        CheckIn.objects.bulk_create(
            CheckIn(
                goal=goal,
                author=manager,
                actual=Decimal(80 + i % 40),
                confidence="on_track",
                recorded_at=now - datetime.timedelta(hours=start + i),
            )
            for i in range(checkins)
        )

    client.force_login(manager)
    grow(children=4, checkins=5)  # with the fixture's KPI, 5 children
    with CaptureQueriesContext(connection) as small:
        assert detail(client, goal).status_code == 200
    grow(children=195, checkins=195)
    with django_assert_num_queries(len(small)):
        response = detail(client, goal)
    html = html_of(response)
    assert "200 goals you can see serve this one." in html
    assert html.count('class="chart-point"') == 100  # the latest 100 check-ins
    assert "The latest 100 check-ins are shown." in html


def test_pages_carry_no_inline_script_or_style(client, cascade, employee, hr_admin):
    check_in(employee, cascade.employee_copy, 90)
    client.force_login(hr_admin)
    pages = [
        reverse("goals:detail", args=[cascade.bookings.pk]),
        reverse("goals:detail", args=[cascade.employee_copy.pk]),
        reverse("goals:edit", args=[cascade.sales.pk]),
        reverse("goals:create") + f"?level=department&parent={cascade.grow.pk}",
        reverse("goals:create"),
        reverse("goals:decompose", args=[cascade.grow.pk]),
        reverse("goals:close_goal_setting", args=[cascade.grow.cycle_id]),
    ]
    for url in pages:
        html = html_of(client.get(url))
        assert 'style="' not in html, url
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert not re.search(r"\son[a-z]+=", html), url


# --- check-ins ----------------------------------------------------------------------------


def test_the_owner_records_progress_and_it_rolls_up(client, cascade, employee):
    client.force_login(employee)
    url = reverse("goals:checkin", args=[cascade.employee_copy.pk])
    response = client.post(
        url, {"actual": "110", "confidence": "at_risk", "comment": "Two deals slipped\r\n"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/goals/{cascade.employee_copy.pk}/#checkins")
    assert last_message(response) == "Progress recorded."
    copy = Goal.objects.get(pk=cascade.employee_copy.pk)
    assert copy.last_actual == 110 and copy.attainment == 110 and copy.last_confidence == "at_risk"
    checkin = copy.checkins.get()
    assert checkin.author == employee and checkin.comment == "Two deals slipped"
    # Half the KPI's copies now report 110%: the KPI and the goals above it follow.
    assert Goal.objects.get(pk=cascade.bookings.pk).progress == 110
    assert Goal.objects.get(pk=cascade.grow.pk).progress == 110


def test_a_milestone_takes_percent_complete(client, cascade, hr_admin):
    client.force_login(hr_admin)
    html = html_of(detail(client, cascade.delight))
    assert 'name="percent_complete"' in html and 'name="actual"' not in html
    response = client.post(
        reverse("goals:checkin", args=[cascade.delight.pk]),
        {"percent_complete": "40", "confidence": "on_track"},
    )
    assert response.status_code == 302
    assert Goal.objects.get(pk=cascade.delight.pk).attainment == 40


def test_a_check_in_on_a_cancelled_goal_is_refused_with_a_message(
    client, cascade, employee, hr_admin
):
    services.goal_cancel(actor=hr_admin, goal=cascade.employee_copy, reason="Moved to marketing")
    client.force_login(employee)
    response = client.post(
        reverse("goals:checkin", args=[cascade.employee_copy.pk]),
        {"actual": "90", "confidence": "on_track"},
    )
    assert response.status_code == 400
    assert "Progress is recorded on approved and active goals; this goal is cancelled." in html_of(
        response
    )
    assert not CheckIn.objects.exists()
    # The page itself offers no check-in form for it.
    assert 'name="actual"' not in html_of(detail(client, cascade.employee_copy))


def test_bad_check_in_input_gets_field_errors_and_nothing_is_saved(client, cascade, employee):
    client.force_login(employee)
    url = reverse("goals:checkin", args=[cascade.employee_copy.pk])
    response = client.post(url, {"actual": "lots", "confidence": "sure", "comment": "kept"})
    assert response.status_code == 400
    html = html_of(response)
    assert "Enter a number." in html
    assert "Select a valid choice." in html
    assert 'class="error-summary"' in html
    assert "kept</textarea>" in html  # nothing typed is lost
    assert not CheckIn.objects.exists()


def test_only_the_owner_and_those_above_record_progress(client, cascade, employee, peer):
    client.force_login(employee)
    url = reverse("goals:checkin", args=[cascade.sales.pk])
    assert client.post(url, {"actual": "90", "confidence": "on_track"}).status_code == 403
    client.force_login(peer)
    url = reverse("goals:checkin", args=[cascade.employee_copy.pk])
    assert client.post(url, {"actual": "90", "confidence": "on_track"}).status_code == 404
    assert not CheckIn.objects.exists()


def test_the_author_deletes_a_check_in_recorded_by_mistake(
    client, cascade, employee, manager, peer
):
    kept = check_in(employee, cascade.employee_copy, 90, days_ago=2)
    mistake = check_in(employee, cascade.employee_copy, 9000)
    url = reverse("goals:checkin_delete", args=[mistake.pk])
    client.force_login(peer)
    assert client.post(url).status_code == 404
    client.force_login(manager)
    assert client.post(url).status_code == 403
    client.force_login(employee)
    response = client.post(url)
    assert response.status_code == 302
    assert last_message(response) == "The check-in was deleted."
    assert list(CheckIn.objects.values_list("pk", flat=True)) == [kept.pk]
    assert Goal.objects.get(pk=cascade.employee_copy.pk).last_actual == 90


def test_a_check_in_of_a_closed_cycle_is_not_deleted(client, cascade, employee, cycle):
    checkin = check_in(employee, cascade.employee_copy, 90)
    Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.CLOSED)
    client.force_login(employee)
    response = client.post(reverse("goals:checkin_delete", args=[checkin.pk]))
    assert response.status_code == 400
    assert "FY2026 is closed; its goals can no longer change." in html_of(response)
    assert CheckIn.objects.filter(pk=checkin.pk).exists()


# --- workflow actions ---------------------------------------------------------------------


@pytest.fixture
def draft(org, cascade, cycle, employee):
    return services.goal_create(
        actor=employee,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Win two logos in the north", 20),
        submit=False,
    )


def test_the_owner_submits_a_draft_and_the_manager_approves_it(client, draft, employee, manager):
    client.force_login(employee)
    html = html_of(detail(client, draft))
    assert "Submit for approval" in html and ">Approve<" not in html
    response = act(client, draft, "submit")
    assert response.status_code == 302
    assert last_message(response) == "The goal was sent for approval."
    assert Goal.objects.get(pk=draft.pk).status == S.PROPOSED
    client.force_login(manager)
    html = html_of(detail(client, draft))
    assert ">Approve<" in html and "Return with comment" in html and "Reject with comment" in html
    response = act(client, draft, "approve")
    assert response.status_code == 302
    assert Goal.objects.get(pk=draft.pk).status == S.APPROVED


def test_the_owner_cannot_decide_on_their_own_goal(client, draft, employee):
    services.goal_submit(actor=employee, goal=draft)
    client.force_login(employee)
    assert act(client, draft, "approve").status_code == 403
    assert act(client, draft, "reopen", comment="Please").status_code == 403
    assert Goal.objects.get(pk=draft.pk).status == S.PROPOSED


def test_returning_needs_a_comment_shown_next_to_the_field(client, draft, employee, manager):
    services.goal_submit(actor=employee, goal=draft)
    client.force_login(manager)
    response = act(client, draft, "return", comment="   ")
    assert response.status_code == 400
    html = html_of(response)
    assert "Say why, so the owner knows what to change." in html
    assert '<details class="goal-action" open>' in html
    assert Goal.objects.get(pk=draft.pk).status == S.PROPOSED
    response = act(client, draft, "return", comment="Make it measurable: how many logos?")
    assert response.status_code == 302
    returned = Goal.objects.get(pk=draft.pk)
    assert returned.status == S.DRAFT
    assert returned.review_comment == "Make it measurable: how many logos?"
    client.force_login(employee)
    assert "Make it measurable: how many logos?" in html_of(detail(client, draft))


def test_rejecting_cancels_the_proposal_with_the_reason(client, draft, employee, manager):
    services.goal_submit(actor=employee, goal=draft)
    client.force_login(manager)
    response = act(client, draft, "reject", comment="Not this year")
    assert response.status_code == 302
    rejected = Goal.objects.get(pk=draft.pk)
    assert rejected.status == S.CANCELLED and rejected.review_comment == "Not this year"


def test_cancelling_needs_a_reason(client, cascade, hr_admin):
    client.force_login(hr_admin)
    response = act(client, cascade.peer_copy, "cancel", comment="")
    assert response.status_code == 400
    assert "Say why, so the owner knows what to change." in html_of(response)
    response = act(client, cascade.peer_copy, "cancel", comment="Left the position")
    assert response.status_code == 302
    assert Goal.objects.get(pk=cascade.peer_copy.pk).status == S.CANCELLED


def test_a_goal_that_others_serve_is_not_cancelled(client, cascade, hr_admin):
    client.force_login(hr_admin)
    response = act(client, cascade.bookings, "cancel", comment="Reorganised")
    assert response.status_code == 400
    assert "Goals still serve this one" in html_of(response)
    assert Goal.objects.get(pk=cascade.bookings.pk).status == S.APPROVED


def test_the_manager_records_achieved_or_missed(client, cascade, manager):
    client.force_login(manager)
    response = act(client, cascade.employee_copy, "achieve", comment="Great year")
    assert response.status_code == 302
    assert last_message(response) == "The goal was marked achieved."
    assert Goal.objects.get(pk=cascade.employee_copy.pk).status == S.ACHIEVED
    assert act(client, cascade.peer_copy, "miss").status_code == 302
    assert Goal.objects.get(pk=cascade.peer_copy.pk).status == S.MISSED
    # Finished goals take no more outcome.
    response = act(client, cascade.peer_copy, "achieve")
    assert response.status_code == 400
    assert "A goal that is missed cannot be marked achieved." in html_of(response)


def test_hr_reopens_a_locked_goal_with_a_reason_and_locks_it_again(
    client, cascade, cycle, hr_admin, manager
):
    services.goal_setting_close(actor=hr_admin, cycle=cycle)
    client.force_login(manager)
    html = html_of(detail(client, cascade.sales))
    assert ">Locked</span>" in html and ">Edit<" not in html
    assert act(client, cascade.sales, "reopen", comment="Target moved").status_code == 403
    client.force_login(fresh(hr_admin))
    response = act(client, cascade.sales, "reopen", comment="")
    assert response.status_code == 400
    assert Goal.objects.get(pk=cascade.sales.pk).is_locked
    response = act(client, cascade.sales, "reopen", comment="The board moved the target")
    assert response.status_code == 302
    reopened = Goal.objects.get(pk=cascade.sales.pk)
    assert not reopened.is_locked and reopened.reopened_reason == "The board moved the target"
    html = html_of(detail(client, cascade.sales))
    assert "Lock again" in html and "Reopened: The board moved the target" in html
    assert act(client, cascade.sales, "lock").status_code == 302
    assert Goal.objects.get(pk=cascade.sales.pk).is_locked


def test_a_position_kpi_is_copied_to_new_holders(client, org, cascade, manager):
    EmployeeFactory(department=org.sales_east, position=org.position, manager=org.manager)
    client.force_login(manager)
    assert "Holders without a copy</dt><dd>1</dd>" in html_of(detail(client, cascade.bookings))
    response = act(client, cascade.bookings, "cascade")
    assert response.status_code == 302
    assert last_message(response) == "Copied to 1 new holder."
    assert Goal.objects.filter(source=cascade.bookings).count() == 3
    response = act(client, cascade.bookings, "cascade")
    assert last_message(response) == "Every holder of the position already has a copy."


def test_changes_are_pushed_to_the_copies_nobody_adjusted(client, cascade, manager):
    services.goal_update(
        actor=manager,
        goal=cascade.employee_copy,
        data={"stretch": Decimal(150)},
        expected_version=None,
    )
    services.goal_update(
        actor=manager, goal=cascade.bookings, data={"target": Decimal(105)}, expected_version=None
    )
    client.force_login(manager)
    html = html_of(detail(client, cascade.bookings))
    assert "Push changes to 1 unadjusted copy" in html
    assert "1 copy was adjusted for its owner and is left alone." in html
    response = act(client, cascade.bookings, "push")
    assert response.status_code == 302
    assert last_message(response) == "Updated 1 copy. 1 adjusted copy was left alone."
    assert Goal.objects.get(pk=cascade.peer_copy.pk).target == 105
    assert Goal.objects.get(pk=cascade.employee_copy.pk).target == 100


def test_the_owner_deletes_a_draft_written_by_mistake(client, draft, cascade, employee):
    client.force_login(employee)
    response = act(client, draft, "delete")
    assert response.status_code == 302
    assert response["Location"] == reverse("goals:detail", args=[cascade.bookings.pk])
    assert not Goal.objects.filter(pk=draft.pk).exists()


def test_an_action_on_a_goal_changed_meanwhile_is_a_conflict(client, draft, employee, manager):
    services.goal_submit(actor=employee, goal=draft)
    client.force_login(manager)
    old_version = Goal.objects.get(pk=draft.pk).version
    services.goal_update(
        actor=manager, goal=draft, data={"title": "Win three logos"}, expected_version=None
    )
    response = client.post(
        reverse("goals:action", args=[draft.pk, "approve"]), {"version": old_version}
    )
    assert response.status_code == 409
    html = html_of(response)
    assert "Someone else changed this goal while you were looking at it" in html
    assert f'href="{reverse("goals:detail", args=[draft.pk])}"' in html
    assert Goal.objects.get(pk=draft.pk).status == S.PROPOSED


def test_an_unknown_action_or_a_goal_out_of_scope_is_a_404(client, cascade, hr_admin, outsider):
    client.force_login(hr_admin)
    assert act(client, cascade.sales, "explode").status_code == 404
    client.force_login(outsider)
    assert act(client, cascade.sales, "approve").status_code == 404


def test_an_employee_sees_no_action_they_may_not_take(client, cascade, employee):
    client.force_login(employee)
    html = html_of(detail(client, cascade.sales))
    assert "What you can do" not in html
    assert 'action="/goals/' not in html.split('id="goal-about"')[1]
    for action in ("approve", "cancel", "achieve", "push"):
        assert act(client, cascade.sales, action, comment="x").status_code == 403
