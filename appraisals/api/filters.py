"""Query-string filters for the appraisal lists.

They narrow a queryset the access policy has already scoped; they never widen it.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from perfcycle import access
from perfcycle.api.filters import OrderingFilter, id_filter
from perfcycle.hierarchy import subtree_sql
from perfcycle.models import Department

from ..models import Appeal, Appraisal, CalibrationAdjustment, CalibrationSession, Review


class AppraisalFilter(filters.FilterSet):
    cycle = id_filter(_("Appraisals of this cycle."), field_name="cycle_id")
    stage = filters.MultipleChoiceFilter(choices=Appraisal.Stage.choices)
    department = id_filter(
        _("Appraisals of people who sat in this department at launch."),
        field_name="department_id",
    )
    department_subtree = id_filter(
        _("Appraisals of people in this department or any department below it, at launch."),
        method="filter_department_subtree",
    )
    reviewer = id_filter(_("Appraisals this person reviews."), field_name="reviewer_id")
    employee = id_filter(_("This person's appraisals."), field_name="employee_id")
    session = id_filter(_("Appraisals in this calibration session."), method="filter_session")
    ordering = OrderingFilter(
        fields=(
            ("employee__user__full_name", "name"),
            ("employee__employee_number", "employee_number"),
            ("stage", "stage"),
            ("id", "id"),
        )
    )

    class Meta:
        model = Appraisal
        fields = ["cycle", "stage", "department", "reviewer", "employee", "session"]

    def filter_department_subtree(self, queryset, name, value):
        return queryset.filter(department__in=subtree_sql(Department, "parent", [value]))

    def filter_session(self, queryset, name, value):
        # Which session holds one's own appraisal is part of the assessment: not before
        # release.
        return access.without_own_assessment(self.request.user, queryset.filter(session_id=value))


class ReviewFilter(filters.FilterSet):
    cycle = id_filter(_("Reviews in this cycle."), field_name="appraisal__cycle_id")
    appraisal = id_filter(_("The reviews of this appraisal."), field_name="appraisal_id")
    employee = id_filter(_("Reviews of this person."), field_name="appraisal__employee_id")
    reviewer = id_filter(
        _("Reviews of the appraisals this person reviews."), field_name="appraisal__reviewer_id"
    )
    kind = filters.ChoiceFilter(choices=Review.Kind.choices)
    status = filters.MultipleChoiceFilter(choices=Review.Status.choices)

    class Meta:
        model = Review
        fields = ["cycle", "appraisal", "employee", "reviewer", "kind", "status"]


class CalibrationSessionFilter(filters.FilterSet):
    cycle = id_filter(_("Sessions of this cycle."), field_name="cycle_id")
    status = filters.ChoiceFilter(choices=CalibrationSession.Status.choices)

    class Meta:
        model = CalibrationSession
        fields = ["cycle", "status"]


class CalibrationAdjustmentFilter(filters.FilterSet):
    session = id_filter(_("Moves made in this session."), field_name="session_id")
    appraisal = id_filter(_("Moves of this appraisal's rating."), field_name="appraisal_id")

    class Meta:
        model = CalibrationAdjustment
        fields = ["session", "appraisal"]


class AppealFilter(filters.FilterSet):
    cycle = id_filter(_("Appeals in this cycle."), field_name="appraisal__cycle_id")
    appraisal = id_filter(_("Appeals against this appraisal."), field_name="appraisal_id")
    status = filters.ChoiceFilter(choices=Appeal.Status.choices)

    class Meta:
        model = Appeal
        fields = ["cycle", "appraisal", "status"]
