"""People pages: the directory (search, filters, paging, live search, CSV export) and the
employee profile. The URLs name them through ``perfcycle.views.org``."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from perfcycle import access, selectors
from perfcycle.csv_export import csv_response
from perfcycle.forms import DirectoryFilterForm
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Employee

PAGE_SIZE = 25


def _filtered_people(request):
    """The directory's form and the people it selects, within the viewer's scope."""
    user = request.user
    form = DirectoryFilterForm(
        request.GET,
        departments=access.departments_visible_to(user),
        positions=access.positions_visible_to(user),
        # Leavers are HR's concern; the set itself still comes from the policy.
        show_status=access.can_view_org_overview(user),
    )
    filters = form.filters()
    status = filters.pop("status") if "status" in form.fields else form.STATUS_ACTIVE
    if status == form.STATUS_LEFT:
        base = access.employees_visible_to(user).filter(is_active=False)
    elif status == form.STATUS_ALL:
        base = access.directory_visible_to(user) | access.employees_visible_to(user).filter(
            is_active=False
        )
    else:
        base = access.directory_visible_to(user)
    filters.pop("status", None)
    return form, selectors.employee_search(base, **filters)


@login_required
@require_GET
def directory(request):
    form, people = _filtered_people(request)
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "perfcycle/directory.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(request, template, {"form": form, "page_obj": page})


@login_required
@require_GET
def directory_export(request):
    _form, people = _filtered_people(request)
    return csv_response(_csv_rows(people), "people.csv")


def _csv_rows(people):
    yield [
        _("Name"),
        _("E-mail"),
        _("Employee number"),
        _("Department"),
        _("Position"),
        _("Manager"),
    ]
    for person in people.iterator(chunk_size=2000):
        yield [
            person.user.full_name,
            person.user.email,
            person.employee_number,
            person.department.name,
            person.position.title if person.position else "",
            person.manager.user.full_name if person.manager else "",
        ]


@login_required
@require_GET
def employee_profile(request, pk):
    user = request.user
    # The card is for anyone who may look the person up; ids outside that are a 404.
    scope = access.directory_visible_to(user) | access.employees_visible_to(user)
    person = access.get_visible_or_404(
        scope.select_related("user", "department", "position", "manager__user"), pk=pk
    )
    context = {"person": person, "full": access.can_view_employee(user, person)}
    if context["full"]:
        chain = ancestor_ids(Employee, "manager", person.pk)
        by_id = scope.select_related("user", "position").in_bulk(chain)
        context.update(
            chain=[by_id[i] for i in reversed(chain) if i in by_id],
            reports=person.reports.filter(is_active=True)
            .select_related("user", "position")
            .order_by("user__full_name"),
            history=selectors.employee_history(person),
            can_change=access.can_use_hr_admin(user) and access.can_change_employee(user, person),
        )
    return render(request, "perfcycle/employee_profile.html", context)
