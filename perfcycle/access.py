"""The access policy: the one place that decides who may see or change what.

Roles (see DESIGN.md):

* HR administrator: member of group ``hr_admin`` (or a superuser). Sees and changes all.
* Executive: member of group ``executive``. Reads everything, changes no core record.
* Manager: derived, never stored. Sees everyone below them in the reporting line at any
  depth, and everyone in the departments (with their subtrees) they head.
* Employee: sees their own record.
* HR business partner: holds the ``partner_department`` object permission (through
  django-guardian, per user or per group) on a department; has HR rights over that
  department's subtree.

Hierarchy access is derived by query (``perfcycle.hierarchy``), so a reorganisation
changes access at once and nothing is written per person. A manager's or partner's
reach (the people below them, the departments they head or partner) is read in one
statement per request and passed to the queries as ids (:func:`reach`): the database
then knows how few rows a team holds and plans for them. Views, the API, exports, PDFs
and e-mails ask this module; they never filter by role themselves.

Functions come in two shapes: ``<things>_visible_to(user)`` returns a queryset scoped to
the user, and ``can_<verb>_<thing>(user, obj)`` answers for one object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from .hierarchy import ancestor_ids, descendants_sql, subtree_sql
from .models import (
    Cycle,
    Department,
    DepartmentGroupObjectPermission,
    DepartmentUserObjectPermission,
    Employee,
    Notification,
    OrgImport,
    Position,
    RatingScale,
)

HR_ADMIN_GROUP = "hr_admin"
EXECUTIVE_GROUP = "executive"
PARTNER_PERMISSION = "partner_department"


@dataclass(frozen=True)
class Roles:
    """What a user is, computed once per request and cached on the user object."""

    hr_admin: bool
    executive: bool
    employee: Employee | None
    is_manager: bool
    is_partner: bool
    is_head: bool = False  # heads a department

    @property
    def sees_everyone(self) -> bool:
        return self.hr_admin or self.executive


def roles(user) -> Roles:
    cached = getattr(user, "_perfcycle_roles", None)
    if cached is not None:
        return cached
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        result = Roles(False, False, None, False, False)
    else:
        groups = set(user.groups.values_list("name", flat=True))
        # One query for the record and both ways of being a manager.
        employee = (
            Employee.objects.select_related("user", "department", "position", "manager__user")
            .annotate(
                _has_reports=Exists(Employee.objects.filter(manager=OuterRef("pk"))),
                _heads=Exists(Department.objects.filter(head=OuterRef("pk"))),
            )
            .filter(user=user)
            .first()
        )
        is_manager = bool(employee) and (employee._has_reports or employee._heads)
        result = Roles(
            hr_admin=user.is_superuser or HR_ADMIN_GROUP in groups,
            executive=EXECUTIVE_GROUP in groups,
            employee=employee,
            is_manager=is_manager,
            is_partner=_partnered_roots(user).exists(),
            is_head=bool(employee) and employee._heads,
        )
    user._perfcycle_roles = result
    return result


def forget_roles(user) -> None:
    """Drop the cached roles and reach, after a change to the user's groups or place."""
    user.__dict__.pop("_perfcycle_roles", None)
    user.__dict__.pop("_perfcycle_reach", None)
    user.__dict__.pop("_perfcycle_scopes", None)


# --- reach: the parts of the organisation a user's place gives them ------------------

# Reach larger than this is passed to queries as the tree query itself rather than as
# ids: a list that long costs more to send than the planner's guess costs to run.
INLINE_IDS = 5000


@dataclass(frozen=True)
class Reach:
    """Ids the user's place in the organisation gives them, read in one statement and
    cached on the user for the request, like :class:`Roles`."""

    below: list[int] = field(default_factory=list)  # people below them, any depth
    headed: list[int] = field(default_factory=list)  # departments they head, with subtrees
    headed_people: list[int] = field(default_factory=list)  # the people of those
    partnered: list[int] = field(default_factory=list)  # departments they partner, subtrees


def reach(user) -> Reach:
    """The user's :class:`Reach`: empty for someone who neither manages nor partners.

    One statement; a department head's people are a second one, by the department ids
    (asked inside the first, the planner guesses the tree's size and scans everyone)."""
    cached = getattr(user, "_perfcycle_reach", None)
    if cached is not None:
        return cached
    r = roles(user)
    parts = []
    if r.employee is not None and r.is_manager:
        headed = _headed_tree(r.employee)
        parts.append(("below", descendants_sql(Employee, "manager", [r.employee.pk])))
        parts.append(("headed", headed))
    if r.is_partner:
        parts.append(("partnered", subtree_sql(Department, "parent", _partnered_roots(user))))
    found: dict[str, list[int]] = {}
    if parts:
        selects, params = [], []
        for index, (_name, expression) in enumerate(parts):
            if isinstance(expression, QuerySet):
                sql, extra = expression.query.sql_with_params()
            else:
                sql, extra = expression.sql, expression.params
            selects.append(f"SELECT {index} AS part, part{index}.* FROM ({sql}) AS part{index}")
            params.extend(extra)
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(selects), params)
            for index, pk in cursor.fetchall():
                found.setdefault(parts[index][0], []).append(pk)
    if found.get("headed"):
        people = Employee.objects.filter(department__in=found["headed"]).order_by()
        found["headed_people"] = list(people.values_list("pk", flat=True))
    result = Reach(**found)
    user._perfcycle_reach = result
    return result


