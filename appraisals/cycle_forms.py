"""Forms of the HR administrator's cycle pages: a new cycle, the cycle's appraisal
settings, advancing the phase, the appraisal list's filters, and the changes to one
appraisal (another reviewer, withdrawing, adding a late joiner).

The forms check the shape of the input (numbers, dates, totals of 100);
``appraisals.services`` applies the rules and writes, and its ValidationError is put
back on the form next to the field it names.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from goals.forms import ServiceErrorsMixin
from perfcycle.forms import SEARCH_LENGTH, search_text
from perfcycle.models import Cycle, Department, Employee, RatingScale

from .models import Appraisal, Competency, CycleSettings

REASON_LENGTH = 2000


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _settings_field(name: str, **kwargs) -> forms.Field:
    """The form field for a settings field, with the model's label, help text and limits."""
    return CycleSettings._meta.get_field(name).formfield(**kwargs)


def _reason_field(label=None, *, required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=label or _("Reason"),
        required=required,
        max_length=REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the appraisal's history."),
    )


class _Form(ServiceErrorsMixin, forms.Form):
    """Labels without a colon; errors of a group of fields (the competencies, the
    guideline) are kept for the group as well as listed at the top."""

    groups: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.group_errors: dict[str, list[str]] = {name: [] for name in self.groups}

    def add_group_error(self, group: str, messages) -> None:
        messages = [messages] if isinstance(messages, str) else list(messages)
        self.group_errors[group].extend(str(m) for m in messages)
        self.add_error(None, messages)

    def add_service_errors(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            groups = {k: v for k, v in exc.error_dict.items() if k in self.group_errors}
            for name, errors in groups.items():
                for error in errors:
                    self.add_group_error(name, error.messages)
            rest = {k: v for k, v in exc.error_dict.items() if k not in groups}
            if not rest:
                return
            exc = ValidationError(rest)
        super().add_service_errors(exc)


class CycleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Cycle) -> str:
        return f"{obj.name} ({obj.get_status_display()})"


# --- a new cycle ----------------------------------------------------------------------


class NewCycleForm(_Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("For example FY2027."))
    period_start = forms.DateField(label=_("Period start"), widget=_date_input())
    period_end = forms.DateField(label=_("Period end"), widget=_date_input())
    template = CycleChoiceField(
        label=_("Start from"),
        queryset=Cycle.objects.none(),
        required=False,
        empty_label=_("Nothing: the default settings"),
        help_text=_(
            "The new cycle copies this cycle's rating scale, section weights, competencies, "
            "eligibility, guideline and phase deadlines (moved with the period)."
        ),
    )
    rating_scale = forms.ModelChoiceField(
        label=_("Rating scale"),
        queryset=RatingScale.objects.none(),
        required=False,
        empty_label=_("The same as the cycle it starts from"),
        help_text=_("Another scale than the earlier cycle's needs a new guideline."),
    )

    def __init__(self, data=None, *, cycles: QuerySet[Cycle], scales: QuerySet[RatingScale]):
        cycles = cycles.order_by("-period_start", "name")
        latest = cycles.first()
        initial: dict[str, Any] = {}
        if latest is not None:
            length = latest.period_end - latest.period_start
            start = latest.period_end + datetime.timedelta(days=1)
            initial = {"template": latest.pk, "period_start": start, "period_end": start + length}
        super().__init__(data, initial=initial)
        self.fields["template"].queryset = cycles
        self.fields["rating_scale"].queryset = scales.order_by("name")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("period_start"), cleaned.get("period_end")
        if start and end and end <= start:
            self.add_error("period_end", _("The period must end after it starts."))
        neither = not cleaned.get("template") and not cleaned.get("rating_scale")
        if neither and "rating_scale" not in self.errors and "template" not in self.errors:
            self.add_error("rating_scale", _("Choose a rating scale, or a cycle to start from."))
        return cleaned


# --- the cycle's appraisal settings -----------------------------------------------------

# Fields fixed once the reviews are under way (``services.cycles.LATE_FIELDS`` may change).
FIXED_FIELDS = ("kpi_weight", "competency_weight", "manager_goal_share", "hired_before")
LATE_FIELDS = ("guideline_tolerance", "second_level_approval", "appeal_days")


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


