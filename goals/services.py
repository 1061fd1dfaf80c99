"""Writes to goals and check-ins. Views, the API, commands and seed_demo all come here.

Every service checks access through ``perfcycle.access``, runs in one transaction,
validates the whole goal before anything is saved, and leaves a history row (who, what,
when, why). Edits carry the version the editor started from (``StaleEdit`` otherwise).

Progress: a check-in sets the goal's attainment (``goals.kpi``); a goal's progress is the
weighted progress of the goals that serve it, or its own attainment when nothing serves
it yet. :func:`_refresh_progress` walks that up the tree after every change, locking each
level before reading the one below, so concurrent check-ins never lose each other.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Avg, DecimalField, F, Func, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce, NullIf, Round
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from simple_history.utils import bulk_create_with_history

from perfcycle import access
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Cycle, Department, Employee, Position
from perfcycle.notifications import notify
from perfcycle.services import StaleEdit, stamp

from . import kpi, states
from .models import CheckIn, Goal

__all__ = [
    "StaleEdit",
    "goal_create",
    "goal_update",
    "goal_submit",
    "goal_approve",
    "goal_return",
    "goal_reject",
    "goal_cancel",
    "goal_finish",
    "goal_delete",
    "goal_reopen",
    "goal_lock",
    "goal_setting_close",
    "company_objective_decompose",
    "position_kpi_cascade",
    "position_kpi_push",
    "checkin_record",
    "checkin_delete",
    "checkins_record_bulk",
    "progress_recompute",
]

L, S = Goal.Level, Goal.Status
GOAL_SETTING_OPEN = (Cycle.Status.DRAFT, Cycle.Status.GOAL_SETTING)
EDITABLE = (
    "title",
    "description",
    "strategy_ref",
    "strategy_url",
    "weight",
    "due_date",
    "parent",
    "previous",
    "target_reason",
    *Goal.KPI_FIELDS,
)
_BATCH = 2000


# --- checks -------------------------------------------------------------------------


def _check_cycle_open(cycle: Cycle) -> None:
    if cycle.status == Cycle.Status.CLOSED:
        raise ValidationError(
            _("%(cycle)s is closed; its goals can no longer change.") % {"cycle": cycle}
        )


def _goal_setting_open(cycle: Cycle) -> bool:
    return cycle.status in GOAL_SETTING_OPEN


def _check_editable(goal: Goal) -> None:
    """A goal's definition changes only while its cycle is open, it is not finished,
    and goal setting has not locked it (HR reopens a locked goal)."""
    _check_cycle_open(goal.cycle)
    if goal.status in (S.CANCELLED, S.ACHIEVED, S.MISSED):
        raise ValidationError(
            _("A goal that is %(status)s cannot be changed.")
            % {"status": goal.get_status_display().lower()}
        )
    if goal.is_locked:
        raise ValidationError(
            _(
                "Goal setting has closed and this goal is locked. Ask HR to reopen it if "
                "it must change."
            )
        )


def _check_parent(goal: Goal) -> None:
    """The parent is one level up, in the same cycle, live, and on the owner's side of
    the organisation; a goal never becomes its own ancestor."""
    parent = goal.parent
    if goal.level == L.COMPANY:
        if parent is not None:
            raise ValidationError({"parent": _("A company objective serves no other goal.")})
        return
    expected = Goal.PARENT_LEVEL[goal.level]
    if parent is None:
        raise ValidationError(
            {
                "parent": _("Choose the %(level)s this goal serves.")
                % {"level": L(expected).label.lower()}
            }
        )
    if parent.level != expected:
        raise ValidationError(
            {
                "parent": _("A %(level)s serves a %(parent_level)s, one level up.")
                % {"level": L(goal.level).label.lower(), "parent_level": L(expected).label.lower()}
            }
        )
    if parent.cycle_id != goal.cycle_id:
        raise ValidationError({"parent": _("The goal it serves must be in the same cycle.")})
    if parent.status == S.CANCELLED:
        raise ValidationError({"parent": _("The goal it serves has been cancelled.")})
    if goal.pk is not None and (
        parent.pk == goal.pk or goal.pk in ancestor_ids(Goal, "parent", parent.pk)
    ):
        raise ValidationError({"parent": _("A goal cannot serve itself or a goal below it.")})
    if goal.level == L.POSITION:
        allowed = _department_and_above(goal.position.department_id)
        if parent.department_id not in allowed:
            raise ValidationError(
                {
                    "parent": _(
                        "A position KPI serves a goal of its own department or a department "
                        "above it."
                    )
                }
            )
    elif goal.level == L.PERSONAL:
        allowed = _department_and_above(goal.employee.department_id)
        if parent.position.department_id not in allowed:
            raise ValidationError(
                {
                    "parent": _(
                        "A personal goal serves a KPI of a position in the person's "
                        "department or a department above it."
                    )
                }
            )


def _department_and_above(department_id: int) -> set[int]:
    return {department_id, *ancestor_ids(Department, "parent", department_id)}


def _check_previous(goal: Goal) -> None:
    """The next-period rule: a continuing goal aims beyond last period's target in the
    KPI's direction, unless the setter records why not."""
    previous = goal.previous
    if previous is None:
        return
    if previous.cycle_id == goal.cycle_id or (
        previous.cycle.period_start >= goal.cycle.period_start
    ):
        raise ValidationError({"previous": _("A goal continues one from an earlier cycle.")})
    if previous.level != goal.level:
        raise ValidationError(
            {"previous": _("A goal continues one of the same level in the earlier cycle.")}
        )
    if kpi.exceeds(goal, previous) is False and not goal.target_reason.strip():
        raise ValidationError(
            {
                "target_reason": _(
                    "Last period's target was %(previous)s; this target (%(target)s) does not "
                    "go beyond it. Raise the target, or record the reason (for example a "
                    "change in the market)."
                )
                % {"previous": _plain(previous.target), "target": _plain(goal.target)}
            }
        )


