"""/api/v1/reviews/: who reads which review (the employee's manager review only after
release), saving drafts with the version read (409 with the other person's changes when
stale), scores outside the scale as field errors with nothing saved, submitting,
returning, the wrong phase as a 409, and a list whose query count does not grow."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from appraisals.models import Appraisal, Review, ReviewGoal
from goals import services as goal_services
from perfcycle import access
from perfcycle.models import Cycle, Employee
from tests.factories import EmployeeFactory

from .conftest import at_phase, launch, manager_review, record, self_review

P = Cycle.Status
A = Appraisal.Stage
URL = "/api/v1/reviews/"


def detail(review) -> str:
    return f"{URL}{review.pk}/"


def act(review, name: str) -> str:
    return f"{URL}{review.pk}/{name}/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def listed(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def complete_self_review(goal, competencies) -> dict:
    return {
        "overall_comment": "A good year.",
        "goals": [{"goal": goal.pk, "result": "110k booked", "score": 4, "comment": "Beat it"}],
        "competencies": [
            {"competency": competencies.teamwork.pk, "rating": 4},
            {"competency": competencies.customer.pk, "rating": 5, "comment": "Key accounts"},
        ],
    }


# --- reading ------------------------------------------------------------------------


def test_it_keeps_the_manager_review_from_the_employee_until_release(
    org, appraisal, employee, manager
):
    mine, theirs = self_review(appraisal), manager_review(appraisal)
    client = client_for(employee)
    assert client.get(detail(mine)).status_code == 200
    assert client.get(detail(theirs)).status_code == 404
    assert listed(client.get(URL)) == {mine.pk}
    assert listed(client_for(manager).get(URL, {"appraisal": appraisal.pk})) == {
        mine.pk,
        theirs.pk,
    }

    Appraisal.objects.filter(pk=appraisal.pk).update(stage=A.FINAL, released_at=timezone.now())
    assert client.get(detail(theirs)).status_code == 200
    assert listed(client.get(URL)) == {mine.pk, theirs.pk}


def test_it_answers_404_outside_the_scope(org, appraisal, outsider, peer):
    for user in (outsider, peer):
        client = client_for(user)
        for review in (self_review(appraisal), manager_review(appraisal)):
            assert client.get(detail(review)).status_code == 404
            assert client.patch(detail(review), {"version": 1}).status_code == 404
            assert client.post(act(review, "submit")).status_code == 404
            assert client.post(act(review, "return"), {"comment": "x"}).status_code == 404


def test_it_shows_a_line_per_goal_and_competency(org, appraisal, cascade, competencies, employee):
    record(employee, cascade.employee_copy, 110)
    response = client_for(employee).get(detail(self_review(appraisal)))
    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    body = response.json()
    assert (body["kind"], body["status"], body["appraisal"], body["cycle"]) == (
        "self",
        "draft",
        appraisal.pk,
        appraisal.cycle_id,
    )
    assert body["employee"] == {"id": org.employee.pk, "name": "Emil Employee"}
    assert body["goals"] == [
        {
            "goal": cascade.employee_copy.pk,
            "title": "Bookings",
            "weight": "100.00",
            "counts": True,
            "attainment": body["goals"][0]["attainment"],
            "result": "",
            "score": None,
            "comment": "",
        }
    ]
    assert body["goals"][0]["attainment"] is not None
    assert body["competencies"] == [
        {
            "competency": competencies.teamwork.pk,
            "name": "Teamwork",
            "weight": 1,
            "rating": None,
            "comment": "",
        },
        {
            "competency": competencies.customer.pk,
            "name": "Customer focus",
            "weight": 1,
            "rating": None,
            "comment": "",
        },
    ]


def test_it_filters_by_kind_and_person(org, appraisal_cycle, appraisal, hr_admin):
    client = client_for(hr_admin)
    assert listed(client.get(URL, {"employee": org.employee.pk, "kind": "manager"})) == {
        manager_review(appraisal).pk
    }
    reviewed_by_otto = listed(client.get(URL, {"reviewer": org.other_manager.pk}))
    assert reviewed_by_otto == set(
        Review.objects.filter(appraisal__employee=org.outsider).values_list("pk", flat=True)
    )
    assert client.get(URL, {"kind": "other"}).status_code == 400


def test_it_lists_reviews_in_the_same_number_of_queries_at_two_sizes(
    org, hr_admin, manager, cascade, appraisal_cycle, django_assert_num_queries
):
    def grow(count):
        for _ in range(count):
            EmployeeFactory(department=org.sales_east, manager=org.manager, position=org.position)
        goal_services.position_kpi_cascade(actor=hr_admin, goal=cascade.bookings)
        launch(appraisal_cycle, hr_admin)

    query = {"cycle": appraisal_cycle.pk, "page_size": 500}
    for user in (hr_admin, manager):
        client = client_for(user)
        grow(2)
        with CaptureQueriesContext(connection) as small:
            small_count = client.get(URL, query).json()["count"]
        grow(20)
        with django_assert_num_queries(len(small)):
            response = client.get(URL, query)
        assert response.json()["count"] == small_count + 40
        with_goals = {row["employee"]["id"] for row in response.json()["results"] if row["goals"]}
        holders = set(Employee.objects.filter(position=org.position).values_list("pk", flat=True))
        assert with_goals == holders  # each review shows its person's goal


def test_it_pages_reviews_by_name_without_gaps_or_repeats(org, appraisal_cycle, hr_admin):
    """Pages are chosen on the keys and read in full afterwards: together they hold
    every review once, by the person's name."""
    for i in range(7):
        EmployeeFactory(
            department=org.sales_east, manager=org.manager, user__full_name=f"Paged {i}"
        )
    launch(appraisal_cycle, hr_admin)
    client = client_for(hr_admin)
    query = {"cycle": appraisal_cycle.pk, "page_size": 4}
    rows, page = [], 1
    while True:
        body = client.get(URL, {**query, "page": page}).json()
        rows += body["results"]
        if not body["next"]:
            break
        page += 1
    # HR's own manager review stays out until release, as everywhere.
    expected = access.reviews_visible_to(hr_admin).filter(appraisal__cycle=appraisal_cycle)
    expected = expected.order_by("appraisal__employee__user__full_name", "pk")
    assert len(rows) > 2 * 7
    assert [row["id"] for row in rows] == list(expected.values_list("pk", flat=True))


