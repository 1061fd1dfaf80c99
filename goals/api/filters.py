"""Query-string filters for the goal and check-in lists.

They narrow a queryset the access policy has already scoped; they never widen it.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from perfcycle.api.filters import OrderingFilter, id_filter

from ..models import CheckIn, Goal


class _StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0, yes/no); anything else is a field error, not ignored."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise forms.ValidationError(_("Use true or false."), code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = _StrictBooleanField

    def __init__(self, *args, **kwargs):
        # The REST framework's BooleanWidget turns anything unknown into "no filter".
        kwargs["widget"] = forms.TextInput
        super().__init__(*args, **kwargs)


class GoalFilter(filters.FilterSet):
    cycle = id_filter(_("Goals of this cycle."), field_name="cycle_id")
    level = filters.MultipleChoiceFilter(choices=Goal.Level.choices)
    status = filters.MultipleChoiceFilter(choices=Goal.Status.choices)
    department = id_filter(_("Goals owned by this department."), field_name="department_id")
    position = id_filter(_("KPIs of this position."), field_name="position_id")
    employee = id_filter(_("Goals owned by this person."), field_name="employee_id")
    parent = id_filter(_("Goals serving this goal."), field_name="parent_id")
    at_risk = StrictBooleanFilter(
        method="filter_at_risk",
        label=_("Goals whose latest check-in is at risk or off track (false: the others)."),
    )
    ordering = OrderingFilter(
        fields=(
            ("title", "title"),
            ("weight", "weight"),
            ("status", "status"),
            ("level_rank", "level"),
            ("due_date", "due_date"),
            ("progress", "progress"),
            ("attainment", "attainment"),
            ("last_checkin_at", "last_checkin_at"),
            ("id", "id"),
        )
    )

    class Meta:
        model = Goal
        fields = ["cycle", "level", "status", "department", "position", "employee", "parent"]

    def filter_at_risk(self, queryset, name, value):
        if value is None:
            return queryset
        at_risk = {"last_confidence__in": CheckIn.AT_RISK}
        return queryset.filter(**at_risk) if value else queryset.exclude(**at_risk)


class CheckInFilter(filters.FilterSet):
    goal = id_filter(_("Check-ins of this goal."), field_name="goal_id")
    cycle = id_filter(_("Check-ins of goals in this cycle."), field_name="goal__cycle_id")
    confidence = filters.ChoiceFilter(choices=CheckIn.Confidence.choices)
    ordering = OrderingFilter(fields=(("recorded_at", "recorded_at"), ("id", "id")))

    class Meta:
        model = CheckIn
        fields = ["goal", "cycle", "confidence"]
