"""The alignment tree (company objectives down to personal goals, opened level by level
through HTMX) and the coverage report (what the cascade does not reach yet).

Both read one level or one section per query (``goals.selectors``), so they cost the
same number of queries however many goals a cycle holds.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from perfcycle import access
from perfcycle.csv_export import csv_response, number_cell
from perfcycle.models import Department

from .. import selectors
from ..list_forms import CycleFilterForm
from ..models import Goal

TREE_PAGE_SIZE = selectors.TREE_PAGE_SIZE
# The first screen opens every company objective on this many of its department goals:
# at 50,000 people, fifty objectives opened on fifty goals each is a page of 2,500 rows.
FIRST_OPEN = 10
# Each coverage section lists this many rows; the CSV export has them all.
COVERAGE_SHOWN = 25
# A spreadsheet runs a cell that starts with one of these as a formula.


class TreeFilterForm(CycleFilterForm):
    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=gettext_lazy("All departments"),
        help_text=gettext_lazy(
            "Only the branches that reach this department or its sub-departments."
        ),
    )
    cancelled = forms.BooleanField(label=gettext_lazy("Show cancelled goals"), required=False)

    def __init__(self, data, *, cycles, cycle, departments):
        super().__init__(data, cycles=cycles, cycle=cycle)
        self.fields["department"].queryset = departments.order_by("name", "pk")

    def filters(self) -> dict:
        """The valid filters; an invalid one (a stale department id) is reported on the
        form and otherwise ignored."""
        self.is_valid()
        return {
            "department": self._clean_value("department"),
            "include_cancelled": bool(self._clean_value("cancelled", False)),
        }


# Far beyond any real tree; a bigger number would overflow the database's OFFSET.
MAX_PAGE = 100_000


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", 1))), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def _tree_filters(request, visible, cycle=None):
    """The form, the tree's scope within the user's ``visible`` goals, the department
    filtered on, and the filters every "open" and "show more" request carries."""
    user = request.user
    form = TreeFilterForm(
        request.GET,
        cycles=access.cycles_visible_to(user),
        cycle=cycle,
        departments=access.departments_visible_to(user),
    )
    filters = form.filters()
    scope = selectors.goal_tree_scope(visible, **filters)
    carried = {}
    if filters["department"] is not None:
        carried["department"] = filters["department"].pk
    if filters["include_cancelled"]:
        carried["cancelled"] = "on"
    return form, scope, filters["department"], carried


def _more(url: str, query: dict, *, page: int, left: int) -> dict | None:
    """The "show more" control for the next page of a level, if anything is left."""
    if left <= 0:
        return None
    return {"url": f"{url}?{urlencode({**query, 'page': page})}", "left": left}


def _start(request) -> int:
    """Where a page of children starts (``start``: how many came before it)."""
    try:
        return min(max(0, int(request.GET.get("start", 0))), MAX_PAGE * TREE_PAGE_SIZE)
    except (TypeError, ValueError):
        return 0


def _children_more(goal: Goal, query: dict, *, start: int, shown: int) -> dict | None:
    """The "show more" control after ``shown`` children from ``start``: the next page
    starts where these end."""
    left = goal.child_count - start - shown
    if left <= 0:
        return None
    url = reverse("goals:tree_children", args=[goal.pk])
    return {"url": f"{url}?{urlencode({**query, 'start': start + shown})}", "left": left}


@login_required
@require_GET
def tree(request):
    user = request.user
    cycle = selectors.cycle_for(user, request.GET.get("cycle"))
    visible = access.goals_visible_to(user)
    form, scope, department, carried = _tree_filters(request, visible, cycle)
    page = _page_number(request)
    context = {
        "form": form,
        "cycle": cycle,
        "department": department,
        "carried": urlencode(carried),
        "show_coverage": access.can_view_goal_coverage(user),
    }
    if cycle is not None:
        offset = (page - 1) * TREE_PAGE_SIZE
        roots, total = selectors.goal_tree_roots(scope, cycle=cycle, offset=offset)
        # Every objective on the screen opens on its first department goals (one query
        # for all); "show more" brings the rest a page at a time.
        first = selectors.goal_tree_first_children(scope, parents=roots, limit=FIRST_OPEN)
        for root in roots:
            root.is_open, root.open_children = True, first[root.pk]
            root.more = _children_more(root, carried, start=0, shown=len(root.open_children))
        query = {**carried, "cycle": cycle.pk}
        context.update(
            nodes=roots,
            total=total,
            more=_more(
                reverse("goals:tree"), query, page=page + 1, left=total - offset - len(roots)
            ),
        )
        if request.htmx and not request.htmx.history_restore_request and page > 1:
            return render(request, "goals/tree.html#items", context)
    return render(request, "goals/tree.html", context)


@login_required
@require_GET
def tree_children(request, pk):
    """One level of the tree as an HTMX fragment, a page at a time; without HTMX, the
    goal's own page."""
    visible = access.goals_visible_to(request.user)
    _form, scope, _department, carried = _tree_filters(request, visible)
    if not request.htmx:
        goal = access.get_visible_or_404(visible, pk=pk)
        return redirect("goals:detail", pk=goal.pk)
    # Counted within the filters, as the row that offered to open it was.
    goal = access.get_visible_or_404(selectors.with_tree_child_count(visible, scope), pk=pk)
    start = _start(request)
    nodes = selectors.goal_tree_children(scope, parent=goal, offset=start)
    context = {
        "parent": goal,
        "nodes": nodes,
        "carried": urlencode(carried),
        "more": _children_more(goal, carried, start=start, shown=len(nodes)),
    }
    template = "goals/tree.html#level" if start == 0 else "goals/tree.html#items"
    return render(request, template, context)


