"""The alignment tree: company objectives down to personal goals, opened level by level
through HTMX, only what the viewer may read, paged when a level is large, and a bounded
number of queries whatever the size of the cycle."""

import io
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals import services
from goals.models import Goal
from tests.factories import CycleFactory, UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
L = Goal.Level


def tree_url(cycle, **params):
    query = "&".join(f"{k}={v}" for k, v in {"cycle": cycle.pk, **params}.items())
    return f"{reverse('goals:tree')}?{query}"


def children_url(goal, **params):
    url = reverse("goals:tree_children", args=[goal.pk])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def nodes(html):
    """The goals shown, in order, as (goal id, title)."""
    found = re.findall(r'<a class="tree-name" href="([^"]+)">([^<]+)</a>', html)
    detail = reverse("goals:detail", args=[0])[:-2]  # "/goals/0/" -> "/goals/"
    return [(int(href[len(detail) :].strip("/")), title) for href, title in found]


def titles(html):
    return [title for _pk, title in nodes(html)]


def row_of(html, goal):
    """The markup of one node's row (its own line, without its children)."""
    href = reverse("goals:detail", args=[goal.pk])
    match = re.search(
        rf'<div class="tree-row goal-row">(?:(?!</div>\s*</li>|<div class="tree-row).)*?'
        rf'href="{re.escape(href)}".*?</span>\s*</span>\s*</div>',
        html,
        re.S,
    )
    assert match, f"no row for {goal}"
    return match.group(0)


def toggle_of(html, goal):
    match = re.search(rf'<button[^>]*aria-controls="goal-{goal.pk}-children"[^>]*>', html, re.S)
    return match.group(0) if match else None


