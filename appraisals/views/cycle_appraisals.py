"""A cycle's appraisals, for HR administrators and HR business partners: the list (search,
filters in the URL, paging, CSV export) and the changes HR makes to one appraisal
(another reviewer, withdrawing it, adding a late joiner). The URLs are listed with the
cycle pages (``appraisals.views.cycles``).

Every cycle and appraisal is fetched through ``perfcycle.access`` (ids outside the
user's scope are a 404); every change goes through ``appraisals.services``, whose
ValidationError is shown on the form with a 400 and whose StaleEdit is shown as a
conflict (409), nothing lost.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from perfcycle import access
from perfcycle.csv_export import csv_response, number_cell
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Cycle, Employee
from perfcycle.services import StaleEdit

from .. import selectors, services, states
from ..cycle_forms import AddAppraisalForm, AppraisalFilterForm, ReassignForm, WithdrawForm
from ..models import Appraisal

P = Cycle.Status
A = Appraisal.Stage
APPRAISALS_PER_PAGE = 50
# The "add an appraisal" page offers this many of the latest hires to pick from.
CANDIDATES_SHOWN = 200
# Phases in which a late joiner may be added (``services.appraisal_add`` decides).
ADD_PHASES = (*states.LAUNCHABLE, P.MANAGER_REVIEW)


# --- the cycle's appraisals ---------------------------------------------------------------


def _list_cycle(user, pk) -> Cycle:
    """A cycle for the appraisal list: HR administrators and HR business partners."""
    access.require(access.can_view_cycle_dashboard(user))
    return access.get_visible_or_404(
        access.cycles_visible_to(user).select_related("rating_scale"), pk=pk
    )


def _appraisals_filtered(request, pk):
    user = request.user
    cycle = _list_cycle(user, pk)
    form = AppraisalFilterForm(request.GET, departments=access.dashboard_departments(user))
    filters = form.filters()
    rows = selectors.appraisal_list_for_user(user=user, cycle=cycle)
    if filters["q"]:
        q = filters["q"]
        rows = rows.filter(
            Q(employee__user__full_name__icontains=q) | Q(employee__employee_number__icontains=q)
        )
    if filters["stage"]:
        rows = rows.filter(stage=filters["stage"])
    if filters["department"] is not None:
        subtree = access.department_subtree(filters["department"]).values("pk")
        rows = rows.filter(department__in=subtree)
    if filters["reviewer"]:
        r = filters["reviewer"]
        rows = rows.filter(
            Q(reviewer__user__full_name__icontains=r) | Q(reviewer__employee_number__icontains=r)
        )
    if filters["no_reviewer"]:
        rows = rows.filter(reviewer__isnull=True)
    return cycle, form, rows, any(filters.values())


@login_required
@require_GET
def cycle_appraisals(request, pk):
    user = request.user
    cycle, form, rows, filtered = _appraisals_filtered(request, pk)
    page = Paginator(rows, APPRAISALS_PER_PAGE).get_page(request.GET.get("page"))
    ids = [a.pk for a in page.object_list]
    administrable = set(
        access.appraisals_administrable_by(user).filter(pk__in=ids).values_list("pk", flat=True)
    )
    for appraisal in page.object_list:
        appraisal.sees_assessment = access.sees_assessment_in_list(user, appraisal)
        administer = appraisal.pk in administrable
        appraisal.may_change = administer and appraisal.stage in states.OPEN_STAGES
        appraisal.may_reinstate = (
            administer and appraisal.stage == A.WITHDRAWN and cycle.status in ADD_PHASES
        )
    context = {
        "cycle": cycle,
        "form": form,
        "filtered": filtered,
        "page_obj": page,
        "may_add": cycle.status in ADD_PHASES and access.employees_changeable_by(user).exists(),
        "hr_admin": access.can_run_cycle(user, cycle),
    }
    template = "appraisals/cycle_appraisals.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(request, template, context)


@login_required
@require_GET
def cycle_appraisals_export(request, pk):
    cycle, _form, rows, _filtered = _appraisals_filtered(request, pk)
    return csv_response(_appraisals_csv(request.user, rows), f"appraisals-{cycle.pk}.csv")


def _level(level) -> str:
    return str(level) if level is not None else ""


def _appraisals_csv(user, rows):
    yield [
        _("Employee number"),
        _("Name"),
        _("Department"),
        _("Position"),
        _("Stage"),
        _("Reviewer"),
        _("Reviewer's employee number"),
        _("KPI score"),
        _("Competency score"),
        _("Overall score"),
        _("Rating from the score"),
        _("Manager's proposed rating"),
        _("Calibrated rating"),
        _("Final rating"),
        _("Released"),
    ]
    for a in rows.iterator(chunk_size=2000):
        person, reviewer = a.employee, a.reviewer
        row = [
            person.employee_number,
            person.user.full_name,
            a.department.name,
            person.position.title if person.position else "",
            a.get_stage_display(),
            reviewer.user.full_name if reviewer else "",
            reviewer.employee_number if reviewer else "",
        ]
        if access.sees_assessment_in_list(user, a):
            row += [
                number_cell(a.kpi_score),
                number_cell(a.competency_score),
                number_cell(a.overall_score),
                _level(a.computed_level),
                _level(a.manager_level),
                _level(a.calibrated_level),
                _level(a.final_level),
            ]
        else:
            row += [""] * 7
        row.append(timezone.localdate(a.released_at).isoformat() if a.released_at else "")
        yield row


# --- one appraisal: another reviewer, withdraw, add ------------------------------------


def _administered(request, pk, appraisal_pk) -> tuple[Cycle, Appraisal]:
    user = request.user
    cycle = access.get_visible_or_404(access.cycles_visible_to(user), pk=pk)
    visible = (
        access.appraisals_visible_to(user)
        .filter(cycle=cycle)
        .select_related("employee__user", "employee__department", "department", "reviewer__user")
    )
    appraisal = access.get_visible_or_404(visible, pk=appraisal_pk)
    access.require(access.can_administer_appraisal(user, appraisal))
    return cycle, appraisal


def _list_url(cycle: Cycle, appraisal: Appraisal | None = None) -> str:
    url = reverse("appraisals:cycle_appraisals", args=[cycle.pk])
    if appraisal is not None:
        url += "?q=" + appraisal.employee.employee_number
    return url


def _action_page(request, context: dict, *, status: int):
    return render(request, "appraisals/cycle_appraisal_action.html", context, status=status)


_CONFLICT = gettext_lazy(
    "Someone else changed this appraisal while you had the page open. Your entry is kept "
    "below but not saved: check the appraisal as it is now, then send it again."
)


@login_required
@require_http_methods(["GET", "POST"])
def appraisal_reassign(request, pk, appraisal_pk):
    user = request.user
    cycle, appraisal = _administered(request, pk, appraisal_pk)
    form = ReassignForm(
        request.POST if request.method == "POST" else None,
        people=access.directory_visible_to(user),
        initial={"version": appraisal.version},
    )
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.appraisal_reassign(
                    actor=user,
                    appraisal=appraisal,
                    reviewer=data["reviewer"],
                    reason=data["reason"],
                    expected_version=data["version"],
                )
            except StaleEdit:
                status = 409
                form.add_error(None, _CONFLICT)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    _("%(reviewer)s now reviews %(name)s.")
                    % {"reviewer": data["reviewer"].name, "name": appraisal.employee.name},
                )
                return redirect(_list_url(cycle, appraisal))
    chain = ancestor_ids(Employee, "manager", appraisal.employee_id)
    suggestions = (
        Employee.objects.filter(pk__in=chain, is_active=True)
        .select_related("user")
        .order_by("user__full_name")
    )
    context = {
        "cycle": cycle,
        "appraisal": appraisal,
        "form": form,
        "action": "reassign",
        "suggestions": suggestions,
    }
    return _action_page(request, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def appraisal_withdraw(request, pk, appraisal_pk):
    user = request.user
    cycle, appraisal = _administered(request, pk, appraisal_pk)
    form = WithdrawForm(
        request.POST if request.method == "POST" else None,
        initial={"version": appraisal.version},
    )
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                services.appraisal_withdraw(
                    actor=user,
                    appraisal=appraisal,
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["version"],
                )
            except StaleEdit:
                status = 409
                form.add_error(None, _CONFLICT)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    _("The appraisal of %(name)s was withdrawn.")
                    % {"name": appraisal.employee.name},
                )
                return redirect(_list_url(cycle, appraisal))
    context = {"cycle": cycle, "appraisal": appraisal, "form": form, "action": "withdraw"}
    return _action_page(request, context, status=status)


def _candidates(people, cycle: Cycle):
    """Active people without an appraisal in the cycle (a withdrawn one may be
    reinstated), the latest hired first."""
    taken = Appraisal.objects.filter(cycle=cycle).exclude(stage=A.WITHDRAWN).values("employee")
    ids = list(
        people.filter(is_active=True)
        .exclude(pk__in=taken)
        .order_by("-hire_date", "pk")
        .values_list("pk", flat=True)[:CANDIDATES_SHOWN]
    )
    return (
        Employee.objects.filter(pk__in=ids)
        .select_related("user", "department")
        .order_by("-hire_date", "user__full_name", "pk")
    )


@login_required
@require_http_methods(["GET", "POST"])
def appraisal_add(request, pk):
    user = request.user
    people = access.employees_changeable_by(user)
    access.require(people.exists())
    cycle = access.get_visible_or_404(access.cycles_visible_to(user), pk=pk)
    form = AddAppraisalForm(
        request.POST if request.method == "POST" else None,
        candidates=_candidates(people, cycle),
        people=people,
        initial={"employee_number": request.GET.get("employee", "")[:32]},
    )
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            employee = form.cleaned_data["employee"]
            try:
                appraisal = services.appraisal_add(
                    actor=user, cycle=cycle, employee=employee, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    _("%(name)s now has an appraisal in %(cycle)s.")
                    % {"name": employee.name, "cycle": cycle.name},
                )
                return redirect(_list_url(cycle, appraisal))
    context = {
        "cycle": cycle,
        "form": form,
        "action": "add",
        "add_open": cycle.status in ADD_PHASES,
    }
    return _action_page(request, context, status=status)


urlpatterns = [
    path("cycles/<int:pk>/appraisals/", cycle_appraisals, name="cycle_appraisals"),
    path(
        "cycles/<int:pk>/appraisals/export/",
        cycle_appraisals_export,
        name="cycle_appraisals_export",
    ),
    path("cycles/<int:pk>/appraisals/add/", appraisal_add, name="cycle_appraisal_add"),
    path(
        "cycles/<int:pk>/appraisals/<int:appraisal_pk>/reviewer/",
        appraisal_reassign,
        name="cycle_appraisal_reassign",
    ),
    path(
        "cycles/<int:pk>/appraisals/<int:appraisal_pk>/withdraw/",
        appraisal_withdraw,
        name="cycle_appraisal_withdraw",
    ),
]