class CycleSettingsForm(_Form):
    """Section weights, the manager's share, competencies, eligibility, the guideline and
    the appeal window. ``late``: the reviews are under way, only the guideline,
    second-level approval and the appeal window may change; ``closed``: nothing may."""

    groups = ("competencies", "guideline")

    version = forms.IntegerField(widget=forms.HiddenInput)
    kpi_weight = _settings_field("kpi_weight", min_value=0, max_value=100)
    competency_weight = _settings_field("competency_weight", min_value=0, max_value=100)
    manager_goal_share = _settings_field("manager_goal_share", min_value=0, max_value=100)
    hired_before = _settings_field("hired_before", widget=_date_input())
    departments = forms.ModelMultipleChoiceField(
        label=CycleSettings._meta.get_field("departments").verbose_name.capitalize(),
        queryset=Department.objects.none(),
        required=False,
        help_text=CycleSettings._meta.get_field("departments").help_text,
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    guideline_tolerance = _settings_field("guideline_tolerance", min_value=0, max_value=100)
    second_level_approval = _settings_field("second_level_approval", required=False)
    appeal_days = _settings_field("appeal_days", min_value=0, max_value=365)
    change_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=REASON_LENGTH,
        help_text=_("Optional; kept in the history."),
    )

    def __init__(
        self,
        data=None,
        *,
        settings: CycleSettings,
        levels: list,
        competencies: list[Competency],
        chosen: dict[int, int],
        late: bool,
        closed: bool,
    ):
        initial = {
            "version": settings.version,
            **{name: getattr(settings, name) for name in (*FIXED_FIELDS, *LATE_FIELDS)},
            "departments": list(settings.departments.values_list("pk", flat=True)),
        }
        for competency in competencies:
            initial[f"competency-{competency.pk}"] = competency.pk in chosen
            initial[f"competency-{competency.pk}-weight"] = chosen.get(competency.pk, 1)
        for level in levels:
            initial[f"guideline-{level.value}"] = settings.guideline.get(str(level.value))
        super().__init__(data, initial=initial)
        self.late, self.closed = late, closed
        self.levels, self.competencies = levels, competencies
        self.fields["departments"].queryset = Department.objects.order_by("name", "pk")
        for competency in competencies:
            self.fields[f"competency-{competency.pk}"] = forms.BooleanField(
                label=competency.name, required=False
            )
            label = _("Weight of %(name)s") % {"name": competency.name}
            self.fields[f"competency-{competency.pk}-weight"] = forms.IntegerField(
                label=label,
                required=False,
                min_value=1,
                max_value=100,
                widget=forms.NumberInput(attrs={"aria-label": label}),
            )
        for level in levels:
            self.fields[f"guideline-{level.value}"] = forms.IntegerField(
                label=str(level),
                required=False,
                min_value=0,
                max_value=100,
                widget=forms.NumberInput(
                    attrs={"data-total": "guideline", "aria-describedby": "guideline-total"}
                ),
            )
        for name in ("kpi_weight", "competency_weight"):
            self.fields[name].widget.attrs["data-total"] = "sections"
        self.fields["competency_weight"].widget.attrs["aria-describedby"] = "section-total"
        fixed = [*FIXED_FIELDS, "departments", *(f for f in self.fields if f.startswith("comp"))]
        for name in self.fields:
            if name == "version":
                continue
            if closed or (late and name in fixed):
                self.fields[name].disabled = True
        self._set_totals_help(settings)

    # -- what the page shows beside the fields

    @property
    def competency_rows(self):
        return [
            (c, self[f"competency-{c.pk}"], self[f"competency-{c.pk}-weight"])
            for c in self.competencies
        ]

    @property
    def guideline_rows(self):
        return [(level, self[f"guideline-{level.value}"]) for level in self.levels]

    def _value(self, name: str):
        if self.is_bound and not self.fields[name].disabled:
            return self.data.get(name)
        return self.initial.get(name)

    def _set_totals_help(self, settings: CycleSettings) -> None:
        kpi = _int(self._value("kpi_weight")) or 0
        competency = _int(self._value("competency_weight")) or 0
        self.section_total = kpi + competency
        self.guideline_total = sum(
            _int(self._value(f"guideline-{level.value}")) or 0 for level in self.levels
        )

    # -- checks across fields

    def clean(self):
        cleaned = super().clean()
        kpi, competency = cleaned.get("kpi_weight"), cleaned.get("competency_weight")
        if kpi is not None and competency is not None and kpi + competency != 100:
            self.add_error(
                "competency_weight",
                _("The section weights must total 100; they total %(total)s.")
                % {"total": kpi + competency},
            )
        for c in self.competencies:
            weight = f"competency-{c.pk}-weight"
            missing = cleaned.get(f"competency-{c.pk}") and cleaned.get(weight) is None
            if missing and weight not in self.errors:
                self.add_error(
                    weight, _("Give %(name)s a weight from 1 to 100.") % {"name": c.name}
                )
        shares = [cleaned.get(f"guideline-{level.value}") for level in self.levels]
        given = [s for s in shares if s is not None]
        if given and sum(given) != 100:
            self.add_group_error(
                "guideline",
                _("The guideline shares must total 100 percent; they total %(total)s.")
                % {"total": sum(given)},
            )
        return cleaned

    # -- what goes to the service

    def settings_data(self) -> dict[str, Any]:
        """The settings the service is given: what may still change in this phase."""
        cleaned = self.cleaned_data
        names = LATE_FIELDS if self.late else (*FIXED_FIELDS, *LATE_FIELDS)
        data = {name: cleaned[name] for name in names}
        shares = {
            str(level.value): cleaned.get(f"guideline-{level.value}") for level in self.levels
        }
        if any(v is not None for v in shares.values()):
            data["guideline"] = {k: v or 0 for k, v in shares.items()}
        else:
            data["guideline"] = {}
        return data

    def chosen_competencies(self) -> list[tuple[Competency, int]] | None:
        if self.late:
            return None
        cleaned = self.cleaned_data
        return [
            (c, cleaned[f"competency-{c.pk}-weight"])
            for c in self.competencies
            if cleaned.get(f"competency-{c.pk}")
        ]

    def chosen_departments(self) -> list[Department] | None:
        if self.late:
            return None
        return list(self.cleaned_data["departments"])


