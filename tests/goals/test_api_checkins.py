"""/api/v1/checkins/: progress recorded on visible goals by those who may record it, bad
input as field errors with nothing saved, no edits, and lists of a constant query count."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from goals import services
from goals.models import CheckIn, Goal
from perfcycle.models import Cycle
from tests.factories import CycleFactory

URL = "/api/v1/checkins/"


def detail(checkin) -> str:
    return f"{URL}{checkin.pk}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def listed(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def record(actor, goal, confidence="on_track", **measure) -> CheckIn:
    if not measure:
        measure = {"actual": Decimal(90)} if goal.is_measured else {"percent_complete": 50}
    return services.checkin_record(actor=actor, goal=goal, confidence=confidence, **measure)


@pytest.fixture
def checkins(cascade, employee, peer, hr_admin):
    return {
        "employee": record(employee, cascade.employee_copy, "at_risk"),
        "peer": record(peer, cascade.peer_copy),
        "delight": record(hr_admin, cascade.delight, percent_complete=Decimal(30)),
    }


# --- recording ----------------------------------------------------------------------


def test_it_lets_the_owner_record_progress_on_their_goal(org, cascade, employee):
    response = client_for(employee).post(
        URL,
        {
            "goal": cascade.employee_copy.pk,
            "actual": "110",
            "confidence": "on_track",
            "comment": "Two big deals closed",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["recorded_at"]
    assert {k: v for k, v in body.items() if k not in ("id", "recorded_at")} == {
        "goal": cascade.employee_copy.pk,
        "actual": "110.0000",
        "percent_complete": None,
        "confidence": "on_track",
        "comment": "Two big deals closed",
        "author": {"id": employee.pk, "name": "Emil Employee"},
    }
    goal = Goal.objects.get(pk=cascade.employee_copy.pk)
    assert (goal.last_actual, goal.attainment, goal.last_confidence) == (
        Decimal(110),
        Decimal(110),
        "on_track",
    )
    # Progress rolls up the tree.
    assert Goal.objects.get(pk=cascade.bookings.pk).progress == Decimal(110)


def test_it_records_percent_complete_on_a_milestone(cascade, hr_admin):
    response = client_for(hr_admin).post(
        URL,
        {"goal": cascade.delight.pk, "percent_complete": "40", "confidence": "at_risk"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Goal.objects.get(pk=cascade.delight.pk).attainment == Decimal(40)


def test_it_lets_a_manager_record_progress_for_a_report(cascade, manager):
    response = client_for(manager).post(
        URL, {"goal": cascade.peer_copy.pk, "actual": "95", "confidence": "on_track"}
    )
    assert response.status_code == 201, response.content
    assert CheckIn.objects.get(pk=response.json()["id"]).author == manager


def test_it_refuses_progress_from_who_may_not_record_it(cascade, employee, peer, outsider):
    # A KPI the employee reads but does not own.
    response = client_for(employee).post(
        URL, {"goal": cascade.bookings.pk, "actual": "95", "confidence": "on_track"}
    )
    assert response.status_code == 403
    # Goals they cannot see do not exist for them.
    for user in (peer, outsider):
        response = client_for(user).post(
            URL, {"goal": cascade.employee_copy.pk, "actual": "95", "confidence": "on_track"}
        )
        assert response.status_code == 400
        assert "goal" in response.json()
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize(
    ("goal", "data", "field"),
    [
        ("employee_copy", {"actual": "ninety"}, "actual"),
        ("employee_copy", {"actual": "1e30"}, "actual"),
        ("employee_copy", {"actual": "NaN"}, "actual"),
        ("employee_copy", {}, "actual"),
        ("employee_copy", {"actual": "90", "percent_complete": "50"}, "percent_complete"),
        ("employee_copy", {"actual": "90", "confidence": "great"}, "confidence"),
        ("employee_copy", {"actual": "90", "confidence": None}, "confidence"),
        ("delight", {"percent_complete": "150"}, "percent_complete"),
        ("delight", {"percent_complete": "half"}, "percent_complete"),
        ("delight", {"actual": "5"}, "percent_complete"),
        ("delight", {"actual": "5", "percent_complete": "5"}, "actual"),
        ("cancelled", {"actual": "90"}, "actual"),
        (None, {"actual": "90"}, "goal"),
        ("missing", {"actual": "90"}, "goal"),
    ],
)
def test_it_answers_bad_input_with_the_field_named_and_saves_nothing(
    cascade, hr_admin, goal, data, field
):
    if goal == "cancelled":
        services.goal_cancel(actor=hr_admin, goal=cascade.employee_copy, reason="Left the team")
        goal = "employee_copy"
    body = {"confidence": "on_track", **data}
    if goal is not None:
        body["goal"] = 999999 if goal == "missing" else getattr(cascade, goal).pk
    body = {k: v for k, v in body.items() if v is not None}
    response = client_for(hr_admin).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not CheckIn.objects.exists()
    assert Goal.objects.get(pk=cascade.employee_copy.pk).last_checkin_at is None


def test_it_refuses_progress_once_the_cycle_is_closed(cycle, cascade, employee):
    Cycle.objects.filter(pk=cycle.pk).update(status=Cycle.Status.CLOSED)
    response = client_for(employee).post(
        URL, {"goal": cascade.employee_copy.pk, "actual": "95", "confidence": "on_track"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "not_allowed"
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("body", ["[1]", '"x"', "{nope", "null", '{"goal": [1], "actual": {}}'])
def test_it_never_answers_garbage_with_a_500(cascade, hr_admin, body):
    response = client_for(hr_admin).post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert not CheckIn.objects.exists()


# --- reading ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("employee", {"employee", "delight"}),
        ("peer", {"peer", "delight"}),
        ("manager", {"employee", "peer", "delight"}),
        ("hr_admin", {"employee", "peer", "delight"}),
        ("outsider", {"delight"}),
    ],
)
def test_it_lists_the_checkins_of_the_goals_each_persona_reads(
    request, checkins, persona, expected
):
    client = client_for(request.getfixturevalue(persona))
    assert listed(client.get(URL)) == {checkins[name].pk for name in expected}
    for name, checkin in checkins.items():
        assert client.get(detail(checkin)).status_code == (200 if name in expected else 404)


def test_it_shows_the_read_shape(checkins, employee):
    checkin = checkins["employee"]
    response = client_for(employee).get(detail(checkin))
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": checkin.pk,
        "goal": checkin.goal_id,
        "recorded_at": body["recorded_at"],
        "actual": "90.0000",
        "percent_complete": None,
        "confidence": "at_risk",
        "comment": "",
        "author": {"id": employee.pk, "name": "Emil Employee"},
    }


def test_it_filters_by_goal_cycle_and_confidence(cascade, checkins, hr_admin):
    other = CycleFactory(name="FY2027", period_start="2027-01-01", period_end="2027-12-31")
    next_year = services.goal_create(
        actor=hr_admin,
        cycle=other,
        level=Goal.Level.COMPANY,
        data={"title": "Next year", "weight": Decimal(100), "kind": Goal.Kind.MILESTONE},
    )
    later = record(hr_admin, next_year, percent_complete=Decimal(10))
    client = client_for(hr_admin)
    assert listed(client.get(URL, {"goal": cascade.peer_copy.pk})) == {checkins["peer"].pk}
    assert listed(client.get(URL, {"cycle": other.pk})) == {later.pk}
    assert listed(client.get(URL, {"confidence": "at_risk"})) == {checkins["employee"].pk}
    assert client.get(URL, {"goal": "x"}).status_code == 400


def test_it_lists_the_newest_first(cascade, employee):
    older = services.checkin_record(
        actor=employee,
        goal=cascade.employee_copy,
        actual=Decimal(80),
        confidence="on_track",
        recorded_at=timezone.now() - timezone.timedelta(days=30),
    )
    newer = record(employee, cascade.employee_copy)
    rows = client_for(employee).get(URL).json()["results"]
    assert [row["id"] for row in rows] == [newer.pk, older.pk]


def test_it_lists_checkins_in_the_same_number_of_queries_at_50_and_2000(
    org, cascade, manager, employee, peer, django_assert_num_queries
):
    def bulk(count):
        now = timezone.now()
        CheckIn.objects.bulk_create(
            [
                CheckIn(
                    goal=cascade.employee_copy if n % 2 else cascade.peer_copy,
                    author=employee if n % 2 else peer,
                    actual=Decimal(n),
                    confidence="on_track",
                    recorded_at=now - timezone.timedelta(minutes=n),
                )
                for n in range(count)
            ],
            batch_size=500,
        )

    client = client_for(manager)
    bulk(50)
    with CaptureQueriesContext(connection) as small:
        assert len(client.get(URL, {"page_size": 500}).json()["results"]) == 50
    bulk(1950)
    with django_assert_num_queries(len(small)):
        response = client.get(URL, {"page_size": 500})
    assert response.json()["count"] == 2000
    assert len(response.json()["results"]) == 500


# --- taking back --------------------------------------------------------------------


def test_it_lets_the_author_take_a_checkin_back(cascade, checkins, employee):
    response = client_for(employee).delete(detail(checkins["employee"]) + "?reason=Wrong+month")
    assert response.status_code == 204
    assert not CheckIn.objects.filter(pk=checkins["employee"].pk).exists()
    goal = Goal.objects.get(pk=cascade.employee_copy.pk)
    assert (goal.last_actual, goal.attainment, goal.last_confidence) == (None, None, "")


def test_it_lets_hr_take_any_checkin_back(checkins, hr_admin):
    assert client_for(hr_admin).delete(detail(checkins["peer"])).status_code == 204
    assert not CheckIn.objects.filter(pk=checkins["peer"].pk).exists()


def test_it_does_not_let_others_take_a_checkin_back(checkins, manager, peer, outsider):
    # The manager reads it but did not record it.
    assert client_for(manager).delete(detail(checkins["employee"])).status_code == 403
    assert client_for(peer).delete(detail(checkins["employee"])).status_code == 404
    assert client_for(outsider).delete(detail(checkins["employee"])).status_code == 404
    assert CheckIn.objects.filter(pk=checkins["employee"].pk).exists()


def test_it_refuses_a_reason_too_long_to_keep(checkins, employee):
    response = client_for(employee).delete(detail(checkins["employee"]) + "?reason=" + "x" * 101)
    assert response.status_code == 400
    assert "reason" in response.json()
    assert CheckIn.objects.filter(pk=checkins["employee"].pk).exists()


def test_it_does_not_edit_a_checkin(checkins, employee, hr_admin):
    for user in (employee, hr_admin):
        client = client_for(user)
        assert client.put(detail(checkins["employee"]), {"actual": "1"}).status_code == 405
        assert client.patch(detail(checkins["employee"]), {"actual": "1"}).status_code == 405
    assert CheckIn.objects.get(pk=checkins["employee"].pk).actual == Decimal(90)


def test_it_needs_a_login(checkins):
    assert APIClient().get(URL).status_code == 401
    assert APIClient().delete(detail(checkins["employee"])).status_code == 401
    assert CheckIn.objects.filter(pk=checkins["employee"].pk).exists()