def _scope(user, name: str, build) -> QuerySet:
    """``build()``, kept on the user for the request (a page asks several times; the
    queryset is never evaluated itself, only embedded as a subquery)."""
    scopes = user.__dict__.setdefault("_perfcycle_scopes", {})
    if name not in scopes:
        scopes[name] = build()
    return scopes[name]


def _union_of(model, parts: list[Q]) -> QuerySet:
    """The ids of ``model`` rows matching any of ``parts``, as one UNION ALL subquery.

    Each part on its own is an index lookup; OR-ed in one WHERE (across joins and
    subqueries) they would make the database test every row against every part."""
    first, *rest = [model.objects.filter(part).order_by().values("pk") for part in parts]
    return first.union(*rest, all=True) if rest else first


def _among(name: str, ids: list[int], tree) -> Q:
    """``name`` in ``ids``; in ``tree`` (SQL that finds them) when the list is long."""
    return Q(**{f"{name}__in": ids if len(ids) <= INLINE_IDS else tree()})


def _headed_tree(employee: Employee):
    return subtree_sql(Department, "parent", Department.objects.filter(head=employee).values("pk"))


def in_below(user, name: str = "pk") -> Q:
    """``name`` (an employee) is below the user in the reporting line, at any depth."""
    me = roles(user).employee
    return _among(name, reach(user).below, lambda: descendants_sql(Employee, "manager", [me.pk]))


def in_headed(user, name: str = "pk") -> Q:
    """``name`` (a department) is one the user heads, or below one."""
    me = roles(user).employee
    return _among(name, reach(user).headed, lambda: _headed_tree(me))


def in_headed_people(user, name: str = "pk") -> Q:
    """``name`` (an employee) works in a department the user heads, or below one."""
    me = roles(user).employee

    def tree():
        return Employee.objects.filter(department__in=_headed_tree(me)).values("pk")

    return _among(name, reach(user).headed_people, tree)


def in_team(user, name: str = "pk") -> Q:
    """``name`` (an employee) is in the user's team (:func:`team_members`)."""
    me = roles(user).employee
    found = reach(user)
    ids = sorted((set(found.below) | set(found.headed_people)) - {getattr(me, "pk", None)})

    def tree():
        below = Q(pk__in=descendants_sql(Employee, "manager", [me.pk]))
        headed = Q(department__in=_headed_tree(me))
        return Employee.objects.filter(below | headed).exclude(pk=me.pk).values("pk")

    return _among(name, ids, tree)


def in_partnered(user, name: str = "pk") -> Q:
    """``name`` (a department) is one the user partners, or below one."""
    return _among(
        name,
        reach(user).partnered,
        lambda: subtree_sql(Department, "parent", _partnered_roots(user)),
    )


# --- hierarchy building blocks ------------------------------------------------------


def _partnered_roots(user) -> QuerySet:
    """Departments the user partners directly (user grant or a grant to their group)."""
    by_user = DepartmentUserObjectPermission.objects.filter(
        user=user, permission__codename=PARTNER_PERMISSION
    ).values("content_object_id")
    by_group = DepartmentGroupObjectPermission.objects.filter(
        group__user=user, permission__codename=PARTNER_PERMISSION
    ).values("content_object_id")
    return Department.objects.filter(Q(pk__in=by_user) | Q(pk__in=by_group)).values("pk")


def partnered_departments(user) -> QuerySet[Department]:
    """Every department an HR business partner covers: the granted ones and their subtrees."""
    return Department.objects.filter(in_partnered(user))


def headed_departments(employee: Employee) -> QuerySet[Department]:
    """Every department the employee heads, with their subtrees."""
    roots = Department.objects.filter(head=employee).values("pk")
    return Department.objects.filter(pk__in=subtree_sql(Department, "parent", roots))


def reports_under(employee: Employee) -> QuerySet[Employee]:
    """Everyone below ``employee`` in the reporting line, at any depth (one query)."""
    return Employee.objects.filter(pk__in=descendants_sql(Employee, "manager", [employee.pk]))


def department_subtree(department: Department) -> QuerySet[Department]:
    return Department.objects.filter(pk__in=subtree_sql(Department, "parent", [department.pk]))


# --- employees ----------------------------------------------------------------------


def employees_visible_to(user) -> QuerySet[Employee]:
    """Employee records the user may open in full (profile, goals, reviews)."""
    r = roles(user)
    if r.sees_everyone:
        return Employee.objects.all()
    condition = Q(pk__in=[])
    if r.employee is not None:
        condition |= Q(pk=r.employee.pk)
        if r.is_manager:
            condition |= in_below(user) | in_headed_people(user)
    if r.is_partner:
        condition |= in_partnered(user, "department")
    return Employee.objects.filter(condition)


def employees_changeable_by(user) -> QuerySet[Employee]:
    """Employee records the user may edit: HR everywhere, a partner in their departments."""
    r = roles(user)
    if r.hr_admin:
        return Employee.objects.all()
    if r.is_partner:
        return Employee.objects.filter(in_partnered(user, "department"))
    return Employee.objects.none()


def directory_visible_to(user) -> QuerySet[Employee]:
    """The company directory: name, position, department and e-mail of active colleagues.

    Every employee may look colleagues up (that is what a directory is for); the full
    record behind an entry is governed by :func:`employees_visible_to`.
    """
    r = roles(user)
    if r.employee is None and not (r.sees_everyone or r.is_partner):
        return Employee.objects.none()
    return Employee.objects.filter(is_active=True)


