"""Calibration sessions, moving ratings in them, finalising, and releasing results."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, get_users_with_perms, remove_perm
from simple_history.utils import bulk_update_with_history

from perfcycle import access
from perfcycle.hierarchy import subtree_sql
from perfcycle.models import Cycle, Department, RatingLevel
from perfcycle.notifications import notify
from perfcycle.services import StaleEdit, stamp

from .. import states
from ..models import Appraisal, CalibrationAdjustment, CalibrationSession
from .cycles import _lock_appraisal, _reason, _save

P = Cycle.Status
A = Appraisal.Stage
PERMISSION = f"appraisals.{access.CALIBRATE_PERMISSION}"
_BATCH = 2000


def _in_departments(cycle: Cycle, departments: list[Department]) -> QuerySet[Appraisal]:
    return Appraisal.objects.filter(
        cycle=cycle,
        department__in=subtree_sql(Department, "parent", [d.pk for d in departments]),
    )


@transaction.atomic
def calibration_session_open(
    *, actor, cycle: Cycle, name: str, departments: list[Department], participants=()
) -> CalibrationSession:
    """Open a session for the departments (with their subtrees): it takes every open
    appraisal there that no other session holds. The participants may see the grid and
    move ratings."""
    access.require(access.can_run_cycle(actor, cycle))
    locked_cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
    states.require_phase(
        locked_cycle, (P.MANAGER_REVIEW, P.CALIBRATION), _("Opening a calibration session")
    )
    if not departments:
        raise ValidationError({"departments": _("Choose the departments to calibrate.")})
    session = CalibrationSession(cycle=locked_cycle, name=(name or "").strip(), created_by=actor)
    session.full_clean()
    scope = _in_departments(locked_cycle, departments).filter(
        session__isnull=True, stage__in=states.OPEN_STAGES
    )
    if not scope.exists():
        raise ValidationError(
            {
                "departments": _(
                    "Every open appraisal in these departments is already in a session, or "
                    "there are none."
                )
            }
        )
    stamp(session, actor=actor, reason=_("Opened"))
    session.save()
    session.departments.set(departments)
    scope.update(session=session)
    _set_participants(session, participants)
    return session


def _set_participants(session: CalibrationSession, participants) -> None:
    wanted = {user.pk: user for user in participants}
    current = {
        user.pk: user
        for user in get_users_with_perms(
            session, only_with_perms_in=[access.CALIBRATE_PERMISSION], with_group_users=False
        )
    }
    for pk, user in wanted.items():
        if pk not in current:
            assign_perm(PERMISSION, user, session)
    for pk, user in current.items():
        if pk not in wanted:
            remove_perm(PERMISSION, user, session)


@transaction.atomic
def calibration_session_set_participants(
    *, actor, session: CalibrationSession, participants
) -> CalibrationSession:
    access.require(access.can_run_cycle(actor, session.cycle))
    locked = CalibrationSession.objects.select_for_update().get(pk=session.pk)
    if locked.status != CalibrationSession.Status.OPEN:
        raise ValidationError(_("The session is closed."))
    User = get_user_model()
    users = list(User.objects.filter(pk__in=[u.pk for u in participants], is_active=True))
    _set_participants(locked, users)
    locked.version += 1
    stamp(
        locked,
        actor=actor,
        reason=_("Panel changed: %(names)s")
        % {"names": ", ".join(sorted(str(u) for u in users)) or "—"},
    )
    locked.save(update_fields=["version"])
    return locked


@transaction.atomic
def calibration_move(
    *,
    actor,
    session: CalibrationSession,
    appraisal: Appraisal,
    to_level: RatingLevel,
    reason: str,
    expected_version: int | None = None,
) -> CalibrationAdjustment:
    """Move one person's rating, recording who, from, to and why."""
    reason = _reason(reason)
    access.require(access.can_calibrate(actor, session))
    locked_session = CalibrationSession.objects.select_for_update().get(pk=session.pk)
    if locked_session.status != CalibrationSession.Status.OPEN:
        raise ValidationError(_("The session is closed; its ratings are final."))
    states.require_phase(locked_session.cycle, (P.CALIBRATION,), _("Moving a rating"))
    locked = _lock_appraisal(appraisal, expected_version)
    if access.is_appraisee(actor, locked):
        raise ValidationError(_("Nobody calibrates their own rating."))
    if locked.session_id != locked_session.pk:
        raise ValidationError(
            _("%(name)s is not in this session.") % {"name": locked.employee.name}
        )
    states.require_stage(locked, (A.READY,), _("Calibrating"))
    if to_level.scale_id != locked.cycle.rating_scale_id:
        raise ValidationError({"to_level": _("Choose a rating on the cycle's scale.")})
    current = locked.calibrated_level or locked.manager_level
    if current is not None and current.pk == to_level.pk:
        raise ValidationError(
            {
                "to_level": _("%(name)s is already at %(level)s.")
                % {"name": locked.employee.name, "level": to_level}
            }
        )
    adjustment = CalibrationAdjustment.objects.create(
        session=locked_session,
        appraisal=locked,
        from_level=current,
        to_level=to_level,
        reason=reason,
        actor=actor,
    )
    locked.calibrated_level = to_level
    _save(locked, ["calibrated_level"], actor=actor, reason=reason)
    return adjustment