def _plain(number: Decimal | None) -> str:
    if number is None:
        return "—"
    return (
        format(number.normalize(), "f")
        if number == number.to_integral()
        else str(number.normalize())
    )


def _validate(goal: Goal) -> None:
    """Every rule on the whole goal; field errors are collected and raised together."""
    errors: dict[str, list[str]] = {}
    try:
        # The table's constraints (one owner per level, the weight's range) are the rules
        # this module applies itself with field-level messages; checking them again here
        # would cost two queries per goal.
        goal.full_clean(
            exclude=["parent", "previous", "source", "created_by"], validate_constraints=False
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    for field, message in kpi.definition_errors(_definition(goal)).items():
        errors.setdefault(field, []).append(message)
    if errors:
        raise ValidationError(errors)
    _check_parent(goal)
    _check_previous(goal)


def _definition(goal: Goal) -> dict[str, Any]:
    return {name: getattr(goal, name) for name in Goal.KPI_FIELDS}


def _normalise(goal: Goal) -> None:
    for name, value in kpi.normalise(_definition(goal)).items():
        setattr(goal, name, value)


def _attainment(goal: Goal) -> Decimal | None:
    return kpi.attainment(goal, actual=goal.last_actual, percent=goal.last_percent)


# --- progress ------------------------------------------------------------------------


class _Exact(Func):
    """A sum kept exact in the division that follows: SQLite stores whole decimals as
    integers and would divide them as integers (PostgreSQL's numeric needs nothing)."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="(%(expressions)s * 1.0)")


def _rollup_expression():
    """A goal's progress: the weighted progress of the live goals serving it, else its
    own attainment. Goals whose weights are all zero count equally."""
    children = Goal.objects.filter(
        parent=OuterRef("pk"), status__in=Goal.COUNTED, progress__isnull=False
    ).values("parent")
    weighted = children.annotate(
        p=Coalesce(
            _Exact(Sum(F("weight") * F("progress"))) / NullIf(Sum("weight"), Decimal(0)),
            Avg("progress"),
        )
    ).values("p")
    output = DecimalField(max_digits=7, decimal_places=2)
    return Round(
        Coalesce(Subquery(weighted, output_field=output), F("attainment"), output_field=output),
        2,
        output_field=output,
    )


def _refresh_progress(goal_ids) -> None:
    """Recompute progress for these goals and every goal above them, level by level.

    Each level is locked (in id order) before it is recomputed, in a statement of its own,
    so the children's committed progress is what it reads.
    """
    ids = {i for i in goal_ids if i}
    while ids:
        rows = list(
            Goal.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "parent_id")
        )
        Goal.objects.filter(pk__in=ids).update(progress=_rollup_expression())
        ids = {parent for _pk, parent in rows if parent}


def progress_recompute(*, cycle: Cycle) -> None:
    """Recompute every goal's progress in a cycle, bottom-up: one statement per level."""
    for level in (L.PERSONAL, L.POSITION, L.DEPARTMENT, L.COMPANY):
        Goal.objects.filter(cycle=cycle, level=level).update(progress=_rollup_expression())


# --- creating and editing ------------------------------------------------------------


def _owner_fields(level: str, owner) -> dict[str, Any]:
    field = Goal.OWNER_FIELD[L(level)]
    if field is None:
        if owner is not None:
            raise ValidationError({"level": _("A company objective belongs to the company.")})
        return {}
    expected = {"department": Department, "position": Position, "employee": Employee}[field]
    if not isinstance(owner, expected):
        raise ValidationError({field: _("Choose who owns this goal.")})
    return {field: owner}


def _initial_status(*, actor, cycle: Cycle, level: str, owner, submit: bool) -> str:
    if actor is not None and access.proposes_own_goal(actor, level=level, owner=owner):
        return S.PROPOSED if submit else S.DRAFT
    return S.APPROVED if _goal_setting_open(cycle) else S.ACTIVE


@transaction.atomic
def goal_create(
    *,
    actor,
    cycle: Cycle,
    level: str,
    owner=None,
    parent: Goal | None = None,
    data: dict[str, Any],
    submit: bool = True,
    copy_to_holders: bool = True,
) -> Goal:
    """Create a goal. An employee's own goal is a proposal (``submit=False``: a draft)
    for their manager to decide; anyone else's goal is approved at once. A position KPI
    is copied to every active holder of the position (``copy_to_holders``).

    After goal setting only HR adds goals (a late joiner's, say); they start locked.
    """
    if level not in L.values:
        raise ValidationError({"level": _("Choose a level.")})
    cycle = Cycle.objects.get(pk=cycle.pk)  # its status now, not when the form was shown
    if actor is not None:
        access.require(access.can_create_goal(actor, level=level, owner=owner))
    _check_cycle_open(cycle)
    late = not _goal_setting_open(cycle)
    if late and actor is not None and not access.can_add_goal_late(actor, level=level, owner=owner):
        raise ValidationError(
            _("Goal setting for %(cycle)s has closed; ask HR to add the goal.") % {"cycle": cycle}
        )
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: _("This field cannot be set.") for name in unknown})
    goal = Goal(
        cycle=cycle,
        level=level,
        parent=parent,
        status=_initial_status(actor=actor, cycle=cycle, level=level, owner=owner, submit=submit),
        created_by=actor,
        **_owner_fields(level, owner),
        **{k: v for k, v in data.items() if k != "parent"},
    )
    if goal.weight is None:
        goal.weight = Decimal(0)
    if late:
        goal.locked_at = timezone.now()
    _normalise(goal)
    _validate(goal)
    stamp(goal, actor=actor, reason=_("Created"))
    goal.save()
    if level == L.POSITION and copy_to_holders:
        _copy_to_holders(goal, actor=actor)
    if goal.status == S.PROPOSED:
        notify("goal_awaits_approval", goal)
    return goal


