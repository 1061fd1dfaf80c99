"""The demo cycle's appraisals, written through ``appraisals.services``.

HR sets the cycle up (five competencies, 70% KPI results and 30% competencies, a
10/20/40/20/10 guideline), launches it, and moves it into self-review. Most people
submit their self-review, some leave a draft; HR moves the cycle on to manager review.
Managers have submitted about half of their reviews and drafted some more; the demo
manager still has the demo employee's review to write. HR has prepared a calibration
session for the Sales division with its HR business partner on the panel. The cycle is
left part-way through manager review, so every appraisal page has something to show.

Reviews are written one person at a time through the review service; at 10,000 people
that would take minutes, so only a deterministic sample (``REVIEWED_AT_MOST``) writes
theirs and the rest are outstanding, as a dashboard would show them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from goals.models import Goal
from perfcycle import access
from perfcycle.models import Cycle, Employee, RatingLevel, User

from . import services
from .models import Appraisal, Review
from .services.reviews import appraisal_goals, compute_scores

COMPETENCIES = [
    ("Customer focus", "Understands what customers need and acts on it.", 2),
    ("Ownership", "Takes responsibility for results and follows through.", 2),
    ("Teamwork", "Works with others towards shared goals; shares knowledge.", 1),
    ("Communication", "Explains clearly, listens, keeps people informed.", 1),
    ("Learning agility", "Learns quickly from experience and feedback.", 1),
]
GUIDELINE = {"1": 10, "2": 20, "3": 40, "4": 20, "5": 10}
REVIEWED_AT_MOST = 400
SELF_SUBMITTED_SHARE = 0.85
MANAGER_SUBMITTED_SHARE = 0.5
MANAGER_DRAFT_SHARE = 0.2

STRENGTHS = [
    "Reliable delivery against the KPIs; customers ask for them by name.",
    "Takes ownership of problems and brings the team along.",
    "Clear, calm communication in difficult situations.",
]
IMPROVEMENTS = [
    "Plan the quarter earlier; forecasts were late twice.",
    "Delegate more, and coach the newer colleagues.",
    "Document the process changes so others can follow them.",
]
SELF_COMMENTS = [
    "A demanding year; I met most targets and learnt a lot.",
    "I delivered the key projects, and want to grow in planning.",
    "The second half went better than the first; I know where to improve.",
]


@dataclass
class AppraisalCounts:
    appraisals: int = 0
    self_submitted: int = 0
    self_drafts: int = 0
    manager_submitted: int = 0
    manager_drafts: int = 0
    session: str = ""


def seed_appraisals(
    *,
    cycle: Cycle,
    hr_admin: User,
    seed: int,
    employee_email: str,
    manager_email: str,
    partner_email: str,
) -> AppraisalCounts:
    rng = random.Random(seed * 7919 + 4)
    counts = AppraisalCounts()
    competencies = [
        (services.competency_create(actor=hr_admin, name=name, description=text), weight)
        for name, text, weight in COMPETENCIES
    ]
    services.cycle_settings_update(
        actor=hr_admin,
        cycle=cycle,
        data={
            "kpi_weight": 70,
            "competency_weight": 30,
            "manager_goal_share": 0,
            "hired_before": cycle.period_end,
            "guideline": GUIDELINE,
            "guideline_tolerance": 5,
            "appeal_days": 14,
        },
        competencies=competencies,
        expected_version=None,
        reason="Settings for the year",
    )
    with transaction.atomic():
        launch = services.cycle_launch_request(actor=hr_admin, cycle=cycle)
    # Inline when Celery runs inline (the task then finds the launch claimed), and here
    # when a broker is configured, so the demo never waits for a worker.
    services.cycle_launch_run(launch_id=launch.pk)
    counts.appraisals = Appraisal.objects.filter(cycle=cycle).count()
    if cycle.status == Cycle.Status.GOAL_SETTING:
        _advance(cycle, hr_admin, "Demo: goal setting closed")
    _advance(cycle, hr_admin, "Demo: the coaching period is over")

    employee = Employee.objects.get(user__email=employee_email)
    manager = Employee.objects.get(user__email=manager_email)
    appraisals = list(
        Appraisal.objects.filter(cycle=cycle)
        .select_related("employee__user", "reviewer__user", "cycle__rating_scale")
        .order_by("employee__employee_number")
    )
    # The demo manager's team first, then a deterministic sample of everyone else.
    team = [a for a in appraisals if a.reviewer_id == manager.pk]
    others = [a for a in appraisals if a.reviewer_id != manager.pk and a.reviewer_id]
    rng.shuffle(others)
    sample = team + others[: max(0, REVIEWED_AT_MOST - len(team))]
    levels = {level.value: level for level in RatingLevel.objects.filter(scale=cycle.rating_scale)}
    cycle_competencies = [c for c, _w in competencies]

    submitted_self = []
    for appraisal in sample:
        done = appraisal.employee_id == employee.pk or rng.random() < SELF_SUBMITTED_SHARE
        _self_review(appraisal, rng, cycle_competencies, submit=done)
        if done:
            submitted_self.append(appraisal)
            counts.self_submitted += 1
        else:
            counts.self_drafts += 1
    _advance(cycle, hr_admin, "Demo: the self-review deadline has passed")

    for appraisal in submitted_self:
        if appraisal.employee_id == employee.pk:
            continue  # the demo manager still has this one to write
        roll = rng.random()
        if roll < MANAGER_SUBMITTED_SHARE:
            _manager_review(appraisal, rng, cycle_competencies, levels, submit=True)
            counts.manager_submitted += 1
        elif roll < MANAGER_SUBMITTED_SHARE + MANAGER_DRAFT_SHARE:
            _manager_review(appraisal, rng, cycle_competencies, levels, submit=False)
            counts.manager_drafts += 1

    partner = User.objects.filter(email=partner_email).first()
    division = employee.department
    while division.parent_id is not None and division.parent.parent_id is not None:
        division = division.parent
    session = services.calibration_session_open(
        actor=hr_admin,
        cycle=cycle,
        name=f"{division.name} calibration",
        departments=[division],
        participants=[u for u in (partner, manager.user) if u is not None],
    )
    counts.session = session.name
    return counts


def _advance(cycle: Cycle, hr_admin: User, reason: str) -> None:
    cycle.refresh_from_db()
    services.cycle_advance(actor=hr_admin, cycle=cycle, force=True, reason=reason)
    cycle.refresh_from_db()


def _author(appraisal: Appraisal, kind: str) -> User:
    user = (appraisal.employee if kind == Review.Kind.SELF else appraisal.reviewer).user
    access.forget_roles(user)
    return user


def _score_near(attainment, rng: random.Random) -> int:
    if attainment is None:
        return rng.choice([3, 3, 4])
    base = 1 if attainment < 50 else 2 if attainment < 80 else 3 if attainment < 100 else 4
    if attainment >= 110:
        base = 5
    return max(1, min(5, base + rng.choice([0, 0, 0, 1, -1])))


def _self_review(appraisal: Appraisal, rng: random.Random, competencies, *, submit: bool):
    goals = list(appraisal_goals(appraisal).exclude(status=Goal.Status.CANCELLED))
    data = {
        "overall_comment": rng.choice(SELF_COMMENTS),
        "goals": {
            goal.pk: {
                "result": f"{goal.last_actual} {goal.unit}".strip()
                if goal.last_actual is not None
                else "Done as planned",
                "score": min(5, _score_near(goal.attainment, rng) + rng.choice([0, 1])),
                "comment": "",
            }
            for goal in goals
        },
        "competencies": {
            c.pk: {"rating": rng.choice([3, 4, 4, 5]), "comment": ""} for c in competencies
        },
    }
    review = Review.objects.get(appraisal=appraisal, kind=Review.Kind.SELF)
    _save(review, _author(appraisal, Review.Kind.SELF), data, submit=submit)


def _manager_review(appraisal, rng: random.Random, competencies, levels, *, submit: bool):
    goals = list(appraisal_goals(appraisal).exclude(status=Goal.Status.CANCELLED))
    data = {
        "strengths": rng.choice(STRENGTHS),
        "improvements": rng.choice(IMPROVEMENTS),
        "overall_comment": "",
        "goals": {
            goal.pk: {"score": _score_near(goal.attainment, rng), "comment": ""} for goal in goals
        },
        "competencies": {
            c.pk: {"rating": rng.choice([2, 3, 3, 4, 4, 5]), "comment": ""} for c in competencies
        },
    }
    review = Review.objects.get(appraisal=appraisal, kind=Review.Kind.MANAGER)
    author = _author(appraisal, Review.Kind.MANAGER)
    review = _save(review, author, data, submit=False)
    if not submit:
        return
    appraisal.refresh_from_db()
    value = compute_scores(appraisal).level_value or 3
    data = {"proposed_level": levels[value]}
    if rng.random() < 0.1:  # a few managers see it differently, and say why
        higher = min(5, value + 1)
        if higher != value:
            data = {
                "proposed_level": levels[higher],
                "deviation_reason": "Carried the team through a difficult quarter.",
            }
    _save(review, author, data, submit=True)


def _save(review: Review, author: User, data, *, submit: bool) -> Review:
    try:
        return services.review_save(
            actor=author, review=review, data=data, expected_version=None, submit=submit
        )
    except ValidationError as exc:  # a bug in the demo, not in anyone's input
        raise RuntimeError(f"The review service refused the demo review {review}: {exc}") from exc