def bulk_goals(cascade, org, n, prefix="Bulk"):
    """About ``n`` more goals on every level of the cascade, written in bulk: new
    company objectives, Sales goals serving "Grow revenue", KPIs of the account
    executive serving "Sales revenue", and personal goals of Emil and Petra serving
    "Bookings"."""
    common = {
        "cycle": cascade.grow.cycle,
        "status": Goal.Status.ACTIVE,
        "kind": Goal.Kind.MILESTONE,
        "weight": Decimal(1),
    }
    tenth = max(n // 10, 1)
    goals = [Goal(level=L.COMPANY, title=f"{prefix} objective {i}", **common) for i in range(tenth)]
    goals += [
        Goal(
            level=L.DEPARTMENT,
            department=org.sales,
            parent=cascade.grow,
            title=f"{prefix} sales goal {i}",
            **common,
        )
        for i in range(tenth)
    ]
    goals += [
        Goal(
            level=L.POSITION,
            position=org.position,
            parent=cascade.sales,
            title=f"{prefix} KPI {i}",
            **common,
        )
        for i in range(2 * tenth)
    ]
    goals += [
        Goal(
            level=L.PERSONAL,
            employee=org.employee if i % 2 else org.peer,
            parent=cascade.bookings,
            title=f"{prefix} personal goal {i}",
            **common,
        )
        for i in range(n - 4 * tenth)
    ]
    Goal.objects.bulk_create(goals, batch_size=500)


# --- the first screen -------------------------------------------------------------------


def test_it_shows_each_objective_open_on_its_department_goals(client, cascade, hr_admin):
    client.force_login(hr_admin)
    response = client.get(tree_url(cascade.grow.cycle))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/static/css/goals-tree.css"' in html
    # Heaviest objective first; each opens on the department goals serving it.
    assert titles(html) == ["Grow revenue", "Sales revenue", "Delight customers"]
    assert "2 company objectives" in html
    grow = row_of(html, cascade.grow)
    assert "Company objective" in grow
    assert "Plan 2026, line 3: grow revenue by 20%" in grow
    assert "Weight 60%" in grow and "1 goal serves it" in grow
    assert 'class="badge badge-info">Approved<' in grow
    assert 'aria-expanded="true"' in toggle_of(html, cascade.grow)
    assert "hx-get" not in toggle_of(html, cascade.grow)
    # The next level loads when asked, through HTMX, and is hidden until then.
    sales = row_of(html, cascade.sales)
    assert "Department goal" in sales and "Sales" in sales and "1 goal serves it" in sales
    button = toggle_of(html, cascade.sales)
    assert 'aria-expanded="false"' in button
    assert 'hx-trigger="click once"' in button
    assert f'hx-get="{children_url(cascade.sales)}"' in button
    assert f'hx-target="#goal-{cascade.sales.pk}-children"' in button
    assert f'<div id="goal-{cascade.sales.pk}-children" class="tree-children" hidden></div>' in html
    assert "Bookings" not in html
    # An objective nothing serves has no button.
    assert toggle_of(html, cascade.delight) is None
    assert "0 goals serve it" in row_of(html, cascade.delight)


def test_it_shows_rolled_up_progress_and_confidence(client, cascade, employee, hr_admin):
    services.checkin_record(
        actor=employee,
        goal=cascade.employee_copy,
        confidence="at_risk",
        actual=Decimal(90),
    )
    cascade.grow.refresh_from_db()
    assert cascade.grow.progress is not None
    client.force_login(hr_admin)
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    grow = row_of(html, cascade.grow)
    shown = f"{cascade.grow.progress:.0f}%"
    assert f'<span class="progress-value">{shown}</span>' in grow
    assert 'aria-label="Progress of Grow revenue"' in grow
    assert "No progress recorded" in row_of(html, cascade.delight)
    fragment = client.get(children_url(cascade.bookings), **HTMX).content.decode()
    assert ">At risk<" in row_of(fragment, cascade.employee_copy)
    assert ">At risk<" not in row_of(fragment, cascade.peer_copy)


def test_it_links_every_node_to_its_goal_page(client, cascade, hr_admin):
    client.force_login(hr_admin)
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    shown = dict(nodes(html))
    assert shown == {
        cascade.grow.pk: "Grow revenue",
        cascade.sales.pk: "Sales revenue",
        cascade.delight.pk: "Delight customers",
    }
    fragment = client.get(children_url(cascade.sales), **HTMX).content.decode()
    assert f'href="{reverse("goals:detail", args=[cascade.bookings.pk])}"' in fragment


def test_it_defaults_to_the_running_cycle(client, cascade, executive):
    client.force_login(executive)
    html = client.get(reverse("goals:tree")).content.decode()
    assert titles(html)[0] == "Grow revenue"
    assert f'<option value="{cascade.grow.cycle.pk}" selected>' in html


# --- one level at a time ------------------------------------------------------------------


def test_it_loads_a_level_as_a_fragment(client, cascade, hr_admin):
    client.force_login(hr_admin)
    response = client.get(children_url(cascade.sales), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and html.strip().startswith('<ul class="tree">')
    assert titles(html) == ["Bookings"]
    bookings = row_of(html, cascade.bookings)
    assert "Position KPI" in bookings and "Account executive · Sales East" in bookings
    assert "2 goals serve it" in bookings
    assert f'hx-get="{children_url(cascade.bookings)}"' in toggle_of(html, cascade.bookings)

    html = client.get(children_url(cascade.bookings), **HTMX).content.decode()
    people = [row for row in (row_of(html, cascade.employee_copy), row_of(html, cascade.peer_copy))]
    assert "Personal goal" in people[0] and "Emil Employee" in people[0]
    assert "Petra Peer" in people[1]
    assert "<button" not in html  # nothing serves a personal goal


def test_it_sends_a_plain_children_request_to_the_goal_page(client, cascade, employee):
    client.force_login(employee)
    response = client.get(children_url(cascade.sales))
    assert response.status_code == 302
    assert response["Location"] == reverse("goals:detail", args=[cascade.sales.pk])


def test_it_shows_an_employee_only_the_goals_they_may_read(client, cascade, org, employee):
    client.force_login(employee)
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    assert titles(html) == ["Grow revenue", "Sales revenue", "Delight customers"]
    html = client.get(children_url(cascade.bookings), **HTMX).content.decode()
    assert titles(html) == ["Bookings"]
    assert "Emil Employee" in html and "Petra Peer" not in html
    # The count above says what the employee can open, not what exists.
    fragment = client.get(children_url(cascade.sales), **HTMX).content.decode()
    assert "1 goal serves it" in row_of(fragment, cascade.bookings)
    url = children_url(cascade.peer_copy)
    assert client.get(url, **HTMX).status_code == 404
    assert client.get(url).status_code == 404


def test_it_shows_the_manager_every_copy_in_the_team(client, cascade, manager):
    client.force_login(manager)
    html = client.get(children_url(cascade.bookings), **HTMX).content.decode()
    assert "Emil Employee" in html and "Petra Peer" in html


def test_it_hides_another_branch_from_an_outsider(client, cascade, outsider):
    client.force_login(outsider)
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    # Company objectives are everyone's; Sales' goals are not the engineer's.
    assert titles(html) == ["Grow revenue", "Delight customers"]
    assert "0 goals serve it" in row_of(html, cascade.grow)
    assert toggle_of(html, cascade.grow) is None
    for goal in (cascade.sales, cascade.bookings):
        assert client.get(children_url(goal), **HTMX).status_code == 404
        assert client.get(children_url(goal)).status_code == 404
    html = client.get(children_url(cascade.grow), **HTMX).content.decode()
    assert titles(html) == []


def test_it_shows_nothing_to_an_account_without_an_employee_record(client, cascade):
    client.force_login(UserFactory())
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    assert titles(html) == []
    assert "There is no cycle to show." in html
    assert client.get(children_url(cascade.grow), **HTMX).status_code == 404


def test_it_leaves_a_draft_cycle_out_of_everyone_but_hr(client, org, employee, hr_admin):
    draft = CycleFactory(name="FY2027", status="draft")
    services.goal_create(
        actor=hr_admin,
        cycle=draft,
        level=L.COMPANY,
        data={"title": "Secret plan", "weight": Decimal(100), "kind": Goal.Kind.MILESTONE},
    )
    client.force_login(employee)
    html = client.get(tree_url(draft)).content.decode()
    assert "Secret plan" not in html
    assert "Select a valid choice" in html
    client.force_login(hr_admin)
    assert "Secret plan" in client.get(tree_url(draft)).content.decode()


# --- filters --------------------------------------------------------------------------------


def test_it_narrows_the_tree_to_the_branches_reaching_a_department(client, cascade, org, hr_admin):
    services.goal_create(
        actor=hr_admin,
        cycle=cascade.grow.cycle,
        level=L.DEPARTMENT,
        owner=org.engineering,
        parent=cascade.grow,
        data={"title": "Ship the platform", "weight": Decimal(100), "kind": Goal.Kind.MILESTONE},
    )
    client.force_login(hr_admin)
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    assert "2 goals serve it" in row_of(html, cascade.grow)
    assert "Ship the platform" in titles(html)

    # Sales East owns no department goal, but its position's KPI serves Sales' goal: the
    # branch stays, with the goals above it.
    html = client.get(tree_url(cascade.grow.cycle, department=org.sales_east.pk)).content.decode()
    assert titles(html) == ["Grow revenue", "Sales revenue"]
    assert "1 goal serves it" in row_of(html, cascade.grow)
    carried = f"department={org.sales_east.pk}"
    assert f'hx-get="{children_url(cascade.sales)}?{carried}"' in toggle_of(html, cascade.sales)

    html = client.get(tree_url(cascade.grow.cycle, department=org.engineering.pk)).content.decode()
    assert titles(html) == ["Grow revenue", "Ship the platform"]
    fragment = client.get(
        children_url(cascade.grow, department=org.engineering.pk), **HTMX
    ).content.decode()
    assert titles(fragment) == ["Ship the platform"]

    html = client.get(tree_url(cascade.grow.cycle, department=org.people.pk)).content.decode()
    assert titles(html) == []
    assert "No goals of People serve a company objective in FY2026." in html


def test_it_leaves_cancelled_goals_out_unless_asked(client, cascade, hr_admin):
    services.goal_cancel(actor=hr_admin, goal=cascade.delight, reason="Merged into growth")
    client.force_login(hr_admin)
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    assert "Delight customers" not in titles(html)
    assert "1 company objective" in html
    html = client.get(tree_url(cascade.grow.cycle, cancelled="on")).content.decode()
    assert "Delight customers" in titles(html)
    assert ">Cancelled<" in row_of(html, cascade.delight)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"department": 999999}, "Select a valid choice"),
        ({"department": "sales"}, "Select a valid choice"),
        ({"page": "abc"}, None),
        ({"page": "-3"}, None),
    ],
)
def test_it_ignores_a_bad_filter_and_says_so(params, error, client, cascade, hr_admin):
    client.force_login(hr_admin)
    response = client.get(tree_url(cascade.grow.cycle, **params))
    assert response.status_code == 200
    html = response.content.decode()
    assert titles(html) == ["Grow revenue", "Sales revenue", "Delight customers"]
    if error:
        assert 'class="field-error"' in html and error in html


