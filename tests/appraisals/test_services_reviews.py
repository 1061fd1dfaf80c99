"""Review services: who writes which review when, what a save refuses, conflicts,
returning and second-level approval. Emil Employee's appraisal; Mona Manager reviews;
Cora Chief (the executive) sits above Mona."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from appraisals import services
from appraisals.models import Appraisal, Review, ReviewCompetency, ReviewGoal
from perfcycle.models import Cycle, RatingLevel
from perfcycle.services import StaleEdit

from .conftest import at_phase, manager_review, self_review

P = Cycle.Status
A = Appraisal.Stage
S = Review.Status


def level(cycle, value):
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def own_data(cascade, competencies, **extra):
    """A complete self-review."""
    return {
        "overall_comment": "A good year.",
        "goals": {cascade.employee_copy.pk: {"result": "100k", "score": 4, "comment": "Met"}},
        "competencies": {
            competencies.teamwork.pk: {"rating": 4},
            competencies.customer.pk: {"rating": 4},
        },
        **extra,
    }


def manager_data(cycle, cascade, competencies, **extra):
    """A complete manager review. Nothing is measured, so the goal counts at the
    manager's 4 (75); competencies 5 and 5 (100): 0.7 x 75 + 0.3 x 100 = 82.5 -> 3."""
    return {
        "overall_comment": "Solid.",
        "strengths": "Closes deals.",
        "improvements": "Forecasting.",
        "goals": {cascade.employee_copy.pk: {"score": 4, "comment": "Good"}},
        "competencies": {
            competencies.teamwork.pk: {"rating": 5},
            competencies.customer.pk: {"rating": 5},
        },
        "proposed_level": level(cycle, 3),
        **extra,
    }


def submit_own(employee, appraisal, cascade, competencies):
    return services.review_save(
        actor=employee,
        review=self_review(appraisal),
        data=own_data(cascade, competencies),
        expected_version=None,
        submit=True,
    )


def submit_managers(actor, appraisal, cascade, competencies, **extra):
    return services.review_save(
        actor=actor,
        review=manager_review(appraisal),
        data=manager_data(appraisal.cycle, cascade, competencies, **extra),
        expected_version=None,
        submit=True,
    )


def unchanged(review):
    """Nothing was written: the version, the text and the lines are as launched."""
    review.refresh_from_db()
    return (
        review.version == 1
        and review.status == S.DRAFT
        and not review.overall_comment
        and not review.strengths
        and review.proposed_level is None
        and not ReviewGoal.objects.filter(review=review).exists()
        and not ReviewCompetency.objects.filter(review=review).exists()
        and review.history.count() == 1
    )


@pytest.fixture
def in_self_review(appraisal):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    return appraisal


@pytest.fixture
def in_manager_review(appraisal):
    at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    return appraisal


# --- the happy paths ----------------------------------------------------------------


def test_the_employee_saves_drafts_then_submits_once(
    employee, in_self_review, cascade, competencies
):
    appraisal = in_self_review
    draft = services.review_save(
        actor=employee,
        review=self_review(appraisal),
        data={"overall_comment": "Started."},
        expected_version=1,
    )
    assert (draft.status, draft.version, draft.overall_comment) == (S.DRAFT, 2, "Started.")
    assert draft.last_edited_by == employee

    done = services.review_save(
        actor=employee,
        review=draft,
        data=own_data(cascade, competencies),
        expected_version=2,
        submit=True,
    )

    assert done.status == S.SUBMITTED and done.submitted_by == employee
    appraisal.refresh_from_db()
    assert appraisal.stage == A.MANAGER_REVIEW
    line = ReviewGoal.objects.get(review=done)
    assert (line.result, line.score, line.comment) == ("100k", 4, "Met")
    latest = done.history.first()
    assert (latest.history_user, latest.history_change_reason) == (employee, "Submitted")
    latest = appraisal.history.first()
    assert latest.stage == A.MANAGER_REVIEW and latest.history_user == employee
    assert line.history.first().history_user == employee