@transaction.atomic
def goal_update(
    *,
    actor,
    goal: Goal,
    data: dict[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> Goal:
    """Edit a goal's definition. A personal copy that changes from its position KPI is
    marked adjusted, so later pushes from the KPI leave it alone."""
    access.require(access.can_change_goal(actor, goal))
    locked = _lock(goal.pk, expected_version)
    _check_editable(locked)
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: _("This field cannot be set.") for name in unknown})
    old_parent = locked.parent_id
    changed = [name for name in EDITABLE if name in data and getattr(locked, name) != data[name]]
    for name in changed:
        setattr(locked, name, data[name])
    if not changed:
        return locked
    _normalise(locked)
    changed = sorted(set(changed) | {n for n in Goal.KPI_FIELDS if n in data})
    if locked.source_id and set(changed) & set(Goal.COPIED_FIELDS):
        locked.adjusted = True
        changed.append("adjusted")
    _validate(locked)
    locked.attainment = _attainment(locked)
    locked.version += 1
    stamp(locked, actor=actor, reason=reason)
    locked.save(update_fields=[*{*changed, *Goal.KPI_FIELDS}, "attainment", "version"])
    _refresh_progress({locked.pk, old_parent, locked.parent_id})
    return locked


def _lock(pk: int, expected_version: int | None) -> Goal:
    goal = Goal.objects.select_for_update(of=("self",)).select_related("cycle").get(pk=pk)
    if expected_version is not None and goal.version != expected_version:
        raise StaleEdit(goal, changed={})
    return goal


