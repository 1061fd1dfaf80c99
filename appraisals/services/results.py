"""After release: the employee acknowledges, comments, appeals; HR resolves appeals."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from perfcycle import access
from perfcycle.models import RatingLevel
from perfcycle.notifications import notify
from perfcycle.services import StaleEdit, stamp

from ..models import Appeal, Appraisal
from .cycles import _lock_appraisal, _reason, _save, settings_for


@transaction.atomic
def appraisal_acknowledge(*, actor, appraisal: Appraisal, comment: str = "") -> Appraisal:
    """The employee confirms they have read their result (which is not agreeing with it)
    and may leave a comment; a later comment replaces the earlier one."""
    locked = _lock_appraisal(appraisal)
    access.require(access.can_acknowledge(actor, locked))
    fields = []
    if locked.acknowledged_at is None:
        locked.acknowledged_at = timezone.now()
        fields.append("acknowledged_at")
    comment = (comment or "").strip()
    if comment and comment != locked.employee_comment:
        locked.employee_comment = comment
        fields.append("employee_comment")
    if not fields:
        return locked
    reason = _("Acknowledged") if "acknowledged_at" in fields else _("Comment added")
    return _save(locked, fields, actor=actor, reason=reason)


def appeal_deadline(appraisal: Appraisal) -> datetime.datetime | None:
    if appraisal.released_at is None:
        return None
    return appraisal.released_at + datetime.timedelta(
        days=settings_for(appraisal.cycle).appeal_days
    )


@transaction.atomic
def appeal_file(*, actor, appraisal: Appraisal, reason: str) -> Appeal:
    """The employee appeals a released result, within the cycle's appeal window."""
    reason = _reason(reason)
    locked = _lock_appraisal(appraisal)
    access.require(access.can_acknowledge(actor, locked))
    if locked.cycle.status == "closed":
        raise ValidationError(_("The cycle is closed: its results no longer change."))
    deadline = appeal_deadline(locked)
    if deadline is not None and timezone.now() > deadline:
        raise ValidationError(
            _("The appeal window closed on %(date)s.") % {"date": deadline.date().isoformat()}
        )
    if locked.appeals.filter(status=Appeal.Status.OPEN).exists():
        raise ValidationError(_("Your appeal is already with HR."))
    appeal = Appeal(appraisal=locked, reason=reason)
    stamp(appeal, actor=actor, reason=_("Appeal filed"))
    appeal.save()
    notify("appeal_opened", appeal)
    return appeal


@transaction.atomic
def appeal_resolve(
    *,
    actor,
    appeal: Appeal,
    status: str,
    outcome: str,
    new_level: RatingLevel | None = None,
    expected_version: int | None = None,
) -> Appeal:
    """HR records the outcome: upheld (with the new rating, which becomes final) or
    dismissed (the rating stands)."""
    outcome = _reason(outcome, "outcome")
    locked = Appeal.objects.select_for_update().select_related("appraisal").get(pk=appeal.pk)
    access.require(access.can_administer_appraisal(actor, locked.appraisal))
    if expected_version is not None and locked.version != expected_version:
        raise StaleEdit(locked, changed={})
    if locked.status != Appeal.Status.OPEN:
        raise ValidationError(_("This appeal was already resolved."))
    if status not in (Appeal.Status.UPHELD, Appeal.Status.DISMISSED):
        raise ValidationError({"status": _("Choose upheld or dismissed.")})
    appraisal = _lock_appraisal(locked.appraisal)
    if status == Appeal.Status.UPHELD:
        if new_level is None or new_level.scale_id != appraisal.cycle.rating_scale_id:
            raise ValidationError({"new_level": _("Choose the new rating on the cycle's scale.")})
        if new_level.pk == appraisal.final_level_id:
            raise ValidationError(
                {"new_level": _("That is the current rating; dismiss the appeal instead.")}
            )
        appraisal.final_level = new_level
        _save(appraisal, ["final_level"], actor=actor, reason=outcome)
    else:
        new_level = None
    locked.status, locked.outcome, locked.new_level = status, outcome, new_level
    locked.resolved_by, locked.resolved_at = actor, timezone.now()
    locked.version += 1
    stamp(locked, actor=actor, reason=outcome)
    locked.save()
    notify("appeal_resolved", locked)
    return locked