def test_the_manager_submits_and_the_appraisal_is_ready(
    manager, employee, in_self_review, cascade, competencies
):
    appraisal = in_self_review
    submit_own(employee, appraisal, cascade, competencies)

    done = submit_managers(manager, appraisal, cascade, competencies)

    appraisal.refresh_from_db()
    assert done.status == S.SUBMITTED and appraisal.stage == A.READY
    assert appraisal.manager_level.value == 3 and appraisal.computed_level.value == 3
    assert str(appraisal.overall_score) == "82.50"
    latest = appraisal.history.first()
    assert latest.history_user == manager
    assert latest.history_change_reason == "Manager review submitted"


def test_saving_nothing_new_writes_nothing(employee, in_self_review):
    review = services.review_save(
        actor=employee, review=self_review(in_self_review), data={}, expected_version=1
    )
    assert review.version == 1 and review.history.count() == 1


# --- refused by phase and stage ------------------------------------------------------


@pytest.mark.parametrize(
    "phase",
    [P.GOAL_SETTING, P.IN_PROGRESS, P.MANAGER_REVIEW, P.CALIBRATION, P.FEEDBACK, P.CLOSED],
)
def test_the_self_review_is_written_only_in_the_self_review_phase(
    employee, appraisal, cascade, competencies, phase
):
    at_phase(appraisal.cycle, phase)
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=employee,
            review=self_review(appraisal),
            data=own_data(cascade, competencies),
            expected_version=1,
        )
    assert "not possible while the cycle is in" in str(refused.value)
    assert unchanged(self_review(appraisal))


@pytest.mark.parametrize("phase", [P.GOAL_SETTING, P.IN_PROGRESS, P.CLOSED])
def test_the_manager_review_is_written_only_in_the_review_phases(
    manager, appraisal, cascade, competencies, phase
):
    at_phase(appraisal.cycle, phase)
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=manager,
            review=manager_review(appraisal),
            data=manager_data(appraisal.cycle, cascade, competencies),
            expected_version=1,
        )
    assert "not possible while the cycle is in" in str(refused.value)
    assert unchanged(manager_review(appraisal))


@pytest.mark.parametrize("stage", [A.WITHDRAWN, A.FINAL])
@pytest.mark.parametrize("kind", [Review.Kind.SELF, Review.Kind.MANAGER])
def test_a_withdrawn_or_final_appraisals_reviews_are_read_only(
    employee, manager, in_self_review, stage, kind
):
    Appraisal.objects.filter(pk=in_self_review.pk).update(stage=stage)
    actor = employee if kind == Review.Kind.SELF else manager
    review = Review.objects.get(appraisal=in_self_review, kind=kind)
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=actor, review=review, data={"overall_comment": "Late"}, expected_version=1
        )
    assert "read-only" in str(refused.value)
    assert unchanged(review)


def test_a_submitted_review_is_read_only_to_its_author(
    employee, in_self_review, cascade, competencies
):
    done = submit_own(employee, in_self_review, cascade, competencies)
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=employee,
            review=done,
            data={"overall_comment": "Second thoughts"},
            expected_version=done.version,
        )
    assert "submitted and is read-only" in str(refused.value)
    done.refresh_from_db()
    assert done.overall_comment == "A good year." and done.status == S.SUBMITTED


# --- refused input ------------------------------------------------------------------


@pytest.mark.parametrize("bad", [7, 0, -1, "abc", 3.5, "3.5", True])
def test_a_score_off_the_scale_is_a_field_error_and_nothing_is_saved(
    employee, in_self_review, cascade, competencies, bad
):
    goal = cascade.employee_copy
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=employee,
            review=self_review(in_self_review),
            data={
                "overall_comment": "Fine.",
                "goals": {goal.pk: {"score": bad, "comment": "x"}},
                "competencies": {competencies.teamwork.pk: {"rating": bad}},
            },
            expected_version=1,
        )
    errors = refused.value.message_dict
    assert set(errors) == {f"goal-{goal.pk}-score", f"competency-{competencies.teamwork.pk}-rating"}
    assert "1, 2, 3, 4, 5" in errors[f"goal-{goal.pk}-score"][0]
    assert unchanged(self_review(in_self_review))