# --- the workflow ------------------------------------------------------------------


def _transition(
    *, actor, goal: Goal, action: str, comment: str = "", expected_version: int | None
) -> Goal:
    locked = _lock(goal.pk, expected_version)
    _check_cycle_open(locked.cycle)
    status = states.target_status(locked, action)
    if action in ("approve", "activate") and not _goal_setting_open(locked.cycle):
        status = S.ACTIVE
    locked.status = status
    fields = ["status", "version"]
    if action in ("return", "reject"):
        locked.review_comment = comment
        fields.append("review_comment")
    if action == "approve" and not _goal_setting_open(locked.cycle):
        locked.locked_at = timezone.now()
        fields.append("locked_at")
    locked.version += 1
    stamp(locked, actor=actor, reason=comment or str(states.ACTION_PAST[action]).capitalize())
    locked.save(update_fields=fields)
    _refresh_progress({locked.parent_id})
    return locked


def _require_comment(comment: str, field: str = "comment") -> str:
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({field: _("Say why, so the owner knows what to change.")})
    return comment


@transaction.atomic
def goal_submit(*, actor, goal: Goal, expected_version: int | None = None) -> Goal:
    """The owner sends their draft goal to their manager for approval."""
    access.require(access.can_change_goal(actor, goal))
    # A draft locked when goal setting closed goes back only after HR reopens it.
    _check_editable(Goal.objects.select_related("cycle").get(pk=goal.pk))
    submitted = _transition(
        actor=actor, goal=goal, action="submit", expected_version=expected_version
    )
    notify("goal_awaits_approval", submitted)
    return submitted


@transaction.atomic
def goal_approve(
    *, actor, goal: Goal, comment: str = "", expected_version: int | None = None
) -> Goal:
    access.require(access.can_decide_goal(actor, goal))
    proposed = Goal.objects.filter(pk=goal.pk, status=S.PROPOSED).exists()
    decided = _transition(
        actor=actor, goal=goal, action="approve", comment=comment, expected_version=expected_version
    )
    if proposed:  # a manager approving the goal they wrote for a report tells nobody
        notify("goal_decided", decided)
    return decided


@transaction.atomic
def goal_return(*, actor, goal: Goal, comment: str, expected_version: int | None = None) -> Goal:
    """Send a proposal back to its owner as a draft, with what to change."""
    access.require(access.can_decide_goal(actor, goal))
    comment = _require_comment(comment)
    decided = _transition(
        actor=actor, goal=goal, action="return", comment=comment, expected_version=expected_version
    )
    notify("goal_decided", decided)
    return decided


@transaction.atomic
def goal_reject(*, actor, goal: Goal, comment: str, expected_version: int | None = None) -> Goal:
    access.require(access.can_decide_goal(actor, goal))
    comment = _require_comment(comment)
    decided = _transition(
        actor=actor, goal=goal, action="reject", comment=comment, expected_version=expected_version
    )
    notify("goal_decided", decided)
    return decided


