"""Saving and submitting reviews; returning and approving them; the computed scores.

``review_save`` takes the review's fields and its lines as one ``data`` dict::

    {
        "overall_comment": "...", "strengths": "...", "improvements": "...",
        "proposed_level": <RatingLevel or None>, "deviation_reason": "...",
        "goals": {<goal id>: {"result": "...", "score": 4, "comment": "..."}},
        "competencies": {<competency id>: {"rating": 3, "comment": "..."}},
    }

Only the keys given change. Field errors are keyed as the forms name their fields:
``goal-<id>-score``, ``competency-<id>-rating``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from goals.models import Goal
from perfcycle import access
from perfcycle.models import Cycle, RatingLevel
from perfcycle.notifications import notify
from perfcycle.services import StaleEdit, stamp

from .. import scoring, states
from ..models import Appraisal, Review, ReviewCompetency, ReviewGoal
from .cycles import _lock_appraisal, _save, settings_for

P = Cycle.Status
A = Appraisal.Stage
K = Review.Kind
TEXT_FIELDS = {
    K.SELF: ("overall_comment",),
    K.MANAGER: ("overall_comment", "strengths", "improvements", "deviation_reason"),
}
GOAL_FIELDS = {K.SELF: ("result", "score", "comment"), K.MANAGER: ("score", "comment")}


def appraisal_goals(appraisal: Appraisal):
    """The goals an appraisal covers: the person's own goals in the cycle that were
    agreed (cancelled ones are shown but do not count)."""
    return Goal.objects.filter(
        cycle_id=appraisal.cycle_id,
        employee_id=appraisal.employee_id,
        level=Goal.Level.PERSONAL,
        status__in=[*Goal.COUNTED, Goal.Status.CANCELLED],
    ).order_by("-weight", "title", "pk")


def _scale_values(cycle: Cycle) -> list[int]:
    return list(cycle.rating_scale.levels.values_list("value", flat=True))


def _check_rating(value, values: list[int], field: str, errors: dict[str, list[str]]):
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number not in values or str(value).strip() != str(number):
        errors.setdefault(field, []).append(
            _("Choose a rating on the scale (%(values)s).")
            % {"values": ", ".join(str(v) for v in values)}
        )
        return None
    return number


def _check_writer(actor, review: Review, appraisal: Appraisal) -> None:
    if review.kind == K.SELF:
        access.require(access.can_write_self_review(actor, appraisal))
        return
    access.require(access.can_open_manager_review(actor, appraisal))
    me = access.roles(actor).employee
    reviewer_only = appraisal.reviewer_id == me.pk and not access.in_reporting_chain(
        me, appraisal.employee
    )
    if reviewer_only and not appraisal.reviewer_assigned:
        raise ValidationError(
            _(
                "%(name)s no longer reports to you, directly or indirectly, so you cannot "
                "review them. HR can assign you as their reviewer, or assign someone else."
            )
            % {"name": appraisal.employee.name}
        )


def _check_writable(review: Review, appraisal: Appraisal) -> None:
    cycle = appraisal.cycle
    if appraisal.stage in (A.FINAL, A.WITHDRAWN):
        raise ValidationError(
            _("This appraisal is %(stage)s; its reviews are read-only.")
            % {"stage": appraisal.get_stage_display().lower()}
        )
    if not review.editable_status:
        raise ValidationError(
            _("This review was submitted and is read-only. HR can return it for changes.")
        )
    phases = states.RETURNED_PHASES if review.status == Review.Status.RETURNED else ()
    if review.kind == K.MANAGER and appraisal.stage in states.LATE_STAGES:
        phases = (*phases, *states.LATE_PHASES)
    states.require_phase(
        cycle, (*states.REVIEW_PHASES[review.kind], *phases), review.get_kind_display()
    )


def review_write_problem(*, actor, review: Review, appraisal: Appraisal) -> str:
    """Why ``actor`` cannot write ``review`` now ("" when they can), for pages that offer
    the form only when a save could succeed. Access itself (PermissionDenied) is not
    caught: a page that reaches this has already asked the policy."""
    try:
        _check_writer(actor, review, appraisal)
        _check_writable(review, appraisal)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return ""


def _ids(entries: dict, field: str, errors: dict[str, list[str]]) -> list[tuple[int, Any]]:
    """The lines of ``data["goals"]`` or ``data["competencies"]`` with integer keys."""
    rows = []
    for key, entry in (entries or {}).items():
        try:
            rows.append((int(key), entry))
        except (TypeError, ValueError):
            errors.setdefault(field, []).append(_("%(id)s is not an id.") % {"id": key})
    return rows


def _conflict(review: Review, data: dict[str, Any]) -> StaleEdit:
    """What the other person saved, field by field, where it differs from this edit."""
    changed: dict[str, Any] = {}
    for name in (*TEXT_FIELDS[review.kind], "proposed_level"):
        if name in data and getattr(review, name) != data[name]:
            changed[str(Review._meta.get_field(name).verbose_name)] = getattr(review, name) or "—"
    goals = {line.goal_id: line for line in review.goal_lines.select_related("goal")}
    for goal_id, values in (data.get("goals") or {}).items():
        line = goals.get(int(goal_id))
        for name in GOAL_FIELDS[review.kind]:
            if (
                line is not None
                and name in values
                and str(getattr(line, name) or "") != str(values[name] or "")
            ):
                label = ReviewGoal._meta.get_field(name).verbose_name
                changed[f"{line.goal.title}: {label}"] = getattr(line, name)
    ratings = {
        line.competency_id: line for line in review.competency_lines.select_related("competency")
    }
    for competency_id, values in (data.get("competencies") or {}).items():
        line = ratings.get(int(competency_id))
        for name in ("rating", "comment"):
            if (
                line is not None
                and name in values
                and str(getattr(line, name) or "") != str(values[name] or "")
            ):
                label = ReviewCompetency._meta.get_field(name).verbose_name
                changed[f"{line.competency}: {label}"] = getattr(line, name)
    return StaleEdit(review, changed=changed)


@transaction.atomic
def review_save(
    *,
    actor,
    review: Review,
    data: dict[str, Any],
    expected_version: int | None,
    submit: bool = False,
) -> Review:
    """Save a review as a draft, or save and submit it (all or nothing)."""
    appraisal = _lock_appraisal(review.appraisal)
    locked = Review.objects.select_for_update().get(pk=review.pk)
    locked.appraisal = appraisal
    _check_writer(actor, locked, appraisal)
    # Read-only says more than "someone saved meanwhile" when both hold.
    _check_writable(locked, appraisal)
    if expected_version is not None and locked.version != expected_version:
        raise _conflict(locked, data)
    cycle = appraisal.cycle
    values = _scale_values(cycle)
    errors: dict[str, list[str]] = {}

    changed = []
    for name in TEXT_FIELDS[locked.kind]:
        if name in data:
            text = (data[name] or "").strip()
            if text != getattr(locked, name):
                setattr(locked, name, text)
                changed.append(name)
    if locked.kind == K.MANAGER and "proposed_level" in data:
        level = data["proposed_level"]
        if level is not None and level.scale_id != cycle.rating_scale_id:
            errors.setdefault("proposed_level", []).append(
                _("Choose a rating on the cycle's scale.")
            )
        elif (level and level.pk) != locked.proposed_level_id:
            locked.proposed_level = level
            changed.append("proposed_level")

    goal_ids = set(appraisal_goals(appraisal).values_list("pk", flat=True))
    goal_rows = []
    for goal_id, entry in _ids(data.get("goals"), "goals", errors):
        if goal_id not in goal_ids:
            errors.setdefault("goals", []).append(
                _("Goal %(id)s is not one of this appraisal's goals.") % {"id": goal_id}
            )
            continue
        entry = dict(entry)
        if "score" in entry:
            entry["score"] = _check_rating(entry["score"], values, f"goal-{goal_id}-score", errors)
        goal_rows.append((goal_id, entry))
    competency_ids = set(cycle.competencies.values_list("competency_id", flat=True))
    competency_rows = []
    for competency_id, entry in _ids(data.get("competencies"), "competencies", errors):
        if competency_id not in competency_ids:
            errors.setdefault("competencies", []).append(
                _("Competency %(id)s is not rated in this cycle.") % {"id": competency_id}
            )
            continue
        entry = dict(entry)
        if "rating" in entry:
            entry["rating"] = _check_rating(
                entry["rating"], values, f"competency-{competency_id}-rating", errors
            )
        competency_rows.append((competency_id, entry))
    if errors:
        raise ValidationError(errors)

    reason = _("Submitted") if submit else _("Saved as draft")
    lines_changed = _write_lines(locked, goal_rows, competency_rows, actor=actor, reason=reason)
    if not (changed or lines_changed or submit):
        return locked
    if submit:
        _submit(locked, appraisal, actor=actor)
        changed += ["status", "submitted_at", "submitted_by", "return_comment"]
    locked.version += 1
    locked.last_edited_by, locked.updated_at = actor, timezone.now()
    stamp(locked, actor=actor, reason=reason)
    locked.save(update_fields=[*set(changed), "version", "last_edited_by", "updated_at"])
    if locked.kind == K.MANAGER:
        appraisal_rescore(appraisal)
    return locked


def _write_lines(review: Review, goal_rows, competency_rows, *, actor, reason: str) -> bool:
    touched = False
    existing = {line.goal_id: line for line in review.goal_lines.all()}
    for goal_id, entry in goal_rows:
        line = existing.get(goal_id) or ReviewGoal(review=review, goal_id=goal_id)
        fields = [
            name
            for name in GOAL_FIELDS[review.kind]
            if name in entry and getattr(line, name) != _clean(name, entry[name])
        ]
        if line.pk and not fields:
            continue
        for name in fields:
            setattr(line, name, _clean(name, entry[name]))
        stamp(line, actor=actor, reason=reason)
        line.save()
        touched = True
    existing_ratings = {line.competency_id: line for line in review.competency_lines.all()}
    for competency_id, entry in competency_rows:
        line = existing_ratings.get(competency_id) or ReviewCompetency(
            review=review, competency_id=competency_id
        )
        fields = [
            name
            for name in ("rating", "comment")
            if name in entry and getattr(line, name) != _clean(name, entry[name])
        ]
        if line.pk and not fields:
            continue
        for name in fields:
            setattr(line, name, _clean(name, entry[name]))
        stamp(line, actor=actor, reason=reason)
        line.save()
        touched = True
    return touched


def _clean(name: str, value):
    if name in ("score", "rating"):
        return value
    return (value or "").strip()


def _submit(review: Review, appraisal: Appraisal, *, actor) -> None:
    """Check the review is complete, then move the appraisal on."""
    errors: dict[str, list[str]] = {}
    required = _("Required to submit.")
    goals = list(appraisal_goals(appraisal).exclude(status=Goal.Status.CANCELLED))
    lines = {line.goal_id: line for line in review.goal_lines.all()}
    settings = settings_for(appraisal.cycle)
    for goal in goals:
        line = lines.get(goal.pk)
        score = line.score if line else None
        if review.kind == K.SELF and score is None:
            errors.setdefault(f"goal-{goal.pk}-score", []).append(required)
        if (
            review.kind == K.MANAGER
            and score is None
            and (goal.attainment is None or settings.manager_goal_share)
        ):
            errors.setdefault(f"goal-{goal.pk}-score", []).append(
                _("Score this goal: it has no measured result.")
                if goal.attainment is None
                else required
            )
    ratings = {line.competency_id: line.rating for line in review.competency_lines.all()}
    for row in appraisal.cycle.competencies.all():
        if ratings.get(row.competency_id) is None:
            errors.setdefault(f"competency-{row.competency_id}-rating", []).append(required)
    if not review.overall_comment and review.kind == K.SELF:
        errors.setdefault("overall_comment", []).append(required)
    if review.kind == K.MANAGER:
        for name in ("strengths", "improvements"):
            if not getattr(review, name):
                errors.setdefault(name, []).append(required)
        if errors:
            raise ValidationError(errors)
        self_review = appraisal.reviews.get(kind=K.SELF)
        if (
            self_review.status != Review.Status.SUBMITTED
            and appraisal.cycle.status == P.SELF_REVIEW
        ):
            raise ValidationError(
                _(
                    "%(name)s has not submitted their self-review yet. You can submit once "
                    "they do, or once the cycle moves on to manager review."
                )
                % {"name": appraisal.employee.name}
            )
        _check_proposal(review, appraisal, errors)
    if errors:
        raise ValidationError(errors)
    review.status = Review.Status.SUBMITTED
    review.submitted_at, review.submitted_by = timezone.now(), actor
    review.return_comment = ""
    if review.kind == K.SELF:
        if appraisal.stage == A.SELF_REVIEW:
            appraisal.stage = A.MANAGER_REVIEW
            _save(appraisal, ["stage"], actor=actor, reason=_("Self-review submitted"))
        return
    approval = settings.second_level_approval and access.has_second_level_approver(appraisal)
    appraisal.stage = A.APPROVAL if approval else A.READY
    appraisal.manager_level = review.proposed_level
    _save(appraisal, ["stage", "manager_level"], actor=actor, reason=_("Manager review submitted"))
    _finalise_late(appraisal, actor=actor)


def _finalise_late(appraisal: Appraisal, *, actor) -> None:
    """A manager review finished after calibration (written late, in feedback) makes the
    manager's rating final at once: no session will calibrate it any more."""
    from .calibration import finalise

    if appraisal.stage == A.READY and appraisal.cycle.status == P.FEEDBACK:
        finalise(
            Appraisal.objects.filter(pk=appraisal.pk),
            actor=actor,
            reason=_("Finalised late, after calibration: the manager review came in late"),
        )
        appraisal.refresh_from_db()