def test_a_score_given_as_text_on_the_scale_is_taken(employee, in_self_review, cascade):
    goal = cascade.employee_copy
    services.review_save(
        actor=employee,
        review=self_review(in_self_review),
        data={"goals": {goal.pk: {"score": "4"}}},
        expected_version=1,
    )
    assert ReviewGoal.objects.get(goal=goal).score == 4


def test_a_competency_not_rated_in_the_cycle_is_refused(hr_admin, employee, in_self_review):
    stranger = services.competency_create(actor=hr_admin, name="Juggling")
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=employee,
            review=self_review(in_self_review),
            data={"overall_comment": "x", "competencies": {stranger.pk: {"rating": 3}}},
            expected_version=1,
        )
    assert "not rated in this cycle" in refused.value.message_dict["competencies"][0]
    assert unchanged(self_review(in_self_review))


def test_a_goal_not_in_the_appraisal_is_refused(employee, in_self_review, cascade):
    for other in (cascade.peer_copy, cascade.bookings):
        with pytest.raises(ValidationError) as refused:
            services.review_save(
                actor=employee,
                review=self_review(in_self_review),
                data={"overall_comment": "x", "goals": {other.pk: {"score": 3}}},
                expected_version=1,
            )
        assert "not one of this appraisal's goals" in refused.value.message_dict["goals"][0]
    assert unchanged(self_review(in_self_review))


def test_a_cancelled_goal_is_shown_but_need_not_be_scored(
    hr_admin, employee, in_self_review, cascade, competencies
):
    from goals import services as goal_services

    goal_services.goal_cancel(actor=hr_admin, goal=cascade.employee_copy, reason="Territory closed")
    data = own_data(cascade, competencies)
    data["goals"] = {}

    done = services.review_save(
        actor=employee,
        review=self_review(in_self_review),
        data=data,
        expected_version=1,
        submit=True,
    )
    assert done.status == S.SUBMITTED


@pytest.mark.parametrize(
    ("kind", "drop", "field"),
    [
        (Review.Kind.SELF, "overall_comment", "overall_comment"),
        (Review.Kind.SELF, "goal", "goal-{goal}-score"),
        (Review.Kind.SELF, "competency", "competency-{teamwork}-rating"),
        (Review.Kind.MANAGER, "strengths", "strengths"),
        (Review.Kind.MANAGER, "improvements", "improvements"),
        (Review.Kind.MANAGER, "goal", "goal-{goal}-score"),
        (Review.Kind.MANAGER, "competency", "competency-{teamwork}-rating"),
        (Review.Kind.MANAGER, "proposed_level", "proposed_level"),
    ],
)
def test_submitting_an_incomplete_review_names_the_missing_field_and_saves_nothing(
    employee, manager, in_manager_review, cascade, competencies, kind, drop, field
):
    appraisal = in_manager_review
    if kind == Review.Kind.SELF:
        at_phase(appraisal.cycle, P.SELF_REVIEW)
        actor, data = employee, own_data(cascade, competencies)
    else:
        actor, data = manager, manager_data(appraisal.cycle, cascade, competencies)
    if drop == "goal":
        data["goals"] = {}
    elif drop == "competency":
        del data["competencies"][competencies.teamwork.pk]
    elif drop == "proposed_level":
        data["proposed_level"] = None
    else:
        data[drop] = "  "
    review = Review.objects.get(appraisal=appraisal, kind=kind)

    with pytest.raises(ValidationError) as refused:
        services.review_save(actor=actor, review=review, data=data, expected_version=1, submit=True)

    name = field.format(goal=cascade.employee_copy.pk, teamwork=competencies.teamwork.pk)
    assert name in refused.value.message_dict
    assert unchanged(review)  # not even the lines that were fine
    appraisal.refresh_from_db()
    assert appraisal.stage == A.SELF_REVIEW


def test_the_manager_submits_before_the_self_review_only_once_manager_review_starts(
    manager, in_self_review, cascade, competencies
):
    appraisal = in_self_review
    with pytest.raises(ValidationError) as refused:
        submit_managers(manager, appraisal, cascade, competencies)
    assert "has not submitted their self-review yet" in str(refused.value)
    assert unchanged(manager_review(appraisal))

    at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    done = submit_managers(manager, appraisal, cascade, competencies)

    appraisal.refresh_from_db()
    assert done.status == S.SUBMITTED and appraisal.stage == A.READY