@transaction.atomic
def goal_cancel(*, actor, goal: Goal, reason: str, expected_version: int | None = None) -> Goal:
    """Cancel a goal (its weight leaves the owner's 100). Locked goals need reopening."""
    access.require(access.can_change_goal(actor, goal))
    reason = _require_comment(reason, "reason")
    current = Goal.objects.select_related("cycle").get(pk=goal.pk)
    if current.is_locked:
        _check_editable(current)
    if Goal.objects.filter(parent=goal).exclude(status=S.CANCELLED).exists():
        raise ValidationError(
            _("Goals still serve this one; cancel them or align them elsewhere first.")
        )
    return _transition(
        actor=actor, goal=goal, action="cancel", comment=reason, expected_version=expected_version
    )


@transaction.atomic
def goal_delete(*, actor, goal: Goal) -> None:
    """Delete a goal written by mistake: only a draft or a proposal, with no progress
    recorded and nothing serving it. Anything further along is cancelled instead, so its
    record stays. The history keeps the deleted row."""
    access.require(access.can_change_goal(actor, goal))
    locked = _lock(goal.pk, None)
    _check_cycle_open(locked.cycle)
    if locked.status not in (S.DRAFT, S.PROPOSED):
        raise ValidationError(
            _("Only a draft or a proposal can be deleted; cancel this goal instead.")
        )
    if locked.checkins.exists() or Goal.objects.filter(parent=locked).exists():
        raise ValidationError(
            _("Progress or other goals refer to this goal; cancel it instead of deleting it.")
        )
    stamp(locked, actor=actor, reason=_("Deleted"))
    locked.delete()


@transaction.atomic
def goal_finish(
    *, actor, goal: Goal, achieved: bool, comment: str = "", expected_version: int | None = None
) -> Goal:
    """Record the outcome of a goal at the end of the period: achieved or missed."""
    access.require(access.can_finish_goal(actor, goal))
    return _transition(
        actor=actor,
        goal=goal,
        action="achieve" if achieved else "miss",
        comment=comment,
        expected_version=expected_version,
    )


@transaction.atomic
def goal_reopen(*, actor, goal: Goal, reason: str, expected_version: int | None = None) -> Goal:
    """HR unlocks one goal after goal setting, with the reason; the history keeps it."""
    access.require(access.can_reopen_goal(actor, goal))
    reason = _require_comment(reason, "reason")
    locked = _lock(goal.pk, expected_version)
    _check_cycle_open(locked.cycle)
    if not locked.is_locked:
        raise ValidationError(_("This goal is not locked."))
    locked.locked_at = None
    locked.reopened_reason = reason
    locked.version += 1
    stamp(locked, actor=actor, reason=_("Reopened: %(reason)s") % {"reason": reason})
    locked.save(update_fields=["locked_at", "reopened_reason", "version"])
    return locked


@transaction.atomic
def goal_lock(*, actor, goal: Goal, expected_version: int | None = None) -> Goal:
    """Lock a reopened goal again once the change is made."""
    access.require(access.can_reopen_goal(actor, goal))
    locked = _lock(goal.pk, expected_version)
    if locked.is_locked:
        return locked
    if _goal_setting_open(locked.cycle):
        raise ValidationError(_("Goals lock when goal setting closes."))
    locked.locked_at = timezone.now()
    locked.version += 1
    stamp(locked, actor=actor, reason=_("Locked again"))
    locked.save(update_fields=["locked_at", "version"])
    return locked


@dataclass(frozen=True)
class WeightProblem:
    level: str
    owner_id: int | None
    owner_name: str
    total: Decimal

    @property
    def difference(self) -> Decimal:
        return self.total - Decimal(100)


@dataclass(frozen=True)
class GoalSettingClosed:
    activated: int
    locked: int


