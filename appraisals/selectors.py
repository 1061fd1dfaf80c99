"""Reads about appraisals that pages, the API and services share, scoped by the caller."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from goals.models import Goal
from perfcycle import access
from perfcycle.models import Cycle

from .models import Appeal, Appraisal, CalibrationSession, CycleLaunch, Review

P = Cycle.Status
A = Appraisal.Stage


@dataclass(frozen=True)
class Blocker:
    """Something standing in the way of the next phase. HR may override a soft one with
    a reason; a hard one must be dealt with."""

    message: str
    count: int
    hard: bool = False


def advance_blockers(cycle: Cycle) -> list[Blocker]:
    """What blocks moving ``cycle`` to its next phase (a few grouped queries)."""
    from .services.cycles import _launch_problems

    blockers: list[Blocker] = []
    appraisals = Appraisal.objects.filter(cycle=cycle)
    running = CycleLaunch.objects.filter(
        cycle=cycle, status__in=[CycleLaunch.Status.QUEUED, CycleLaunch.Status.RUNNING]
    ).exists()
    if running:
        blockers.append(Blocker(_("A launch is still creating appraisals."), 1, hard=True))
    status = cycle.status
    if status == P.DRAFT:
        blockers += [Blocker(message, 1, hard=True) for message in _launch_problems(cycle)]
    elif status == P.GOAL_SETTING:
        from goals.selectors import weight_problems

        off = len(weight_problems(cycle=cycle))
        if off:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s owner's goal weights do not total 100.",
                        "%(count)s owners' goal weights do not total 100.",
                        off,
                    )
                    % {"count": off},
                    off,
                    hard=True,
                )
            )
        waiting = Goal.objects.filter(cycle=cycle, status=Goal.Status.PROPOSED).count()
        if waiting:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s proposed goal waits for a manager's decision.",
                        "%(count)s proposed goals wait for a manager's decision.",
                        waiting,
                    )
                    % {"count": waiting},
                    waiting,
                    hard=True,
                )
            )
    counts = appraisals.aggregate(
        total=Count("pk", filter=~Q(stage=A.WITHDRAWN)),
        self_open=Count("pk", filter=Q(stage=A.SELF_REVIEW)),
        manager_open=Count("pk", filter=Q(stage=A.MANAGER_REVIEW)),
        approval=Count("pk", filter=Q(stage=A.APPROVAL)),
        ready=Count("pk", filter=Q(stage=A.READY)),
        ready_outside=Count("pk", filter=Q(stage=A.READY, session__isnull=True)),
        no_reviewer=Count(
            "pk", filter=Q(reviewer__isnull=True) & ~Q(stage__in=[A.FINAL, A.WITHDRAWN])
        ),
        unreleased=Count("pk", filter=Q(stage=A.FINAL, released_at__isnull=True)),
        unacknowledged=Count(
            "pk", filter=Q(released_at__isnull=False, acknowledged_at__isnull=True)
        ),
    )
    if status == P.IN_PROGRESS and not counts["total"]:
        blockers.append(
            Blocker(_("The cycle has not been launched: there are no appraisals."), 0, hard=True)
        )
    if status in (P.IN_PROGRESS, P.SELF_REVIEW, P.MANAGER_REVIEW) and counts["no_reviewer"]:
        blockers.append(
            Blocker(
                ngettext(
                    "%(count)s appraisal has no reviewer.",
                    "%(count)s appraisals have no reviewer.",
                    counts["no_reviewer"],
                )
                % {"count": counts["no_reviewer"]},
                counts["no_reviewer"],
            )
        )
    if status == P.SELF_REVIEW and counts["self_open"]:
        blockers.append(
            Blocker(
                ngettext(
                    "%(count)s self-review outstanding.",
                    "%(count)s self-reviews outstanding.",
                    counts["self_open"],
                )
                % {"count": counts["self_open"]},
                counts["self_open"],
            )
        )
    if status == P.MANAGER_REVIEW:
        still = counts["self_open"] + counts["manager_open"]
        if still:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s manager review outstanding.",
                        "%(count)s manager reviews outstanding.",
                        still,
                    )
                    % {"count": still},
                    still,
                )
            )
        if counts["approval"]:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s manager review waits for second-level approval.",
                        "%(count)s manager reviews wait for second-level approval.",
                        counts["approval"],
                    )
                    % {"count": counts["approval"]},
                    counts["approval"],
                )
            )
    if status == P.CALIBRATION:
        sessions = CalibrationSession.objects.filter(
            cycle=cycle, status=CalibrationSession.Status.OPEN
        ).count()
        if sessions:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s calibration session is still open (advancing closes it).",
                        "%(count)s calibration sessions are still open (advancing closes them).",
                        sessions,
                    )
                    % {"count": sessions},
                    sessions,
                )
            )
        if counts["ready_outside"]:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s appraisal was not calibrated in any session; its "
                        "manager's rating will become final.",
                        "%(count)s appraisals were not calibrated in any session; their "
                        "managers' ratings will become final.",
                        counts["ready_outside"],
                    )
                    % {"count": counts["ready_outside"]},
                    counts["ready_outside"],
                )
            )
        unfinished = counts["self_open"] + counts["manager_open"] + counts["approval"]
        if unfinished:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s appraisal has no finished manager review; it stays open, "
                        "and becomes final without calibration when its manager submits the "
                        "review late.",
                        "%(count)s appraisals have no finished manager review; they stay open, "
                        "and each becomes final without calibration when its manager submits "
                        "the review late.",
                        unfinished,
                    )
                    % {"count": unfinished},
                    unfinished,
                )
            )
    if status == P.FEEDBACK:
        appeals = Appeal.objects.filter(appraisal__cycle=cycle, status=Appeal.Status.OPEN).count()
        if appeals:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s appeal is open: resolve it before closing the cycle.",
                        "%(count)s appeals are open: resolve them before closing the cycle.",
                        appeals,
                    )
                    % {"count": appeals},
                    appeals,
                    hard=True,
                )
            )
        if counts["unreleased"]:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s final result has not been released.",
                        "%(count)s final results have not been released.",
                        counts["unreleased"],
                    )
                    % {"count": counts["unreleased"]},
                    counts["unreleased"],
                )
            )
        if counts["unacknowledged"]:
            blockers.append(
                Blocker(
                    ngettext(
                        "%(count)s employee has not acknowledged their result.",
                        "%(count)s employees have not acknowledged their result.",
                        counts["unacknowledged"],
                    )
                    % {"count": counts["unacknowledged"]},
                    counts["unacknowledged"],
                )
            )
    return blockers


def appraisal_list_for_user(*, user, cycle: Cycle) -> QuerySet[Appraisal]:
    """Appraisals of ``cycle`` the user may open, with what list rows show."""
    return _list_rows(access.appraisals_visible_to(user).filter(cycle=cycle))


def _list_rows(appraisals: QuerySet[Appraisal]) -> QuerySet[Appraisal]:
    return appraisals.select_related(
        "employee__user",
        "employee__position",
        "department",
        "reviewer__user",
        "computed_level",
        "manager_level",
        "calibrated_level",
        "final_level",
    ).order_by("employee__user__full_name", "pk")


def reviews_to_write(*, user, cycle: Cycle) -> QuerySet[Appraisal]:
    """Manager reviews waiting for the user: appraisals they are the reviewer of, still
    open for the manager review."""
    return _list_rows(
        access.appraisals_reviewed_by(user).filter(
            cycle=cycle, stage__in=[A.SELF_REVIEW, A.MANAGER_REVIEW]
        )
    )


def approvals_waiting(*, user, cycle: Cycle) -> QuerySet[Appraisal]:
    """Manager reviews waiting for the user's second-level approval."""
    return _list_rows(access.appraisals_reviewed_below(user).filter(cycle=cycle, stage=A.APPROVAL))


def review_of(appraisal: Appraisal, kind: str) -> Review:
    return Review.objects.select_related("proposed_level", "last_edited_by").get(
        appraisal=appraisal, kind=kind
    )
