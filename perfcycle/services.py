"""Writes to the core records. Views, the API, commands and seed_demo all come here.

Each service is keyword-only, runs in one transaction, validates with ``full_clean()``,
and leaves an audit row (django-simple-history: who, what, when, why). Edits of an
existing record carry the version the editor started from; a stale version raises
:class:`StaleEdit` instead of silently overwriting someone else's change.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from . import access
from .hierarchy import ancestor_ids
from .models import (
    DEADLINE_PHASES,
    Cycle,
    CycleDeadline,
    Department,
    Employee,
    Position,
    RatingLevel,
    RatingScale,
    User,
)


class StaleEdit(Exception):
    """Someone else saved the record after this edit started."""

    def __init__(self, instance: Model, changed: dict[str, Any]):
        self.instance = instance
        self.changed = changed
        super().__init__(
            _("%(object)s was changed by someone else while you were editing it.")
            % {"object": instance}
        )


def stamp(instance: Model, *, actor, reason: str = "") -> None:
    """Attach who and why to the history row the next save writes."""
    instance._history_user = actor
    instance._change_reason = reason or None


def _lock_for_edit(model: type[Model], pk: int, *, expected_version: int | None) -> Model:
    """Lock the row; refuse if it moved on since the editor loaded ``expected_version``."""
    instance = model.objects.select_for_update().get(pk=pk)
    if expected_version is not None and instance.version != expected_version:
        raise StaleEdit(instance, changed={})
    return instance


def _apply(instance: Model, data: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    changed = []
    for name in fields:
        if name in data and getattr(instance, name) != data[name]:
            setattr(instance, name, data[name])
            changed.append(name)
    return changed


def _save_edit(instance: Model, changed: list[str], *, actor, reason: str) -> Model:
    if not changed:
        return instance
    instance.full_clean()
    instance.version += 1
    stamp(instance, actor=actor, reason=reason)
    instance.save(update_fields=[*changed, "version"])
    return instance


# --- departments --------------------------------------------------------------------


def _check_department_parent(department: Department | None, parent: Department | None) -> None:
    if department is None or parent is None or department.pk is None:
        return
    if parent.pk == department.pk or department.pk in ancestor_ids(Department, "parent", parent.pk):
        raise ValidationError(
            {"parent": _("A department cannot sit under itself or one of its own sub-departments.")}
        )


@transaction.atomic
def department_create(
    *, actor, code: str, name: str, parent: Department | None = None, head: Employee | None = None
) -> Department:
    access.require(access.can_change_department(actor))
    department = Department(code=code.strip(), name=name.strip(), parent=parent, head=head)
    department.full_clean()
    stamp(department, actor=actor, reason=_("Created"))
    department.save()
    return department


@transaction.atomic
def department_update(
    *,
    actor,
    department: Department,
    data: dict[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> Department:
    access.require(access.can_change_department(actor, department))
    locked = _lock_for_edit(Department, department.pk, expected_version=expected_version)
    if "parent" in data:
        _check_department_parent(locked, data["parent"])
    changed = _apply(locked, data, ("code", "name", "parent", "head"))
    return _save_edit(locked, changed, actor=actor, reason=reason)


# --- positions ----------------------------------------------------------------------


@transaction.atomic
def position_create(*, actor, title: str, department: Department, grade: str = "") -> Position:
    access.require(access.can_manage_department_people(actor, department))
    position = Position(title=title.strip(), department=department, grade=grade.strip())
    position.full_clean()
    stamp(position, actor=actor, reason=_("Created"))
    position.save()
    return position


@transaction.atomic
def position_update(
    *,
    actor,
    position: Position,
    data: dict[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> Position:
    access.require(access.can_change_position(actor, position))
    if "department" in data:
        access.require(access.can_manage_department_people(actor, data["department"]))
    locked = _lock_for_edit(Position, position.pk, expected_version=expected_version)
    changed = _apply(locked, data, ("title", "department", "grade"))
    return _save_edit(locked, changed, actor=actor, reason=reason)


# --- employees ----------------------------------------------------------------------


def _check_manager(employee: Employee | None, manager: Employee | None) -> None:
    if manager is None or employee is None or employee.pk is None:
        return
    if manager.pk == employee.pk:
        raise ValidationError({"manager": _("A person cannot be their own manager.")})
    if employee.pk in ancestor_ids(Employee, "manager", manager.pk):
        raise ValidationError(
            {
                "manager": _(
                    "%(manager)s reports to %(employee)s, directly or indirectly; "
                    "this would make a reporting cycle."
                )
                % {"manager": manager.user.full_name, "employee": employee.user.full_name}
            }
        )


def _check_position_department(position: Position | None, department: Department) -> None:
    if position is not None and position.department_id != department.pk:
        raise ValidationError({"position": _("The position belongs to another department.")})


@transaction.atomic
def employee_create(
    *,
    actor,
    email: str,
    full_name: str,
    employee_number: str,
    department: Department,
    hire_date: datetime.date,
    position: Position | None = None,
    manager: Employee | None = None,
) -> Employee:
    access.require(access.can_add_employee_to(actor, department))
    email = User.objects.normalize_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("Another person already uses this e-mail address.")})
    _check_position_department(position, department)
    user = User(email=email, full_name=full_name.strip())
    user.set_unusable_password()
    stamp(user, actor=actor, reason=_("Created"))
    user.full_clean()
    user.save()
    employee = Employee(
        user=user,
        employee_number=employee_number.strip(),
        department=department,
        position=position,
        manager=manager,
        hire_date=hire_date,
    )
    employee.full_clean()
    stamp(employee, actor=actor, reason=_("Created"))
    employee.save()
    return employee


@transaction.atomic
def employee_update(
    *,
    actor,
    employee: Employee,
    data: dict[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> Employee:
    """Change an employee's place (department, position, manager) or record.

    ``data`` may also carry ``full_name`` and ``email``, which live on the user.
    """
    access.require(access.can_change_employee(actor, employee))
    locked = _lock_for_edit(Employee, employee.pk, expected_version=expected_version)
    # Compared with the stored row, not the caller's instance, which a form may already
    # have changed: a move needs HR rights over the target department too.
    if "department" in data and data["department"].pk != locked.department_id:
        access.require(access.can_add_employee_to(actor, data["department"]))
    if "manager" in data:
        _check_manager(locked, data["manager"])
    _check_position_department(
        data.get("position", locked.position), data.get("department", locked.department)
    )
    user = locked.user
    user_changed = _apply(
        user, {"full_name": data.get("full_name", user.full_name)}, ("full_name",)
    )
    if "email" in data:
        email = User.objects.normalize_email(data["email"])
        if email != user.email:
            if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
                raise ValidationError(
                    {"email": _("Another person already uses this e-mail address.")}
                )
            user.email = email
            user_changed.append("email")
    if "is_active" in data and user.is_active != data["is_active"]:
        # A leaver's login stops working with their record; a returner's works again.
        user.is_active = data["is_active"]
        user_changed.append("is_active")
    if user_changed:
        stamp(user, actor=actor, reason=reason)
        user.full_clean()
        user.save(update_fields=user_changed)
    changed = _apply(
        locked,
        data,
        ("employee_number", "department", "position", "manager", "hire_date", "is_active"),
    )
    if user_changed and not changed:
        # The name or e-mail changed: still a change of the record, so it gets a version.
        locked.version += 1
        stamp(locked, actor=actor, reason=reason)
        locked.save(update_fields=["version"])
        return locked
    return _save_edit(locked, changed, actor=actor, reason=reason)


# --- roles --------------------------------------------------------------------------


@transaction.atomic
def role_grant(*, actor, user: User, group_name: str) -> None:
    """Make ``user`` an HR administrator or an executive."""
    if group_name not in (access.HR_ADMIN_GROUP, access.EXECUTIVE_GROUP):
        raise ValidationError({"group": _("Unknown role.")})
    if actor is not None:
        access.require(access.roles(actor).hr_admin)
    group, _created = Group.objects.get_or_create(name=group_name)
    user.groups.add(group)
    if group_name == access.HR_ADMIN_GROUP and not user.is_staff:
        # HR configures the organisation in the Django admin.
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    access.forget_roles(user)


@transaction.atomic
def partner_grant(*, actor, user: User, department: Department) -> None:
    """Make ``user`` the HR business partner of ``department`` and its subtree."""
    access.require(access.roles(actor).hr_admin)
    assign_perm(f"perfcycle.{access.PARTNER_PERMISSION}", user, department)
    if not user.is_staff:
        user.is_staff = True  # partners edit their departments' people in the admin
        user.save(update_fields=["is_staff"])
    access.forget_roles(user)


@transaction.atomic
def partner_revoke(*, actor, user: User, department: Department) -> None:
    access.require(access.roles(actor).hr_admin)
    remove_perm(f"perfcycle.{access.PARTNER_PERMISSION}", user, department)
    access.forget_roles(user)


# --- rating scales and cycles -------------------------------------------------------


@transaction.atomic
def rating_scale_create(
    *, actor, name: str, levels: list[dict[str, Any]], description: str = ""
) -> RatingScale:
    """Create a scale with its levels, e.g. ``[{"value": 1, "label": "..."}, ...]``."""
    if actor is not None:
        access.require(access.can_change_rating_scale(actor))
    _check_levels(levels)
    scale = RatingScale(name=name.strip(), description=description)
    scale.full_clean()
    stamp(scale, actor=actor, reason=_("Created"))
    scale.save()
    for level in levels:
        item = RatingLevel(scale=scale, **level)
        item.full_clean()
        stamp(item, actor=actor, reason=_("Created"))
        item.save()
    return scale


@transaction.atomic
def rating_scale_update(
    *,
    actor,
    scale: RatingScale,
    data: dict[str, Any],
    expected_version: int | None,
    reason: str = "",
) -> RatingScale:
    """Rename or re-describe a scale. Its levels stay as created: ratings already given
    keep their meaning (a different set of levels is a new scale)."""
    access.require(access.can_change_rating_scale(actor, scale))
    locked = _lock_for_edit(RatingScale, scale.pk, expected_version=expected_version)
    changed = _apply(locked, data, ("name", "description"))
    return _save_edit(locked, changed, actor=actor, reason=reason)


def _check_levels(levels: list[dict[str, Any]]) -> None:
    if len(levels) < 2:
        raise ValidationError({"levels": _("A rating scale needs at least two levels.")})
    values = [level.get("value") for level in levels]
    labels = [str(level.get("label", "")).strip().lower() for level in levels]
    if len(set(values)) != len(values):
        raise ValidationError({"levels": _("Each level needs its own value.")})
    if len(set(labels)) != len(labels):
        raise ValidationError({"levels": _("Each level needs its own label.")})
    _check_bands(levels)


def _check_bands(levels: list[dict[str, Any]]) -> None:
    """Score bands are all set or all empty; they rise with the level and start at 0."""
    bands = [level.get("min_score") for level in sorted(levels, key=lambda lv: lv["value"])]
    if all(band is None for band in bands):
        return
    if any(band is None for band in bands):
        raise ValidationError({"levels": _("Give every level a lowest score, or none of them.")})
    if bands[0] != 0:
        raise ValidationError({"levels": _("The lowest level's score band must start at 0.")})
    if any(later <= earlier for earlier, later in zip(bands, bands[1:], strict=False)):
        raise ValidationError(
            {"levels": _("Each higher level must start at a higher score than the one below.")}
        )


def _check_deadlines(cycle: Cycle, deadlines: dict[str, datetime.date]) -> None:
    unknown = set(deadlines) - {p.value for p in DEADLINE_PHASES}
    if unknown:
        raise ValidationError({"deadlines": _("Unknown phase: %s") % ", ".join(sorted(unknown))})
    previous = None
    for phase in DEADLINE_PHASES:
        due = deadlines.get(phase.value)
        if due is None:
            continue
        if previous is not None and due < previous[1]:
            raise ValidationError(
                {
                    "deadlines": _(
                        "The %(phase)s deadline (%(due)s) falls before the %(previous)s "
                        "deadline (%(previous_due)s); phases run in order."
                    )
                    % {
                        "phase": phase.label,
                        "due": due,
                        "previous": previous[0].label,
                        "previous_due": previous[1],
                    }
                }
            )
        if due < cycle.period_start:
            raise ValidationError(
                {
                    "deadlines": _("The %(phase)s deadline falls before the period starts.")
                    % {"phase": phase.label}
                }
            )
        previous = (phase, due)


@transaction.atomic
def cycle_create(
    *,
    actor,
    name: str,
    period_start: datetime.date,
    period_end: datetime.date,
    rating_scale: RatingScale,
    deadlines: dict[str, datetime.date] | None = None,
    status: str = Cycle.Status.DRAFT,
) -> Cycle:
    """Create a cycle. ``status`` other than draft is for recording past or running cycles
    (seeding, migration from another system); the workflow moves it afterwards."""
    if actor is not None:
        access.require(access.can_change_cycle(actor))
    deadlines = {phase: due for phase, due in (deadlines or {}).items() if due is not None}
    cycle = Cycle(
        name=name.strip(),
        period_start=period_start,
        period_end=period_end,
        rating_scale=rating_scale,
        status=status,
    )
    if period_start and period_end and period_end <= period_start:
        raise ValidationError({"period_end": _("The period must end after it starts.")})
    cycle.full_clean()
    _check_deadlines(cycle, deadlines or {})
    stamp(cycle, actor=actor, reason=_("Created"))
    cycle.save()
    _write_deadlines(cycle, deadlines or {}, actor=actor)
    return cycle


@transaction.atomic
def cycle_update(
    *,
    actor,
    cycle: Cycle,
    data: dict[str, Any],
    expected_version: int | None,
    deadlines: dict[str, datetime.date] | None = None,
    reason: str = "",
) -> Cycle:
    """Edit a cycle's settings. Its status moves only through the workflow services."""
    access.require(access.can_change_cycle(actor, cycle))
    locked = _lock_for_edit(Cycle, cycle.pk, expected_version=expected_version)
    if locked.status == Cycle.Status.CLOSED:
        raise ValidationError(_("A closed cycle cannot be changed."))
    scale = data.get("rating_scale")
    if scale is not None and scale.pk != locked.rating_scale_id and locked.status != "draft":
        # Ratings given and the guideline are on the old scale's levels.
        raise ValidationError(
            {"rating_scale": _("The rating scale can change only while the cycle is a draft.")}
        )
    changed = _apply(locked, data, ("name", "period_start", "period_end", "rating_scale"))
    if locked.period_end <= locked.period_start:
        raise ValidationError({"period_end": _("The period must end after it starts.")})
    current = {d.phase: d.due_on for d in locked.deadlines.all()}
    if deadlines is not None:
        _check_deadlines(locked, {k: v for k, v in deadlines.items() if v is not None})
    merged = {**current, **(deadlines or {})}
    # Checked as a whole, even when only the period moved: every deadline that stays must
    # still fit the new dates and the others.
    _check_deadlines(locked, {phase: due for phase, due in merged.items() if due is not None})
    deadlines_moved = deadlines is not None and _write_deadlines(locked, deadlines, actor=actor)
    if deadlines_moved and not changed:
        # Deadlines are part of the cycle's settings: a change moves its version on.
        locked.version += 1
        stamp(locked, actor=actor, reason=reason or _("Deadlines changed"))
        locked.save(update_fields=["version"])
        return locked
    return _save_edit(locked, changed, actor=actor, reason=reason)


def _write_deadlines(cycle: Cycle, deadlines: dict[str, datetime.date | None], *, actor) -> bool:
    """Set (or, with ``None``, clear) phase deadlines; say whether anything changed."""
    existing = {d.phase: d for d in cycle.deadlines.all()}
    touched = False
    for phase, due in deadlines.items():
        current = existing.get(phase)
        if due is None:
            if current is not None:
                stamp(current, actor=actor, reason=_("Deadline removed"))
                current.delete()
                touched = True
            continue
        if current is None:
            current = CycleDeadline(cycle=cycle, phase=phase, due_on=due)
        elif current.due_on == due:
            continue
        current.due_on = due
        stamp(current, actor=actor, reason=_("Deadline set"))
        current.save()
        touched = True
    return touched


def user_set_language(*, user: User, language: str) -> User:
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose a language from the list.")})
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user


def user_set_digests(*, user: User, digests: bool) -> User:
    """Turn the person's daily digests on or off (deadline notices are always sent)."""
    if user.digests != bool(digests):
        user.digests = bool(digests)
        user.save(update_fields=["digests"])
    return user
