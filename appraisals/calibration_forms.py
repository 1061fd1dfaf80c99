"""Forms of the calibration and release pages. They check the shape of the input; the
services in ``appraisals.services.calibration`` apply the rules, and their
ValidationError is put back on the form (``add_service_errors``)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from goals.forms import ServiceErrorsMixin
from perfcycle.forms import SEARCH_LENGTH, STALE_PAGE, search_text
from perfcycle.models import Department, Employee, RatingLevel

from .calibration_grid import SORTS, UNRATED, GridFilters, panel_candidates


class PersonChoiceField(forms.ModelMultipleChoiceField):
    """Users, named with their department so two people of one name can be told apart."""

    def label_from_instance(self, obj) -> str:
        employee = getattr(obj, "employee", None)
        if employee is None:
            return obj.full_name or obj.email
        return f"{obj.full_name} — {employee.department.name}"


class DepartmentsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Department) -> str:
        return f"{obj.name} ({obj.code})"


def _participants_field() -> PersonChoiceField:
    return PersonChoiceField(
        label=_("Panel"),
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_(
            "Managers and HR business partners who see the grid and may move ratings. "
            "Hold Ctrl (or ⌘) to choose several."
        ),
    )


class SessionOpenForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=120,
        help_text=_("For example the division it covers: “Sales division”."),
    )
    departments = DepartmentsField(
        label=_("Departments"),
        queryset=Department.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_(
            "With their sub-departments. The session takes every open appraisal there "
            "that no other session holds."
        ),
    )
    participants = _participants_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["departments"].queryset = Department.objects.order_by("name", "pk")
        self.fields["participants"].queryset = panel_candidates()


class ParticipantsForm(ServiceErrorsMixin, forms.Form):
    participants = _participants_field()

    def __init__(self, *args, panel=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["participants"].queryset = panel_candidates(keep=panel)
        if not self.is_bound:
            self.initial["participants"] = [user.pk for user in panel]


class MoveForm(ServiceErrorsMixin, forms.Form):
    """Move one person's rating; the reason is kept in the adjustments log."""

    to_level = forms.TypedChoiceField(label=_("Move to"), coerce=int)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        # Checked by the service, so the panel gets the same message as the API.
        required=False,
    )
    # Required: without it the service could not tell a stale page from a fresh one.
    version = forms.IntegerField(widget=forms.HiddenInput, error_messages={"required": STALE_PAGE})

    def __init__(self, *args, levels: list[RatingLevel], **kwargs):
        super().__init__(*args, **kwargs)
        self.levels = {level.pk: level for level in levels}
        self.fields["to_level"].choices = [(level.pk, str(level)) for level in levels]

    @property
    def level(self) -> RatingLevel:
        return self.levels[self.cleaned_data["to_level"]]


class GridFilterForm(forms.Form):
    """The grid's filters; they travel in the URL. A value that does not exist (a stale
    id) is reported on the form and otherwise ignored."""

    q = forms.CharField(
        label=_("Person"),
        required=False,
        max_length=SEARCH_LENGTH,
        help_text=_("Part of a name, or an employee number."),
    )
    department = forms.TypedChoiceField(
        label=_("Department"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("Includes its sub-departments."),
    )
    reviewer = forms.TypedChoiceField(
        label=_("Manager"), required=False, coerce=int, empty_value=None
    )
    level = forms.ChoiceField(label=_("Rating"), required=False)
    moved = forms.BooleanField(label=_("Moved only"), required=False)
    sort = forms.ChoiceField(
        label=_("Order"),
        required=False,
        choices=[
            ("name", _("Name")),
            ("-score", _("Score, highest first")),
            ("score", _("Score, lowest first")),
            ("department", _("Department")),
        ],
    )

    def __init__(
        self,
        data,
        *,
        departments: list[Department],
        reviewers: list[Employee],
        levels: list[RatingLevel],
    ):
        super().__init__(data)
        self.label_suffix = ""
        self.fields["department"].choices = [("", _("All departments"))] + [
            (d.pk, d.name) for d in departments
        ]
        self.fields["reviewer"].choices = [("", _("All managers"))] + [
            (e.pk, e.user.full_name) for e in reviewers
        ]
        self.fields["level"].choices = (
            [("", _("Any rating"))]
            + [(str(level.pk), str(level)) for level in levels]
            + [(UNRATED, _("Not rated yet"))]
        )

    def filters(self) -> GridFilters:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        q = search_text(self)
        sort = data.get("sort") or "name"
        return GridFilters(
            q=q,
            department=data.get("department"),
            reviewer=data.get("reviewer"),
            level=data.get("level") or "",
            moved=bool(data.get("moved")),
            sort=sort if sort in SORTS else "name",
        )


class ReleaseForm(forms.Form):
    ALL, SELECTED = "all", "selected"

    scope = forms.ChoiceField(
        choices=[(ALL, _("Release every final result")), (SELECTED, _("Release the selected"))]
    )
    departments = forms.TypedMultipleChoiceField(label=_("Departments"), required=False, coerce=int)

    def __init__(self, *args, departments: list[Department], **kwargs):
        super().__init__(*args, **kwargs)
        self.by_pk = {d.pk: d for d in departments}
        self.fields["departments"].choices = [(d.pk, d.name) for d in departments]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == self.SELECTED and not cleaned.get("departments"):
            self.add_error("departments", _("Choose the departments to release."))
        return cleaned

    def chosen(self) -> list[Department] | None:
        """The departments to release, or None for the whole cycle."""
        if self.cleaned_data["scope"] == self.ALL:
            return None
        return [self.by_pk[pk] for pk in self.cleaned_data["departments"]]