def can_view_employee(user, employee: Employee) -> bool:
    return employees_visible_to(user).filter(pk=employee.pk).exists()


def can_change_employee(user, employee: Employee) -> bool:
    return employees_changeable_by(user).filter(pk=employee.pk).exists()


def can_add_employee_to(user, department: Department) -> bool:
    return can_manage_department_people(user, department)


def can_view_team(user) -> bool:
    return roles(user).is_manager


# --- departments and positions ------------------------------------------------------


def departments_visible_to(user) -> QuerySet[Department]:
    """The organisation tree is open to everyone who works here."""
    r = roles(user)
    if r.employee is None and not (r.sees_everyone or r.is_partner):
        return Department.objects.none()
    return Department.objects.all()


def can_view_department(user, department: Department) -> bool:
    return departments_visible_to(user).filter(pk=department.pk).exists()


def can_change_department(user, department: Department | None = None) -> bool:
    """The shape of the organisation (create, rename, move, set head) is HR admin's."""
    return roles(user).hr_admin


def can_manage_department_people(user, department: Department) -> bool:
    """HR rights over a department's people and positions."""
    r = roles(user)
    if r.hr_admin:
        return True
    return r.is_partner and partnered_departments(user).filter(pk=department.pk).exists()


def positions_visible_to(user) -> QuerySet[Position]:
    r = roles(user)
    if r.employee is None and not (r.sees_everyone or r.is_partner):
        return Position.objects.none()
    return Position.objects.all()


def positions_changeable_by(user) -> QuerySet[Position]:
    r = roles(user)
    if r.hr_admin:
        return Position.objects.all()
    if r.is_partner:
        return Position.objects.filter(department__in=partnered_departments(user).values("pk"))
    return Position.objects.none()


def can_change_position(user, position: Position) -> bool:
    return can_manage_department_people(user, position.department)


# --- cycles and rating scales -------------------------------------------------------


def cycles_visible_to(user) -> QuerySet[Cycle]:
    r = roles(user)
    if r.employee is None and not (r.sees_everyone or r.is_partner):
        return Cycle.objects.none()
    if r.hr_admin:
        return Cycle.objects.all()
    # A draft cycle is HR's work in progress.
    return Cycle.objects.exclude(status=Cycle.Status.DRAFT)


def can_change_cycle(user, cycle: Cycle | None = None) -> bool:
    return roles(user).hr_admin


def rating_scales_visible_to(user) -> QuerySet[RatingScale]:
    r = roles(user)
    if r.employee is None and not (r.sees_everyone or r.is_partner):
        return RatingScale.objects.none()
    return RatingScale.objects.all()


def can_change_rating_scale(user, scale: RatingScale | None = None) -> bool:
    return roles(user).hr_admin


# --- organisation-wide pages --------------------------------------------------------


def can_import_org(user) -> bool:
    return roles(user).hr_admin


def org_imports_visible_to(user) -> QuerySet[OrgImport]:
    """The import log holds every row's errors (names, e-mails): HR administrators only."""
    if roles(user).hr_admin:
        return OrgImport.objects.all()
    return OrgImport.objects.none()


def can_use_hr_admin(user) -> bool:
    """The Django admin: HR administrators everywhere, partners for their departments
    (their grants give them staff status, which the admin's login also requires)."""
    r = roles(user)
    return bool(getattr(user, "is_staff", False)) and (r.hr_admin or r.is_partner)


def can_view_org_overview(user) -> bool:
    r = roles(user)
    return r.sees_everyone or r.is_partner


# --- accounts and the admin ---------------------------------------------------------


def departments_staffable_by(user) -> QuerySet[Department]:
    """Departments the user may put people and positions in."""
    r = roles(user)
    if r.hr_admin:
        return Department.objects.all()
    if r.is_partner:
        return partnered_departments(user)
    return Department.objects.none()


def can_manage_account(user, account=None) -> bool:
    """Logins (name, e-mail, roles, password resets) are HR's; a superuser's account is
    out of reach for anyone less."""
    if account is not None and account.is_superuser and not user.is_superuser:
        return False
    return roles(user).hr_admin


def can_grant_superuser(user) -> bool:
    """Only a superuser makes superusers or hands out single model permissions."""
    return bool(user.is_superuser)


def can_delete_records(user) -> bool:
    """People and departments are deactivated, not deleted: history and later cycles point
    at them. Deleting is left to a superuser cleaning up a mistake."""
    return bool(user.is_superuser)


def direct_reports(employee: Employee) -> QuerySet[Employee]:
    return Employee.objects.filter(manager=employee)