@transaction.atomic
def goal_setting_close(*, actor, cycle: Cycle) -> GoalSettingClosed:
    """Close goal setting: every owner's weights total 100 and no proposal waits for a
    decision; then approved goals become active, every goal locks, and the cycle moves
    on to the coaching period."""
    from .selectors import weight_problems

    access.require(access.can_close_goal_setting(actor, cycle))
    locked_cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
    if locked_cycle.status != Cycle.Status.GOAL_SETTING:
        raise ValidationError(
            _("%(cycle)s is not in goal setting; it is %(status)s.")
            % {"cycle": locked_cycle, "status": locked_cycle.get_status_display().lower()}
        )
    problems = weight_problems(cycle=locked_cycle)
    pending = Goal.objects.filter(cycle=locked_cycle, status=S.PROPOSED).count()
    messages = []
    if problems:
        shown = "; ".join(
            _("%(owner)s at %(total)s (%(difference)s)")
            % {
                "owner": p.owner_name,
                "total": _plain(p.total),
                "difference": ("+" if p.difference > 0 else "") + _plain(p.difference),
            }
            for p in problems[:10]
        )
        more = len(problems) - 10
        if more > 0:
            messages.append(
                _("Weights must total 100 for every owner. Off: %(list)s and %(count)s more.")
                % {"list": shown, "count": more}
            )
        else:
            messages.append(
                _("Weights must total 100 for every owner. Off: %(list)s.") % {"list": shown}
            )
    if pending:
        messages.append(
            ngettext(
                "%(count)s proposed goal still waits for a manager's decision.",
                "%(count)s proposed goals still wait for a manager's decision.",
                pending,
            )
            % {"count": pending}
        )
    if messages:
        raise ValidationError(messages)
    now = timezone.now()
    reason = _("Goal setting closed")
    live = Goal.objects.filter(cycle=locked_cycle).exclude(status=S.CANCELLED)
    ids = list(live.values_list("pk", flat=True))
    activated = live.filter(status=S.APPROVED).update(status=S.ACTIVE)
    live.update(locked_at=now, version=F("version") + 1)
    for start in range(0, len(ids), _BATCH):
        batch = list(Goal.objects.filter(pk__in=ids[start : start + _BATCH]))
        Goal.history.bulk_history_create(
            batch, update=True, default_user=actor, default_change_reason=reason
        )
    locked_cycle.status = Cycle.Status.IN_PROGRESS
    locked_cycle.version += 1
    stamp(locked_cycle, actor=actor, reason=reason)
    locked_cycle.save(update_fields=["status", "version"])
    return GoalSettingClosed(activated=activated, locked=len(ids))


# --- decomposition and the position KPI copies --------------------------------------


@transaction.atomic
def company_objective_decompose(
    *, actor, objective: Goal, departments: list[Department], weight: Decimal | None = None
) -> list[Goal]:
    """One department goal per chosen department, serving the objective and starting as a
    copy of it (title, measure, targets, the objective's weight), each editable after.
    Departments that already have a goal serving the objective are skipped."""
    if objective.level != L.COMPANY:
        raise ValidationError(_("Only a company objective is decomposed into department goals."))
    if not departments:
        raise ValidationError({"departments": _("Choose at least one department.")})
    existing = set(
        Goal.objects.filter(parent=objective, level=L.DEPARTMENT)
        .exclude(status=S.CANCELLED)
        .values_list("department_id", flat=True)
    )
    created = []
    data = {
        name: getattr(objective, name)
        for name in ("title", "description", "due_date", *Goal.KPI_FIELDS)
    }
    data["weight"] = weight if weight is not None else objective.weight
    for department in sorted(departments, key=lambda d: d.pk):
        if department.pk in existing:
            continue
        created.append(
            goal_create(
                actor=actor,
                cycle=objective.cycle,
                level=L.DEPARTMENT,
                owner=department,
                parent=objective,
                data=data,
            )
        )
    return created


def _copy_to_holders(source: Goal, *, actor) -> int:
    holders = (
        Employee.objects.filter(position=source.position, is_active=True)
        .exclude(pk__in=Goal.objects.filter(source=source).values("employee"))
        .order_by("pk")
    )
    status = S.APPROVED if source.status == S.APPROVED else S.ACTIVE
    if source.status in (S.DRAFT, S.PROPOSED):
        status = source.status
    copies = [
        Goal(
            cycle_id=source.cycle_id,
            level=L.PERSONAL,
            employee=holder,
            parent=source,
            source=source,
            status=status,
            created_by=actor,
            locked_at=source.locked_at,
            **{name: getattr(source, name) for name in Goal.COPIED_FIELDS},
        )
        for holder in holders
    ]
    if copies:
        bulk_create_with_history(
            copies,
            Goal,
            batch_size=_BATCH,
            default_user=actor,
            default_change_reason=_("Copied from position KPI #%(id)s") % {"id": source.pk},
        )
    return len(copies)


