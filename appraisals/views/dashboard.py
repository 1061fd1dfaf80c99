"""The cycle dashboard (completion, overdue reviews, the rating distribution so far) and
the department results (each department's result, its people's ratings and its
contribution to the company objectives), with their CSV exports.

Both read a fixed handful of grouped queries from ``appraisals.reports``, so they cost
the same whether the cycle holds fifty appraisals or fifty thousand.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from goals.models import Goal
from perfcycle import access
from perfcycle.csv_export import csv_response, number_cell

from .. import reports
from ..models import Appraisal, Review

# The department results list this many departments a page; the CSV has them all.
RESULTS_PAGE_SIZE = 50
OVERDUE_KINDS = {"self": Review.Kind.SELF, "manager": Review.Kind.MANAGER}


def _cycle(user, pk):
    return access.get_visible_or_404(
        access.cycles_visible_to(user).select_related("rating_scale"), pk=pk
    )


# --- the cycle dashboard -------------------------------------------------------------


def _dashboard_scope(request, pk):
    user = request.user
    access.require(access.can_view_cycle_dashboard(user))
    return _cycle(user, pk), access.dashboard_departments(user)


@login_required
@require_GET
def dashboard(request, pk):
    cycle, departments = _dashboard_scope(request, pk)
    user = request.user
    guideline, tolerance = reports.guideline_of(cycle)
    # The viewer's own rating stays out of the distribution until it is released.
    rated = access.without_own_assessment(user, reports.cycle_appraisals(cycle, departments))
    distribution = reports.rating_distribution(rated, cycle.rating_scale, guideline, tolerance)
    completion, by_department = reports.dashboard_completion(cycle, departments)
    context = {
        "cycle": cycle,
        "everyone": access.roles(user).sees_everyone,
        "completion": completion,
        "by_department": by_department,
        "overdue": reports.overdue(cycle, departments),
        "distribution": distribution,
        "rated": sum(row.count for row in distribution),
        "guideline": bool(guideline),
        "tolerance": tolerance,
        "show_results": access.can_view_department_results(user),
    }
    return render(request, "appraisals/dashboard.html", context)


@login_required
@require_GET
def dashboard_overdue_export(request, pk, kind):
    if kind not in OVERDUE_KINDS:
        raise Http404
    cycle, departments = _dashboard_scope(request, pk)
    rows = reports.overdue_queryset(cycle, departments, OVERDUE_KINDS[kind])
    return csv_response(_overdue_rows(rows), f"overdue-{kind}-reviews-{cycle.pk}.csv")


def _overdue_rows(rows):
    statuses = dict(Review.Status.choices)
    yield [
        _("Name"),
        _("Employee number"),
        _("Department"),
        _("Reviewer"),
        _("Review status"),
        _("Appraisal stage"),
    ]
    for appraisal in rows.iterator(chunk_size=2000):
        reviewer = appraisal.reviewer
        yield [
            appraisal.employee.user.full_name,
            appraisal.employee.employee_number,
            appraisal.department.name,
            reviewer.user.full_name if reviewer else "",
            statuses.get(appraisal.review_status, ""),
            appraisal.get_stage_display(),
        ]


# --- department results --------------------------------------------------------------


def _results(request, pk, *, departments=None):
    """The cycle, the departments in the user's scope (or ``departments``), and their
    results: ranked for HR and executives, by name for everyone else."""
    user = request.user
    cycle = _cycle(user, pk)
    ranked = access.can_view_department_ranking(user)
    guideline, tolerance = reports.guideline_of(cycle)
    results = reports.department_results(
        cycle,
        departments if departments is not None else access.department_results_visible_to(user),
        guideline=guideline,
        tolerance=tolerance,
        ranked=ranked and departments is None,
        rated=access.without_own_assessment(user, Appraisal.objects.all()),
    )
    return cycle, ranked, results, tolerance


@login_required
@require_GET
def department_results(request, pk):
    access.require(access.can_view_department_results(request.user))
    cycle, ranked, results, _tolerance = _results(request, pk)
    page = Paginator(results.rows, RESULTS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "cycle": cycle,
        "ranked": ranked,
        "results": results,
        "page_obj": page,
        "partner": access.roles(request.user).is_partner,
        "show_dashboard": access.can_view_cycle_dashboard(request.user),
    }
    return render(request, "appraisals/department_results.html", context)


@login_required
@require_GET
def department_results_export(request, pk):
    access.require(access.can_view_department_ranking(request.user))
    cycle, _ranked, results, _tolerance = _results(request, pk)
    return csv_response(_ranking_rows(results), f"department-results-{cycle.pk}.csv")


def _ranking_rows(results):
    yield [
        _("Rank"),
        _("Department"),
        _("Code"),
        _("Part of"),
        _("Result"),
        _("Department goals"),
        _("Goals measured"),
        _("Appraisals"),
        _("Rated"),
        *[f"{level.value} – {level.label}" for level in results.levels],
        *[
            _("%(objective)s: contribution in points") % {"objective": o.title}
            for o in results.objectives
        ],
        *[
            _("%(objective)s: share in percent") % {"objective": o.title}
            for o in results.objectives
        ],
    ]
    for row in results.rows:
        department = row.department
        yield [
            row.rank or "",
            department.name,
            department.code,
            department.parent.name if department.parent else "",
            number_cell(row.result),
            row.goals,
            row.measured,
            row.appraisals,
            row.rated,
            *[level.count for level in row.distribution],
            *[number_cell(c.points) for c in row.contributions],
            *[number_cell(c.share) for c in row.contributions],
        ]


@login_required
@require_GET
def department_result(request, pk, department_pk):
    """One department's result: its goals, its people's ratings against the guideline,
    and what it contributes to each company objective. Outside the user's scope: 404."""
    user = request.user
    department = access.get_visible_or_404(
        access.department_results_visible_to(user).select_related("parent", "head__user"),
        pk=department_pk,
    )
    cycle, _ranked, results, tolerance = _results(
        request, pk, departments=type(department).objects.filter(pk=department.pk)
    )
    result = results.rows[0]
    goals = reports.department_goals(
        access.goals_visible_to(user), cycle=cycle, department=department
    )
    context = {
        "cycle": cycle,
        "department": department,
        "result": result,
        "goals": list(goals),
        "cancelled": Goal.Status.CANCELLED,
        "tolerance": tolerance,
        "guideline": any(row.guideline is not None for row in result.distribution),
    }
    return render(request, "appraisals/department_results_detail.html", context)


urlpatterns = [
    path("cycles/<int:pk>/dashboard/", dashboard, name="dashboard"),
    path(
        "cycles/<int:pk>/dashboard/overdue-<slug:kind>.csv",
        dashboard_overdue_export,
        name="dashboard_overdue_export",
    ),
    path("cycles/<int:pk>/departments/", department_results, name="department_results"),
    path(
        "cycles/<int:pk>/departments/export.csv",
        department_results_export,
        name="department_results_export",
    ),
    path(
        "cycles/<int:pk>/departments/<int:department_pk>/",
        department_result,
        name="department_result",
    ),
]
