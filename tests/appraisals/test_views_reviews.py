"""The review pages: my appraisal, the appraisal page (and what the employee may not see
before release), the self-review and manager review forms with their errors and
conflicts, the reviews to write, second-level approval and returning a review."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appraisals import services
from appraisals.models import Appraisal, CycleSettings, Review
from perfcycle.models import Cycle, Employee, RatingLevel
from tests.factories import EmployeeFactory, UserFactory

from .conftest import at_phase, manager_review, record, self_review

P, A = Cycle.Status, Appraisal.Stage
MANAGER_STRENGTHS = "Closes the hardest deals in the region"


def url(name, *args) -> str:
    return reverse(f"appraisals:{name}", args=args)


def level(cycle, value) -> RatingLevel:
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def last_message(response) -> str:
    return [str(m) for m in response.wsgi_request._messages][-1]


def field_errors(html: str, name: str) -> list[str]:
    return re.findall(rf'id="id_{re.escape(name)}_error_\d+">([^<]+)<', html)


def hidden_version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def self_data(cascade, competencies, *, action="draft", version=1, **overrides) -> dict:
    goal = cascade.employee_copy.pk
    data = {
        "version": str(version),
        "action": action,
        f"goal-{goal}-result": "110k booked",
        f"goal-{goal}-score": "4",
        f"goal-{goal}-comment": "Beat the target",
        f"competency-{competencies.teamwork.pk}-rating": "4",
        f"competency-{competencies.teamwork.pk}-comment": "",
        f"competency-{competencies.customer.pk}-rating": "5",
        f"competency-{competencies.customer.pk}-comment": "Top NPS",
        "overall_comment": "A good year.",
    }
    data.update(overrides)
    return data


def manager_data(cascade, competencies, cycle, *, action="draft", version=1, **overrides):
    goal = cascade.employee_copy.pk
    data = {
        "version": str(version),
        "action": action,
        f"goal-{goal}-score": "4",
        f"goal-{goal}-comment": "Agreed",
        f"competency-{competencies.teamwork.pk}-rating": "3",
        f"competency-{competencies.teamwork.pk}-comment": "",
        f"competency-{competencies.customer.pk}-rating": "5",
        f"competency-{competencies.customer.pk}-comment": "",
        "strengths": MANAGER_STRENGTHS,
        "improvements": "Forecasting",
        "overall_comment": "Solid year",
        "proposed_level": str(level(cycle, 3).pk),
        "deviation_reason": "",
    }
    data.update(overrides)
    return data


def submit_self_review(employee, appraisal, cascade, competencies):
    services.review_save(
        actor=employee,
        review=self_review(appraisal),
        data={
            "overall_comment": "A good year.",
            "goals": {cascade.employee_copy.pk: {"result": "110k booked", "score": 4}},
            "competencies": {
                competencies.teamwork.pk: {"rating": 4},
                competencies.customer.pk: {"rating": 5},
            },
        },
        expected_version=None,
        submit=True,
    )


def submit_manager_review(manager, appraisal, cascade, competencies, *, proposed=3, reason=""):
    services.review_save(
        actor=manager,
        review=manager_review(appraisal),
        data={
            "strengths": MANAGER_STRENGTHS,
            "improvements": "Forecasting",
            "overall_comment": "Solid year",
            "goals": {cascade.employee_copy.pk: {"score": 4}},
            "competencies": {
                competencies.teamwork.pk: {"rating": 3},
                competencies.customer.pk: {"rating": 5},
            },
            "proposed_level": level(appraisal.cycle, proposed),
            "deviation_reason": reason,
        },
        expected_version=None,
        submit=True,
    )


@pytest.fixture
def in_self_review(appraisal, employee, cascade):
    record(employee, cascade.employee_copy, 110)
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    return appraisal


@pytest.fixture
def in_manager_review(in_self_review, employee, cascade, competencies):
    """Emil submitted his self-review; the cycle is in manager review."""
    submit_self_review(employee, in_self_review, cascade, competencies)
    at_phase(in_self_review.cycle, P.MANAGER_REVIEW)
    in_self_review.refresh_from_db()
    return in_self_review


# --- my appraisal -------------------------------------------------------------------------


def test_it_takes_me_to_my_appraisal_in_the_running_cycle(client, employee, appraisal):
    client.force_login(employee)
    response = client.get(url("mine"))
    assert response.status_code == 302
    assert response["Location"] == url("appraisal", appraisal.pk)


def test_it_says_so_when_i_have_no_appraisal(client, appraisal_cycle):
    client.force_login(UserFactory())
    response = client.get(url("mine"))
    assert response.status_code == 200
    assert "not linked to an employee record" in response.content.decode()


# --- who may open what ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["appraisal", "self_review", "manager_review", "score_preview"])
@pytest.mark.parametrize("persona", ["peer", "outsider"])
def test_it_hides_an_appraisal_outside_my_scope(client, request, appraisal, name, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url(name, appraisal.pk)).status_code == 404


@pytest.mark.parametrize(
    "name,args",
    [("approve", ()), ("return", ("self",))],
)
def test_it_hides_actions_on_an_appraisal_outside_my_scope(client, peer, appraisal, name, args):
    client.force_login(peer)
    assert client.post(url(name, appraisal.pk, *args), {"comment": "x"}).status_code == 404


def test_it_refuses_the_manager_review_to_the_employee_and_the_self_review_to_the_manager(
    client, employee, manager, in_self_review
):
    client.force_login(employee)
    assert client.get(url("manager_review", in_self_review.pk)).status_code == 403
    client.force_login(manager)
    assert client.get(url("self_review", in_self_review.pk)).status_code == 403


@pytest.mark.parametrize(
    "name,args,method",
    [
        ("appraisal", (), "post"),
        ("appraisal", (), "delete"),
        ("mine", (), "post"),
        ("reviews", (), "post"),
        ("score_preview", (), "post"),
        ("self_review", (), "put"),
        ("manager_review", (), "delete"),
        ("approve", (), "get"),
        ("return", ("self",), "get"),
    ],
)
def test_it_refuses_the_wrong_method(client, manager, appraisal, name, args, method):
    client.force_login(manager)
    target = url(name, *args) if name in ("mine", "reviews") else url(name, appraisal.pk, *args)
    assert getattr(client, method)(target).status_code == 405


# --- the self-review ------------------------------------------------------------------------


def test_it_offers_the_employee_their_self_review_form_on_the_appraisal_page(
    client, employee, in_self_review, cascade
):
    client.force_login(employee)
    html = client.get(url("appraisal", in_self_review.pk)).content.decode()
    assert f'name="goal-{cascade.employee_copy.pk}-score"' in html
    assert "Save draft" in html and "Submit" in html
    assert "110% attainment" in html  # the measured result, for reference


def test_it_saves_a_draft_then_submits_then_locks_the_self_review(
    client, employee, in_self_review, cascade, competencies
):
    client.force_login(employee)
    response = client.post(url("self_review", in_self_review.pk), self_data(cascade, competencies))
    assert response.status_code == 302
    assert last_message(response) == "Your self-review was saved as a draft."
    review = self_review(in_self_review)
    assert review.status == Review.Status.DRAFT and review.version == 2
    assert review.goal_lines.get().result == "110k booked"

    response = client.post(
        url("self_review", in_self_review.pk),
        self_data(cascade, competencies, action="submit", version=2),
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == Review.Status.SUBMITTED
    in_self_review.refresh_from_db()
    assert in_self_review.stage == A.MANAGER_REVIEW

    html = client.get(url("appraisal", in_self_review.pk)).content.decode()
    assert 'name="action"' not in html  # read-only now
    assert "110k booked" in html and "read-only" in html

    response = client.post(
        url("self_review", in_self_review.pk),
        self_data(cascade, competencies, version=3, overall_comment="Changed my mind"),
    )
    assert response.status_code == 400
    assert "This review was submitted and is read-only" in response.content.decode()
    review.refresh_from_db()
    assert review.overall_comment == "A good year." and review.version == 3


def test_it_keeps_my_input_when_a_score_is_off_the_scale(
    client, employee, in_self_review, cascade, competencies
):
    goal = cascade.employee_copy.pk
    client.force_login(employee)
    response = client.post(
        url("self_review", in_self_review.pk),
        self_data(cascade, competencies, **{f"goal-{goal}-score": "7", "overall_comment": "Mine"}),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert field_errors(html, f"goal-{goal}-score") == [
        "Choose a rating on the scale (1, 2, 3, 4, 5)."
    ]
    assert "Please correct the following" in html
    assert "110k booked" in html and "Mine</textarea>" in html
    review = self_review(in_self_review)
    assert review.version == 1 and not review.goal_lines.exists()


def test_it_asks_for_what_submitting_needs_and_saves_nothing(
    client, employee, in_self_review, cascade, competencies
):
    goal = cascade.employee_copy.pk
    client.force_login(employee)
    response = client.post(
        url("self_review", in_self_review.pk),
        self_data(
            cascade,
            competencies,
            action="submit",
            overall_comment="",
            **{f"goal-{goal}-score": ""},
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert field_errors(html, "overall_comment") == ["Required to submit."]
    assert field_errors(html, f"goal-{goal}-score") == ["Required to submit."]
    assert "110k booked" in html
    review = self_review(in_self_review)
    assert review.status == Review.Status.DRAFT and review.version == 1
    assert not review.goal_lines.exists()


def test_it_shows_the_self_review_read_only_outside_its_phase(
    client, employee, appraisal, cascade, competencies
):
    client.force_login(employee)  # the cycle is still in goal setting
    html = client.get(url("self_review", appraisal.pk)).content.decode()
    assert "not possible while the cycle is in goal setting" in html
    assert 'name="action"' not in html


# --- the release rule -------------------------------------------------------------------------


def test_it_shows_the_employee_nothing_of_the_assessment_before_release(
    client, employee, manager, hr_admin, org, in_manager_review, cascade, competencies
):
    submit_manager_review(
        manager, in_manager_review, cascade, competencies, proposed=4, reason="Carried Q4"
    )
    in_manager_review.refresh_from_db()
    assert in_manager_review.overall_score is not None
    score = f"{in_manager_review.overall_score:.2f}"
    proposed = level(in_manager_review.cycle, 4).label

    client.force_login(employee)
    html = client.get(url("appraisal", in_manager_review.pk)).content.decode()
    assert "A good year." in html  # their own self-review
    for hidden in (MANAGER_STRENGTHS, "Forecasting", "Carried Q4", proposed, score, "Ready for"):
        assert hidden not in html
    assert "once HR releases the results" in html

    Appraisal.objects.filter(pk=in_manager_review.pk).update(
        stage=A.FINAL, final_level=level(in_manager_review.cycle, 4)
    )
    at_phase(in_manager_review.cycle, P.FEEDBACK)
    services.results_release(actor=hr_admin, cycle=in_manager_review.cycle)
    html = client.get(url("appraisal", in_manager_review.pk)).content.decode()
    assert MANAGER_STRENGTHS in html and "Forecasting" in html
    assert proposed in html and score in html
    assert "Acknowledge" in html


def test_it_shows_managers_and_hr_both_reviews_and_the_scores(
    client, manager, hr_admin, in_manager_review, cascade, competencies
):
    submit_manager_review(manager, in_manager_review, cascade, competencies)
    in_manager_review.refresh_from_db()
    for user in (manager, hr_admin):
        client.force_login(user)
        html = client.get(url("appraisal", in_manager_review.pk)).content.decode()
        assert "110k booked" in html and MANAGER_STRENGTHS in html
        assert f"{in_manager_review.overall_score:.2f}" in html


def test_it_keeps_a_draft_self_review_from_the_manager(
    client, employee, manager, in_self_review, cascade, competencies
):
    client.force_login(employee)
    client.post(url("self_review", in_self_review.pk), self_data(cascade, competencies))
    client.force_login(manager)
    html = client.get(url("appraisal", in_self_review.pk)).content.decode()
    assert "110k booked" not in html and "A good year." not in html


# --- the manager review -----------------------------------------------------------------------


def test_it_shows_the_self_review_and_the_measured_result_beside_the_managers_form(
    client, manager, in_manager_review, cascade
):
    client.force_login(manager)
    response = client.get(url("manager_review", in_manager_review.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "110k booked" in html and "Self score 4" in html
    assert "110% attainment" in html
    assert f'name="goal-{cascade.employee_copy.pk}-score"' in html
    assert 'id="score-panel"' in html and "Score so far" in html
    assert "one level up or down" in html


def test_it_saves_and_submits_the_manager_review(
    client, manager, in_manager_review, cascade, competencies
):
    cycle = in_manager_review.cycle
    client.force_login(manager)
    response = client.post(
        url("manager_review", in_manager_review.pk), manager_data(cascade, competencies, cycle)
    )
    assert response.status_code == 302
    assert manager_review(in_manager_review).strengths == MANAGER_STRENGTHS
    response = client.post(
        url("manager_review", in_manager_review.pk),
        manager_data(cascade, competencies, cycle, action="submit", version=2),
    )
    assert response.status_code == 302, response.content.decode()
    in_manager_review.refresh_from_db()
    assert in_manager_review.stage == A.READY
    assert in_manager_review.manager_level == level(cycle, 3)


def test_it_computes_the_score_so_far_from_what_is_typed(
    client, manager, in_manager_review, cascade, competencies
):
    client.force_login(manager)
    query = manager_data(cascade, competencies, in_manager_review.cycle)
    response = client.get(url("score_preview", in_manager_review.pk), query)
    assert response.status_code == 200
    html = response.content.decode()
    # KPI 110; competencies (50 + 100) / 2 = 75; overall 0.7*110 + 0.3*75 = 99.5 -> level 3
    assert "99.50" in html and "3 – Meets expectations" in html
    assert 'hx-get="' in html  # the panel keeps following the form
    assert manager_review(in_manager_review).version == 1  # nothing saved


def test_it_refuses_a_manager_score_off_the_scale_and_saves_nothing(
    client, manager, in_manager_review, cascade, competencies
):
    goal = cascade.employee_copy.pk
    client.force_login(manager)
    response = client.post(
        url("manager_review", in_manager_review.pk),
        manager_data(cascade, competencies, in_manager_review.cycle, **{f"goal-{goal}-score": "9"}),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert field_errors(html, f"goal-{goal}-score")
    assert MANAGER_STRENGTHS in html
    review = manager_review(in_manager_review)
    assert review.version == 1 and review.strengths == ""


def test_it_asks_for_a_reason_when_the_proposal_is_not_the_scores(
    client, manager, in_manager_review, cascade, competencies
):
    client.force_login(manager)
    cycle = in_manager_review.cycle
    response = client.post(
        url("manager_review", in_manager_review.pk),
        manager_data(
            cascade, competencies, cycle, action="submit", proposed_level=str(level(cycle, 4).pk)
        ),
    )
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "deviation_reason")
    assert manager_review(in_manager_review).status == Review.Status.DRAFT


def test_the_second_save_gets_the_first_ones_changes_and_keeps_its_own(
    client, manager, executive, in_manager_review, cascade, competencies
):
    """The reviewer and the manager above her both open the review at version 1."""
    cycle = in_manager_review.cycle
    target = url("manager_review", in_manager_review.pk)
    client.force_login(executive)
    assert hidden_version(client.get(target).content.decode()) == "1"
    first = client.post(
        target, manager_data(cascade, competencies, cycle, strengths="Builds the team")
    )
    assert first.status_code == 302

    client.force_login(manager)
    mine = manager_data(cascade, competencies, cycle, strengths="Mona's own words")
    response = client.post(target, mine)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Cora Chief saved this review" in html
    assert "Builds the team" in html  # what the other person saved
    assert "Mona&#x27;s own words" in html  # nothing of mine lost
    assert hidden_version(html) == "2"
    assert manager_review(in_manager_review).strengths == "Builds the team"

    again = client.post(target, {**mine, "version": hidden_version(html)})
    assert again.status_code == 302
    assert manager_review(in_manager_review).strengths == "Mona's own words"


def test_it_says_clearly_when_the_employee_left_the_reviewers_chain(
    client, manager, org, in_manager_review, cascade, competencies
):
    Employee.objects.filter(pk=org.employee.pk).update(manager=org.other_manager)
    client.force_login(manager)
    html = client.get(url("manager_review", in_manager_review.pk)).content.decode()
    assert "no longer reports to you" in html
    response = client.post(
        url("manager_review", in_manager_review.pk),
        manager_data(cascade, competencies, in_manager_review.cycle),
    )
    assert response.status_code == 400
    assert "no longer reports to you" in response.content.decode()
    assert manager_review(in_manager_review).version == 1


# --- reviews to write, approval, return ------------------------------------------------------


def test_it_lists_the_reviews_i_have_to_write(client, manager, in_self_review):
    client.force_login(manager)
    response = client.get(url("reviews"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Emil Employee" in html and "Petra Peer" in html
    assert url("manager_review", in_self_review.pk) in html


def test_it_lists_nothing_of_others_for_an_outsider(client, outsider, in_self_review):
    client.force_login(outsider)
    html = client.get(url("reviews")).content.decode()
    assert "Emil Employee" not in html
    assert "No manager reviews wait for you" in html


def test_it_keeps_the_reviews_list_queries_constant(
    client, org, executive, appraisal_cycle, django_assert_num_queries
):
    """Cora reviews her direct reports and approves the reviews Mona wrote."""
    Appraisal.objects.filter(employee=org.employee).update(stage=A.APPROVAL)

    def add(count):
        people = EmployeeFactory.create_batch(count, manager=org.manager, department=org.sales_east)
        Appraisal.objects.bulk_create(
            Appraisal(
                cycle=appraisal_cycle,
                employee=e,
                department=e.department,
                reviewer=org.ceo if i % 2 else org.manager,
                stage=A.SELF_REVIEW if i % 2 else A.APPROVAL,
            )
            for i, e in enumerate(people)
        )

    client.force_login(executive)
    with CaptureQueriesContext(connection) as small:
        html = client.get(url("reviews")).content.decode()
    assert "Emil Employee" in html and "Mona Manager" in html
    add(60)
    with django_assert_num_queries(len(small)):
        html = client.get(url("reviews")).content.decode()
    assert "Page 1 of 2" in html


@pytest.fixture
def waiting_for_approval(in_manager_review, manager, cascade, competencies):
    CycleSettings.objects.filter(cycle=in_manager_review.cycle).update(second_level_approval=True)
    submit_manager_review(manager, in_manager_review, cascade, competencies)
    in_manager_review.refresh_from_db()
    assert in_manager_review.stage == A.APPROVAL
    return in_manager_review


def test_the_reviewers_manager_approves_from_the_list(client, executive, waiting_for_approval):
    client.force_login(executive)
    html = client.get(url("reviews")).content.decode()
    assert "Reviews waiting for your approval" in html
    assert url("approve", waiting_for_approval.pk) in html
    response = client.post(url("approve", waiting_for_approval.pk), {"next": url("reviews")})
    assert response.status_code == 302 and response["Location"] == url("reviews")
    waiting_for_approval.refresh_from_db()
    assert waiting_for_approval.stage == A.READY
    assert manager_review(waiting_for_approval).approved_by == executive


def test_the_reviewer_cannot_approve_their_own_review(client, manager, waiting_for_approval):
    client.force_login(manager)
    assert client.post(url("approve", waiting_for_approval.pk)).status_code == 403


def test_approving_a_review_not_waiting_for_approval_says_why(client, executive, in_manager_review):
    client.force_login(executive)
    response = client.post(url("approve", in_manager_review.pk))
    assert response.status_code == 400
    assert "Approving the review is not possible" in response.content.decode()


def test_the_approver_returns_the_review_to_the_reviewer(client, executive, waiting_for_approval):
    client.force_login(executive)
    response = client.post(
        url("return", waiting_for_approval.pk, "manager"), {"comment": "Explain the 3"}
    )
    assert response.status_code == 302
    review = manager_review(waiting_for_approval)
    assert review.status == Review.Status.RETURNED and review.return_comment == "Explain the 3"
    waiting_for_approval.refresh_from_db()
    assert waiting_for_approval.stage == A.MANAGER_REVIEW


def test_hr_returns_a_self_review_with_a_comment(client, hr_admin, employee, in_manager_review):
    client.force_login(hr_admin)
    html = client.get(url("appraisal", in_manager_review.pk)).content.decode()
    assert url("return", in_manager_review.pk, "self") in html

    response = client.post(url("return", in_manager_review.pk, "self"), {"comment": ""})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "return_self_comment")
    assert self_review(in_manager_review).status == Review.Status.SUBMITTED

    response = client.post(
        url("return", in_manager_review.pk, "self"), {"comment": "Add your Q4 deals"}
    )
    assert response.status_code == 302
    assert "went back to Emil Employee" in last_message(response)
    assert self_review(in_manager_review).status == Review.Status.RETURNED

    client.force_login(employee)
    html = client.get(url("self_review", in_manager_review.pk)).content.decode()
    assert "Add your Q4 deals" in html and 'name="action"' in html


def test_only_hr_returns_a_self_review(client, manager, employee, in_manager_review):
    for user in (manager, employee):
        client.force_login(user)
        response = client.post(url("return", in_manager_review.pk, "self"), {"comment": "No"})
        assert response.status_code == 403
    assert self_review(in_manager_review).status == Review.Status.SUBMITTED


def test_it_knows_no_third_kind_of_review(client, hr_admin, appraisal):
    client.force_login(hr_admin)
    assert client.post(url("return", appraisal.pk, "peer"), {"comment": "x"}).status_code == 404


def test_the_appraisal_page_shows_calibration_reasons_to_the_panel_and_hr_only(
    client, org, hr_admin, manager, executive, appraisal
):
    cycle = at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    Appraisal.objects.filter(pk=appraisal.pk).update(
        stage=Appraisal.Stage.READY, manager_level=level(cycle, 4)
    )
    session = services.calibration_session_open(
        actor=hr_admin, cycle=cycle, name="Sales", departments=[org.sales], participants=[manager]
    )
    at_phase(cycle, P.CALIBRATION)
    services.calibration_move(
        actor=manager,
        session=session,
        appraisal=appraisal,
        to_level=level(cycle, 3),
        reason="A reason only the panel reads",
    )
    for panel in (manager, hr_admin):
        client.force_login(panel)
        assert (
            "A reason only the panel reads"
            in client.get(url("appraisal", appraisal.pk)).content.decode()
        )
    # The CEO reads the appraisal (an executive, and above Emil) but sat on no panel.
    client.force_login(executive)
    page = client.get(url("appraisal", appraisal.pk))
    assert page.status_code == 200
    assert "A reason only the panel reads" not in page.content.decode()


def test_a_review_posted_without_its_version_is_refused_and_nothing_saved(
    client, employee, in_self_review, cascade, competencies
):
    client.force_login(employee)
    data = self_data(cascade, competencies)
    del data["version"]
    response = client.post(url("self_review", in_self_review.pk), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This page is out of date" in html
    assert "A good year." in html  # what was typed is kept
    review = self_review(in_self_review)
    assert review.version == 1 and review.overall_comment == ""