def finalise(appraisals: QuerySet[Appraisal], *, actor, reason: str) -> int:
    """Make the ratings of ``appraisals`` (ready for calibration) final: the calibrated
    rating where the panel moved it, the manager's proposal otherwise."""
    now = timezone.now()
    count = 0
    ids = list(appraisals.filter(stage=A.READY).values_list("pk", flat=True))
    for start in range(0, len(ids), _BATCH):
        batch = list(
            # Checked again under the lock: a review returned meanwhile is not ready.
            Appraisal.objects.select_for_update().filter(
                pk__in=ids[start : start + _BATCH], stage=A.READY
            )
        )
        for appraisal in batch:
            appraisal.final_level_id = appraisal.calibrated_level_id or appraisal.manager_level_id
            appraisal.stage = A.FINAL
            appraisal.finalised_at = now
            appraisal.version += 1
        bulk_update_with_history(
            batch,
            Appraisal,
            ["final_level", "stage", "finalised_at", "version"],
            default_user=actor,
            default_change_reason=reason,
        )
        count += len(batch)
    return count


@dataclass
class SessionClosed:
    session: CalibrationSession
    finalised: int
    not_ready: list[str]


@transaction.atomic
def calibration_session_close(
    *, actor, session: CalibrationSession, expected_version: int | None = None
) -> SessionClosed:
    """Close the session: the ratings of everyone in it who was ready become final.
    Anyone whose manager review is not in yet stays open (and is named)."""
    access.require(access.can_run_cycle(actor, session.cycle))
    locked = CalibrationSession.objects.select_for_update().get(pk=session.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleEdit(locked, changed={})
    if locked.status != CalibrationSession.Status.OPEN:
        raise ValidationError(_("The session is already closed."))
    states.require_phase(locked.cycle, (P.CALIBRATION,), _("Closing a calibration session"))
    finalised = finalise(
        locked.appraisals.all(),
        actor=actor,
        reason=_("Final after %(session)s") % {"session": locked},
    )
    not_ready = list(
        locked.appraisals.filter(
            stage__in=[A.SELF_REVIEW, A.MANAGER_REVIEW, A.APPROVAL]
        ).values_list("employee__user__full_name", flat=True)
    )
    locked.status = CalibrationSession.Status.CLOSED
    locked.closed_at = timezone.now()
    locked.version += 1
    stamp(locked, actor=actor, reason=_("Closed"))
    locked.save(update_fields=["status", "closed_at", "version"])
    return SessionClosed(session=locked, finalised=finalised, not_ready=not_ready)


@transaction.atomic
def results_release(*, actor, cycle: Cycle, departments: list[Department] | None = None) -> int:
    """Release the final results to the employees: the whole cycle, or the departments
    given (with their subtrees). Returns how many were released."""
    access.require(access.can_run_cycle(actor, cycle))
    locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
    states.require_phase(locked, (P.FEEDBACK, P.CLOSED), _("Releasing results"))
    scope = _in_departments(locked, departments) if departments else locked.appraisals.all()
    batch = list(
        scope.filter(stage=A.FINAL, released_at__isnull=True).select_for_update(of=("self",))
    )
    if not batch:
        raise ValidationError(_("There are no final results left to release here."))
    now = timezone.now()
    for appraisal in batch:
        appraisal.released_at = now
        appraisal.version += 1
    bulk_update_with_history(
        batch,
        Appraisal,
        ["released_at", "version"],
        batch_size=_BATCH,
        default_user=actor,
        default_change_reason=_("Results released"),
    )
    notify("results_released", batch)
    return len(batch)