# --- coverage --------------------------------------------------------------------------


def _coverage_scope(request):
    user = request.user
    access.require(access.can_view_goal_coverage(user))
    cycle = selectors.cycle_for(user, request.GET.get("cycle"))
    departments = access.goal_coverage_departments(user)
    return {
        "user": user,
        "cycle": cycle,
        "goals": access.goals_visible_to(user),
        "departments": departments,
        "positions": access.positions_visible_to(user).filter(department__in=departments),
        "people": access.employees_visible_to(user).filter(
            is_active=True, department__in=departments
        ),
    }


SECTIONS = ("objectives", "departments", "positions", "weights", "people")


def _section(scope, key):
    """The rows of one coverage section."""
    goals, cycle = scope["goals"], scope["cycle"]
    if key == "objectives":
        return selectors.coverage_objectives(goals, cycle=cycle, departments=scope["departments"])
    if key == "departments":
        return selectors.coverage_departments(goals, cycle=cycle, departments=scope["departments"])
    if key == "positions":
        return selectors.coverage_positions(goals, cycle=cycle, positions=scope["positions"])
    if key == "weights":
        return selectors.coverage_weights(goals, cycle=cycle, people=scope["people"])
    return selectors.coverage_people(goals, cycle=cycle, people=scope["people"])


def _capped(rows) -> dict:
    """A section's count and its first rows (two queries; one when it is empty)."""
    count = rows.count()
    shown = list(rows[:COVERAGE_SHOWN]) if count else []
    return {"count": count, "rows": shown, "more": count - len(shown)}


def _off_by(row) -> Decimal:
    return row["total"] - 100


@login_required
@require_GET
def coverage(request):
    scope = _coverage_scope(request)
    user, cycle = scope["user"], scope["cycle"]
    form = CycleFilterForm(request.GET, cycles=access.cycles_visible_to(user), cycle=cycle)
    form.is_valid()
    context = {"form": form, "cycle": cycle, "everyone": access.roles(user).sees_everyone}
    if cycle is not None:
        sections = {key: _capped(_section(scope, key)) for key in SECTIONS}
        for row in sections["weights"]["rows"]:
            row["off_by"] = _off_by(row)
        context["sections"] = sections
    return render(request, "goals/coverage.html", context)


def _export_rows(key, rows):
    if key == "objectives":
        yield [_("Company objective"), _("Weight"), _("Status"), _("Strategy line")]
        for goal in rows.iterator(chunk_size=2000):
            yield [
                goal.title,
                number_cell(goal.weight),
                goal.get_status_display(),
                goal.strategy_ref,
            ]
    elif key == "departments":
        yield [_("Department"), _("Code"), _("Part of"), _("Head"), _("People")]
        for d in rows.iterator(chunk_size=2000):
            head = d.head.user.full_name if d.head else ""
            yield [d.name, d.code, d.parent.name if d.parent else "", head, d.headcount]
    elif key == "positions":
        yield [_("Position"), _("Department"), _("Holders")]
        for p in rows.iterator(chunk_size=2000):
            yield [p.title, p.department.name, p.holder_count]
    elif key == "weights":
        yield [_("Name"), _("Employee number"), _("Department"), _("Total weight"), _("Off by")]
        for row in rows.iterator(chunk_size=2000):
            total, off_by = number_cell(row["total"]), number_cell(_off_by(row))
            yield [row["name"], row["number"], row["department_name"], total, off_by]
    else:
        yield [
            _("Name"),
            _("E-mail"),
            _("Employee number"),
            _("Department"),
            _("Position"),
            _("Goals awaiting approval"),
        ]
        for e in rows.iterator(chunk_size=2000):
            position = e.position.title if e.position else ""
            yield [
                e.user.full_name,
                e.user.email,
                e.employee_number,
                e.department.name,
                position,
                e.waiting,
            ]


@login_required
@require_GET
def coverage_export(request, section):
    if section not in SECTIONS:
        raise Http404
    scope = _coverage_scope(request)
    if scope["cycle"] is None:
        raise Http404
    rows = _export_rows(section, _section(scope, section))
    return csv_response(rows, f"coverage-{section}-{scope['cycle'].pk}.csv")


urlpatterns = [
    path("tree/", tree, name="tree"),
    path("tree/<int:pk>/children/", tree_children, name="tree_children"),
    path("coverage/", coverage, name="coverage"),
    path("coverage/<slug:section>.csv", coverage_export, name="coverage_export"),
]
