"""The home page: one section per role the person has, each in a bounded number of queries."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render
from django.views.decorators.http import require_GET

from perfcycle import access, selectors
from perfcycle.models import Employee

# The home page lists at most this many direct reports; the count says how many there are.
TEAM_LIST_LIMIT = 50


@login_required
@require_GET
def home(request):
    user = request.user
    r = access.roles(user)
    cycle = selectors.current_cycle()
    context = {"roles": r, "current_cycle": cycle}
    if r.employee is not None:
        context["me"] = r.employee  # read with its user, department, position and manager
        context["deadline"] = selectors.phase_deadline(cycle)
    if r.is_manager:
        context["team"] = _team(r.employee)
    if r.hr_admin:
        context["organisation"] = selectors.organisation_numbers()
        context["can_import"] = access.can_import_org(user)
    if r.executive:
        context["roots"], context["divisions"] = selectors.headcount_by_division()
    if r.is_partner:
        context["partnered"] = list(
            access.partnered_departments(user)
            .select_related("head__user")
            .annotate(headcount=Count("employees", filter=Q(employees__is_active=True)))
            .order_by("name")
        )
    return render(request, "perfcycle/home.html", context)


def _team(manager: Employee) -> dict:
    direct = access.direct_reports(manager).filter(is_active=True)
    reports = list(
        direct.select_related("user", "position", "department").order_by("user__full_name")[
            :TEAM_LIST_LIMIT
        ]
    )
    return {
        "reports": reports,
        "direct_count": len(reports) if len(reports) < TEAM_LIST_LIMIT else direct.count(),
        "subtree_count": access.reports_under(manager).filter(is_active=True).count(),
    }
