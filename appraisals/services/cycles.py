"""A cycle's appraisal settings, its launch, and its phases."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, When
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from perfcycle import access
from perfcycle.broker import send_after_commit
from perfcycle.hierarchy import subtree_sql
from perfcycle.insert_select import insert_history, insert_select
from perfcycle.models import Cycle, Department, Employee, RatingScale
from perfcycle.notifications import notify
from perfcycle.services import StaleEdit, _apply, cycle_create, stamp

from .. import states
from ..models import Appraisal, Competency, CycleCompetency, CycleLaunch, CycleSettings, Review

P = Cycle.Status
A = Appraisal.Stage
_BATCH = 2000


# --- settings -----------------------------------------------------------------------


def settings_for(cycle: Cycle) -> CycleSettings:
    """The cycle's appraisal settings, created with the defaults the first time asked."""
    found = getattr(cycle, "_appraisal_settings", None)
    if found is None:
        found, _created = CycleSettings.objects.get_or_create(cycle=cycle)
        cycle._appraisal_settings = found
    return found


def _check_guideline(guideline: dict[str, Any], scale: RatingScale) -> dict[str, int]:
    if not guideline:
        return {}
    values = {str(v) for v in scale.levels.values_list("value", flat=True)}
    cleaned: dict[str, int] = {}
    for key, percent in guideline.items():
        if str(key) not in values:
            raise ValidationError(
                {
                    "guideline": _("%(level)s is not a level of the scale %(scale)s.")
                    % {"level": key, "scale": scale}
                }
            )
        try:
            number = int(percent)
        except (TypeError, ValueError):
            raise ValidationError(
                {"guideline": _("Give each level's share as a whole percent.")}
            ) from None
        if not 0 <= number <= 100:
            raise ValidationError({"guideline": _("Each share is between 0 and 100 percent.")})
        cleaned[str(key)] = number
    total = sum(cleaned.values())
    if total != 100:
        raise ValidationError(
            {
                "guideline": _("The guideline shares must total 100 percent; they total %(total)s.")
                % {"total": total}
            }
        )
    return cleaned


def _check_section_weights(kpi_weight: int, competency_weight: int) -> None:
    if kpi_weight + competency_weight != 100:
        raise ValidationError(
            {
                "competency_weight": _("The section weights must total 100; they total %(total)s.")
                % {"total": kpi_weight + competency_weight}
            }
        )


SETTINGS_FIELDS = (
    "kpi_weight",
    "competency_weight",
    "manager_goal_share",
    "hired_before",
    "guideline",
    "guideline_tolerance",
    "second_level_approval",
    "appeal_days",
)
# What may still change once the reviews are under way (nothing that moves a score).
LATE_FIELDS = ("guideline", "guideline_tolerance", "second_level_approval", "appeal_days")


@transaction.atomic
def cycle_settings_update(
    *,
    actor,
    cycle: Cycle,
    data: dict[str, Any],
    expected_version: int | None,
    competencies: list[tuple[Competency, int]] | None = None,
    departments: list[Department] | None = None,
    reason: str = "",
) -> CycleSettings:
    """Change what the cycle's appraisals are made of. Section weights, the manager's
    share, competencies and eligibility are fixed once the reviews start; the guideline,
    second-level approval and the appeal window may change until the cycle closes."""
    access.require(access.can_run_cycle(actor, cycle))
    settings_for(cycle)
    locked = CycleSettings.objects.select_for_update().select_related("cycle").get(cycle=cycle)
    if expected_version is not None and locked.version != expected_version:
        raise StaleEdit(locked, changed={})
    phase = locked.cycle.status
    if phase == P.CLOSED:
        raise ValidationError(_("A closed cycle cannot be changed."))
    late = phase not in states.SETTINGS_OPEN
    fixed = [name for name in SETTINGS_FIELDS if name in data and name not in LATE_FIELDS]
    changing_fixed = [name for name in fixed if getattr(locked, name) != data[name]]
    if late and (changing_fixed or competencies is not None or departments is not None):
        raise ValidationError(
            _(
                "The reviews are under way: section weights, competencies and eligibility "
                "can no longer change. The guideline, second-level approval and the appeal "
                "window still can."
            )
        )
    if "guideline" in data:
        data = {**data, "guideline": _check_guideline(data["guideline"], locked.cycle.rating_scale)}
    changed = _apply(locked, data, SETTINGS_FIELDS)
    _check_section_weights(locked.kpi_weight, locked.competency_weight)
    if competencies is not None:
        _write_competencies(locked.cycle, competencies, actor=actor)
        changed.append("competencies")
    if departments is not None:
        current = set(locked.departments.values_list("pk", flat=True))
        if current != {d.pk for d in departments}:
            locked.departments.set(departments)
            changed.append("departments")
    if locked.competency_weight and not locked.cycle.competencies.exists():
        raise ValidationError(
            {
                "competencies": _(
                    "Competencies carry %(weight)s%% of the score: choose the competencies to "
                    "rate, or set their weight to 0."
                )
                % {"weight": locked.competency_weight}
            }
        )
    if not changed:
        return locked
    locked.full_clean(exclude=["cycle"])
    locked.version += 1
    stamp(locked, actor=actor, reason=reason or _("Settings changed"))
    locked.save()
    cycle._appraisal_settings = locked  # so settings_for(cycle) reads the new values
    return locked