def test_it_reports_a_cycle_that_does_not_exist(client, cascade, hr_admin):
    client.force_login(hr_admin)
    html = client.get(reverse("goals:tree") + "?cycle=abc").content.decode()
    assert "There is no cycle to show." in html
    assert 'class="field-error"' in html


def test_it_says_who_sets_the_company_objectives_when_there_are_none(client, org, employee):
    cycle = CycleFactory(name="FY2030", status="goal_setting")
    client.force_login(employee)
    html = client.get(tree_url(cycle)).content.decode()
    assert "There are no company objectives for FY2030 yet." in html
    assert "Executives and HR set the company objectives" in html
    assert f'href="{reverse("goals:company")}?cycle={cycle.pk}"' in html


def test_it_offers_the_coverage_report_to_hr_only(client, cascade, hr_admin, employee):
    link = f'href="{reverse("goals:coverage")}?cycle={cascade.grow.cycle.pk}"'
    client.force_login(hr_admin)
    assert link in client.get(tree_url(cascade.grow.cycle)).content.decode()
    client.force_login(employee)
    assert link not in client.get(tree_url(cascade.grow.cycle)).content.decode()


# --- large levels come a page at a time ---------------------------------------------------


def test_it_pages_a_level_with_thousands_of_goals(client, cascade, org, hr_admin):
    common = {"cycle": cascade.grow.cycle, "status": Goal.Status.ACTIVE, "weight": Decimal(1)}
    Goal.objects.bulk_create(
        Goal(
            level=L.PERSONAL,
            employee=org.employee,
            parent=cascade.bookings,
            title=f"Call customer {i:03d}",
            kind=Goal.Kind.MILESTONE,
            **common,
        )
        for i in range(118)
    )
    client.force_login(hr_admin)
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    assert len(nodes(html)) == 3  # the big level stays closed
    fragment = client.get(children_url(cascade.sales), **HTMX).content.decode()
    assert "120 goals serve it" in row_of(fragment, cascade.bookings)

    first = client.get(children_url(cascade.bookings), **HTMX).content.decode()
    assert len(nodes(first)) == 50
    more = re.search(r'<li class="tree-more">.*?</li>', first, re.S).group(0)
    assert "Show more (70 left)" in more
    page2 = children_url(cascade.bookings, start=50).replace("&", "&amp;")
    assert f'hx-get="{page2}"' in more and 'hx-target="closest li"' in more
    assert 'hx-swap="outerHTML"' in more

    second = client.get(children_url(cascade.bookings, start=50), **HTMX).content.decode()
    assert not second.strip().startswith("<ul")  # more items for the same list
    assert len(nodes(second)) == 50 and "Show more (20 left)" in second
    third = client.get(children_url(cascade.bookings, start=100), **HTMX).content.decode()
    assert len(nodes(third)) == 20 and "Show more" not in third
    seen = [pk for page in (first, second, third) for pk, _title in nodes(page)]
    assert len(seen) == len(set(seen)) == 120
    beyond = client.get(children_url(cascade.bookings, start=400), **HTMX).content.decode()
    assert nodes(beyond) == []


