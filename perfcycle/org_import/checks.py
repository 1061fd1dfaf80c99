"""Validation of the whole file against itself and against what is stored.

Every problem becomes a :class:`RowError` with the line and column it is on and a message
that says what to do; nothing here writes.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import Department, Employee, Position, User, code_validator
from .reading import CSV_COLUMNS, FILE_FIELD, LINE_KEY, REQUIRED_COLUMNS, RowError

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YES = {"yes", "y", "true", "1", "x", "是"}
_NO = {"no", "n", "false", "0", "否", ""}
_LIMITS = {
    "employee_number": 32,
    "manager_employee_number": 32,
    "department_code": 32,
    "parent_department_code": 32,
    "full_name": 200,
    "department_name": 200,
    "position": 200,
    "grade": 20,
    "email": 254,
}


# --- what is there already ----------------------------------------------------------


def attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


@dataclass
class Snapshot:
    """The organisation as stored, loaded in four queries, keyed the way the file speaks."""

    departments: dict[str, dict[str, Any]]  # code -> values
    department_code: dict[int, str]
    positions: dict[tuple[int, str], dict[str, Any]]  # (department id, title) -> values
    position_key: dict[int, tuple[int, str]]
    employees: dict[str, dict[str, Any]]  # employee number -> values
    employee_number: dict[int, str]
    users: dict[int, dict[str, Any]]
    user_by_email: dict[str, dict[str, Any]]

    @classmethod
    def load(cls) -> Snapshot:
        departments = {d["code"]: d for d in Department.objects.values(*attnames(Department))}
        positions = {
            (p["department_id"], p["title"]): p
            for p in Position.objects.values(*attnames(Position))
        }
        employees = {e["employee_number"]: e for e in Employee.objects.values(*attnames(Employee))}
        users = {
            u["id"]: u
            for u in User.objects.values("id", "email", "full_name", "employee__employee_number")
        }
        return cls(
            departments=departments,
            department_code={d["id"]: code for code, d in departments.items()},
            positions=positions,
            position_key={p["id"]: key for key, p in positions.items()},
            employees=employees,
            employee_number={e["id"]: number for number, e in employees.items()},
            users=users,
            user_by_email={u["email"].lower(): u for u in users.values()},
        )


# --- validation ---------------------------------------------------------------------


@dataclass
class Row:
    line: int
    values: dict[str, str]
    hire_date: datetime.date | None = None
    head: bool | None = None  # None: the file has no department_head column

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass
class Plan:
    rows: list[Row]
    departments: dict[str, Row]  # code -> the first row describing it
    head_of: dict[str, str | None] = field(default_factory=dict)  # number -> dept code or None


# The values every row needs, with what to say when one is missing.
_REQUIRED = {
    "employee_number": gettext_lazy("The employee number is missing."),
    "full_name": gettext_lazy("The person's name is missing."),
    "email": gettext_lazy("The e-mail address is missing."),
    "department_code": gettext_lazy(
        "The department code is missing; every person belongs to a department."
    ),
    "department_name": gettext_lazy("The department name is missing."),
    "hire_date": gettext_lazy(
        "The hire date is missing; write it as YYYY-MM-DD, for example 2024-03-31."
    ),
}
REQUIRED_VALUES = tuple(_REQUIRED)


def validate(
    raw_rows: list[dict[str, str]], snapshot: Snapshot, *, deactivate_missing: bool
) -> tuple[Plan, list[RowError]]:
    errors: list[RowError] = []

    def error(line: int, name: str, message: str) -> None:
        errors.append(RowError(line, name, message))

    if not raw_rows:
        error(1, FILE_FIELD, _("The file has a header but no people; nothing to import."))
        return Plan([], {}), errors
    for name in REQUIRED_COLUMNS:
        if any(name not in row for row in raw_rows):
            error(
                1,
                name,
                _("The header row has no “%(column)s” column; add it (see the template).")
                % {"column": name},
            )
    if errors:
        return Plan([], {}), errors
    has_heads = any("department_head" in row for row in raw_rows)

    rows = []
    for index, raw in enumerate(raw_rows):
        values = {name: str(raw.get(name) or "").strip() for name in CSV_COLUMNS}
        values["email"] = values["email"].lower()
        row = Row(line=int(raw.get(LINE_KEY) or index + 2), values=values)
        rows.append(row)
        _check_fields(row, has_heads, error)

    by_number = _check_identities(rows, snapshot, error)
    departments = _check_departments(rows, snapshot, error)
    _check_managers(rows, by_number, snapshot, deactivate_missing, error)
    _check_positions(rows, error)
    plan = Plan(rows=list(by_number.values()), departments=departments)
    if has_heads:
        _check_heads(rows, error)
        plan.head_of = {
            r["employee_number"]: (r["department_code"] if r.head else None) for r in plan.rows
        }
    return plan, errors


def _check_identities(rows: list[Row], snapshot: Snapshot, error) -> dict[str, Row]:
    """One row per employee number and per e-mail address; nobody takes another's login."""
    by_number: dict[str, Row] = {}
    by_email: dict[str, Row] = {}
    for row in rows:
        number, email = row["employee_number"], row["email"]
        if number in by_number:
            error(
                row.line,
                "employee_number",
                _("Employee number %(number)s is also on line %(line)d; list each person once.")
                % {"number": number, "line": by_number[number].line},
            )
        elif number:
            by_number[number] = row
        if email in by_email:
            error(
                row.line,
                "email",
                _(
                    "The e-mail address %(email)s is also on line %(line)d; "
                    "each person needs their own."
                )
                % {"email": email, "line": by_email[email].line},
            )
        elif email:
            by_email[email] = row
        owner = snapshot.user_by_email.get(email)
        if owner is not None and owner["employee__employee_number"] != number:
            existing = snapshot.employees.get(number)
            if owner["employee__employee_number"] is not None:
                error(
                    row.line,
                    "email",
                    _(
                        "The e-mail address %(email)s already belongs to %(name)s (employee "
                        "%(number)s); each person needs their own."
                    )
                    % {
                        "email": email,
                        "name": owner["full_name"],
                        "number": owner["employee__employee_number"],
                    },
                )
            elif existing is not None:
                error(
                    row.line,
                    "email",
                    _(
                        "The e-mail address %(email)s is the login of another account "
                        "(%(name)s); each person needs their own."
                    )
                    % {"email": email, "name": owner["full_name"]},
                )
    return by_number


