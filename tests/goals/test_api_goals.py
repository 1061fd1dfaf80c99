"""/api/v1/goals/: who reads and writes which goals, the workflow actions, bad input as
field errors with nothing saved, stale versions, filters, and lists that do not grow in
queries with the number of goals."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from goals import services
from goals.models import CheckIn, Goal
from perfcycle.models import Cycle, Employee
from tests.factories import CycleFactory, EmployeeFactory, PositionFactory
from tests.goals.conftest import goal_data

URL = "/api/v1/goals/"
L, S = Goal.Level, Goal.Status


def detail(goal) -> str:
    return f"{URL}{goal.pk}/"


def act(goal, name: str) -> str:
    return f"{URL}{goal.pk}/{name}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def listed(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def reloaded(goal) -> Goal:
    return Goal.objects.get(pk=goal.pk)


def personal(org, cycle, cascade, /, **overrides) -> dict:
    """The body of a personal goal for Emil Employee, serving the Bookings KPI."""
    data = {
        "cycle": cycle.pk,
        "level": "personal",
        "employee": org.employee.pk,
        "parent": cascade.bookings.pk,
        "title": "Win two new accounts",
        "weight": "20",
        "kind": "kpi",
        "unit": "accounts",
        "direction": "higher",
        "threshold": "1",
        "target": "2",
        "stretch": "3",
        "submit": False,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def more(org, cycle, cascade, hr_admin, peer):
    """Beyond the cascade: the peer's own proposal, and an Engineering branch with the
    outsider's copy of an Engineering KPI."""
    proposal = services.goal_create(
        actor=peer,
        cycle=cycle,
        level=L.PERSONAL,
        owner=org.peer,
        parent=cascade.bookings,
        data=goal_data("Mentor a new rep", 10),
    )
    engineer = PositionFactory(title="Engineer", department=org.engineering)
    Employee.objects.filter(pk=org.outsider.pk).update(position=engineer)
    platform = services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=L.DEPARTMENT,
        owner=org.engineering,
        parent=cascade.grow,
        data=goal_data("Ship the platform"),
    )
    uptime = services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=L.POSITION,
        owner=engineer,
        parent=platform,
        data=goal_data("Uptime"),
    )
    return SimpleNamespace(
        peer_proposal=proposal,
        engineer=engineer,
        platform=platform,
        uptime=uptime,
        outsider_copy=Goal.objects.get(source=uptime, employee=org.outsider),
    )


# --- reading ------------------------------------------------------------------------


def test_it_lets_an_employee_read_the_goals_they_are_aligned_to(cascade, more, employee):
    client = client_for(employee)
    assert listed(client.get(URL)) == {
        cascade.grow.pk,
        cascade.delight.pk,
        cascade.sales.pk,
        cascade.bookings.pk,
        cascade.employee_copy.pk,
    }
    for goal in (cascade.grow, cascade.sales, cascade.bookings, cascade.employee_copy):
        assert client.get(detail(goal)).status_code == 200
    for hidden in (cascade.peer_copy, more.peer_proposal, more.platform, more.outsider_copy):
        assert client.get(detail(hidden)).status_code == 404


def test_it_lets_a_manager_read_their_subtree_and_not_other_branches(cascade, more, manager):
    client = client_for(manager)
    assert listed(client.get(URL)) == {
        cascade.grow.pk,
        cascade.delight.pk,
        cascade.sales.pk,
        cascade.bookings.pk,
        cascade.employee_copy.pk,
        cascade.peer_copy.pk,
        more.peer_proposal.pk,
    }
    assert client.get(detail(more.platform)).status_code == 404
    assert client.get(detail(more.outsider_copy)).status_code == 404


def test_it_lets_hr_read_every_goal(cascade, more, hr_admin):
    assert listed(client_for(hr_admin).get(URL, {"page_size": 100})) == set(
        Goal.objects.values_list("pk", flat=True)
    )