@pytest.mark.parametrize("start", ["abc", "-3", "99999999999999999999"])
def test_it_reads_a_bad_start_of_children_as_the_first_page_or_beyond(
    start, client, cascade, hr_admin
):
    client.force_login(hr_admin)
    response = client.get(children_url(cascade.grow, start=start), **HTMX)
    assert response.status_code == 200
    expected = [] if start.startswith("9") else [cascade.sales.pk]
    assert [pk for pk, _title in nodes(response.content.decode())] == expected


def test_it_pages_the_company_objectives_and_their_first_level(client, cascade, org, hr_admin):
    common = {"cycle": cascade.grow.cycle, "status": Goal.Status.ACTIVE, "weight": Decimal(0)}
    Goal.objects.bulk_create(
        Goal(level=L.COMPANY, title=f"Objective {i:02d}", kind=Goal.Kind.MILESTONE, **common)
        for i in range(55)
    )
    Goal.objects.bulk_create(
        Goal(
            level=L.DEPARTMENT,
            department=org.sales,
            parent=cascade.grow,
            title=f"Sales push {i:02d}",
            kind=Goal.Kind.MILESTONE,
            **common,
        )
        for i in range(60)
    )
    client.force_login(hr_admin)
    html = client.get(tree_url(cascade.grow.cycle)).content.decode()
    assert "57 company objectives" in html
    shown = titles(html)
    assert shown[:2] == ["Grow revenue", "Sales revenue"]
    assert len([t for t in shown if t.startswith(("Sales", "Grow"))]) == 11  # 1 + first 10
    assert "Show more (51 left)" in html  # Grow revenue's 61 department goals
    assert "Show more (7 left)" in html  # 57 objectives, 50 on the screen
    html = client.get(tree_url(cascade.grow.cycle, page=2), **HTMX).content.decode()
    assert "<html" not in html
    assert len(nodes(html)) == 7 and "Show more" not in html
    # Without JavaScript the same link is a page of its own.
    html = client.get(tree_url(cascade.grow.cycle, page=2)).content.decode()
    assert "<html" in html and len(nodes(html)) == 7


