"""The goal workflow: which action moves a goal from which statuses to which.

::

    draft --submit--> proposed --approve--> approved --(goal setting closes)--> active
      ^                  |  \\--reject--> cancelled                                |
      \\----return-------/                                    achieved / missed <--/

Approval straight from draft is for a manager writing a report's goal. Cancelling needs
a reason; after goal setting it also needs the goal reopened by HR.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Goal

S = Goal.Status

TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "submit": ((S.DRAFT,), S.PROPOSED),
    "approve": ((S.DRAFT, S.PROPOSED), S.APPROVED),
    "return": ((S.PROPOSED,), S.DRAFT),
    "reject": ((S.PROPOSED,), S.CANCELLED),
    "activate": ((S.APPROVED,), S.ACTIVE),
    "cancel": ((S.DRAFT, S.PROPOSED, S.APPROVED, S.ACTIVE), S.CANCELLED),
    "achieve": ((S.APPROVED, S.ACTIVE), S.ACHIEVED),
    "miss": ((S.APPROVED, S.ACTIVE), S.MISSED),
    "resume": ((S.ACHIEVED, S.MISSED), S.ACTIVE),
}


def target_status(goal: Goal, action: str) -> str:
    """The status ``action`` leads to from the goal's status, or a ValidationError."""
    sources, target = TRANSITIONS[action]
    if goal.status not in sources:
        raise ValidationError(
            _("A goal that is %(status)s cannot be %(action)s.")
            % {"status": goal.get_status_display().lower(), "action": ACTION_PAST[action]}
        )
    return target


ACTION_PAST = {
    "submit": gettext_lazy("submitted for approval"),
    "approve": gettext_lazy("approved"),
    "return": gettext_lazy("returned"),
    "reject": gettext_lazy("rejected"),
    "activate": gettext_lazy("activated"),
    "cancel": gettext_lazy("cancelled"),
    "achieve": gettext_lazy("marked achieved"),
    "miss": gettext_lazy("marked missed"),
    "resume": gettext_lazy("resumed"),
}