def test_a_proposal_two_levels_from_the_score_is_refused(
    manager, in_manager_review, cascade, competencies
):
    appraisal = in_manager_review
    for value in (1, 5):  # the score gives 3
        with pytest.raises(ValidationError) as refused:
            submit_managers(
                manager,
                appraisal,
                cascade,
                competencies,
                proposed_level=level(appraisal.cycle, value),
                deviation_reason="I know best",
            )
        assert "not 2" in refused.value.message_dict["proposed_level"][0]
    assert unchanged(manager_review(appraisal))


def test_a_proposal_one_level_away_needs_a_reason(
    manager, in_manager_review, cascade, competencies
):
    appraisal = in_manager_review
    with pytest.raises(ValidationError) as refused:
        submit_managers(
            manager, appraisal, cascade, competencies, proposed_level=level(appraisal.cycle, 4)
        )
    assert "deviation_reason" in refused.value.message_dict
    assert unchanged(manager_review(appraisal))

    submit_managers(
        manager,
        appraisal,
        cascade,
        competencies,
        proposed_level=level(appraisal.cycle, 4),
        deviation_reason="Carried the team in Q4.",
    )
    appraisal.refresh_from_db()
    assert appraisal.manager_level.value == 4 and appraisal.computed_level.value == 3


def test_a_proposal_on_another_scale_is_refused(manager, in_manager_review):
    from tests.factories import RatingScaleFactory

    foreign = RatingScaleFactory().levels.get(value=3)
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=manager,
            review=manager_review(in_manager_review),
            data={"proposed_level": foreign},
            expected_version=1,
        )
    assert "proposed_level" in refused.value.message_dict


# --- two editors --------------------------------------------------------------------


def test_a_stale_save_gets_the_other_persons_changes_and_overwrites_nothing(
    manager, executive, in_manager_review, cascade, competencies
):
    appraisal = in_manager_review
    goal = cascade.employee_copy
    services.review_save(
        actor=manager,
        review=manager_review(appraisal),
        data={
            "strengths": "Closes deals.",
            "goals": {goal.pk: {"score": 4}},
            "competencies": {competencies.teamwork.pk: {"rating": 5}},
        },
        expected_version=1,
    )

    with pytest.raises(StaleEdit) as conflict:
        services.review_save(
            actor=executive,  # the CEO opened the same review at version 1
            review=manager_review(appraisal),
            data={
                "strengths": "Great with customers.",
                "improvements": "Paperwork.",
                "goals": {goal.pk: {"score": 2}},
                "competencies": {competencies.teamwork.pk: {"rating": 3}},
            },
            expected_version=1,
            submit=True,
        )

    assert conflict.value.changed == {
        "strengths": "Closes deals.",
        "areas to improve": "—",
        "Bookings: score": 4,
        "Teamwork: rating": 5,
    }
    review = manager_review(appraisal)
    assert (review.version, review.strengths, review.improvements) == (2, "Closes deals.", "")
    assert review.status == S.DRAFT and review.last_edited_by == manager
    assert ReviewGoal.objects.get(review=review).score == 4
    assert ReviewCompetency.objects.get(review=review).rating == 5


# --- who may write ------------------------------------------------------------------


def test_a_reviewer_moved_out_of_the_chain_is_told_so_unless_hr_assigned_them(
    org, hr_admin, manager, in_manager_review
):
    appraisal = in_manager_review
    org.employee.manager = org.other_manager
    org.employee.save()

    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=manager,
            review=manager_review(appraisal),
            data={"strengths": "x"},
            expected_version=1,
        )
    assert "no longer reports to you" in str(refused.value)
    assert unchanged(manager_review(appraisal))

    services.appraisal_reassign(
        actor=hr_admin, appraisal=appraisal, reviewer=org.manager, reason="Finishes the year"
    )
    saved = services.review_save(
        actor=manager, review=manager_review(appraisal), data={"strengths": "x"}, expected_version=1
    )
    assert saved.strengths == "x"