def notifications_visible_to(user) -> QuerySet[Notification]:
    """A person's inbox is theirs alone: nobody, HR included, reads another's."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user)


# --- goals ----------------------------------------------------------------------------
#
# The policy knows every app's records (it is the one place that decides access), so it
# imports the goals models inside the functions: ``goals`` stands on ``perfcycle``.


def _goal_owner_in(user, departments) -> Q:
    """Goals owned by the user's ``departments`` (:func:`in_headed` or
    :func:`in_partnered`), their positions or people."""
    first, *rest = _goal_owner_parts(user, departments)
    for part in rest:
        first |= part
    return first


def _goal_owner_parts(user, departments) -> list[Q]:
    return [
        departments(user, "department"),
        departments(user, "position__department"),
        departments(user, "employee__department"),
    ]


def _goals_managed_by(user) -> QuerySet:
    """Goals of others whose definition the user may set, approve and track.

    HR: all. Executives: the company objectives. A department head: the goals of the
    departments they head (with their subtrees), their positions and people. A manager:
    their reports' goals, at any depth. An HR business partner: their departments'. Never
    one's own personal goals: those are approved by someone above.
    """
    from goals.models import Goal

    r = roles(user)
    if r.hr_admin:
        managed = Goal.objects.all()
    elif not (parts := _managed_parts(user)):
        return Goal.objects.none()
    else:
        ids = _scope(user, "managed_goals", lambda: _union_of(Goal, parts))
        managed = Goal.objects.filter(pk__in=ids)
    if r.employee is not None:
        managed = managed.exclude(employee=r.employee)
    return managed


def _managed_parts(user) -> list[Q]:
    from goals.models import Goal

    r = roles(user)
    parts = []
    if r.executive:
        parts.append(Q(level=Goal.Level.COMPANY))
    if r.employee is not None and r.is_manager:
        parts += [*_goal_owner_parts(user, in_headed), in_below(user, "employee")]
    if r.is_partner:
        parts += _goal_owner_parts(user, in_partnered)
    return parts


def goals_visible_to(user) -> QuerySet:
    """Goals the user may read.

    HR and executives read every goal. Everyone who works here reads the company
    objectives of cycles past draft, the goals of their own department and the
    departments above it with those departments' position KPIs, their own goals and what
    those serve. A manager also reads the goals of everyone below them and of the
    departments they head; an HR business partner those of their departments.
    """
    from goals.models import Goal

    r = roles(user)
    if r.sees_everyone:
        return Goal.objects.all()
    if r.employee is None and not r.is_partner:
        return Goal.objects.none()
    visible = _scope(user, "goals", lambda: _union_of(Goal, _goal_parts(user)))
    return Goal.objects.filter(pk__in=visible).exclude(cycle__status=Cycle.Status.DRAFT)


def _goal_parts(user) -> list[Q]:
    from goals.models import Goal

    r = roles(user)
    parts = [Q(level=Goal.Level.COMPANY)]
    if r.employee is not None:
        me = r.employee
        chain = [me.department_id, *ancestor_ids(Department, "parent", me.department_id)]
        parts.append(Q(level=Goal.Level.DEPARTMENT, department__in=chain))
        parts.append(Q(level=Goal.Level.POSITION, position__department__in=chain))
        parts.append(Q(employee=me))
        own = Goal.objects.filter(employee=me)
        # What my goals serve, even across branches: the parent and the grandparent (the
        # company objective above them is visible anyway).
        parts.append(Q(pk__in=own.values("parent")))
        parts.append(Q(pk__in=own.values("parent__parent")))
    if r.is_manager or r.is_partner:
        # What they manage; their own goals are visible anyway.
        parts += _managed_parts(user)
    if r.is_manager:
        team = Employee.objects.filter(in_below(user))
        parts.append(Q(position__in=team.values("position")))
        parts.append(Q(level=Goal.Level.DEPARTMENT, department__in=team.values("department")))
    return parts


def team_goals_visible_to(user) -> QuerySet:
    """The goals of the people a manager follows (:func:`team_members`): every one of
    them is among :func:`goals_visible_to`, as the goals of people below the manager or
    in the departments they head; asked for directly, the team's goals cost a lookup by
    owner instead of the whole visibility condition."""
    from goals.models import Goal

    if not roles(user).is_manager:
        return Goal.objects.none()
    return Goal.objects.filter(in_team(user, "employee")).exclude(cycle__status=Cycle.Status.DRAFT)


def can_view_goal(user, goal) -> bool:
    return goals_visible_to(user).filter(pk=goal.pk).exists()


def goals_changeable_by(user) -> QuerySet:
    """Goals whose definition the user may edit: those they manage, and their own goal
    while it is a draft or a proposal (once approved, the manager changes it)."""
    from goals.models import Goal

    r = roles(user)
    changeable = _goals_managed_by(user)
    if r.employee is not None:
        changeable = changeable | Goal.objects.filter(
            employee=r.employee, status__in=[Goal.Status.DRAFT, Goal.Status.PROPOSED]
        )
    return changeable


def can_change_goal(user, goal) -> bool:
    return goals_changeable_by(user).filter(pk=goal.pk).exists()


def can_decide_goal(user, goal) -> bool:
    """Approve, return or reject a proposed goal: someone above its owner, never the
    owner."""
    return _goals_managed_by(user).filter(pk=goal.pk).exists()


def goals_trackable_by(user) -> QuerySet:
    """Goals the user may record progress on: their own, and those they manage."""
    from goals.models import Goal

    r = roles(user)
    trackable = _goals_managed_by(user)
    if r.employee is not None:
        trackable = trackable | Goal.objects.filter(employee=r.employee)
    return trackable


def can_record_checkin(user, goal) -> bool:
    """The owner records progress on their own goal; whoever manages the goal may too."""
    r = roles(user)
    if r.employee is not None and goal.employee_id == r.employee.pk:
        return True
    return _goals_managed_by(user).filter(pk=goal.pk).exists()


def can_delete_checkin(user, checkin) -> bool:
    """A check-in recorded by mistake is taken back by its author, or by HR."""
    return checkin.author_id == getattr(user, "pk", None) or roles(user).hr_admin


def can_finish_goal(user, goal) -> bool:
    """Record a goal's outcome (achieved or missed): whoever decides on it, or HR."""
    return roles(user).hr_admin or can_decide_goal(user, goal)