# --- advancing the phase ------------------------------------------------------------------


class AdvanceForm(_Form):
    phase = forms.CharField(widget=forms.HiddenInput)
    force = forms.BooleanField(
        label=_("Advance anyway"),
        required=False,
        help_text=_("Only for the amber items; the red ones must be dealt with first."),
    )
    reason = forms.CharField(
        label=_("Reason for advancing anyway"),
        required=False,
        max_length=REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when you advance anyway; kept in the cycle's history."),
    )


# --- the appraisal list -----------------------------------------------------------------


def stage_choices() -> list[tuple[str, str]]:
    return [("", _("All stages")), *Appraisal.Stage.choices]


class AppraisalFilterForm(_Form):
    """Filters of a cycle's appraisal list; they travel in the URL. An invalid value is
    reported on the form and otherwise ignored."""

    q = forms.CharField(
        label=_("Person"),
        required=False,
        max_length=SEARCH_LENGTH,
        help_text=_("Part of a name, or an employee number."),
    )
    stage = forms.ChoiceField(label=_("Stage"), required=False, choices=stage_choices)
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("All departments"),
        help_text=_("Includes its sub-departments."),
    )
    reviewer = forms.CharField(
        label=_("Reviewer"),
        required=False,
        max_length=SEARCH_LENGTH,
        help_text=_("Part of a name, or an employee number."),
    )
    no_reviewer = forms.BooleanField(label=_("No reviewer"), required=False)

    def __init__(self, data, *, departments: QuerySet[Department]):
        super().__init__(data)
        self.fields["department"].queryset = departments.order_by("name", "pk")

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})

        def text(name):
            return search_text(self, name)

        return {
            "q": text("q"),
            "stage": cleaned.get("stage") or "",
            "department": cleaned.get("department"),
            "reviewer": text("reviewer"),
            "no_reviewer": bool(cleaned.get("no_reviewer")),
        }


# --- one appraisal: another reviewer, withdrawing, adding -------------------------------


class ReassignForm(_Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reviewer = forms.CharField(
        label=_("New reviewer's employee number"),
        max_length=32,
        help_text=_("Any active employee; the managers above the person are suggested."),
        widget=forms.TextInput(attrs={"list": "reviewer-suggestions", "autocomplete": "off"}),
    )
    reason = _reason_field()

    def __init__(self, *args, people: QuerySet[Employee], **kwargs):
        super().__init__(*args, **kwargs)
        self.people = people

    def clean_reviewer(self) -> Employee:
        number = self.cleaned_data["reviewer"].strip()
        found = self.people.filter(employee_number__iexact=number).select_related("user").first()
        if found is None:
            raise ValidationError(
                _("No active employee has the number %(number)s.") % {"number": number}
            )
        return found


class WithdrawForm(_Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = _reason_field(_("Why the appraisal is withdrawn"))


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Employee) -> str:
        return f"{obj.user.full_name} ({obj.employee_number}), {obj.department.name}"


class AddAppraisalForm(_Form):
    aliases = {"employee": "person"}

    person = PersonChoiceField(
        label=_("Person"),
        queryset=Employee.objects.none(),
        required=False,
        empty_label=_("Choose…"),
        help_text=_("Active people without an appraisal in this cycle, the latest hired first."),
    )
    employee_number = forms.CharField(
        label=_("Or their employee number"), required=False, max_length=32
    )
    reason = _reason_field()

    def __init__(self, *args, candidates: QuerySet[Employee], people: QuerySet[Employee], **kw):
        super().__init__(*args, **kw)
        self.fields["person"].queryset = candidates
        self.people = people

    def clean(self):
        cleaned = super().clean()
        number = (cleaned.get("employee_number") or "").strip()
        person = cleaned.get("person")
        if person is None and not number:
            if "person" not in self.errors:
                self.add_error("person", _("Choose the person, or give their employee number."))
            return cleaned
        if person is None:
            person = (
                self.people.filter(employee_number__iexact=number)
                .select_related("user", "department", "manager")
                .first()
            )
            if person is None:
                self.add_error(
                    "employee_number",
                    _("Nobody with the number %(number)s is among the people you look after.")
                    % {"number": number},
                )
        elif number and person.employee_number.lower() != number.lower():
            self.add_error("employee_number", _("Choose the person or give a number, not both."))
        cleaned["employee"] = person
        return cleaned