def _write_competencies(cycle: Cycle, chosen: list[tuple[Competency, int]], *, actor) -> None:
    seen = set()
    for competency, weight in chosen:
        if competency.pk in seen:
            raise ValidationError({"competencies": _("Each competency is rated once.")})
        seen.add(competency.pk)
        if not 1 <= int(weight) <= 100:
            raise ValidationError({"competencies": _("A competency's weight is 1 to 100.")})
    existing = {row.competency_id: row for row in cycle.competencies.all()}
    for row in existing.values():
        if row.competency_id not in seen:
            stamp(row, actor=actor, reason=_("Removed from the cycle"))
            row.delete()
    for order, (competency, weight) in enumerate(chosen):
        row = existing.get(competency.pk) or CycleCompetency(cycle=cycle, competency=competency)
        if row.pk and row.weight == int(weight) and row.order == order:
            continue
        row.weight, row.order = int(weight), order
        stamp(row, actor=actor, reason=_("Competency set"))
        row.save()


@transaction.atomic
def competency_create(*, actor, name: str, description: str = "") -> Competency:
    access.require(access.can_run_cycle(actor))
    competency = Competency(name=name.strip(), description=description.strip())
    competency.full_clean()
    stamp(competency, actor=actor, reason=_("Created"))
    competency.save()
    return competency


def _shift(day: datetime.date | None, by: datetime.timedelta) -> datetime.date | None:
    return None if day is None else day + by


@transaction.atomic
def cycle_create_from(
    *,
    actor,
    name: str,
    period_start: datetime.date,
    period_end: datetime.date,
    template: Cycle | None = None,
    rating_scale: RatingScale | None = None,
    deadlines: dict[str, datetime.date] | None = None,
) -> Cycle:
    """Create a draft cycle, starting from an earlier cycle's settings: its scale, section
    weights, competencies, eligibility (the hiring cut-off moves with the period),
    guideline, second-level approval, appeal window, and phase deadlines moved by the
    same distance as the period."""
    access.require(access.can_run_cycle(actor))
    shift = datetime.timedelta(0)
    if template is not None:
        shift = period_start - template.period_start
        if deadlines is None:
            deadlines = {d.phase: _shift(d.due_on, shift) for d in template.deadlines.all()}
    scale = rating_scale or (template.rating_scale if template is not None else None)
    if scale is None:
        raise ValidationError({"rating_scale": _("Choose a rating scale.")})
    cycle = cycle_create(
        actor=actor,
        name=name,
        period_start=period_start,
        period_end=period_end,
        rating_scale=scale,
        deadlines=deadlines,
    )
    settings = CycleSettings(cycle=cycle)
    if template is not None:
        source = settings_for(template)
        for field in SETTINGS_FIELDS:
            setattr(settings, field, getattr(source, field))
        settings.hired_before = _shift(source.hired_before, shift)
        if scale.pk != template.rating_scale_id:
            settings.guideline = {}  # the levels differ: HR sets a new guideline
    stamp(
        settings,
        actor=actor,
        reason=_("Created from %(cycle)s") % {"cycle": template}
        if template is not None
        else _("Created"),
    )
    settings.save()
    cycle._appraisal_settings = settings
    if template is not None:
        settings.departments.set(settings_for(template).departments.all())
        rows = [
            CycleCompetency(
                cycle=cycle, competency_id=row.competency_id, weight=row.weight, order=row.order
            )
            for row in template.competencies.all()
        ]
        bulk_create_with_history(
            rows, CycleCompetency, default_user=actor, default_change_reason=_("Copied")
        )
    return cycle