def _check_proposal(review: Review, appraisal: Appraisal, errors) -> None:
    """The proposed rating is the score's, or one level away with a written reason."""
    if review.proposed_level is None:
        errors.setdefault("proposed_level", []).append(_("Propose an overall rating."))
        return
    scores = compute_scores(appraisal, review=review)
    if scores.level_value is None or scores.level_value == review.proposed_level.value:
        return
    scale = scoring.Scale.of(appraisal.cycle.rating_scale.levels.all())
    steps = scale.steps_between(scores.level_value, review.proposed_level.value)
    if steps > 1:
        errors.setdefault("proposed_level", []).append(
            _(
                "The score %(score)s gives %(level)s; you may propose one level above or "
                "below it, not %(steps)s."
            )
            % {"score": scores.overall, "level": scores.level_value, "steps": steps}
        )
    elif not review.deviation_reason:
        errors.setdefault("deviation_reason", []).append(
            _("The score gives %(level)s: say why you propose another rating.")
            % {"level": scores.level_value}
        )


def compute_scores(appraisal: Appraisal, *, review: Review | None = None) -> scoring.Scores:
    """The appraisal's scores from the manager review and the goals' measured attainment."""
    review = review or appraisal.reviews.get(kind=K.MANAGER)
    settings = settings_for(appraisal.cycle)
    scale = scoring.Scale.of(appraisal.cycle.rating_scale.levels.all())
    scores = {line.goal_id: line.score for line in review.goal_lines.all()}
    goals = [
        scoring.GoalLine(
            weight=goal.weight,
            attainment=goal.attainment,
            manager_score=scores.get(goal.pk),
            counts=goal.status != Goal.Status.CANCELLED,
        )
        for goal in appraisal_goals(appraisal)
    ]
    weights = dict(appraisal.cycle.competencies.values_list("competency_id", "weight"))
    ratings = [
        (weights[line.competency_id], line.rating)
        for line in review.competency_lines.all()
        if line.competency_id in weights
    ]
    return scoring.compute(
        goals=goals,
        competencies=ratings,
        scale=scale,
        kpi_weight=settings.kpi_weight,
        competency_weight=settings.competency_weight,
        manager_share=settings.manager_goal_share,
    )


