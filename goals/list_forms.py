"""Filters of the goal list pages. They travel in the URL (GET), so a filtered list can be
bookmarked and shared; an invalid value (a stale id, a status that does not exist) is
reported on the form and otherwise ignored."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from perfcycle.forms import SEARCH_LENGTH, search_text
from perfcycle.models import Cycle, Department

from .models import Goal


class CycleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.get_status_display()})"


class CycleFilterForm(forms.Form):
    """The cycle a goal list shows; every list page has it."""

    cycle = CycleChoiceField(
        label=_("Cycle"),
        queryset=Cycle.objects.none(),
        required=False,
        empty_label=None,
    )

    def __init__(self, data, *, cycles, cycle: Cycle | None):
        data = data.copy()
        # Without ?cycle= the page shows the default cycle; the select says which.
        if not data.get("cycle") and cycle is not None:
            data["cycle"] = str(cycle.pk)
        super().__init__(data)
        self.label_suffix = ""
        self.fields["cycle"].queryset = cycles.order_by("-period_start", "name")

    def filters(self) -> dict:
        """The valid filters besides the cycle (the view picks the cycle itself)."""
        self.is_valid()
        return {}

    def _clean_value(self, name, default=None):
        data = getattr(self, "cleaned_data", {})
        value = data.get(name)
        return default if value in (None, "") else value


def status_choices(*, exclude=()) -> list[tuple[str, str]]:
    return [("", _("All statuses"))] + [
        (value, label) for value, label in Goal.Status.choices if value not in exclude
    ]


class StatusFilterForm(CycleFilterForm):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=status_choices)

    def filters(self) -> dict:
        self.is_valid()
        return {"status": self._clean_value("status", "")}


class TeamFilterForm(CycleFilterForm):
    """My team's goals: who, which status, at risk, where, and whose weights are off."""

    q = forms.CharField(
        label=_("Person"),
        required=False,
        max_length=SEARCH_LENGTH,
        help_text=_("Part of a name or an employee number."),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        # A draft is still its author's: the team sees a goal once it is proposed.
        choices=lambda: status_choices(exclude=[Goal.Status.DRAFT]),
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("All departments"),
        help_text=_("Includes its sub-departments."),
    )
    at_risk = forms.BooleanField(
        label=_("At risk"),
        required=False,
        help_text=_("The latest check-in says at risk or off track."),
    )
    weights_off = forms.BooleanField(
        label=_("Weights off"),
        required=False,
        help_text=_("People whose approved goals' weights do not total 100."),
    )

    def __init__(self, data, *, cycles, cycle, departments):
        super().__init__(data, cycles=cycles, cycle=cycle)
        self.fields["department"].queryset = departments.order_by("name")

    def filters(self) -> dict:
        self.is_valid()
        return {
            "q": search_text(self),
            "status": self._clean_value("status", ""),
            "department": self._clean_value("department"),
            "at_risk": bool(self._clean_value("at_risk", False)),
            "weights_off": bool(self._clean_value("weights_off", False)),
        }
