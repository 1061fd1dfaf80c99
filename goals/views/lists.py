"""The goal lists: my goals, my team's goals (with its CSV export), the company objectives
and a department's goals. Each takes ``?cycle=`` (default: ``selectors.cycle_for``);
filters stay in the URL."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from perfcycle import access
from perfcycle.csv_export import csv_response, number_cell
from perfcycle.models import Cycle, Department
from perfcycle.paging import page_of

from .. import selectors
from ..list_forms import CycleFilterForm, StatusFilterForm, TeamFilterForm
from ..models import CheckIn, Goal
from ..services import GOAL_SETTING_OPEN

L = Goal.Level
PAGE_SIZE = 25
# The decisions block shows the oldest few; the status filter lists them all.
DECISIONS_SHOWN = 10
# A spreadsheet runs a cell that starts with one of these as a formula.


def _cycle(request) -> Cycle | None:
    return selectors.cycle_for(request.user, request.GET.get("cycle"))


def _nav(user) -> dict:
    """The links between the goal lists: the team page for managers, and the user's own
    department's goals."""
    me = access.roles(user).employee
    return {
        "nav_team": access.can_view_team(user),
        "nav_department": me.department if me is not None else None,
    }


def _create_url(*, level: str, cycle: Cycle, owner=None, parent: Goal | None = None) -> str:
    """The create page, pre-filled (the goal pages read ``level``, ``owner``, ``parent``
    and ``cycle``)."""
    params = {"level": level}
    if owner is not None:
        params["owner"] = owner.pk
    if parent is not None:
        params["parent"] = parent.pk
    params["cycle"] = cycle.pk
    return f"{reverse('goals:create')}?{urlencode(params)}"


def _may_add(user, cycle: Cycle | None, *, level: str, owner=None) -> bool:
    """Whether to offer an "add" button: the policy allows it and the cycle still
    takes goals (after goal setting the create page explains who may add one)."""
    if cycle is None or cycle.status == Cycle.Status.CLOSED:
        return False
    return access.can_create_goal(user, level=level, owner=owner)


def _page(request, items, param: str = "page"):
    return page_of(request, items, size=PAGE_SIZE, param=param)


# --- my goals -----------------------------------------------------------------------------


@login_required
@require_GET
def mine(request):
    user = request.user
    me = access.roles(user).employee
    cycle = _cycle(request)
    form = CycleFilterForm(request.GET, cycles=access.cycles_visible_to(user), cycle=cycle)
    form.is_valid()
    context = {"form": form, "cycle": cycle, "me": me, **_nav(user)}
    if me is not None and cycle is not None:
        total = selectors.weights_total(cycle=cycle, level=L.PERSONAL, owner=me)
        goal_setting = cycle.status in GOAL_SETTING_OPEN
        context.update(
            page_obj=Paginator(selectors.my_goals(user=user, cycle=cycle), PAGE_SIZE).get_page(
                request.GET.get("page")
            ),
            weights_total=total,
            weights_ok=total == 100,
            served=selectors.goals_served_by(user=user, cycle=cycle),
            goal_setting=goal_setting,
            # Proposing is part of goal setting; later, goals change through the manager.
            propose_url=(
                _create_url(level=L.PERSONAL, owner=me, cycle=cycle)
                if goal_setting and _may_add(user, cycle, level=L.PERSONAL, owner=me)
                else ""
            ),
        )
    return render(request, "goals/list_mine.html", context)


# --- my team's goals ----------------------------------------------------------------------


def _team_filtered(request):
    """The team page's form, cycle and goals, within the manager's scope (403 otherwise)."""
    user = request.user
    access.require(access.can_view_team(user))
    cycle = _cycle(request)
    team = access.team_members(user)
    form = TeamFilterForm(
        request.GET,
        cycles=access.cycles_visible_to(user),
        cycle=cycle,
        departments=Department.objects.filter(pk__in=team.values("department")),
    )
    filters = form.filters()
    goals = Goal.objects.none()
    if cycle is not None:
        goals = selectors.team_goals(user=user, cycle=cycle, **filters)
    return form, cycle, goals, any(filters.values())


@login_required
@require_GET
def team(request):
    form, cycle, goals, filtered = _team_filtered(request)
    context = {
        **_nav(request.user),
        "form": form,
        "cycle": cycle,
        "filtered": filtered,
        "page_obj": Paginator(goals, PAGE_SIZE).get_page(request.GET.get("page")),
    }
    if cycle is not None:
        waiting = selectors.goals_awaiting_decision(user=request.user, cycle=cycle)
        context.update(
            decisions=list(waiting[:DECISIONS_SHOWN]),
            decisions_count=waiting.count(),
            proposed_url="?" + urlencode({"cycle": cycle.pk, "status": Goal.Status.PROPOSED}),
        )
    template = "goals/list_team.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(request, template, context)