def test_it_hides_the_sales_branch_from_the_outsider(cascade, more, outsider):
    client = client_for(outsider)
    assert listed(client.get(URL)) == {
        cascade.grow.pk,
        cascade.delight.pk,
        more.platform.pk,
        more.uptime.pk,
        more.outsider_copy.pk,
    }
    for hidden in (cascade.sales, cascade.bookings, cascade.employee_copy, cascade.peer_copy):
        assert client.get(detail(hidden)).status_code == 404
        assert client.patch(detail(hidden), {"title": "x", "version": 1}).status_code == 404
        assert client.post(act(hidden, "approve")).status_code == 404
        assert client.delete(detail(hidden)).status_code == 404
    assert reloaded(cascade.employee_copy).title == "Bookings"


def test_it_hides_draft_cycles_from_everyone_but_hr(org, cycle, cascade, employee, hr_admin):
    Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.DRAFT)
    assert listed(client_for(employee).get(URL)) == set()
    assert client_for(employee).get(detail(cascade.grow)).status_code == 404
    assert cascade.grow.pk in listed(client_for(hr_admin).get(URL))


def test_it_shows_the_read_shape(org, cycle, cascade, employee):
    services.checkin_record(
        actor=employee,
        goal=cascade.employee_copy,
        actual=Decimal(90),
        confidence=CheckIn.Confidence.AT_RISK,
    )
    response = client_for(employee).get(detail(cascade.employee_copy))
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    body = response.json()
    last_checkin_at = body.pop("last_checkin_at")
    assert last_checkin_at
    assert body == {
        "id": cascade.employee_copy.pk,
        "cycle": cycle.pk,
        "level": "personal",
        "owner": {"type": "employee", "id": org.employee.pk, "name": "Emil Employee"},
        "parent": cascade.bookings.pk,
        "title": "Bookings",
        "description": "",
        "strategy_ref": "",
        "strategy_url": "",
        "weight": "100.00",
        "status": "approved",
        "due_date": None,
        "previous": None,
        "target_reason": "",
        "source": cascade.bookings.pk,
        "adjusted": False,
        "kind": "kpi",
        "unit": "k CNY",
        "direction": "higher",
        "baseline": None,
        "threshold": "80.0000",
        "target": "100.0000",
        "stretch": "120.0000",
        "range_low": None,
        "range_high": None,
        "tolerance": None,
        "last_actual": "90.0000",
        "last_percent": None,
        "last_confidence": "at_risk",
        "attainment": "75.00",
        "progress": "75.00",
        "review_comment": "",
        "locked": False,
        "version": 1,
    }


def test_it_names_each_kind_of_owner(org, cascade, hr_admin):
    client = client_for(hr_admin)
    owners = {
        goal.pk: client.get(detail(goal)).json()["owner"]
        for goal in (cascade.grow, cascade.sales, cascade.bookings)
    }
    assert owners == {
        cascade.grow.pk: {"type": "company", "id": None, "name": "The company"},
        cascade.sales.pk: {"type": "department", "id": org.sales.pk, "name": "Sales"},
        cascade.bookings.pk: {
            "type": "position",
            "id": org.position.pk,
            "name": "Account executive",
        },
    }


# --- filters ------------------------------------------------------------------------


def test_it_filters_by_cycle_level_status_owner_and_parent(org, cycle, cascade, more, hr_admin):
    other_cycle = CycleFactory(name="FY2027", period_start="2027-01-01", period_end="2027-12-31")
    elsewhere = services.goal_create(
        actor=hr_admin, cycle=other_cycle, level=L.COMPANY, data=goal_data("Next year")
    )
    client = client_for(hr_admin)
    assert listed(client.get(URL, {"cycle": other_cycle.pk})) == {elsewhere.pk}
    assert listed(client.get(URL, {"cycle": cycle.pk, "level": "company"})) == {
        cascade.grow.pk,
        cascade.delight.pk,
    }
    assert listed(client.get(URL, {"level": ["department", "position"], "cycle": cycle.pk})) == {
        cascade.sales.pk,
        cascade.bookings.pk,
        more.platform.pk,
        more.uptime.pk,
    }
    assert listed(client.get(URL, {"status": "proposed"})) == {more.peer_proposal.pk}
    assert listed(client.get(URL, {"department": org.sales.pk})) == {cascade.sales.pk}
    assert listed(client.get(URL, {"position": more.engineer.pk})) == {more.uptime.pk}
    assert listed(client.get(URL, {"employee": org.peer.pk})) == {
        cascade.peer_copy.pk,
        more.peer_proposal.pk,
    }
    assert listed(client.get(URL, {"parent": cascade.grow.pk})) == {
        cascade.sales.pk,
        more.platform.pk,
    }
    assert listed(client.get(URL, {"search": "uptim"})) == {more.uptime.pk, more.outsider_copy.pk}