# --- launch -------------------------------------------------------------------------


def _launch_problems(cycle: Cycle) -> list[str]:
    problems = []
    scale_levels = list(cycle.rating_scale.levels.all())
    if any(level.min_score is None for level in scale_levels):
        problems.append(
            _(
                "The rating scale %(scale)s has no score bands: give each level its lowest "
                "score, so scores propose a rating."
            )
            % {"scale": cycle.rating_scale}
        )
    settings = settings_for(cycle)
    if settings.competency_weight and not cycle.competencies.exists():
        problems.append(_("Competencies carry weight, but none are chosen for the cycle."))
    return problems


@transaction.atomic
def cycle_launch_request(*, actor, cycle: Cycle) -> CycleLaunch:
    """Queue the launch; the worker creates the appraisals (``cycle_launch_run``)."""
    from ..tasks import launch_cycle

    access.require(access.can_run_cycle(actor, cycle))
    locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
    states.require_phase(locked, states.LAUNCHABLE, _("Launching"))
    problems = _launch_problems(locked)
    if problems:
        raise ValidationError(problems)
    if CycleLaunch.objects.filter(
        cycle=locked, status__in=[CycleLaunch.Status.QUEUED, CycleLaunch.Status.RUNNING]
    ).exists():
        raise ValidationError(_("A launch of this cycle is already under way."))
    launch = CycleLaunch.objects.create(cycle=locked, actor=actor)

    def failed(exc: Exception) -> None:
        CycleLaunch.objects.filter(pk=launch.pk, status=CycleLaunch.Status.QUEUED).update(
            status=CycleLaunch.Status.FAILED,
            finished_at=timezone.now(),
            error=_("The task queue could not be reached; launch again."),
        )

    send_after_commit(launch_cycle, launch.pk, on_broker_down=failed)
    return launch


@dataclass
class _Eligibility:
    eligible: list[int]  # employee ids, in order
    excluded: list[dict[str, Any]]
    counts: dict[str, int]


def _eligibility(cycle: Cycle) -> _Eligibility:
    settings = settings_for(cycle)
    people = Employee.objects.all()
    counts: dict[str, int] = {}
    included = list(settings.departments.values_list("pk", flat=True))
    if included:
        in_scope = Employee.objects.filter(
            department__in=subtree_sql(Department, "parent", included)
        )
        counts["outside_departments"] = (
            people.filter(is_active=True).count() - in_scope.filter(is_active=True).count()
        )
        people = in_scope
    counts["inactive"] = people.filter(is_active=False).count()
    people = people.filter(is_active=True)
    excluded = []
    if settings.hired_before is not None:
        late = people.filter(hire_date__gt=settings.hired_before).values_list(
            "pk", "employee_number", "user__full_name", "hire_date"
        )
        for pk, number, name, hired in late:
            excluded.append(
                {
                    "employee": pk,
                    "number": number,
                    "name": name,
                    "reason": _("Hired on %(date)s, after the cut-off %(cutoff)s.")
                    % {"date": hired.isoformat(), "cutoff": settings.hired_before.isoformat()},
                }
            )
        people = people.filter(hire_date__lte=settings.hired_before)
    eligible = list(people.order_by("pk").values_list("pk", flat=True))
    return _Eligibility(eligible=eligible, excluded=excluded, counts=counts)


# The reviewer an appraisal starts with: the person's manager, unless the manager has left
# (then HR assigns one).
_REVIEWER = Case(When(manager__is_active=True, then=F("manager_id")))