@login_required
@require_GET
def team_export(request):
    _form, cycle, goals, _filtered = _team_filtered(request)
    name = f"team-goals-{cycle.pk}.csv" if cycle else "team-goals.csv"
    return csv_response(_team_csv(goals), name)


def _team_csv(goals):
    yield [
        _("Person"),
        _("Employee number"),
        _("Department"),
        _("Goal"),
        _("Serves"),
        _("Weight"),
        _("Status"),
        _("Latest check-in"),
        _("Confidence"),
        _("Attainment"),
        _("Progress"),
        _("Due date"),
        _("Person's weights total"),
    ]
    labels = dict(CheckIn.Confidence.choices)
    for goal in goals.iterator(chunk_size=2000):
        person = goal.employee
        checked = goal.last_checkin_at
        yield [
            person.user.full_name,
            person.employee_number,
            person.department.name,
            goal.title,
            goal.parent.title if goal.parent else "",
            number_cell(goal.weight),
            goal.get_status_display(),
            timezone.localtime(checked).date().isoformat() if checked else "",
            labels.get(goal.last_confidence, ""),
            number_cell(goal.attainment),
            number_cell(goal.progress),
            goal.due_date.isoformat() if goal.due_date else "",
            number_cell(goal.owner_weight),
        ]


# --- company objectives -------------------------------------------------------------------


@login_required
@require_GET
def company(request):
    user = request.user
    cycle = _cycle(request)
    form = StatusFilterForm(request.GET, cycles=access.cycles_visible_to(user), cycle=cycle)
    filters = form.filters()
    context = {"form": form, "cycle": cycle, "filtered": any(filters.values()), **_nav(user)}
    if cycle is not None:
        objectives = selectors.company_objectives(user=user, cycle=cycle, **filters)
        total = selectors.weights_total(cycle=cycle, level=L.COMPANY, owner=None)
        context.update(
            page_obj=Paginator(objectives, PAGE_SIZE).get_page(request.GET.get("page")),
            weights_total=total,
            weights_ok=total == 100,
            add_url=(
                _create_url(level=L.COMPANY, cycle=cycle)
                if _may_add(user, cycle, level=L.COMPANY)
                else ""
            ),
            goal_setting=cycle.status in GOAL_SETTING_OPEN,
        )
    return render(request, "goals/list_company.html", context)


# --- a department's goals -----------------------------------------------------------------


@login_required
@require_GET
def department(request, pk):
    user = request.user
    department = access.get_visible_or_404(access.departments_visible_to(user), pk=pk)
    cycle = _cycle(request)
    form = CycleFilterForm(request.GET, cycles=access.cycles_visible_to(user), cycle=cycle)
    form.is_valid()
    context = {"form": form, "cycle": cycle, "department": department, **_nav(user)}
    if cycle is not None:
        goals = selectors.department_goals(user=user, cycle=cycle, department=department)
        kpis = selectors.department_position_kpis(user=user, cycle=cycle, department=department)
        positions = list(
            selectors.positions_with_holders(
                access.positions_visible_to(user).filter(department=department)
            )
        )
        kpi_page = _page(request, kpis, "kpi_page")
        by_position = selectors.weights_by_owner(kpis, "position")
        department_total = selectors.weights_by_owner(goals, "department").get(
            department.pk, Decimal(0)
        )
        # The policy decides KPI creation per department, so one position answers for all
        # of this department's positions.
        may_add_kpi = bool(positions) and _may_add(
            user, cycle, level=L.POSITION, owner=positions[0]
        )
        holders = {p.pk: p for p in positions}
        for kpi in kpi_page:
            kpi.position_total = by_position.get(kpi.position_id, Decimal(0))
            kpi.holder_count = holders[kpi.position_id].holder_count
            kpi.add_url = (
                _create_url(level=L.POSITION, owner=kpi.position, cycle=cycle)
                if may_add_kpi
                else ""
            )
        for position in positions:
            position.add_url = (
                _create_url(level=L.POSITION, owner=position, cycle=cycle) if may_add_kpi else ""
            )
        context.update(
            goals_page=_page(request, goals, "goals_page"),
            kpi_page=kpi_page,
            department_total=department_total,
            department_ok=department_total == 100,
            has_positions=bool(positions),
            # Only those who can add KPIs see the gaps: for anyone else a position may
            # have KPIs they are not shown.
            positions_without_kpis=(
                selectors.positions_without(positions, kpis) if may_add_kpi else []
            ),
            add_url=(
                _create_url(level=L.DEPARTMENT, owner=department, cycle=cycle)
                if _may_add(user, cycle, level=L.DEPARTMENT, owner=department)
                else ""
            ),
            goal_setting=cycle.status in GOAL_SETTING_OPEN,
        )
    return render(request, "goals/list_department.html", context)


urlpatterns = [
    path("", mine, name="mine"),
    path("team/", team, name="team"),
    path("team/export.csv", team_export, name="team_export"),
    path("company/", company, name="company"),
    path("departments/<int:pk>/", department, name="department"),
]