def test_a_manager_higher_in_the_chain_may_write_the_review(
    executive, in_manager_review, cascade, competencies
):
    done = submit_managers(executive, in_manager_review, cascade, competencies)
    in_manager_review.refresh_from_db()
    assert done.submitted_by == executive and in_manager_review.stage == A.READY
    assert in_manager_review.history.first().history_user == executive


@pytest.mark.parametrize(
    ("persona", "kind"),
    [
        ("peer", Review.Kind.SELF),
        ("peer", Review.Kind.MANAGER),
        ("outsider", Review.Kind.SELF),
        ("outsider", Review.Kind.MANAGER),
        ("hr_admin", Review.Kind.SELF),
        ("hr_admin", Review.Kind.MANAGER),
        ("manager", Review.Kind.SELF),
        ("executive", Review.Kind.SELF),
        ("employee", Review.Kind.MANAGER),
    ],
)
def test_others_may_not_write_a_review(request, in_self_review, persona, kind):
    review = Review.objects.get(appraisal=in_self_review, kind=kind)
    with pytest.raises(PermissionDenied):
        services.review_save(
            actor=request.getfixturevalue(persona),
            review=review,
            data={"overall_comment": "Mine now"},
            expected_version=1,
        )
    assert unchanged(review)


# --- returning ----------------------------------------------------------------------


def test_hr_returns_a_self_review_and_the_employee_writes_again(
    hr_admin, employee, in_manager_review, cascade, competencies
):
    appraisal = in_manager_review
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    submit_own(employee, appraisal, cascade, competencies)
    at_phase(appraisal.cycle, P.MANAGER_REVIEW)

    returned = services.review_return(
        actor=hr_admin, review=self_review(appraisal), comment="Add the Q4 numbers."
    )

    assert returned.status == S.RETURNED and returned.return_comment == "Add the Q4 numbers."
    appraisal.refresh_from_db()
    assert appraisal.stage == A.SELF_REVIEW
    assert appraisal.history.first().history_user == hr_admin
    latest = returned.history.first()
    assert (latest.history_user, latest.history_change_reason) == (hr_admin, "Add the Q4 numbers.")
    # written again in manager review, which a returned review may be
    again = services.review_save(
        actor=employee,
        review=returned,
        data={"overall_comment": "A good year; Q4: 130k."},
        expected_version=returned.version,
        submit=True,
    )
    assert again.status == S.SUBMITTED and again.return_comment == ""
    appraisal.refresh_from_db()
    assert appraisal.stage == A.MANAGER_REVIEW


@pytest.mark.parametrize("phase", [P.CALIBRATION, P.FEEDBACK])
def test_a_manager_review_finished_in_time_is_not_reopened_late(
    manager, in_manager_review, cascade, competencies, phase
):
    submit_managers(manager, in_manager_review, cascade, competencies)
    at_phase(in_manager_review.cycle, phase)
    with pytest.raises(ValidationError, match="read-only"):
        services.review_save(
            actor=manager,
            review=manager_review(in_manager_review),
            data={"overall_comment": "x"},
            expected_version=manager_review(in_manager_review).version,
        )


def test_a_late_manager_review_in_calibration_is_ready_to_calibrate(
    manager, in_manager_review, cascade, competencies
):
    at_phase(in_manager_review.cycle, P.CALIBRATION)

    submit_managers(manager, in_manager_review, cascade, competencies)

    in_manager_review.refresh_from_db()
    assert in_manager_review.stage == A.READY and in_manager_review.final_level is None


def test_a_late_manager_review_in_feedback_makes_the_rating_final_at_once(
    manager, in_manager_review, cascade, competencies
):
    """HR moved the cycle past calibration with this review unwritten: the manager still
    writes it, and the proposed rating becomes final with the reason in the history."""
    at_phase(in_manager_review.cycle, P.FEEDBACK)

    review = submit_managers(manager, in_manager_review, cascade, competencies)

    in_manager_review.refresh_from_db()
    assert in_manager_review.stage == A.FINAL
    assert in_manager_review.final_level == review.proposed_level
    assert in_manager_review.calibrated_level is None
    latest = in_manager_review.history.first()
    assert latest.history_change_reason.startswith("Finalised late, after calibration")
    assert latest.history_user == manager