# --- saving -------------------------------------------------------------------------


def test_it_saves_a_self_review_draft(org, appraisal, cascade, competencies, employee):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    review = self_review(appraisal)
    data = {**complete_self_review(cascade.employee_copy, competencies), "version": 1}
    response = client_for(employee).patch(detail(review), data, format="json")
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["status"], body["version"], body["overall_comment"]) == (
        "draft",
        2,
        "A good year.",
    )
    (line,) = body["goals"]
    assert (line["result"], line["score"], line["comment"]) == ("110k booked", 4, "Beat it")
    assert [(c["rating"], c["comment"]) for c in body["competencies"]] == [
        (4, ""),
        (5, "Key accounts"),
    ]
    assert body["last_edited_by"]["name"] == "Emil Employee"


def test_it_needs_the_version_on_an_edit(org, appraisal, employee):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    response = client_for(employee).patch(
        detail(self_review(appraisal)), {"overall_comment": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "version" in response.json()
    assert self_review(appraisal).overall_comment == ""


def test_it_answers_a_stale_save_with_a_409_and_the_other_persons_changes(
    org, appraisal, cascade, manager, executive
):
    at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    review = manager_review(appraisal)
    goal = cascade.employee_copy
    first = client_for(manager).patch(
        detail(review),
        {"strengths": "Closes deals.", "goals": [{"goal": goal.pk, "score": 4}], "version": 1},
        format="json",
    )
    assert first.status_code == 200
    # The CEO (higher in the chain) edits the same version Mona started from.
    response = client_for(executive).patch(
        detail(review),
        {"strengths": "Great forecaster.", "goals": [{"goal": goal.pk, "score": 2}], "version": 1},
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stale_version"
    assert body["current_version"] == 2
    assert body["changes"] == {"strengths": "Closes deals.", "Bookings: score": "4"}
    saved = manager_review(appraisal)
    assert (saved.strengths, saved.version) == ("Closes deals.", 2)
    assert ReviewGoal.objects.get(review=saved).score == 4


def test_it_refuses_a_score_outside_the_scale_and_saves_nothing(
    org, appraisal, cascade, competencies, employee
):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    review = self_review(appraisal)
    goal = cascade.employee_copy
    data = complete_self_review(goal, competencies)
    data["goals"][0]["score"] = 9
    response = client_for(employee).patch(detail(review), {**data, "version": 1}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [f"goal-{goal.pk}-score"]
    assert "1, 2, 3, 4, 5" in response.json()[f"goal-{goal.pk}-score"][0]
    review.refresh_from_db()
    assert (review.version, review.overall_comment) == (1, "")
    assert not review.goal_lines.exists() and not review.competency_lines.exists()


def test_it_answers_bad_lines_with_field_errors(org, appraisal, cascade, competencies, employee):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    client = client_for(employee)
    url = detail(self_review(appraisal))
    cases = [
        ({"goals": [{"goal": cascade.peer_copy.pk, "score": 3}]}, "goals"),
        ({"goals": [{"goal": cascade.employee_copy.pk, "score": "high"}]}, "goals"),
        ({"competencies": [{"competency": 999999, "rating": 3}]}, "competencies"),
        (
            {"competencies": [{"competency": competencies.teamwork.pk, "rating": 0}]},
            f"competency-{competencies.teamwork.pk}-rating",
        ),
        (
            {
                "goals": [
                    {"goal": cascade.employee_copy.pk, "score": 3},
                    {"goal": cascade.employee_copy.pk, "score": 4},
                ]
            },
            "goals",
        ),
    ]
    for data, field in cases:
        response = client.patch(url, {**data, "version": 1}, format="json")
        assert response.status_code == 400, (data, response.content)
        assert field in response.json(), (data, response.json())
    assert self_review(appraisal).version == 1


def test_it_refuses_a_rating_proposal_off_the_scale(org, appraisal, manager):
    at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    response = client_for(manager).patch(
        detail(manager_review(appraisal)), {"proposed_level": 7, "version": 1}, format="json"
    )
    assert response.status_code == 400
    assert "proposed_level" in response.json()
    response = client_for(manager).patch(
        detail(manager_review(appraisal)), {"proposed_level": 4, "version": 1}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["proposed_level"]["value"] == 4


def test_it_refuses_a_save_in_the_wrong_phase_with_a_409(org, appraisal, employee):
    # The fixture's cycle is still in goal setting.
    response = client_for(employee).patch(
        detail(self_review(appraisal)), {"overall_comment": "Early", "version": 1}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "not_allowed"
    assert "not possible while the cycle is in goal setting" in body["detail"]
    assert self_review(appraisal).overall_comment == ""


def test_it_lets_only_the_author_write(org, appraisal, employee, manager, hr_admin):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    mine = self_review(appraisal)
    for user in (manager, hr_admin):
        response = client_for(user).patch(detail(mine), {"overall_comment": "x", "version": 1})
        assert response.status_code == 403
    assert (
        client_for(employee)
        .patch(detail(manager_review(appraisal)), {"strengths": "x", "version": 1})
        .status_code
        == 404
    )
    response = client_for(hr_admin).patch(
        detail(manager_review(appraisal)), {"strengths": "x", "version": 1}
    )
    assert response.status_code == 403
    assert self_review(appraisal).version == manager_review(appraisal).version == 1


# --- submitting and returning -------------------------------------------------------


def test_it_submits_once_and_then_the_review_is_read_only(
    org, appraisal, cascade, competencies, employee
):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    client = client_for(employee)
    review = self_review(appraisal)
    incomplete = client.post(act(review, "submit"), {"overall_comment": "Hm"}, format="json")
    assert incomplete.status_code == 400
    assert f"goal-{cascade.employee_copy.pk}-score" in incomplete.json()
    assert self_review(appraisal).status == Review.Status.DRAFT

    response = client.post(
        act(review, "submit"),
        complete_self_review(cascade.employee_copy, competencies),
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted"
    assert Appraisal.objects.get(pk=appraisal.pk).stage == A.MANAGER_REVIEW

    version = response.json()["version"]
    again = client.patch(detail(review), {"overall_comment": "More", "version": version})
    assert again.status_code == 409
    assert "read-only" in again.json()["detail"]
    assert client.post(act(review, "submit")).status_code == 409


def test_it_lets_hr_return_a_submitted_review_with_a_comment(
    org, appraisal, cascade, competencies, employee, hr_admin
):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    review = self_review(appraisal)
    client = client_for(hr_admin)
    draft = client.post(act(review, "return"), {"comment": "Too early"})
    assert draft.status_code == 409
    client_for(employee).post(
        act(review, "submit"),
        complete_self_review(cascade.employee_copy, competencies),
        format="json",
    )
    assert client.post(act(review, "return"), {"comment": ""}).status_code == 400
    assert client_for(employee).post(act(review, "return"), {"comment": "x"}).status_code == 403
    response = client.post(act(review, "return"), {"comment": "Add the Q4 numbers."})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["return_comment"]) == ("returned", "Add the Q4 numbers.")
    assert Appraisal.objects.get(pk=appraisal.pk).stage == A.SELF_REVIEW


def test_it_answers_wrong_methods_with_405(org, appraisal, hr_admin):
    client = client_for(hr_admin)
    review = self_review(appraisal)
    assert client.post(URL, {"appraisal": appraisal.pk}).status_code == 405
    assert client.put(detail(review), {"version": 1}).status_code == 405
    assert client.delete(detail(review)).status_code == 405
    for name in ("submit", "return"):
        assert client.get(act(review, name)).status_code == 405