def appraisal_rescore(appraisal: Appraisal) -> Appraisal:
    """Store the computed scores and the rating they give. Derived numbers: a plain
    update, not a history row (the review's history holds what they come from)."""
    scores = compute_scores(appraisal)
    level = None
    if scores.level_value is not None:
        level = RatingLevel.objects.filter(
            scale_id=appraisal.cycle.rating_scale_id, value=scores.level_value
        ).first()
    Appraisal.objects.filter(pk=appraisal.pk).update(
        kpi_score=scores.kpi,
        competency_score=scores.competency,
        overall_score=scores.overall,
        computed_level=level,
    )
    appraisal.kpi_score, appraisal.competency_score = scores.kpi, scores.competency
    appraisal.overall_score, appraisal.computed_level = scores.overall, level
    return appraisal


@transaction.atomic
def review_return(*, actor, review: Review, comment: str) -> Review:
    """Send a submitted review back to its author with a comment: HR for any review; the
    second-level approver for the manager review waiting for them."""
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("Say what needs changing.")})
    appraisal = _lock_appraisal(review.appraisal)
    approver = (
        review.kind == K.MANAGER
        and appraisal.stage == A.APPROVAL
        and access.can_approve_review(actor, appraisal)
    )
    access.require(approver or access.can_administer_appraisal(actor, appraisal))
    states.require_stage(appraisal, states.OPEN_STAGES, _("Returning a review"))
    # Only while a returned review can still be written again.
    states.require_phase(appraisal.cycle, states.RETURNED_PHASES, _("Returning a review"))
    locked = Review.objects.select_for_update().get(pk=review.pk)
    if locked.status != Review.Status.SUBMITTED:
        raise ValidationError(_("Only a submitted review can be returned."))
    locked.status, locked.return_comment = Review.Status.RETURNED, comment
    locked.approved_at = locked.approved_by = None
    locked.version += 1
    stamp(locked, actor=actor, reason=comment)
    locked.save(update_fields=["status", "return_comment", "approved_at", "approved_by", "version"])
    if locked.kind == K.MANAGER and appraisal.stage in (A.APPROVAL, A.READY):
        # A calibration move was made on the returned review; the new review is
        # calibrated afresh, so an old move never overrides it.
        appraisal.stage, appraisal.calibrated_level = A.MANAGER_REVIEW, None
        _save(appraisal, ["stage", "calibrated_level"], actor=actor, reason=comment)
    elif locked.kind == K.SELF and appraisal.stage == A.MANAGER_REVIEW:
        manager = appraisal.reviews.get(kind=K.MANAGER)
        if manager.status != Review.Status.SUBMITTED:
            appraisal.stage = A.SELF_REVIEW
            _save(appraisal, ["stage"], actor=actor, reason=comment)
    notify("review_returned", locked)
    return locked


@transaction.atomic
def review_approve(*, actor, appraisal: Appraisal, comment: str = "") -> Appraisal:
    """Second-level approval of the manager review by a manager above the reviewer."""
    locked = _lock_appraisal(appraisal)
    access.require(access.can_approve_review(actor, locked))
    states.require_stage(locked, (A.APPROVAL,), _("Approving the review"))
    review = Review.objects.select_for_update().get(appraisal=locked, kind=K.MANAGER)
    review.approved_at, review.approved_by = timezone.now(), actor
    review.version += 1
    stamp(review, actor=actor, reason=comment or _("Approved"))
    review.save(update_fields=["approved_at", "approved_by", "version"])
    locked.stage = A.READY
    _save(locked, ["stage"], actor=actor, reason=comment or _("Review approved"))
    _finalise_late(locked, actor=actor)
    return locked