def proposes_own_goal(user, *, level: str, owner) -> bool:
    """Whether a goal the user writes is their own proposal, for someone above them to
    decide (HR administrators' own goals are approved as they write them)."""
    from goals.models import Goal

    r = roles(user)
    return (
        level == Goal.Level.PERSONAL
        and r.employee is not None
        and owner is not None
        and owner.pk == r.employee.pk
        and not r.hr_admin
    )


def can_add_goal_late(user, *, level: str, owner) -> bool:
    """After goal setting closes, goals are added by HR: an HR administrator anywhere, a
    partner in their departments (a late joiner's goals, say)."""
    from goals.models import Goal

    r = roles(user)
    if r.hr_admin:
        return True
    if not r.is_partner or owner is None:
        return False
    department = owner if level == Goal.Level.DEPARTMENT else owner.department
    return can_manage_department_people(user, department)


def can_add_goal_under(user, goal) -> bool:
    """Whether the user may write a goal serving ``goal`` (the page offers the button):
    department goals under an objective and position KPIs under a department goal for
    those who set goals for departments; personal goals under a KPI for every employee
    (their own, as a proposal) and HR."""
    from goals.models import Goal

    if goal.level == Goal.Level.COMPANY:
        return departments_goal_settable_by(user).exists()
    if goal.level == Goal.Level.DEPARTMENT:
        return departments_goal_settable_by(user).filter(pk=goal.department_id).exists()
    if goal.level == Goal.Level.POSITION:
        return can_set_personal_goals(user)
    return False


def can_set_personal_goals(user) -> bool:
    """Every employee proposes goals of their own; HR writes anyone's."""
    r = roles(user)
    return r.employee is not None or r.hr_admin


def personal_goal_owners_for(user) -> QuerySet[Employee]:
    """The active people the user may write a personal goal for (the choices that
    :func:`can_create_goal` allows one at a time): HR everyone; an employee themself, a
    manager also their team, an HR partner the people of their departments."""
    r = roles(user)
    active = Employee.objects.filter(is_active=True)
    if r.hr_admin:
        return active
    condition = Q(pk__in=[])
    if r.employee is not None:
        condition |= Q(pk=r.employee.pk)
        if r.is_manager:
            condition |= Q(pk__in=team_members(user).values("pk"))
    if r.is_partner:
        condition |= Q(department__in=partnered_departments(user).values("pk"))
    return active.filter(condition)


def can_create_goal(user, *, level: str, owner=None) -> bool:
    """Create a goal at ``level`` for ``owner`` (a department, position or employee; none
    for a company objective). An employee's own goal is created as a proposal."""
    from goals.models import Goal

    r = roles(user)
    if r.hr_admin:
        return True
    if level == Goal.Level.COMPANY:
        return r.executive
    if owner is None:
        return False
    if level == Goal.Level.PERSONAL and r.employee is not None and owner.pk == r.employee.pk:
        return True
    department_id = owner.pk if level == Goal.Level.DEPARTMENT else owner.department_id
    covered = Q(pk__in=[])
    if r.employee is not None and r.is_manager:
        covered |= in_headed(user)
        if (
            level == Goal.Level.PERSONAL
            and Employee.objects.filter(in_below(user), pk=owner.pk).exists()
        ):
            return True
    if r.is_partner:
        covered |= in_partnered(user)
    return Department.objects.filter(covered, pk=department_id).exists()


def departments_goal_settable_by(user) -> QuerySet[Department]:
    """Departments the user may create department goals (and position KPIs) for, in one
    query: HR all; a department head the departments they head with their subtrees; an
    HR business partner their departments. The set :func:`can_create_goal` answers for one
    department at a time, for pages that list the choices (decomposing an objective)."""
    r = roles(user)
    if r.hr_admin:
        return Department.objects.all()
    condition = Q(pk__in=[])
    if r.employee is not None and r.is_manager:
        condition |= in_headed(user)
    if r.is_partner:
        condition |= in_partnered(user)
    return Department.objects.filter(condition)


def can_reopen_goal(user, goal) -> bool:
    """Reopening a locked goal (or locking it again) is HR's: an HR administrator, or the
    partner of the owner's department. Company objectives are HR administrators' only."""
    r = roles(user)
    if r.hr_admin:
        return True
    if not r.is_partner or goal.owner is None:
        return False
    return type(goal).objects.filter(_goal_owner_in(user, in_partnered), pk=goal.pk).exists()


def can_close_goal_setting(user, cycle: Cycle) -> bool:
    return roles(user).hr_admin


def can_view_goal_coverage(user) -> bool:
    """The coverage report spans the organisation: HR, executives and HR partners."""
    r = roles(user)
    return r.sees_everyone or r.is_partner


def goal_coverage_departments(user) -> QuerySet[Department]:
    """The departments whose coverage (goals, KPIs, people's weights) the user follows:
    every department for HR and executives, the partnered subtrees for an HR partner."""
    r = roles(user)
    if r.sees_everyone:
        return Department.objects.all()
    if r.is_partner:
        return partnered_departments(user)
    return Department.objects.none()