# --- a bounded number of queries ------------------------------------------------------------


def same_queries_at_two_sizes(client, url, grow, django_assert_num_queries, **headers):
    with CaptureQueriesContext(connection) as small:
        assert client.get(url, **headers).status_code == 200
    grow()
    with django_assert_num_queries(len(small)):
        response = client.get(url, **headers)
        assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("persona", ["hr_admin", "manager", "employee"])
def test_it_keeps_the_tree_queries_constant(
    persona, request, client, cascade, org, django_assert_num_queries
):
    user = request.getfixturevalue(persona)
    bulk_goals(cascade, org, 50, prefix="Small")
    assert Goal.objects.count() < 60
    client.force_login(user)
    grow = lambda: bulk_goals(cascade, org, 1950, prefix="Big")  # noqa: E731
    html = same_queries_at_two_sizes(
        client, tree_url(cascade.grow.cycle), grow, django_assert_num_queries
    )
    assert Goal.objects.count() > 2000
    assert "Show more" in html  # 200 new objectives: paged


@pytest.mark.parametrize("persona", ["hr_admin", "manager", "employee"])
@pytest.mark.parametrize("level", ["sales", "bookings"])
def test_it_keeps_the_children_queries_constant(
    persona, level, request, client, cascade, org, django_assert_num_queries
):
    user = request.getfixturevalue(persona)
    bulk_goals(cascade, org, 50, prefix="Small")
    client.force_login(user)
    grow = lambda: bulk_goals(cascade, org, 1950, prefix="Big")  # noqa: E731
    url = children_url(getattr(cascade, level))
    html = same_queries_at_two_sizes(client, url, grow, django_assert_num_queries, **HTMX)
    assert len(nodes(html)) == 50


def test_it_keeps_a_filtered_tree_bounded_too(
    client, cascade, org, hr_admin, django_assert_num_queries
):
    bulk_goals(cascade, org, 50, prefix="Small")
    client.force_login(hr_admin)
    grow = lambda: bulk_goals(cascade, org, 1950, prefix="Big")  # noqa: E731
    url = tree_url(cascade.grow.cycle, department=org.sales_east.pk, cancelled="on")
    same_queries_at_two_sizes(client, url, grow, django_assert_num_queries)


# --- methods and logins -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["goals:tree", "goals:tree_children"])
def test_it_refuses_a_post_and_asks_visitors_to_log_in(name, client, cascade, employee):
    args = [cascade.grow.pk] if name == "goals:tree_children" else []
    url = reverse(name, args=args)
    assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(employee)
    assert client.post(url).status_code == 405
    assert client.post(url, **HTMX).status_code == 405


# --- the timing command ----------------------------------------------------------------------


def test_it_times_the_tree_from_the_command_line(cascade, org, employee):
    out = io.StringIO()
    call_command(
        "time_alignment_tree",
        "employee@example.com",
        "--runs",
        "2",
        "--children",
        "auto",
        stdout=out,
    )
    text = out.getvalue()
    assert "employee@example.com · cycle FY2026 · 6 goals in the cycle" in text
    assert re.search(
        r"GET /goals/tree/\?cycle=\d+: median \d+ ms \(min \d+, max \d+, 2 runs\), "
        r"\d+ queries",
        text,
    )
    # The busiest goal is Bookings, with both copies (the employee sees one of them).
    assert f"busiest visible goal: #{cascade.bookings.pk} with 2 children" in text
    assert re.search(rf"GET /goals/tree/{cascade.bookings.pk}/children/: median \d+ ms", text)
    queries = [int(n) for n in re.findall(r"(\d+) queries", text)]
    assert len(queries) == 2 and all(n > 5 for n in queries)


def test_it_refuses_to_time_an_unknown_user(org):
    with pytest.raises(CommandError, match="No user with the e-mail address nobody@example.com"):
        call_command("time_alignment_tree", "nobody@example.com")
