"""What a valid file changes, and writing it: a few bulk statements per model.

Created and changed departments, positions and employees each get one history row
(django-simple-history) stamped with the actor and the file name; records that do not
change are not touched, so a re-import writes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from ..models import Department, Employee, Position, User
from .checks import Plan, Row, Snapshot

BATCH_SIZE = 2000


@dataclass
class Changes:
    """The writes the import needs, computed from the rows and the snapshot."""

    new_departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed_departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_positions: dict[tuple[str, str], str] = field(default_factory=dict)  # key -> grade
    changed_positions: dict[tuple[str, str], str] = field(default_factory=dict)
    new_users: list[Row] = field(default_factory=list)
    changed_users: list[tuple[int, Row]] = field(default_factory=list)
    new_employees: list[Row] = field(default_factory=list)
    changed_employees: dict[str, dict[str, Any]] = field(default_factory=dict)
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        """The figures of :class:`~perfcycle.org_import.ImportOutcome`."""
        return {
            "created": len(self.new_employees),
            "updated": len(self.changed_employees) - len(self.deactivated),
            "unchanged": self.unchanged,
            "deactivated": len(self.deactivated),
            "departments_created": len(self.new_departments),
            "departments_updated": len(self.changed_departments),
            "positions_created": len(self.new_positions),
        }


def changes_for(plan: Plan, snapshot: Snapshot, *, deactivate_missing: bool) -> Changes:
    """Compare the file with the stored organisation; only differences become writes."""
    changes = Changes()
    _department_changes(plan, snapshot, changes)
    _position_changes(plan, snapshot, changes)
    _people_changes(plan, snapshot, changes, deactivate_missing=deactivate_missing)
    return changes


def _department_changes(plan: Plan, snapshot: Snapshot, changes: Changes) -> None:
    """Name and parent from the file; heads from the department_head column."""
    code_of = snapshot.department_code
    number_of = snapshot.employee_number
    wanted: dict[str, dict[str, Any]] = {
        code: {"name": row["department_name"], "parent": row["parent_department_code"]}
        for code, row in plan.departments.items()
    }
    headed_by: dict[int, list[str]] = {}
    for code, d in snapshot.departments.items():
        if d["head_id"] is not None:
            headed_by.setdefault(d["head_id"], []).append(code)
    for number, head_code in plan.head_of.items():
        stored = snapshot.employees.get(number)
        for code in headed_by.get(stored["id"], []) if stored else []:
            if code != head_code:
                wanted.setdefault(code, {})["head"] = None
    for number, head_code in plan.head_of.items():
        if head_code is not None:
            wanted[head_code]["head"] = number
    for code, target in wanted.items():
        stored = snapshot.departments.get(code)
        if stored is None:
            changes.new_departments[code] = target
            continue
        current = {
            "name": stored["name"],
            "parent": code_of.get(stored["parent_id"]) or "",
            "head": number_of.get(stored["head_id"]),
        }
        diff = {k: v for k, v in target.items() if current[k] != v}
        if diff:
            changes.changed_departments[code] = diff


def _position_changes(plan: Plan, snapshot: Snapshot, changes: Changes) -> None:
    """Positions per (department code, title): new ones, and grades that changed."""
    for row in plan.rows:
        title = row["position"]
        if not title:
            continue
        key = (row["department_code"], title)
        stored_department = snapshot.departments.get(key[0])
        stored = stored_department and snapshot.positions.get((stored_department["id"], title))
        if stored is None:
            grade = changes.new_positions.get(key) or row["grade"]
            changes.new_positions[key] = grade
        elif row["grade"] and row["grade"] != stored["grade"]:
            changes.changed_positions[key] = row["grade"]


def _people_changes(
    plan: Plan, snapshot: Snapshot, changes: Changes, *, deactivate_missing: bool
) -> None:
    code_of = snapshot.department_code
    number_of = snapshot.employee_number
    for row in plan.rows:
        number = row["employee_number"]
        stored = snapshot.employees.get(number)
        if stored is None:
            owner = snapshot.user_by_email.get(row["email"])
            if owner is None:
                changes.new_users.append(row)
            elif owner["full_name"] != row["full_name"]:
                changes.changed_users.append((owner["id"], row))
            changes.new_employees.append(row)
            continue
        user = snapshot.users[stored["user_id"]]
        user_changed = user["full_name"] != row["full_name"] or user["email"] != row["email"]
        if user_changed:
            changes.changed_users.append((user["id"], row))
        position = snapshot.position_key.get(stored["position_id"])
        current = {
            "department": code_of[stored["department_id"]],
            "position": (code_of[position[0]], position[1]) if position else None,
            "manager": number_of.get(stored["manager_id"]),
            "hire_date": stored["hire_date"],
            "is_active": stored["is_active"],
        }
        target = {
            "department": row["department_code"],
            "position": (row["department_code"], row["position"]) if row["position"] else None,
            "manager": row["manager_employee_number"] or None,
            "hire_date": row.hire_date,
            "is_active": True,
        }
        diff = {k: v for k, v in target.items() if current[k] != v}
        if diff or user_changed:
            changes.changed_employees[number] = diff
        else:
            changes.unchanged += 1
    if deactivate_missing:
        in_file = {row["employee_number"] for row in plan.rows}
        for number, stored in snapshot.employees.items():
            if stored["is_active"] and number not in in_file:
                changes.deactivated.append(number)
                changes.changed_employees[number] = {"is_active": False}


# --- applying -----------------------------------------------------------------------


def apply(plan: Plan, snapshot: Snapshot, changes: Changes, *, actor, filename: str) -> None:
    """Write the changes: a few bulk statements per model, one history row per record.

    Order matters: users before employees, departments before positions and employees,
    and the departments' parents and heads (and the creation history of departments)
    last, once every department and employee has an id.
    """
    reason = (_("Organisation import %(filename)s") % {"filename": filename})[:100]
    history = {
        "default_user": actor,
        "default_change_reason": reason,
        "default_date": timezone.now(),
    }
    user_id = _write_users(snapshot, changes, history)
    new_departments = [
        Department(code=code, name=plan.departments[code]["department_name"])
        for code in changes.new_departments
    ]
    Department.objects.bulk_create(new_departments, batch_size=BATCH_SIZE)
    department_id = {code: d["id"] for code, d in snapshot.departments.items()}
    department_id.update({d.code: d.pk for d in new_departments})
    position_id = _write_positions(snapshot, changes, department_id, history)
    employee_id = _write_employees(
        plan, snapshot, changes, user_id, department_id, position_id, history
    )
    _write_departments(changes, new_departments, snapshot, department_id, employee_id, history)


def _write_users(snapshot: Snapshot, changes: Changes, history: dict[str, Any]) -> dict[str, int]:
    # Unusable passwords (people set theirs through password reset), random like Django's
    # make_password(None), but without its per-character cost on 10,000 people.
    new_users = [
        User(
            email=row["email"],
            full_name=row["full_name"],
            password=UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20),
        )
        for row in changes.new_users
    ]
    if new_users:
        bulk_create_with_history(new_users, User, batch_size=BATCH_SIZE, **history)
    if changes.changed_users:
        # Whole rows, so each history row holds the user as it now is.
        users = User.objects.in_bulk([pk for pk, _row in changes.changed_users])
        for pk, row in changes.changed_users:
            users[pk].full_name = row["full_name"]
            users[pk].email = row["email"]
        bulk_update_with_history(
            list(users.values()), User, ["full_name", "email"], batch_size=BATCH_SIZE, **history
        )
    user_id = {email: u["id"] for email, u in snapshot.user_by_email.items()}
    user_id.update({u.email: u.pk for u in new_users})
    return user_id


def _write_positions(
    snapshot: Snapshot, changes: Changes, department_id: dict[str, int], history: dict[str, Any]
) -> dict[tuple[str, str], int]:
    new_positions = [
        Position(department_id=department_id[code], title=title, grade=grade)
        for (code, title), grade in changes.new_positions.items()
    ]
    if new_positions:
        bulk_create_with_history(new_positions, Position, batch_size=BATCH_SIZE, **history)
    changed = []
    for (code, title), grade in changes.changed_positions.items():
        position = Position(**snapshot.positions[(department_id[code], title)])
        position.grade = grade
        position.version += 1
        changed.append(position)
    if changed:
        bulk_update_with_history(
            changed, Position, ["grade", "version"], batch_size=BATCH_SIZE, **history
        )
    position_id = {
        (snapshot.department_code[dept], title): p["id"]
        for (dept, title), p in snapshot.positions.items()
    }
    position_id.update(zip(changes.new_positions, (p.pk for p in new_positions), strict=True))
    return position_id


def _write_employees(
    plan: Plan,
    snapshot: Snapshot,
    changes: Changes,
    user_id: dict[str, int],
    department_id: dict[str, int],
    position_id: dict[tuple[str, str], int],
    history: dict[str, Any],
) -> dict[str, int]:
    employee_id = {number: e["id"] for number, e in snapshot.employees.items()}

    def place(row: Row) -> dict[str, Any]:
        title = row["position"]
        return {
            "department_id": department_id[row["department_code"]],
            "position_id": position_id[(row["department_code"], title)] if title else None,
            "hire_date": row.hire_date,
        }

    # New people are created with the managers that exist already; managers who are new
    # themselves are set right after, before the one creation history row is written.
    new_employees = [
        Employee(
            user_id=user_id[row["email"]],
            employee_number=row["employee_number"],
            manager_id=employee_id.get(row["manager_employee_number"]),
            **place(row),
        )
        for row in changes.new_employees
    ]
    Employee.objects.bulk_create(new_employees, batch_size=BATCH_SIZE)
    employee_id.update({e.employee_number: e.pk for e in new_employees})
    late_managers = []
    for employee, row in zip(new_employees, changes.new_employees, strict=True):
        manager = row["manager_employee_number"]
        if manager and employee.manager_id is None:
            employee.manager_id = employee_id[manager]
            late_managers.append(employee)
    if late_managers:
        Employee.objects.bulk_update(late_managers, ["manager"], batch_size=BATCH_SIZE)
    Employee.history.bulk_history_create(new_employees, batch_size=BATCH_SIZE, **history)

    rows_by_number = {row["employee_number"]: row for row in plan.rows}
    changed = []
    fields: set[str] = {"version"}
    for number, diff in changes.changed_employees.items():
        employee = Employee(**snapshot.employees[number])
        row = rows_by_number.get(number)
        if row is not None:
            for name, value in place(row).items():
                setattr(employee, name, value)
            manager = row["manager_employee_number"]
            employee.manager_id = employee_id[manager] if manager else None
        employee.is_active = diff.get("is_active", True)
        employee.version += 1
        fields.update(diff)
        changed.append(employee)
    if changed:
        bulk_update_with_history(
            changed, Employee, sorted(fields), batch_size=BATCH_SIZE, **history
        )
        _sync_logins(changes, history)
    return employee_id


def _sync_logins(changes: Changes, history: dict[str, Any]) -> None:
    """A leaver's login stops working; a returner's works again (they reset the password)."""
    leaving = [n for n, diff in changes.changed_employees.items() if diff.get("is_active") is False]
    returning = [
        n for n, diff in changes.changed_employees.items() if diff.get("is_active") is True
    ]
    active = {number: False for number in leaving} | {number: True for number in returning}
    if not active:
        return
    users = list(
        User.objects.filter(employee__employee_number__in=active).select_related("employee")
    )
    for user in users:
        user.is_active = active[user.employee.employee_number]
    bulk_update_with_history(users, User, ["is_active"], batch_size=BATCH_SIZE, **history)


def _write_departments(
    changes: Changes,
    new_departments: list[Department],
    snapshot: Snapshot,
    department_id: dict[str, int],
    employee_id: dict[str, int],
    history: dict[str, Any],
) -> None:
    def resolve(department: Department, target: dict[str, Any]) -> None:
        if "name" in target:
            department.name = target["name"]
        if "parent" in target:
            parent = target["parent"]
            department.parent_id = department_id[parent] if parent else None
        if "head" in target:
            head = target["head"]
            department.head_id = employee_id[head] if head else None

    for department in new_departments:
        resolve(department, changes.new_departments[department.code])
    fix_up = [d for d in new_departments if d.parent_id or d.head_id]
    if fix_up:
        Department.objects.bulk_update(fix_up, ["parent", "head"], batch_size=BATCH_SIZE)
    Department.history.bulk_history_create(new_departments, batch_size=BATCH_SIZE, **history)
    changed = []
    fields: set[str] = {"version"}
    for code, diff in changes.changed_departments.items():
        department = Department(**snapshot.departments[code])
        resolve(department, diff)
        department.version += 1
        fields.update(diff)
        changed.append(department)
    if changed:
        bulk_update_with_history(
            changed, Department, sorted(fields), batch_size=BATCH_SIZE, **history
        )