def _check_fields(row: Row, has_heads: bool, error) -> None:
    for name, message in _REQUIRED.items():
        if not row[name]:
            error(row.line, name, str(message))
    for name, limit in _LIMITS.items():
        if len(row[name]) > limit:
            error(
                row.line,
                name,
                _("This value is %(length)d characters long; at most %(limit)d fit.")
                % {"length": len(row[name]), "limit": limit},
            )
    for name in (
        "employee_number",
        "manager_employee_number",
        "department_code",
        "parent_department_code",
    ):
        value = row[name]
        if value and len(value) <= _LIMITS[name]:
            try:
                code_validator(value)
            except ValidationError as exc:
                error(
                    row.line,
                    name,
                    _("“%(value)s” is not a valid code. %(reason)s")
                    % {"value": value, "reason": " ".join(exc.messages)},
                )
    email = row["email"]
    if email and len(email) <= _LIMITS["email"]:
        try:
            validate_email(email)
        except ValidationError:
            error(
                row.line,
                "email",
                _("“%(value)s” is not a valid e-mail address.") % {"value": email},
            )
    value = row["hire_date"]
    if value:
        try:
            if not _ISO_DATE.match(value):
                raise ValueError(value)
            row.hire_date = datetime.date.fromisoformat(value)
        except ValueError:
            error(
                row.line,
                "hire_date",
                _(
                    "“%(value)s” is not a date in the form YYYY-MM-DD (year-month-day, "
                    "for example 2024-03-31)."
                )
                % {"value": value},
            )
    if has_heads:
        flag = row["department_head"].lower()
        if flag in _YES:
            row.head = True
        elif flag in _NO:
            row.head = False
        else:
            error(
                row.line,
                "department_head",
                _("Write “yes” or “no” (or leave it empty), not “%(value)s”.") % {"value": flag},
            )


def _check_departments(rows: list[Row], snapshot: Snapshot, error) -> dict[str, Row]:
    """Each department's name and parent must agree across rows, exist, and form a tree."""
    defined: dict[str, Row] = {}
    for row in rows:
        code = row["department_code"]
        if not code:
            continue
        first = defined.setdefault(code, row)
        if first is row:
            continue
        names = (row["department_name"], first["department_name"])
        if all(names) and names[0] != names[1]:  # an empty one is reported as missing
            error(
                row.line,
                "department_name",
                _(
                    "Department %(code)s is called “%(first)s” on line %(line)d but "
                    "“%(this)s” here; use one name."
                )
                % {
                    "code": code,
                    "first": first["department_name"],
                    "line": first.line,
                    "this": row["department_name"],
                },
            )
        if row["parent_department_code"] != first["parent_department_code"]:
            error(
                row.line,
                "parent_department_code",
                _(
                    "Department %(code)s sits under “%(first)s” on line %(line)d but under "
                    "“%(this)s” here; use one parent."
                )
                % {
                    "code": code,
                    "first": first["parent_department_code"] or _("(top level)"),
                    "line": first.line,
                    "this": row["parent_department_code"] or _("(top level)"),
                },
            )
    for row in rows:
        parent = row["parent_department_code"]
        if not parent:
            continue
        if parent == row["department_code"]:
            error(
                row.line,
                "parent_department_code",
                _("A department cannot sit under itself; leave the parent empty for the top."),
            )
        elif parent not in defined and parent not in snapshot.departments:
            error(
                row.line,
                "parent_department_code",
                _(
                    "The parent department %(code)s is not in the file and does not exist yet; "
                    "add a row for it or correct the code."
                )
                % {"code": parent},
            )
    # The tree after the import: the file's parents, and the stored ones for the rest.
    parent_of = {
        code: snapshot.department_code.get(d["parent_id"])
        for code, d in snapshot.departments.items()
    }
    parent_of.update({code: row["parent_department_code"] or None for code, row in defined.items()})
    for cycle in _cycles(parent_of):
        chain = " → ".join([*cycle, cycle[0]])
        for code in cycle:
            if code in defined and defined[code]["parent_department_code"] != code:
                error(
                    defined[code].line,
                    "parent_department_code",
                    _(
                        "Departments would sit under each other in a loop: %(chain)s. "
                        "Put one of them elsewhere."
                    )
                    % {"chain": chain},
                )
    return defined