def team_members(user) -> QuerySet[Employee]:
    """The people whose goals a manager follows: everyone below them in the reporting
    line and everyone in the departments they head, themselves excluded."""
    r = roles(user)
    if r.employee is None or not r.is_manager:
        return Employee.objects.none()
    return Employee.objects.filter(in_team(user))


# (goals API helper) check-ins follow their goal.


def checkins_visible_to(user) -> QuerySet:
    """Check-ins the user may read: those of the goals they may read."""
    from goals.models import CheckIn

    return CheckIn.objects.filter(goal__in=goals_visible_to(user).values("pk"))


# --- appraisals ------------------------------------------------------------------------
#
# An appraisal is read by the people above the employee (the reporting line, the heads
# of their departments, the reviewer HR assigned, the calibration panel), by HR and by
# executives; the employee reads their own. What the employee reads of it before HR
# releases the results is their own self-review only: see :func:`sees_assessment`.

CALIBRATE_PERMISSION = "calibrate_session"


def _sessions_granted(user) -> QuerySet:
    """Calibration sessions the user sits on (a grant to them or to one of their groups)."""
    from appraisals.models import (
        CalibrationSessionGroupObjectPermission,
        CalibrationSessionUserObjectPermission,
    )

    by_user = CalibrationSessionUserObjectPermission.objects.filter(
        user=user, permission__codename=CALIBRATE_PERMISSION
    ).values("content_object_id")
    by_group = CalibrationSessionGroupObjectPermission.objects.filter(
        group__user=user, permission__codename=CALIBRATE_PERMISSION
    ).values("content_object_id")
    return Q(pk__in=by_user) | Q(pk__in=by_group)


def appraisals_visible_to(user) -> QuerySet:
    from appraisals.models import Appraisal

    r = roles(user)
    if r.hr_admin:
        return Appraisal.objects.all()
    if r.executive:
        return Appraisal.objects.exclude(cycle__status=Cycle.Status.DRAFT)
    if not getattr(user, "is_authenticated", False):
        return Appraisal.objects.none()
    visible = _scope(user, "appraisals", lambda: _union_of(Appraisal, _appraisal_parts(user)))
    return Appraisal.objects.filter(pk__in=visible).exclude(cycle__status=Cycle.Status.DRAFT)


def _appraisal_parts(user) -> list[Q]:
    from appraisals.models import CalibrationSession

    r = roles(user)
    parts = [Q(session__in=CalibrationSession.objects.filter(_sessions_granted(user)))]
    if r.employee is not None:
        me = r.employee
        parts += [Q(employee=me), Q(reviewer=me)]
        if r.is_manager:
            parts += [in_below(user, "employee"), in_headed(user, "department")]
            # The reviews their reports write (HR may assign a reviewer from another
            # branch): the second-level approval is theirs.
            parts.append(in_below(user, "reviewer"))
    if r.is_partner:
        parts += [in_partnered(user, "department"), in_partnered(user, "employee__department")]
    return parts


def appraisals_reviewed_by(user) -> QuerySet:
    """Appraisals the user is the reviewer of: a part of :func:`appraisals_visible_to`,
    asked for directly when that is the question (the reviews to write)."""
    from appraisals.models import Appraisal

    me = roles(user).employee
    if me is None:
        return Appraisal.objects.none()
    return Appraisal.objects.filter(reviewer=me).exclude(cycle__status=Cycle.Status.DRAFT)


def appraisals_reviewed_below(user) -> QuerySet:
    """Appraisals whose reviewer is below the user in the reporting line (their
    second-level approvals): a part of :func:`appraisals_visible_to`."""
    from appraisals.models import Appraisal

    r = roles(user)
    if r.employee is None or not r.is_manager:
        return Appraisal.objects.none()
    return Appraisal.objects.filter(in_below(user, "reviewer")).exclude(
        cycle__status=Cycle.Status.DRAFT
    )


def own_appraisals(user) -> QuerySet:
    """The user's own appraisals, which :func:`appraisals_visible_to` always holds."""
    from appraisals.models import Appraisal

    me = roles(user).employee
    if me is None:
        return Appraisal.objects.none()
    return Appraisal.objects.filter(employee=me).exclude(cycle__status=Cycle.Status.DRAFT)


def can_view_appraisal(user, appraisal) -> bool:
    return appraisals_visible_to(user).filter(pk=appraisal.pk).exists()


def is_appraisee(user, appraisal) -> bool:
    employee = roles(user).employee
    return employee is not None and appraisal.employee_id == employee.pk


def sees_assessment(user, appraisal) -> bool:
    """Whether the user may read the manager's review, the scores and the ratings.

    Everyone who may open the appraisal does, except the employee themself: for them
    nothing of it shows until HR releases the results."""
    if is_appraisee(user, appraisal):
        return appraisal.released_at is not None
    return can_view_appraisal(user, appraisal)


def in_reporting_chain(manager: Employee | None, employee: Employee) -> bool:
    """Whether ``manager`` is above ``employee`` in the reporting line, at any depth."""
    if manager is None:
        return False
    return manager.pk in ancestor_ids(Employee, "manager", employee.pk)


def can_write_self_review(user, appraisal) -> bool:
    return is_appraisee(user, appraisal)