def test_a_late_self_review_is_still_refused(employee, in_self_review, cascade, competencies):
    at_phase(in_self_review.cycle, P.FEEDBACK)
    with pytest.raises(ValidationError, match="not possible while the cycle is in"):
        services.review_save(
            actor=employee,
            review=self_review(in_self_review),
            data=own_data(cascade, competencies),
            expected_version=1,
        )


def test_hr_returns_a_manager_review_even_in_calibration(
    hr_admin, manager, in_manager_review, cascade, competencies
):
    appraisal = in_manager_review
    submit_managers(manager, appraisal, cascade, competencies)  # no self-review
    at_phase(appraisal.cycle, P.CALIBRATION)

    services.review_return(actor=hr_admin, review=manager_review(appraisal), comment="Explain 3.")

    appraisal.refresh_from_db()
    assert appraisal.stage == A.MANAGER_REVIEW
    again = submit_managers(
        manager, appraisal, cascade, competencies, overall_comment="Solid; see the numbers."
    )
    appraisal.refresh_from_db()
    assert again.status == S.SUBMITTED and appraisal.stage == A.READY


def test_returning_needs_a_comment_a_submitted_review_and_hr(
    hr_admin, manager, employee, in_self_review, cascade, competencies
):
    review = self_review(in_self_review)
    with pytest.raises(ValidationError) as refused:
        services.review_return(actor=hr_admin, review=review, comment="Not yet")
    assert "Only a submitted review" in str(refused.value)
    submit_own(employee, in_self_review, cascade, competencies)
    with pytest.raises(ValidationError) as refused:
        services.review_return(actor=hr_admin, review=review, comment="  ")
    assert "comment" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        services.review_return(actor=manager, review=review, comment="Redo it")
    review.refresh_from_db()
    assert review.status == S.SUBMITTED


# --- second-level approval ----------------------------------------------------------


@pytest.fixture
def with_approval(hr_admin, in_manager_review):
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=in_manager_review.cycle,
        data={"second_level_approval": True},
        expected_version=None,
    )
    return in_manager_review


def test_a_second_level_approval_comes_before_calibration(
    manager, executive, with_approval, cascade, competencies
):
    appraisal = with_approval
    submit_managers(manager, appraisal, cascade, competencies)
    appraisal.refresh_from_db()
    assert appraisal.stage == A.APPROVAL

    approved = services.review_approve(actor=executive, appraisal=appraisal, comment="Agreed")

    assert approved.stage == A.READY
    review = manager_review(appraisal)
    assert review.approved_by == executive and review.approved_at is not None
    assert review.history.first().history_user == executive
    latest = approved.history.first()
    assert (latest.stage, latest.history_user, latest.history_change_reason) == (
        A.READY,
        executive,
        "Agreed",
    )


def test_a_late_review_approved_in_feedback_becomes_final_on_approval(
    manager, executive, with_approval, cascade, competencies
):
    at_phase(with_approval.cycle, P.FEEDBACK)
    review = submit_managers(manager, with_approval, cascade, competencies)
    with_approval.refresh_from_db()
    assert with_approval.stage == A.APPROVAL  # waits for the approval, even late

    approved = services.review_approve(actor=executive, appraisal=with_approval)

    assert approved.stage == A.FINAL and approved.final_level == review.proposed_level


@pytest.mark.parametrize("persona", ["manager", "employee", "peer", "outsider", "hr_admin"])
def test_only_someone_above_the_reviewer_approves(
    request, manager, with_approval, cascade, competencies, persona
):
    submit_managers(manager, with_approval, cascade, competencies)
    with pytest.raises(PermissionDenied):
        services.review_approve(actor=request.getfixturevalue(persona), appraisal=with_approval)
    with_approval.refresh_from_db()
    assert with_approval.stage == A.APPROVAL


def test_the_approver_may_send_the_review_back(
    manager, executive, with_approval, cascade, competencies
):
    submit_managers(manager, with_approval, cascade, competencies)

    services.review_return(
        actor=executive, review=manager_review(with_approval), comment="Too generous"
    )

    with_approval.refresh_from_db()
    assert with_approval.stage == A.MANAGER_REVIEW
    assert manager_review(with_approval).status == S.RETURNED