def _create_appraisals(cycle: Cycle, employees: list[int], *, actor, reason: str) -> int:
    """Appraise ``employees`` (ids of people without an appraisal in the cycle) in their
    current department, with their two reviews and the history row of each; returns
    the appraisals written.

    Four ``INSERT ... SELECT`` statements, whatever the number of people: building the
    objects and their history rows in Python cost many times what the database needs.
    The unique constraint makes the cycle's appraisals of ``employees`` exactly the
    ones written here.
    """
    if not employees:
        return 0
    people = (
        Employee.objects.filter(pk__in=employees)
        .annotate(reviewer=_REVIEWER)
        .order_by("pk")
        .values("id", "department_id", "reviewer")
    )
    sql, params = people.query.sql_with_params()
    created = insert_select(
        Appraisal,
        source=f"({sql}) e",
        params=params,
        copied={
            "employee_id": "e.id",
            "department_id": "e.department_id",
            "reviewer_id": "e.reviewer",
        },
        values={"cycle_id": cycle.pk},
    )
    appraisals = Appraisal.objects.filter(cycle=cycle, employee_id__in=employees).order_by("pk")
    sql, params = appraisals.query.sql_with_params()
    # Each appraisal's self-review, then its manager review, as the objects were written.
    kinds = " UNION ALL ".join(["SELECT %s AS kind, %s AS position"] * len(Review.Kind))
    numbered = [v for position, kind in enumerate(Review.Kind.values) for v in (kind, position)]
    insert_select(
        Review,
        source=f"({sql}) a CROSS JOIN ({kinds}) k ORDER BY a.id, k.position",
        params=[*params, *numbered],
        copied={"appraisal_id": "a.id", "kind": "k.kind"},
    )
    now = timezone.now()
    insert_history(
        Appraisal,
        source=f"({sql}) a",
        params=params,
        alias="a",
        actor=actor,
        reason=reason,
        when=now,
    )
    sql, params = (
        Review.objects.filter(appraisal__in=appraisals.values("pk"))
        .order_by("pk")
        .query.sql_with_params()
    )
    insert_history(
        Review, source=f"({sql}) r", params=params, alias="r", actor=actor, reason=reason, when=now
    )
    return created