def can_open_manager_review(user, appraisal) -> bool:
    """The assigned reviewer, or a manager higher in the employee's chain, writes the
    manager review. (Whether the reviewer is still in the chain is a rule of the review
    service, which says so plainly.)"""
    me = roles(user).employee
    if me is None or appraisal.employee_id == me.pk:
        return False
    return appraisal.reviewer_id == me.pk or in_reporting_chain(me, appraisal.employee)


def can_approve_review(user, appraisal) -> bool:
    """Second-level approval: a manager above the reviewer, never the person who wrote
    and submitted the review (a manager higher in the chain may have written it)."""
    from appraisals.models import Review

    me = roles(user).employee
    if me is None or appraisal.reviewer is None or appraisal.employee_id == me.pk:
        return False
    if not in_reporting_chain(me, appraisal.reviewer):
        return False
    return not Review.objects.filter(
        appraisal=appraisal, kind=Review.Kind.MANAGER, submitted_by=user
    ).exists()


def has_second_level_approver(appraisal) -> bool:
    """Whether anyone can give the second-level approval: the reviewer has an active
    manager. Otherwise (the chief executive's direct reports) the review is final as the
    reviewer submits it."""
    reviewer = appraisal.reviewer
    return (
        reviewer is not None
        and Employee.objects.filter(pk=reviewer.manager_id, is_active=True).exists()
    )


def appraisals_administrable_by(user) -> QuerySet:
    """Appraisals whose reviewer the user may reassign, that they may withdraw, whose
    reviews they may return and whose appeals they resolve: every one for an HR
    administrator, those of their departments for an HR partner; never their own."""
    from appraisals.models import Appraisal

    r = roles(user)
    if r.hr_admin:
        administered = Appraisal.objects.all()
    elif r.is_partner:
        administered = Appraisal.objects.filter(
            in_partnered(user, "department") | in_partnered(user, "employee__department")
        )
    else:
        return Appraisal.objects.none()
    if r.employee is not None:
        administered = administered.exclude(employee=r.employee)
    return administered


def can_administer_appraisal(user, appraisal) -> bool:
    return appraisals_administrable_by(user).filter(pk=appraisal.pk).exists()


def hr_administrators() -> QuerySet:
    """The active HR administrators: members of the HR group and superusers."""
    from .models import User

    return User.objects.filter(
        Q(is_superuser=True) | Q(groups__name=HR_ADMIN_GROUP), is_active=True
    ).distinct()


def partners_of(department_ids) -> QuerySet:
    """The active HR partners covering any of ``department_ids`` (a grant on one of them
    or on a department above it, to the user or to their group)."""
    from .models import User

    chain = set(department_ids)
    for department_id in department_ids:
        chain.update(ancestor_ids(Department, "parent", department_id))
    granted = Q(
        departmentuserobjectpermission__content_object__in=chain,
        departmentuserobjectpermission__permission__codename=PARTNER_PERMISSION,
    ) | Q(
        groups__departmentgroupobjectpermission__content_object__in=chain,
        groups__departmentgroupobjectpermission__permission__codename=PARTNER_PERMISSION,
    )
    return User.objects.filter(granted, is_active=True).distinct()


def administrators_of_appraisal(appraisal) -> QuerySet:
    """Who administers ``appraisal`` (:func:`appraisals_administrable_by` from the other
    side): every HR administrator and the HR partners of its department, never its own
    employee. They are the ones told of its appeals."""
    departments = {appraisal.department_id, appraisal.employee.department_id} - {None}
    administrators = hr_administrators() | partners_of(departments)
    return administrators.exclude(employee=appraisal.employee_id).distinct()


def can_assign_reviewer(user, appraisal, reviewer: Employee) -> bool:
    """Whom the user may make an appraisal's reviewer (who then reads it in full): an HR
    administrator anyone; an HR partner someone in their departments or above the
    employee in the reporting line, never someone outside both."""
    if not can_administer_appraisal(user, appraisal):
        return False
    if roles(user).hr_admin:
        return True
    if partnered_departments(user).filter(pk=reviewer.department_id).exists():
        return True
    return in_reporting_chain(reviewer, appraisal.employee)


def sees_assessment_in_list(user, appraisal) -> bool:
    """:func:`sees_assessment` for an appraisal already fetched through
    :func:`appraisals_visible_to` (list pages and exports: no query per row). The user's
    own appraisal shows nothing of the assessment before release, even to HR."""
    if is_appraisee(user, appraisal):
        return appraisal.released_at is not None
    return True


def can_administer_appraisals(user) -> bool:
    """Whether the user administers any appraisals at all (opens HR's appraisal lists)."""
    r = roles(user)
    return r.hr_admin or r.is_partner


def can_run_cycle(user, cycle: Cycle | None = None) -> bool:
    """Settings, launch, phase changes, calibration sessions and release: HR admin."""
    return roles(user).hr_admin


def packet_departments(user) -> QuerySet[Department]:
    """Departments whose PDF packets the user may request as a batch: every one for HR,
    a head's departments with their subtrees."""
    r = roles(user)
    if r.hr_admin:
        return Department.objects.all()
    if r.employee is None:
        return Department.objects.none()
    return headed_departments(r.employee)