def _check_position_kpi(goal: Goal) -> None:
    if goal.level != L.POSITION:
        raise ValidationError(_("Only a position KPI is copied to the people holding it."))
    if goal.status == S.CANCELLED:
        raise ValidationError(_("A cancelled KPI is not copied to anyone."))


@transaction.atomic
def position_kpi_cascade(*, actor, goal: Goal) -> int:
    """Copy a position KPI to every active holder who has no copy yet (new joiners,
    people moved into the position); safe to run again. Returns the number created."""
    access.require(access.can_change_goal(actor, goal))
    locked = _lock(goal.pk, None)
    _check_cycle_open(locked.cycle)
    _check_position_kpi(locked)
    return _copy_to_holders(locked, actor=actor)


@dataclass(frozen=True)
class PushResult:
    updated: int
    adjusted: int


@transaction.atomic
def position_kpi_push(*, actor, goal: Goal) -> PushResult:
    """Bring every unadjusted copy in line with the position KPI's current definition.
    Copies their owner or manager adjusted are left alone (and counted)."""
    access.require(access.can_change_goal(actor, goal))
    locked = _lock(goal.pk, None)
    _check_editable(locked)
    _check_position_kpi(locked)
    live = Goal.objects.filter(source=locked).exclude(status__in=[S.CANCELLED])
    copies = list(live.filter(adjusted=False).select_for_update().order_by("pk"))
    reason = _("Updated from position KPI #%(id)s") % {"id": locked.pk}
    changed = []
    for copy in copies:
        if all(getattr(copy, n) == getattr(locked, n) for n in Goal.COPIED_FIELDS):
            continue
        for name in Goal.COPIED_FIELDS:
            setattr(copy, name, getattr(locked, name))
        copy.attainment = _attainment(copy)
        copy.version += 1
        changed.append(copy)
    if changed:
        Goal.objects.bulk_update(
            changed, [*Goal.COPIED_FIELDS, "attainment", "version"], batch_size=500
        )
        Goal.history.bulk_history_create(
            changed, update=True, default_user=actor, default_change_reason=reason
        )
        _refresh_progress({c.pk for c in changed})
    return PushResult(updated=len(changed), adjusted=live.filter(adjusted=True).count())


# --- check-ins ----------------------------------------------------------------------


def _check_measure(goal: Goal, actual, percent) -> None:
    if goal.status not in Goal.TRACKED:
        raise ValidationError(
            {
                "actual" if goal.is_measured else "percent_complete": _(
                    "Progress is recorded on approved and active goals; this goal is %(status)s."
                )
                % {"status": goal.get_status_display().lower()}
            }
        )
    if goal.is_measured:
        if actual is None:
            raise ValidationError({"actual": _("Enter the measured result.")})
        if percent is not None:
            raise ValidationError(
                {"percent_complete": _("This goal is measured by its result, not in percent.")}
            )
    else:
        if percent is None:
            raise ValidationError({"percent_complete": _("Enter the percent complete, 0 to 100.")})
        if actual is not None:
            raise ValidationError(
                {"actual": _("This goal is a milestone: record the percent complete.")}
            )


@transaction.atomic
def checkin_record(
    *,
    actor,
    goal: Goal,
    confidence: str,
    actual: Decimal | None = None,
    percent_complete: Decimal | None = None,
    comment: str = "",
    recorded_at: datetime.datetime | None = None,
) -> CheckIn:
    """Record progress on a goal; its attainment and everything above it follow."""
    access.require(access.can_record_checkin(actor, goal))
    locked = _lock(goal.pk, None)
    _check_cycle_open(locked.cycle)
    _check_measure(locked, actual, percent_complete)
    checkin = CheckIn(
        goal=locked,
        author=actor,
        actual=actual,
        percent_complete=percent_complete,
        confidence=confidence,
        comment=(comment or "").strip(),
        recorded_at=recorded_at or timezone.now(),
    )
    checkin.full_clean()
    stamp(checkin, actor=actor, reason=_("Recorded"))
    checkin.save()
    _take_latest(locked)
    return checkin