def cycle_launch_run(*, launch_id: int, resume: bool = False) -> CycleLaunch | None:
    """Create an appraisal for everyone eligible who has none yet.

    Safe to run twice: the queued launch is claimed by a conditional update, and people
    who already have an appraisal are skipped (the unique constraint backs it up). Works
    in batches, each its own transaction, so the page can show progress; a launch that
    fails half-way is completed by launching again, and one whose worker died is taken
    over (``resume``) when the broker hands the task to another worker.
    """
    claimable = [CycleLaunch.Status.QUEUED]
    if resume:  # the task was redelivered: its first worker died while running it
        claimable.append(CycleLaunch.Status.RUNNING)
    claimed = CycleLaunch.objects.filter(pk=launch_id, status__in=claimable).update(
        status=CycleLaunch.Status.RUNNING, progress=1
    )
    if not claimed:
        return None
    launch = CycleLaunch.objects.select_related("cycle", "cycle__rating_scale", "actor").get(
        pk=launch_id
    )
    try:
        return _run_launch(launch)
    except Exception as error:
        CycleLaunch.objects.filter(pk=launch.pk).update(
            status=CycleLaunch.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        raise


def _run_launch(launch: CycleLaunch) -> CycleLaunch:
    cycle = launch.cycle
    found = _eligibility(cycle)
    have = set(Appraisal.objects.filter(cycle=cycle).values_list("employee_id", flat=True))
    todo = [pk for pk in found.eligible if pk not in have]
    CycleLaunch.objects.filter(pk=launch.pk).update(
        eligible=len(found.eligible),
        existing=len(found.eligible) - len(todo),
        excluded=found.excluded,
        excluded_counts=found.counts,
        progress=5,
    )
    reason = _("Launched")
    created = 0
    for start in range(0, len(todo), _BATCH):
        batch = todo[start : start + _BATCH]
        try:
            with transaction.atomic():
                created += _create_appraisals(cycle, batch, actor=launch.actor, reason=reason)
        except IntegrityError:
            # Someone added one of these people meanwhile (a late joiner): skip them.
            with transaction.atomic():
                taken = set(
                    Appraisal.objects.filter(cycle=cycle, employee_id__in=batch).values_list(
                        "employee_id", flat=True
                    )
                )
                rest = [pk for pk in batch if pk not in taken]
                created += _create_appraisals(cycle, rest, actor=launch.actor, reason=reason)
        done = min(start + _BATCH, len(todo))
        CycleLaunch.objects.filter(pk=launch.pk).update(
            progress=5 + (94 * done) // max(len(todo), 1), created=created
        )
    CycleLaunch.objects.filter(pk=launch.pk).update(
        status=CycleLaunch.Status.DONE,
        progress=100,
        created=created,
        finished_at=timezone.now(),
    )
    launch.refresh_from_db()
    return launch


# --- one appraisal at a time --------------------------------------------------------


def _reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({field: _("Give the reason; it is kept in the history.")})
    return reason


def _lock_appraisal(appraisal: Appraisal, expected_version: int | None = None) -> Appraisal:
    locked = (
        Appraisal.objects.select_for_update(of=("self",))
        .select_related("cycle", "employee", "employee__user", "reviewer")
        .get(pk=appraisal.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise StaleEdit(locked, changed={})
    return locked


def _save(appraisal: Appraisal, fields: list[str], *, actor, reason: str) -> Appraisal:
    appraisal.version += 1
    stamp(appraisal, actor=actor, reason=reason)
    appraisal.save(update_fields=[*fields, "version"])
    return appraisal


def _stage_reached(appraisal: Appraisal) -> str:
    """The stage a reinstated appraisal's submitted reviews had taken it to."""
    reviews = {review.kind: review for review in appraisal.reviews.all()}
    manager, own = reviews.get(Review.Kind.MANAGER), reviews.get(Review.Kind.SELF)
    if manager is not None and manager.status == Review.Status.SUBMITTED:
        waiting = settings_for(appraisal.cycle).second_level_approval and not manager.approved_at
        return A.APPROVAL if waiting else A.READY
    if own is not None and own.status == Review.Status.SUBMITTED:
        return A.MANAGER_REVIEW
    return A.SELF_REVIEW


@transaction.atomic
def appraisal_add(*, actor, cycle: Cycle, employee: Employee, reason: str) -> Appraisal:
    """Appraise a late joiner (or reinstate a withdrawn appraisal), with the reason."""
    reason = _reason(reason)
    access.require(access.can_manage_department_people(actor, employee.department))
    locked_cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
    states.require_phase(
        locked_cycle, (*states.LAUNCHABLE, P.MANAGER_REVIEW), _("Adding an appraisal")
    )
    if not employee.is_active:
        raise ValidationError({"employee": _("%(name)s has left.") % {"name": employee.name}})
    existing = Appraisal.objects.filter(cycle=locked_cycle, employee=employee).first()
    if existing is not None:
        if existing.stage != A.WITHDRAWN:
            raise ValidationError(
                {
                    "employee": _("%(name)s already has an appraisal in this cycle.")
                    % {"name": employee.name}
                }
            )
        locked = _lock_appraisal(existing)
        locked.stage, locked.withdrawn_reason = _stage_reached(locked), ""
        return _save(locked, ["stage", "withdrawn_reason"], actor=actor, reason=reason)
    _create_appraisals(locked_cycle, [employee.pk], actor=actor, reason=reason)
    return Appraisal.objects.get(cycle=locked_cycle, employee=employee)


@transaction.atomic
def appraisal_withdraw(
    *, actor, appraisal: Appraisal, reason: str, expected_version: int | None = None
) -> Appraisal:
    """Take a leaver (or someone appraised by mistake) out of the cycle, with the reason."""
    reason = _reason(reason)
    access.require(access.can_administer_appraisal(actor, appraisal))
    locked = _lock_appraisal(appraisal, expected_version)
    states.require_stage(locked, states.OPEN_STAGES, _("Withdrawing"))
    locked.stage, locked.withdrawn_reason, locked.session = A.WITHDRAWN, reason, None
    locked.calibrated_level = None  # calibrated again, in a session, if reinstated
    return _save(
        locked,
        ["stage", "withdrawn_reason", "session", "calibrated_level"],
        actor=actor,
        reason=reason,
    )


@transaction.atomic
def appraisal_reassign(
    *,
    actor,
    appraisal: Appraisal,
    reviewer: Employee,
    reason: str,
    expected_version: int | None = None,
) -> Appraisal:
    """HR names another reviewer (the manager left, the person moved)."""
    reason = _reason(reason)
    access.require(access.can_administer_appraisal(actor, appraisal))
    locked = _lock_appraisal(appraisal, expected_version)
    states.require_stage(locked, states.OPEN_STAGES, _("Reassigning the reviewer"))
    if reviewer.pk == locked.employee_id:
        raise ValidationError({"reviewer": _("Nobody reviews themself.")})
    if not access.can_assign_reviewer(actor, locked, reviewer):
        raise ValidationError(
            {
                "reviewer": _(
                    "Choose someone in your departments or above %(name)s in the reporting line."
                )
                % {"name": locked.employee.name}
            }
        )
    if not reviewer.is_active:
        raise ValidationError({"reviewer": _("%(name)s has left.") % {"name": reviewer.name}})
    locked.reviewer, locked.reviewer_assigned = reviewer, True
    return _save(locked, ["reviewer", "reviewer_assigned"], actor=actor, reason=reason)


# --- phases -------------------------------------------------------------------------


@transaction.atomic
def cycle_advance(*, actor, cycle: Cycle, reason: str = "", force: bool = False) -> Cycle:
    """Move the cycle to its next phase.

    What blocks it (``selectors.advance_blockers``) is listed in the refusal. Blockers that
    HR may override ("37 self-reviews outstanding") are passed with ``force`` and a
    reason, which the history keeps; hard ones (a launch still running, open appeals) are
    not. Leaving goal setting is the goals app's close; leaving calibration finalises
    every appraisal ready for it.
    """
    from goals.services import goal_setting_close

    from ..selectors import advance_blockers
    from .calibration import finalise

    access.require(access.can_run_cycle(actor, cycle))
    locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
    target = states.next_phase(locked)
    blockers = advance_blockers(locked)
    hard = [b.message for b in blockers if b.hard]
    soft = [b.message for b in blockers if not b.hard]
    if hard:
        raise ValidationError(hard)
    if soft and not force:
        raise ValidationError(
            [*soft, _("To advance anyway, confirm and give the reason; the history keeps it.")]
        )
    if soft:
        reason = _reason(reason)
    if locked.status == P.GOAL_SETTING:
        goal_setting_close(actor=actor, cycle=locked)
        locked.refresh_from_db()  # the goals app moved it on
        if reason:
            stamp(locked, actor=actor, reason=reason)
            locked.save(update_fields=["status"])
        return locked
    if locked.status == P.CALIBRATION:
        finalise(
            Appraisal.objects.filter(cycle=locked, stage=A.READY),
            actor=actor,
            reason=_("Finalised as the cycle left calibration"),
        )
        from ..models import CalibrationSession

        # One save per session (a handful per cycle), so each closing has its history row.
        for session in CalibrationSession.objects.select_for_update().filter(
            cycle=locked, status=CalibrationSession.Status.OPEN
        ):
            session.status, session.closed_at = CalibrationSession.Status.CLOSED, timezone.now()
            session.version += 1
            stamp(session, actor=actor, reason=_("Closed as the cycle left calibration"))
            session.save(update_fields=["status", "closed_at", "version"])
    previous = locked.get_status_display()
    locked.status = target
    locked.version += 1
    stamp(
        locked,
        actor=actor,
        reason=reason
        or _("Advanced from %(from)s to %(to)s")
        % {"from": previous, "to": Cycle.Status(target).label},
    )
    locked.save(update_fields=["status", "version"])
    notify("phase_opened", locked)  # to the people with work in a review phase
    return locked
