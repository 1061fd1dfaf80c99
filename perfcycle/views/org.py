"""The organisation pages: the department tree (expanded lazily) and a department's page."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from perfcycle import access, selectors
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Department
from perfcycle.views.people import PAGE_SIZE, directory, directory_export, employee_profile

__all__ = [
    "department_tree",
    "department_children",
    "department_detail",
    "directory",
    "directory_export",
    "employee_profile",
]


@login_required
@require_GET
def department_tree(request):
    visible = access.departments_visible_to(request.user)
    nodes = selectors.department_nodes(visible=visible, parent=None)
    if len(nodes) == 1 and nodes[0].has_children:
        # One company at the top: open it, so the divisions show without a click.
        nodes[0].open_children = selectors.department_nodes(visible=visible, parent=nodes[0])
    return render(request, "perfcycle/department_tree.html", {"nodes": nodes})


@login_required
@require_GET
def department_children(request, pk):
    """One level of the tree, as an HTMX fragment; without HTMX, the department's page."""
    visible = access.departments_visible_to(request.user)
    department = access.get_visible_or_404(visible, pk=pk)
    if not request.htmx:
        return redirect("department_detail", pk=department.pk)
    nodes = selectors.department_nodes(visible=visible, parent=department)
    return render(request, "perfcycle/department_tree.html#nodes", {"nodes": nodes})


@login_required
@require_GET
def department_detail(request, pk):
    user = request.user
    visible = access.departments_visible_to(user)
    department = access.get_visible_or_404(
        visible.select_related("head__user", "head__position"), pk=pk
    )
    chain = ancestor_ids(Department, "parent", department.pk)
    by_id = visible.in_bulk(chain)
    people = access.directory_visible_to(user).filter(department=department)
    page = Paginator(
        people.select_related("user", "position").order_by("user__full_name", "pk"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    positions = department.positions.annotate(
        holder_count=Count("holders", filter=Q(holders__is_active=True))
    ).order_by("title")
    context = {
        "department": department,
        "breadcrumb": [by_id[i] for i in reversed(chain) if i in by_id],
        "children": selectors.department_nodes(visible=visible, parent=department),
        "headcount": selectors.subtree_headcounts([department.pk]).get(department.pk, 0),
        "positions": positions,
        "page_obj": page,
    }
    return render(request, "perfcycle/department_detail.html", context)