def _take_latest(goal: Goal) -> None:
    """Copy the newest check-in onto the goal, recompute attainment, roll progress up."""
    latest = goal.checkins.order_by("-recorded_at", "-pk").first()
    goal.last_actual = latest.actual if latest else None
    goal.last_percent = latest.percent_complete if latest else None
    goal.last_confidence = latest.confidence if latest else ""
    goal.last_checkin_at = latest.recorded_at if latest else None
    goal.attainment = _attainment(goal)
    # A plain update: these derived numbers are not part of the goal's audited history.
    Goal.objects.filter(pk=goal.pk).update(
        last_actual=goal.last_actual,
        last_percent=goal.last_percent,
        last_confidence=goal.last_confidence,
        last_checkin_at=goal.last_checkin_at,
        attainment=goal.attainment,
    )
    _refresh_progress({goal.pk})


@transaction.atomic
def checkin_delete(*, actor, checkin: CheckIn, reason: str = "") -> None:
    """Take back a check-in recorded by mistake (its author, or HR), while the cycle is
    open. The history keeps the deleted row."""
    access.require(access.can_delete_checkin(actor, checkin))
    goal = _lock(checkin.goal_id, None)
    _check_cycle_open(goal.cycle)
    stamp(checkin, actor=actor, reason=reason or _("Deleted"))
    checkin.delete()
    _take_latest(goal)


_LATEST = ("last_actual", "last_percent", "last_confidence", "last_checkin_at", "attainment")


def _write_latest(goals: list[Goal]) -> None:
    """Store each goal's latest reading: one parametrised UPDATE run for every goal.

    ``bulk_update`` would build a CASE per field over every row, which at tens of
    thousands of goals costs more than all the rest of a bulk check-in.
    """
    if not goals:
        return
    fields = [Goal._meta.get_field(name) for name in _LATEST]
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    sql = f"UPDATE {qn(Goal._meta.db_table)} SET {assignments} WHERE {qn('id')} = %s"
    rows = [
        [*(f.get_db_prep_save(getattr(g, f.attname), connection) for f in fields), g.pk]
        for g in goals
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


@transaction.atomic
def checkins_record_bulk(*, actor, entries: list[dict[str, Any]]) -> int:
    """Record many check-ins at once (imports, the demo), with the same checks as one,
    then recompute the affected cycles' progress in a few statements."""
    goals = Goal.objects.select_related("cycle").in_bulk({e["goal"].pk for e in entries})
    if actor is not None:
        # One question to the policy for the whole batch, not one per check-in.
        trackable = set(
            access.goals_trackable_by(actor).filter(pk__in=goals).values_list("pk", flat=True)
        )
        access.require(trackable == set(goals))
    rows = []
    for entry in entries:
        goal = goals[entry["goal"].pk]
        _check_cycle_open(goal.cycle)
        _check_measure(goal, entry.get("actual"), entry.get("percent_complete"))
        if entry["confidence"] not in CheckIn.Confidence.values:
            raise ValidationError({"confidence": _("Choose a confidence level.")})
        rows.append(
            CheckIn(
                goal=goal,
                author=actor,
                actual=entry.get("actual"),
                percent_complete=entry.get("percent_complete"),
                confidence=entry["confidence"],
                comment=entry.get("comment", ""),
                recorded_at=entry.get("recorded_at") or timezone.now(),
            )
        )
    bulk_create_with_history(
        rows, CheckIn, batch_size=_BATCH, default_user=actor, default_change_reason=_("Recorded")
    )
    latest: dict[int, CheckIn] = {}
    for row in rows:
        current = latest.get(row.goal_id)
        if current is None or row.recorded_at >= current.recorded_at:
            latest[row.goal_id] = row
    changed = []
    for goal_id, row in latest.items():
        goal = goals[goal_id]
        if goal.last_checkin_at and goal.last_checkin_at > row.recorded_at:
            continue
        goal.last_actual, goal.last_percent = row.actual, row.percent_complete
        goal.last_confidence, goal.last_checkin_at = row.confidence, row.recorded_at
        goal.attainment = _attainment(goal)
        changed.append(goal)
    _write_latest(changed)
    for cycle in {g.cycle for g in goals.values()}:
        progress_recompute(cycle=cycle)
    return len(rows)