def test_it_filters_the_goals_at_risk(cascade, employee, peer, manager):
    services.checkin_record(
        actor=employee, goal=cascade.employee_copy, actual=Decimal(70), confidence="off_track"
    )
    services.checkin_record(
        actor=peer, goal=cascade.peer_copy, actual=Decimal(100), confidence="on_track"
    )
    client = client_for(manager)
    assert listed(client.get(URL, {"at_risk": "true"})) == {cascade.employee_copy.pk}
    not_at_risk = listed(client.get(URL, {"at_risk": "false"}))
    assert cascade.peer_copy.pk in not_at_risk
    assert cascade.employee_copy.pk not in not_at_risk


def test_it_orders_by_what_is_asked_and_cascade_order_by_default(cascade, hr_admin):
    client = client_for(hr_admin)
    rows = client.get(URL).json()["results"]
    assert [row["level"] for row in rows] == [
        "company",
        "company",
        "department",
        "position",
        "personal",
        "personal",
    ]
    assert [row["title"] for row in rows[:2]] == ["Grow revenue", "Delight customers"]
    rows = client.get(URL, {"ordering": "title", "level": "company"}).json()["results"]
    assert [row["title"] for row in rows] == ["Delight customers", "Grow revenue"]
    rows = client.get(URL, {"ordering": "-level"}).json()["results"]
    assert rows[0]["level"] == "personal"
    assert rows[-1]["level"] == "company"


@pytest.mark.parametrize(
    "query",
    [
        {"cycle": "x"},
        {"cycle": str(10**30)},
        {"level": "planet"},
        {"status": "\x00"},
        {"at_risk": "perhaps"},
        {"ordering": "created_by__password"},
        {"at_risk": "1.5"},
        {"search": "\x00"},
        {"parent": "-1"},
    ],
)
def test_it_answers_a_strange_query_with_field_errors_not_a_500(cascade, hr_admin, query):
    response = client_for(hr_admin).get(URL, query)
    assert response.status_code == 400, response.content


# --- query counts ---------------------------------------------------------------------


def _bulk_goals(org, cycle, cascade, count: int) -> None:
    """``count`` goals of every owner kind the manager can see, written straight to the
    table (the services would take minutes at this size)."""
    owners = [
        {"level": L.PERSONAL, "employee": org.employee, "parent": cascade.bookings},
        {"level": L.PERSONAL, "employee": org.peer, "parent": cascade.bookings},
        {"level": L.POSITION, "position": org.position, "parent": cascade.sales},
        {"level": L.DEPARTMENT, "department": org.sales, "parent": cascade.grow},
    ]
    Goal.objects.bulk_create(
        [
            Goal(
                cycle=cycle,
                title=f"Bulk goal {n}",
                weight=Decimal(1),
                kind=Goal.Kind.MILESTONE,
                status=S.APPROVED,
                last_confidence="at_risk",
                **owners[n % len(owners)],
            )
            for n in range(count)
        ],
        batch_size=500,
    )