def can_request_packets(user, department: Department | None = None) -> bool:
    """A batch of PDF packets: HR for a whole cycle (``department`` None) or any
    department; a department head for a department of their subtree. Without a
    department for a non-HR user: whether they may request any batch at all."""
    r = roles(user)
    if r.hr_admin:
        return True
    if department is None:
        return False
    return packet_departments(user).filter(pk=department.pk).exists()


def can_use_packet_batches(user) -> bool:
    """The packets page of a cycle: HR and department heads."""
    r = roles(user)
    return r.hr_admin or (r.is_manager and packet_departments(user).exists())


def packet_batches_visible_to(user) -> QuerySet:
    """Packet batches (and their ZIPs): HR reads all, everyone else their own."""
    from appraisals.models import PacketBatch

    if roles(user).hr_admin:
        return PacketBatch.objects.all()
    if not getattr(user, "is_authenticated", False):
        return PacketBatch.objects.none()
    return PacketBatch.objects.filter(requested_by=user)


def can_view_cycle_dashboard(user) -> bool:
    r = roles(user)
    return r.sees_everyone or r.is_partner


def dashboard_departments(user) -> QuerySet[Department]:
    """The departments a dashboard or report covers for the user."""
    r = roles(user)
    if r.sees_everyone:
        return Department.objects.all()
    if r.is_partner:
        return partnered_departments(user)
    return Department.objects.none()


def calibration_sessions_visible_to(user) -> QuerySet:
    from appraisals.models import CalibrationSession

    if roles(user).hr_admin:
        return CalibrationSession.objects.all()
    if not getattr(user, "is_authenticated", False):
        return CalibrationSession.objects.none()
    return CalibrationSession.objects.filter(_sessions_granted(user))


def can_calibrate(user, session) -> bool:
    """Move ratings in a session: HR administrators and the panel."""
    return calibration_sessions_visible_to(user).filter(pk=session.pk).exists()


def without_own_assessment(user, appraisals: QuerySet) -> QuerySet:
    """``appraisals`` less the user's own before release (:func:`sees_assessment`).

    For grids that show ratings (a calibration session may hold a panel member's or an
    HR administrator's own appraisal): the row is left out altogether, so that neither
    a filter on the rating, a sort by score nor a distribution gives it away, and it
    cannot be moved from there."""
    me = roles(user).employee
    if me is None:
        return appraisals
    return appraisals.exclude(employee=me, released_at__isnull=True)


def can_acknowledge(user, appraisal) -> bool:
    """Acknowledge, comment on and appeal a released result: the employee."""
    return is_appraisee(user, appraisal) and appraisal.released_at is not None


def reviews_visible_to(user) -> QuerySet:
    """Reviews the user may read: both reviews of every appraisal they may open, except
    the manager review of their own appraisal before release (:func:`sees_assessment`)."""
    from appraisals.models import Review

    reviews = Review.objects.filter(appraisal__in=appraisals_visible_to(user).values("pk"))
    me = roles(user).employee
    if me is None:
        return reviews
    return reviews.exclude(
        kind=Review.Kind.MANAGER, appraisal__employee=me, appraisal__released_at__isnull=True
    )


def calibration_adjustments_visible_to(user) -> QuerySet:
    """Rating moves the user may read: those of the calibration sessions they sit on
    (all for HR administrators). Nobody reads the moves of their own rating before the
    results are released (a panel member's or HR's own appraisal may sit in a session);
    the employee never reads the reasons."""
    from appraisals.models import CalibrationAdjustment

    moves = CalibrationAdjustment.objects.filter(
        session__in=calibration_sessions_visible_to(user).values("pk")
    )
    me = roles(user).employee
    if me is None:
        return moves
    return moves.exclude(appraisal__employee=me)


def appeals_visible_to(user) -> QuerySet:
    """Appeals the user may read: their own, and those they administer (HR administrators
    all, an HR partner those of their departments: :func:`can_administer_appraisal`)."""
    from appraisals.models import Appeal

    r = roles(user)
    if r.hr_admin:
        return Appeal.objects.all()
    condition = Q(pk__in=[])
    if r.employee is not None:
        condition |= Q(appraisal__employee=r.employee)
    if r.is_partner:
        condition |= Q(appraisal__in=appraisals_administrable_by(user).values("pk"))
    return Appeal.objects.filter(condition)


def department_results_visible_to(user) -> QuerySet[Department]:
    """Departments whose cycle results the user reads: all for HR and executives, the
    partnered ones for an HR partner, a head's departments with their subtrees."""
    r = roles(user)
    if r.sees_everyone:
        return Department.objects.all()
    condition = Q(pk__in=[])
    if r.employee is not None and r.is_manager:
        condition |= in_headed(user)
    if r.is_partner:
        condition |= in_partnered(user)
    return Department.objects.filter(condition)


def can_view_department_results(user) -> bool:
    """The department results page: HR, executives, HR partners and department heads
    (whom :func:`department_results_visible_to` gives at least one department)."""
    r = roles(user)
    if r.sees_everyone or r.is_partner:
        return True
    return r.is_head


def can_view_department_ranking(user) -> bool:
    """The ranking of every department: HR and executives."""
    return roles(user).sees_everyone


# --- helpers for views: fetch through the policy, never by raw id -------------------


def get_visible_or_404(queryset: QuerySet, **lookup):
    """Fetch one object from an already-scoped queryset; anything else is a 404.

    A 404 rather than a 403 so that ids outside a user's scope reveal nothing.
    """
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404
    return obj


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied
