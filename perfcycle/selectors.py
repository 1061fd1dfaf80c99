"""Reads of the core records that other code reuses."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from .hierarchy import MAX_DEPTH, subtree_sql
from .models import Cycle, CycleDeadline, Department, Employee, OrgImport, Position, User


def current_cycle() -> Cycle | None:
    """The running cycle: the latest one that is neither a draft nor closed."""
    return (
        Cycle.objects.exclude(status__in=[Cycle.Status.DRAFT, Cycle.Status.CLOSED])
        .order_by("-period_start")
        .first()
    )


def cycles_running() -> QuerySet[Cycle]:
    return Cycle.objects.exclude(status__in=[Cycle.Status.DRAFT, Cycle.Status.CLOSED])


# --- pages: home, department tree, directory (added by the pages) ---------------------


def phase_deadline(cycle: Cycle | None) -> CycleDeadline | None:
    """The deadline of the phase the cycle is in, if HR set one."""
    if cycle is None:
        return None
    return CycleDeadline.objects.filter(cycle=cycle, phase=cycle.status).first()


def subtree_headcounts(nodes: QuerySet[Department] | list[int]) -> dict[int, int]:
    """Active people in each node's whole subtree, for many nodes in one statement.

    ``nodes`` is a ``values("pk")`` queryset or a list of ids; the answer maps each node
    id to its headcount (nodes without anyone map to 0).
    """
    if isinstance(nodes, QuerySet):
        nodes_sql, params = nodes.query.sql_with_params()
        params = list(params)
    else:
        ids = [int(n) for n in nodes] or [0]
        nodes_sql, params = ", ".join(["%s"] * len(ids)), ids
    qn = connection.ops.quote_name
    dept, emp = qn(Department._meta.db_table), qn(Employee._meta.db_table)
    sql = (
        f"WITH RECURSIVE sub(root, id, depth) AS ("
        f"SELECT id, id, 0 FROM {dept} WHERE id IN ({nodes_sql}) "
        f"UNION ALL SELECT sub.root, d.id, sub.depth + 1 FROM {dept} d "
        f"JOIN sub ON d.parent_id = sub.id WHERE sub.depth < %s"
        f") SELECT sub.root, COUNT(e.id) FROM sub "
        f"LEFT JOIN {emp} e ON e.department_id = sub.id AND e.is_active = %s "
        f"GROUP BY sub.root"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, MAX_DEPTH, True])
        return {root: count for root, count in cursor.fetchall()}


def department_nodes(
    *, visible: QuerySet[Department], parent: Department | None
) -> list[Department]:
    """One level of the department tree: each node with its head, whether it has
    children, and its headcount (whole subtree), in two queries whatever the size."""
    level = visible.filter(parent=parent) if parent else visible.filter(parent__isnull=True)
    nodes = list(
        level.select_related("head__user")
        .annotate(has_children=Exists(Department.objects.filter(parent=OuterRef("pk"))))
        .order_by("name")
    )
    counts = subtree_headcounts([n.pk for n in nodes]) if nodes else {}
    for node in nodes:
        node.headcount = counts.get(node.pk, 0)
    return nodes


def headcount_by_division() -> tuple[list[Department], list[Department]]:
    """The top-level divisions (the level below the root departments) with their
    headcounts, and the roots with the people directly in them; three queries."""
    roots = list(
        Department.objects.filter(parent__isnull=True)
        .annotate(headcount=Count("employees", filter=Q(employees__is_active=True)))
        .order_by("name")
    )
    divisions = list(
        Department.objects.filter(parent__isnull=False, parent__parent__isnull=True)
        .select_related("head__user")
        .order_by("name")
    )
    counts = subtree_headcounts([d.pk for d in divisions]) if divisions else {}
    for division in divisions:
        division.headcount = counts.get(division.pk, 0)
    return roots, divisions


def organisation_numbers() -> dict[str, Any]:
    """The HR overview: how big the organisation is and where its data has gaps."""
    top = Department.objects.filter(parent__isnull=True, head__isnull=False).values("head")
    people = Employee.objects.aggregate(
        active=Count("pk", filter=Q(is_active=True)),
        left=Count("pk", filter=Q(is_active=False)),
        without_manager=Count(
            "pk", filter=Q(is_active=True, manager__isnull=True) & ~Q(pk__in=top)
        ),
    )
    departments = Department.objects.aggregate(
        total=Count("pk"), without_head=Count("pk", filter=Q(head__isnull=True))
    )
    return {
        **people,
        "departments": departments["total"],
        "departments_without_head": departments["without_head"],
        "positions": Position.objects.count(),
        "last_import": OrgImport.objects.select_related("actor").first(),
    }


def employee_search(
    people: QuerySet[Employee],
    *,
    q: str = "",
    department: Department | None = None,
    subdepartments: bool = False,
    position: Position | None = None,
) -> QuerySet[Employee]:
    """Narrow an already-scoped set of people by the directory's search and filters."""
    if q:
        people = people.filter(
            Q(user__full_name__icontains=q)
            | Q(user__email__icontains=q)
            | Q(employee_number__icontains=q)
        )
    if department is not None:
        if subdepartments:
            subtree = Department.objects.filter(
                pk__in=subtree_sql(Department, "parent", [department.pk])
            )
            people = people.filter(department__in=subtree)
        else:
            people = people.filter(department=department)
    if position is not None:
        people = people.filter(position=position)
    # By name, then by the login (one to one with the record): the index on the name
    # serves both, so the first page is read without sorting everyone.
    return people.select_related("user", "department", "position", "manager__user").order_by(
        "user__full_name", "user_id"
    )


# Fields of an employee's history shown as "field: old -> new", and where names come from.
_HISTORY_FIELDS = ["employee_number", "department", "position", "manager", "hire_date", "is_active"]
# The login follows the record's activation, so only its name and address are shown.
_USER_HISTORY_FIELDS = ["full_name", "email"]


def employee_history(employee: Employee, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest changes to a person: their employee record and their login's name,
    e-mail and activation; when, who, why and what changed, newest first.

    Four to seven queries whatever the history's length: the rows of both records (plus
    the one before the oldest shown, to diff against) and one fetch per kind of name.
    """
    entries = _changes(Employee, employee.pk, _HISTORY_FIELDS, limit) + _changes(
        User, employee.user_id, _USER_HISTORY_FIELDS, limit
    )
    # A name or e-mail change also moves the employee record's version; that row says
    # nothing the login's row does not.
    entries = [e for e in entries if e["changes"] or e["row"].history_type != "~"]
    entries.sort(key=lambda e: (e["row"].history_date, e["row"].history_id), reverse=True)
    entries = entries[:limit]
    wanted = {"department": set(), "position": set(), "manager": set()}
    for entry in entries:
        for change in entry["changes"]:
            if change["field"] in wanted:
                wanted[change["field"]].update(v for v in (change["old"], change["new"]) if v)
    # in_bulk() of an empty set answers without a query.
    names = {
        "department": Department.objects.in_bulk(wanted["department"]),
        "position": Position.objects.in_bulk(wanted["position"]),
        "manager": Employee.objects.select_related("user").in_bulk(wanted["manager"]),
    }
    for entry in entries:
        for change in entry["changes"]:
            change["label"] = entry["model"]._meta.get_field(change["field"]).verbose_name
            if change["field"] in names:
                lookup = names[change["field"]]
                change["old"] = _name_of(lookup.get(change["old"]), change["old"])
                change["new"] = _name_of(lookup.get(change["new"]), change["new"])
            elif isinstance(change["new"], bool):
                change["old"] = _("yes") if change["old"] else _("no")
                change["new"] = _("yes") if change["new"] else _("no")
    return entries


def _changes(model, pk: int, fields: list[str], limit: int) -> list[dict[str, Any]]:
    rows = list(
        model.history.filter(id=pk)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[: limit + 1]
    )
    entries = []
    for index, row in enumerate(rows[:limit]):
        older = rows[index + 1] if index + 1 < len(rows) else None
        changes = []
        if older is not None and row.history_type == "~":
            delta = row.diff_against(older, included_fields=fields)
            changes = [{"field": c.field, "old": c.old, "new": c.new} for c in delta.changes]
        entries.append({"row": row, "changes": changes, "model": model})
    return entries


def _name_of(obj, fallback) -> str | None:
    if obj is None:
        return None if fallback is None else f"#{fallback}"
    if isinstance(obj, Employee):
        return obj.user.full_name
    return getattr(obj, "name", None) or str(obj)