def test_it_lists_goals_in_the_same_number_of_queries_at_50_and_2000(
    org, cycle, cascade, manager, django_assert_num_queries
):
    client = client_for(manager)
    query = {"page_size": 500, "cycle": cycle.pk, "at_risk": "true"}
    _bulk_goals(org, cycle, cascade, 50)
    with CaptureQueriesContext(connection) as small:
        assert len(client.get(URL, query).json()["results"]) == 50
    _bulk_goals(org, cycle, cascade, 1950)
    with django_assert_num_queries(len(small)):
        response = client.get(URL, query)
    assert response.json()["count"] == 2000
    assert len(response.json()["results"]) == 500


# --- creating -----------------------------------------------------------------------


def test_it_lets_an_employee_save_their_own_goal_as_a_draft_or_propose_it(
    org, cycle, cascade, employee
):
    client = client_for(employee)
    response = client.post(URL, personal(org, cycle, cascade), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["owner"] == {"type": "employee", "id": org.employee.pk, "name": "Emil Employee"}
    assert body["parent"] == cascade.bookings.pk
    assert response["ETag"] == '"1"'
    response = client.post(
        URL, personal(org, cycle, cascade, title="Shorter sales cycle", submit=True), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "proposed"
    assert Goal.objects.get(pk=response.json()["id"]).created_by == employee


def test_it_lets_hr_create_goals_at_every_level(org, cycle, cascade, hr_admin):
    client = client_for(hr_admin)
    response = client.post(
        URL,
        {
            "cycle": cycle.pk,
            "level": "company",
            "title": "Enter a new market",
            "weight": "10",
            "kind": "milestone",
            "strategy_ref": "Plan 2026, line 7",
            "strategy_url": "https://intranet.example.com/plan-2026",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    objective = response.json()
    assert (objective["status"], objective["owner"]["type"]) == ("approved", "company")
    assert objective["strategy_ref"] == "Plan 2026, line 7"
    response = client.post(
        URL,
        personal(
            org,
            cycle,
            cascade,
            level="position",
            employee=None,
            position=org.position.pk,
            parent=cascade.sales.pk,
            title="Calls made",
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    kpi = Goal.objects.get(pk=response.json()["id"])
    # A position KPI is copied to the people holding it.
    assert set(kpi.copies.values_list("employee", flat=True)) == {org.employee.pk, org.peer.pk}


def test_it_lets_a_manager_set_a_goal_for_their_report(org, cycle, cascade, manager):
    response = client_for(manager).post(
        URL, personal(org, cycle, cascade, employee=org.peer.pk), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "approved"


def test_it_does_not_let_an_employee_set_goals_for_others(org, cycle, cascade, employee):
    client = client_for(employee)
    before = Goal.objects.count()
    # The peer is not someone the employee may open: "does not exist" for them.
    response = client.post(URL, personal(org, cycle, cascade, employee=org.peer.pk), format="json")
    assert response.status_code == 400
    assert "employee" in response.json()
    # A department goal for their own department is the head's to set.
    response = client.post(
        URL,
        personal(
            org,
            cycle,
            cascade,
            level="department",
            employee=None,
            department=org.sales_east.pk,
            parent=cascade.grow.pk,
        ),
        format="json",
    )
    assert response.status_code == 403
    assert Goal.objects.count() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"weight": "lots"}, "weight"),
        ({"weight": "150"}, "weight"),
        ({"weight": "-5"}, "weight"),
        ({"target": "a hundred"}, "target"),
        ({"threshold": "NaN"}, "threshold"),
        ({"threshold": "5"}, "threshold"),
        ({"direction": "sideways"}, "direction"),
        ({"direction": "range"}, "range_low"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"kind": None}, "kind"),
        ({"level": "planet"}, "level"),
        ({"employee": None}, "employee"),
        ({"department": "__sales__"}, "department"),
        ({"parent": None}, "parent"),
        ({"parent": "__grow__"}, "parent"),
        ({"parent": 10**30}, "parent"),
        ({"cycle": 999999}, "cycle"),
        ({"due_date": "someday"}, "due_date"),
        ({"strategy_url": "not a link"}, "strategy_url"),
        ({"previous": "__grow__"}, "previous"),
    ],
)
def test_it_answers_bad_input_with_the_field_named_and_saves_nothing(
    org, cycle, cascade, employee, overrides, field
):
    stand_ins = {"__sales__": org.sales.pk, "__grow__": cascade.grow.pk}
    overrides = {k: stand_ins.get(v, v) if isinstance(v, str) else v for k, v in overrides.items()}
    data = personal(org, cycle, cascade, **overrides)
    for name, value in overrides.items():
        if value is None:
            data.pop(name, None)
    before = Goal.objects.count()
    response = client_for(employee).post(URL, data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert Goal.objects.count() == before


@pytest.mark.parametrize(
    "body",
    ["[1, 2]", '"text"', "{not json", "null", '{"cycle": [1], "level": {"a": 1}, "weight": true}'],
)
def test_it_never_answers_garbage_with_a_500(cascade, hr_admin, body):
    client = client_for(hr_admin)
    for url in (URL, act(cascade.delight, "cancel"), act(cascade.grow, "decompose")):
        assert client.post(url, body, content_type="application/json").status_code == 400, url
    for method in (client.put, client.patch):
        response = method(detail(cascade.grow), body, content_type="application/json")
        assert response.status_code == 400
    assert reloaded(cascade.delight).status == S.APPROVED


# --- editing ------------------------------------------------------------------------


def test_it_lets_the_owner_edit_their_draft_but_not_once_approved(org, cycle, cascade, employee):
    client = client_for(employee)
    draft = client.post(URL, personal(org, cycle, cascade), format="json").json()
    response = client.patch(
        f"{URL}{draft['id']}/",
        {"title": "Win three accounts", "target": "3", "stretch": "4", "version": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Win three accounts"
    assert response.json()["version"] == 2
    assert response["ETag"] == '"2"'
    response = client.patch(detail(cascade.employee_copy), {"weight": "50", "version": 1})
    assert response.status_code == 403
    assert reloaded(cascade.employee_copy).weight == Decimal(100)


def test_it_lets_a_manager_adjust_a_report_copy(cascade, manager):
    response = client_for(manager).put(
        detail(cascade.peer_copy),
        {
            "title": "Bookings",
            "weight": "100",
            "kind": "kpi",
            "direction": "higher",
            "threshold": "90",
            "target": "110",
            "stretch": "130",
        },
        format="json",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 200, response.content
    assert response.json()["adjusted"] is True
    assert response.json()["target"] == "110.0000"


def test_it_lets_a_manager_read_but_not_edit_goals_above_their_team(cascade, manager):
    client = client_for(manager)
    assert client.get(detail(cascade.grow)).status_code == 200
    assert client.patch(detail(cascade.grow), {"title": "Mine", "version": 1}).status_code == 403
    assert client.post(act(cascade.grow, "cancel"), {"reason": "Why not"}).status_code == 403
    assert client.delete(detail(cascade.grow)).status_code == 403
    assert reloaded(cascade.grow).title == "Grow revenue"


def test_it_lets_the_peer_edit_their_proposal_but_not_their_approved_copy(cascade, more, peer):
    client = client_for(peer)
    change = {"weight": "5", "version": 1}
    assert client.patch(detail(more.peer_proposal), change).status_code == 200
    assert client.patch(detail(cascade.peer_copy), change).status_code == 403
    assert reloaded(cascade.peer_copy).weight == Decimal(100)


def test_it_needs_the_version_and_refuses_a_stale_one(cascade, hr_admin):
    client = client_for(hr_admin)
    response = client.patch(detail(cascade.delight), {"title": "Happy customers"})
    assert response.status_code == 400
    assert "version" in response.json()
    assert (
        client.patch(detail(cascade.delight), {"title": "Happy", "version": 1}).status_code == 200
    )
    response = client.patch(detail(cascade.delight), {"title": "Glad", "version": 1})
    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    assert reloaded(cascade.delight).title == "Happy"
    response = client.patch(detail(cascade.delight), {"title": "Glad"}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"weight": "many"}, "weight"),
        ({"weight": "101"}, "weight"),
        ({"target": "x"}, "target"),
        ({"stretch": "90"}, "stretch"),
        ({"parent": "__delight__"}, "parent"),
        ({"cycle": "__other__"}, "cycle"),
        ({"level": "company"}, "level"),
        ({"employee": "__peer__"}, "employee"),
    ],
)
def test_it_answers_bad_edits_with_the_field_named_and_changes_nothing(
    org, cascade, manager, data, field
):
    other = CycleFactory(name="Other", period_start="2027-01-01", period_end="2027-12-31")
    stand_ins = {"__delight__": cascade.delight.pk, "__other__": other.pk, "__peer__": org.peer.pk}
    data = {k: stand_ins.get(v, v) for k, v in data.items()}
    response = client_for(manager).patch(
        detail(cascade.employee_copy), {**data, "version": 1}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    goal = reloaded(cascade.employee_copy)
    assert (goal.version, goal.weight, goal.target, goal.parent_id) == (
        1,
        Decimal(100),
        Decimal(100),
        cascade.bookings.pk,
    )


def test_it_accepts_the_unchanged_cycle_level_and_owner_in_an_edit(org, cycle, cascade, manager):
    response = client_for(manager).patch(
        detail(cascade.employee_copy),
        {
            "cycle": cycle.pk,
            "level": "personal",
            "employee": org.employee.pk,
            "department": None,
            "weight": "90",
            "version": 1,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["weight"] == "90.00"


# --- deleting -----------------------------------------------------------------------


def test_it_lets_the_owner_delete_their_draft(org, cycle, cascade, employee):
    client = client_for(employee)
    draft = client.post(URL, personal(org, cycle, cascade), format="json").json()
    assert client.delete(f"{URL}{draft['id']}/").status_code == 204
    assert not Goal.objects.filter(pk=draft["id"]).exists()


def test_it_asks_to_cancel_instead_of_deleting_a_goal_further_along(cascade, hr_admin):
    response = client_for(hr_admin).delete(detail(cascade.employee_copy))
    assert response.status_code == 409
    assert response.json()["code"] == "not_deletable"
    assert "cancel" in response.json()["detail"]
    assert Goal.objects.filter(pk=cascade.employee_copy.pk).exists()


def test_it_does_not_delete_a_draft_that_other_goals_serve(cascade, hr_admin):
    Goal.objects.filter(pk=cascade.bookings.pk).update(status=S.DRAFT)
    response = client_for(hr_admin).delete(detail(cascade.bookings))
    assert response.status_code == 409
    assert "cancel" in response.json()["detail"]
    assert Goal.objects.filter(pk=cascade.bookings.pk).exists()


def test_it_does_not_let_others_delete_goals(cascade, more, employee, manager):
    assert client_for(employee).delete(detail(cascade.employee_copy)).status_code == 403
    assert client_for(employee).delete(detail(more.peer_proposal)).status_code == 404
    assert client_for(manager).delete(detail(more.platform)).status_code == 404
    assert Goal.objects.filter(pk__in=[cascade.employee_copy.pk, more.platform.pk]).count() == 2


# --- the workflow -------------------------------------------------------------------


def test_it_walks_a_proposal_through_submit_and_approve(org, cycle, cascade, employee, manager):
    mine = client_for(employee)
    draft = mine.post(URL, personal(org, cycle, cascade), format="json").json()
    goal = Goal.objects.get(pk=draft["id"])
    response = mine.post(act(goal, "submit"), {"version": 1})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "proposed"
    # The owner never approves their own goal.
    assert mine.post(act(goal, "approve")).status_code == 403
    assert reloaded(goal).status == S.PROPOSED
    response = client_for(manager).post(act(goal, "approve"), {"comment": "Good one"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"


def test_it_returns_a_proposal_with_a_comment_and_needs_one(cascade, more, manager):
    client = client_for(manager)
    response = client.post(act(more.peer_proposal, "return"), {"comment": ""})
    assert response.status_code == 400
    assert "comment" in response.json()
    assert client.post(act(more.peer_proposal, "return"), {}).status_code == 400
    assert reloaded(more.peer_proposal).status == S.PROPOSED
    response = client.post(act(more.peer_proposal, "return"), {"comment": "Make it measurable"})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["review_comment"]) == (
        "draft",
        "Make it measurable",
    )


def test_it_rejects_a_proposal_with_a_comment_and_needs_one(more, manager, peer):
    client = client_for(manager)
    response = client.post(act(more.peer_proposal, "reject"), {"comment": "  "})
    assert response.status_code == 400
    assert "comment" in response.json()
    assert (
        client_for(peer).post(act(more.peer_proposal, "reject"), {"comment": "No"}).status_code
        == 403
    )
    response = client.post(act(more.peer_proposal, "reject"), {"comment": "Not this year"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_it_cancels_with_a_reason_and_needs_one(cascade, hr_admin):
    client = client_for(hr_admin)
    response = client.post(act(cascade.delight, "cancel"), {"reason": ""})
    assert response.status_code == 400
    assert "reason" in response.json()
    assert reloaded(cascade.delight).status == S.APPROVED
    # Goals still serve Grow revenue: cancel those first.
    response = client.post(act(cascade.grow, "cancel"), {"reason": "Strategy changed"})
    assert response.status_code == 409
    assert response.json()["code"] == "not_allowed"
    assert reloaded(cascade.grow).status == S.APPROVED
    response = client.post(act(cascade.delight, "cancel"), {"reason": "Merged into another"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


@pytest.mark.parametrize(("name", "status"), [("achieve", "achieved"), ("miss", "missed")])
def test_it_records_the_outcome(cascade, manager, employee, name, status):
    assert client_for(employee).post(act(cascade.employee_copy, name)).status_code == 403
    response = client_for(manager).post(act(cascade.employee_copy, name), {"comment": "Year end"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == status


def test_it_refuses_an_action_the_status_does_not_allow(cascade, manager):
    response = client_for(manager).post(act(cascade.employee_copy, "submit"))
    assert response.status_code == 409
    assert response.json()["reasons"] == [
        "A goal that is approved cannot be submitted for approval."
    ]
    assert reloaded(cascade.employee_copy).status == S.APPROVED


def test_it_refuses_an_action_on_a_stale_version(more, manager, peer):
    client_for(peer).patch(detail(more.peer_proposal), {"weight": "5", "version": 1})
    response = client_for(manager).post(act(more.peer_proposal, "approve"), {"version": 1})
    assert response.status_code == 409
    assert reloaded(more.peer_proposal).status == S.PROPOSED
    response = client_for(manager).post(act(more.peer_proposal, "approve"), HTTP_IF_MATCH='"2"')
    assert response.status_code == 200


def test_it_lets_hr_reopen_and_lock_a_goal_after_goal_setting(cycle, cascade, hr_admin, manager):
    services.goal_setting_close(actor=hr_admin, cycle=cycle)
    goal = reloaded(cascade.employee_copy)
    assert goal.is_locked
    assert client_for(manager).post(act(goal, "reopen"), {"reason": "Typo"}).status_code == 403
    client = client_for(hr_admin)
    response = client.post(act(goal, "reopen"), {"reason": ""})
    assert response.status_code == 400
    assert "reason" in response.json()
    response = client.post(act(goal, "reopen"), {"reason": "Target typo", "version": goal.version})
    assert response.status_code == 200, response.content
    assert response.json()["locked"] is False
    assert reloaded(goal).reopened_reason == "Target typo"
    assert client_for(manager).post(act(goal, "lock")).status_code == 403
    response = client.post(act(goal, "lock"))
    assert response.status_code == 200
    assert response.json()["locked"] is True


def test_it_cascades_a_position_kpi_to_new_holders(org, cascade, manager, employee):
    EmployeeFactory(department=org.sales_east, manager=org.manager, position=org.position)
    assert client_for(employee).post(act(cascade.bookings, "cascade")).status_code == 403
    client = client_for(manager)
    response = client.post(act(cascade.bookings, "cascade"))
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1}
    assert client.post(act(cascade.bookings, "cascade")).json() == {"created": 0}
    assert cascade.bookings.copies.count() == 3
    response = client.post(act(cascade.sales, "cascade"))
    assert response.status_code == 409


def test_it_pushes_a_kpi_change_to_the_copies_nobody_adjusted(cascade, manager):
    client = client_for(manager)
    client.patch(detail(cascade.peer_copy), {"target": "105", "version": 1})
    client.patch(detail(cascade.bookings), {"target": "110", "stretch": "130", "version": 1})
    response = client.post(act(cascade.bookings, "push"))
    assert response.status_code == 200, response.content
    assert response.json() == {"updated": 1, "adjusted": 1}
    assert reloaded(cascade.employee_copy).target == Decimal(110)
    assert reloaded(cascade.peer_copy).target == Decimal(105)
    assert client.post(act(cascade.grow, "push")).status_code == 403


def test_it_decomposes_a_company_objective_into_department_goals(org, cascade, hr_admin):
    client = client_for(hr_admin)
    response = client.post(
        act(cascade.grow, "decompose"),
        {"departments": [org.sales.pk, org.engineering.pk], "weight": "40"},
        format="json",
    )
    assert response.status_code == 201, response.content
    (created,) = response.json()
    assert created["owner"] == {
        "type": "department",
        "id": org.engineering.pk,
        "name": "Engineering",
    }
    assert (created["parent"], created["weight"], created["title"]) == (
        cascade.grow.pk,
        "40.00",
        "Grow revenue",
    )
    # Sales already serves it: skipped.
    assert cascade.grow.children.count() == 2


@pytest.mark.parametrize(
    ("goal", "data", "status", "field"),
    [
        ("grow", {"departments": []}, 400, "departments"),
        ("grow", {"departments": [999999]}, 400, "departments"),
        ("grow", {"departments": ["__people__"], "weight": "heavy"}, 400, "weight"),
        ("sales", {"departments": ["__people__"]}, 409, "reasons"),
    ],
)
def test_it_refuses_a_bad_decomposition(org, cascade, hr_admin, goal, data, status, field):
    data["departments"] = [org.people.pk if d == "__people__" else d for d in data["departments"]]
    before = Goal.objects.count()
    response = client_for(hr_admin).post(
        act(getattr(cascade, goal), "decompose"), data, format="json"
    )
    assert response.status_code == status, response.content
    assert field in response.json()
    assert Goal.objects.count() == before


def test_it_lets_only_who_covers_a_department_decompose_into_it(org, cascade, manager, employee):
    response = client_for(manager).post(
        act(cascade.grow, "decompose"), {"departments": [org.engineering.pk]}, format="json"
    )
    assert response.status_code == 403
    response = client_for(employee).post(
        act(cascade.grow, "decompose"), {"departments": [org.sales_east.pk]}, format="json"
    )
    assert response.status_code == 403
    response = client_for(manager).post(
        act(cascade.grow, "decompose"), {"departments": [org.sales_east.pk]}, format="json"
    )
    assert response.status_code == 201
    assert cascade.grow.children.filter(department=org.engineering).count() == 0


@pytest.mark.parametrize(
    "name",
    [
        "submit",
        "approve",
        "return",
        "reject",
        "cancel",
        "achieve",
        "miss",
        "reopen",
        "lock",
        "cascade",
        "push",
        "decompose",
    ],
)
def test_it_answers_a_get_on_an_action_with_405(cascade, hr_admin, name):
    assert client_for(hr_admin).get(act(cascade.grow, name)).status_code == 405


def test_it_needs_a_login(cascade):
    assert APIClient().get(URL).status_code == 401
    assert APIClient().post(act(cascade.grow, "cancel"), {"reason": "x"}).status_code == 401
    assert reloaded(cascade.grow).status == S.APPROVED
