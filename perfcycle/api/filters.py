"""Query-string filters for the API lists (django-filter).

Filters narrow a queryset the access policy has already scoped; they never widen it.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from perfcycle.hierarchy import subtree_sql
from perfcycle.models import Cycle, Department, Employee, Position


class IdFilter(filters.NumberFilter):
    """A record id: a whole number (``NumberFilter`` would take ``1.5``) that fits a
    database id (SQLite fails on larger numbers instead of finding nothing)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


def id_filter(description="", **kwargs) -> IdFilter:
    """An :class:`IdFilter`, typed as an integer in the schema."""
    schema = {"type": "integer", "description": description}
    return extend_schema_field(schema)(IdFilter(**kwargs))


class OrderingFilter(filters.OrderingFilter):
    """``?ordering=name`` (``-name`` descending); ties broken by id so pages stay stable."""

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.order_by(*[self.get_ordering_value(param) for param in value], "pk")


class DepartmentFilter(filters.FilterSet):
    parent = id_filter(_("Departments directly under this one."), field_name="parent_id")
    ordering = OrderingFilter(fields=(("code", "code"), ("name", "name")))

    class Meta:
        model = Department
        fields = ["parent"]


class PositionFilter(filters.FilterSet):
    department = id_filter(_("Positions in this department."), field_name="department_id")
    ordering = OrderingFilter(fields=(("title", "title"), ("grade", "grade")))

    class Meta:
        model = Position
        fields = ["department"]


class EmployeeFilter(filters.FilterSet):
    department = id_filter(_("People in this department."), field_name="department_id")
    department_subtree = id_filter(
        _("People in this department or any department below it."),
        method="filter_department_subtree",
    )
    manager = id_filter(_("Direct reports of this person."), field_name="manager_id")
    position = id_filter(_("People in this position."), field_name="position_id")
    is_active = filters.BooleanFilter()
    ordering = OrderingFilter(
        fields=(
            ("employee_number", "employee_number"),
            ("user__full_name", "full_name"),
            ("hire_date", "hire_date"),
        )
    )

    class Meta:
        model = Employee
        fields = ["department", "department_subtree", "manager", "position", "is_active"]

    def filter_department_subtree(self, queryset, name, value):
        return queryset.filter(department__in=subtree_sql(Department, "parent", [value]))


class CycleFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Cycle.Status.choices)
    ordering = OrderingFilter(fields=(("period_start", "period_start"), ("name", "name")))

    class Meta:
        model = Cycle
        fields = ["status"]