def test_the_writer_of_a_review_never_approves_it(executive, with_approval, cascade, competencies):
    # Cora, above the reviewer Mona, writes and submits Emil's review herself ...
    submit_managers(executive, with_approval, cascade, competencies)
    with_approval.refresh_from_db()
    assert with_approval.stage == A.APPROVAL
    # ... and cannot then approve it.
    with pytest.raises(PermissionDenied):
        services.review_approve(actor=executive, appraisal=with_approval)
    with_approval.refresh_from_db()
    assert with_approval.stage == A.APPROVAL


def test_a_review_whose_reviewer_has_no_manager_needs_no_second_level_approval(
    org, executive, hr_admin, with_approval, cascade, competencies
):
    # HR assigns the chief executive, who reports to nobody: nobody could approve.
    services.appraisal_reassign(
        actor=hr_admin, appraisal=with_approval, reviewer=org.ceo, reason="Mona is away"
    )
    submit_managers(executive, with_approval, cascade, competencies)
    with_approval.refresh_from_db()
    assert with_approval.stage == A.READY


def test_a_returned_review_is_calibrated_afresh(
    org, hr_admin, manager, in_manager_review, cascade, competencies
):
    appraisal = in_manager_review
    submit_managers(manager, appraisal, cascade, competencies)
    session = services.calibration_session_open(
        actor=hr_admin, cycle=appraisal.cycle, name="Sales", departments=[org.sales]
    )
    at_phase(appraisal.cycle, P.CALIBRATION)
    five = RatingLevel.objects.get(scale=appraisal.cycle.rating_scale, value=5)
    services.calibration_move(
        actor=hr_admin, session=session, appraisal=appraisal, to_level=five, reason="Panel"
    )
    services.review_return(actor=hr_admin, review=manager_review(appraisal), comment="Redo")
    appraisal.refresh_from_db()
    assert appraisal.calibrated_level is None
    submit_managers(manager, appraisal, cascade, competencies)
    services.calibration_session_close(actor=hr_admin, session=session)
    appraisal.refresh_from_db()
    # The manager's new proposal is final, not the move made on the returned review.
    assert appraisal.final_level == appraisal.manager_level
    assert appraisal.final_level.value != 5


def test_approving_needs_a_review_waiting_for_approval(executive, with_approval):
    with pytest.raises(ValidationError):
        services.review_approve(actor=executive, appraisal=with_approval)


@pytest.mark.parametrize("section", ["goals", "competencies"])
def test_a_line_that_is_not_an_id_is_refused_and_nothing_is_saved(
    employee, in_self_review, section
):
    review = self_review(in_self_review)
    with pytest.raises(ValidationError) as refused:
        services.review_save(
            actor=employee,
            review=review,
            data={"overall_comment": "Typed", section: {"abc": {"comment": "x"}}},
            expected_version=1,
        )
    assert section in refused.value.message_dict
    review.refresh_from_db()
    assert review.overall_comment == "" and review.version == 1


def test_a_stale_save_of_a_submitted_review_says_it_is_read_only(employee, in_self_review):
    review = self_review(in_self_review)
    Review.objects.filter(pk=review.pk).update(status=Review.Status.SUBMITTED, version=2)
    with pytest.raises(ValidationError, match="read-only"):
        services.review_save(
            actor=employee, review=review, data={"overall_comment": "x"}, expected_version=1
        )


@pytest.mark.parametrize("phase", [P.FEEDBACK, P.CLOSED])
def test_a_review_is_not_returned_once_nobody_could_write_it_again(
    hr_admin, manager, in_manager_review, cascade, competencies, phase
):
    submit_managers(manager, in_manager_review, cascade, competencies)
    Appraisal.objects.filter(pk=in_manager_review.pk).update(stage=A.READY)
    at_phase(in_manager_review.cycle, phase)
    with pytest.raises(ValidationError, match="Returning a review is not possible"):
        services.review_return(
            actor=hr_admin, review=manager_review(in_manager_review), comment="Late"
        )
    assert manager_review(in_manager_review).status == S.SUBMITTED
