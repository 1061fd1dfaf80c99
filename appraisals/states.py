"""The cycle's phases and an appraisal's stages: what may happen when.

Cycle phases (``Cycle.Status``) move one step at a time, by HR::

    draft -> goal_setting -> in_progress -> self_review -> manager_review
          -> calibration -> feedback -> closed

An appraisal moves with its reviews::

    self_review --self-review submitted--> manager_review --manager review submitted-->
        approval (when the cycle asks for second-level approval) --approved--> ready
        --calibration session closes, or the cycle leaves calibration--> final
    (any stage before final) --withdrawn by HR--> withdrawn
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from perfcycle.models import Cycle

from .models import Appraisal, Review

P = Cycle.Status
A = Appraisal.Stage

PHASES: list[str] = [
    P.DRAFT,
    P.GOAL_SETTING,
    P.IN_PROGRESS,
    P.SELF_REVIEW,
    P.MANAGER_REVIEW,
    P.CALIBRATION,
    P.FEEDBACK,
    P.CLOSED,
]

# Phases in which a launch may add appraisals (before the reviews are under way).
LAUNCHABLE = (P.DRAFT, P.GOAL_SETTING, P.IN_PROGRESS, P.SELF_REVIEW)
# Phases in which the section weights, competencies and eligibility may still change.
SETTINGS_OPEN = (P.DRAFT, P.GOAL_SETTING, P.IN_PROGRESS)
# When each kind of review may be written (a review HR returned may be written later,
# until the results are final).
REVIEW_PHASES = {
    Review.Kind.SELF: (P.SELF_REVIEW,),
    Review.Kind.MANAGER: (P.SELF_REVIEW, P.MANAGER_REVIEW),
}
RETURNED_PHASES = (P.SELF_REVIEW, P.MANAGER_REVIEW, P.CALIBRATION)
# A manager review still unwritten when HR moved the cycle on is written late, until the
# feedback phase ends: in calibration it can still be calibrated; in feedback it becomes
# final as it is submitted (``finalise_late``).
LATE_PHASES = (P.CALIBRATION, P.FEEDBACK)
LATE_STAGES = (A.SELF_REVIEW, A.MANAGER_REVIEW)
OPEN_STAGES = (A.SELF_REVIEW, A.MANAGER_REVIEW, A.APPROVAL, A.READY)


def next_phase(cycle: Cycle) -> str:
    if cycle.status == P.CLOSED:
        raise ValidationError(_("The cycle is closed; there is no next phase."))
    return PHASES[PHASES.index(cycle.status) + 1]


def phase_label(phase: str) -> str:
    return str(Cycle.Status(phase).label)


def require_phase(cycle: Cycle, phases, action: str) -> None:
    """Refuse ``action`` unless the cycle is in one of ``phases``; the message names both."""
    if cycle.status not in phases:
        raise ValidationError(
            _(
                "%(action)s is not possible while the cycle is in %(phase)s (it is possible "
                "in: %(allowed)s)."
            )
            % {
                "action": action,
                "phase": cycle.get_status_display().lower(),
                "allowed": ", ".join(phase_label(p).lower() for p in phases),
            }
        )


def require_stage(appraisal: Appraisal, stages, action: str) -> None:
    if appraisal.stage not in stages:
        raise ValidationError(
            _("%(action)s is not possible for an appraisal at the stage %(stage)s.")
            % {"action": action, "stage": appraisal.get_stage_display().lower()}
        )