def _check_managers(
    rows: list[Row],
    by_number: dict[str, Row],
    snapshot: Snapshot,
    deactivate_missing: bool,
    error,
) -> None:
    for row in rows:
        manager = row["manager_employee_number"]
        if not manager:
            continue
        if manager == row["employee_number"]:
            error(row.line, "manager_employee_number", _("A person cannot be their own manager."))
        elif manager not in by_number:
            stored = snapshot.employees.get(manager)
            if stored is None:
                error(
                    row.line,
                    "manager_employee_number",
                    _(
                        "No employee %(number)s is in the file or on record; add their row "
                        "or correct the number."
                    )
                    % {"number": manager},
                )
            elif not stored["is_active"]:
                error(
                    row.line,
                    "manager_employee_number",
                    _(
                        "Employee %(number)s has left (inactive); add their row to bring them "
                        "back or name another manager."
                    )
                    % {"number": manager},
                )
            elif deactivate_missing:
                error(
                    row.line,
                    "manager_employee_number",
                    _(
                        "Employee %(number)s is not in the file and would be deactivated; add "
                        "their row or name another manager."
                    )
                    % {"number": manager},
                )
    manager_of = {
        number: snapshot.employee_number.get(e["manager_id"])
        for number, e in snapshot.employees.items()
    }
    manager_of.update(
        {
            number: row["manager_employee_number"] or None
            for number, row in by_number.items()
            if row["manager_employee_number"] != number
        }
    )
    for cycle in _cycles(manager_of):
        chain = " → ".join([*cycle, cycle[0]])
        for number in cycle:
            if number in by_number:
                error(
                    by_number[number].line,
                    "manager_employee_number",
                    _(
                        "These people would manage each other in a loop: %(chain)s. "
                        "Correct one of their managers."
                    )
                    % {"chain": chain},
                )


def _check_positions(rows: list[Row], error) -> None:
    grades: dict[tuple[str, str], Row] = {}
    for row in rows:
        if not row["position"] or not row["grade"]:
            continue
        key = (row["department_code"], row["position"])
        first = grades.setdefault(key, row)
        if row["grade"] != first["grade"]:
            error(
                row.line,
                "grade",
                _(
                    "The position “%(title)s” in %(code)s has grade %(first)s on line %(line)d "
                    "but %(this)s here; use one grade."
                )
                % {
                    "title": row["position"],
                    "code": row["department_code"],
                    "first": first["grade"],
                    "line": first.line,
                    "this": row["grade"],
                },
            )


def _check_heads(rows: list[Row], error) -> None:
    heads: dict[str, list[Row]] = {}
    for row in rows:
        if row.head and row["department_code"]:
            heads.setdefault(row["department_code"], []).append(row)
    for code, marked in heads.items():
        if len(marked) > 1:
            lines = ", ".join(str(r.line) for r in marked)
            for row in marked:
                error(
                    row.line,
                    "department_head",
                    _(
                        "Department %(code)s has %(count)d heads marked (lines %(lines)s); "
                        "mark one person."
                    )
                    % {"code": code, "count": len(marked), "lines": lines},
                )


def _cycles(parent_of: dict[str, str | None]) -> list[list[str]]:
    """Every loop in a child -> parent map, each as the list of its members."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found = []
    for start in parent_of:
        path: list[str] = []
        node: str | None = start
        while node is not None and node in parent_of and state.get(node) is None:
            state[node] = 1
            path.append(node)
            node = parent_of[node]
        if node is not None and state.get(node) == 1:
            found.append(path[path.index(node) :])
        for member in path:
            state[member] = 2
    return found
