"""Forms of the calibration and release pages. They check the shape of the input; the
services in ``appraisals.services.calibration`` apply the rules, and their
ValidationError is put back on the form (``add_service_errors``)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from goals.forms import ServiceErrorsMixin
from perfcycle.forms import SEARCH_LENGTH, STALE_PAGE, search_text
from perfcycle.models import Department, RatingLevel, User

from .calibration_grid import SORTS, UNRATED, GridFilters, panel_candidates, panel_matches


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
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Managers and HR business partners who see the grid and may move ratings. "
            "Untick someone to take them off; find others to add below."
        ),
    )


class PanelSearchForm(forms.Form):
    """The panel picker's search (GET, ``panel_q``). Through HTMX the people ticked among
    earlier matches come along as ``participants``, so new matches keep them ticked."""

    panel_q = forms.CharField(
        label=_("Find a manager or HR partner"),
        required=False,
        max_length=SEARCH_LENGTH,
        # Its form is the page's search form (``panel-find``), outside the panel's
        # POST form: searching never posts the panel.
        widget=forms.TextInput(attrs={"type": "search", "form": "panel-find"}),
        help_text=_("Part of a name, an e-mail address or an employee number."),
    )

    def __init__(self, data):
        super().__init__(data)
        self.label_suffix = ""

    def text(self) -> str:
        self.is_valid()
        return search_text(self, "panel_q")

    def ticked(self) -> set[int]:
        return _ticked(self.data, "participants")


def _ticked(data, name: str) -> set[int]:
    """The user pks a list of checkboxes sent; anything else is left out."""
    values = forms.CheckboxSelectMultiple().value_from_datadict(data, {}, name) or []
    return {int(value) for value in values if str(value).isdigit()}


@dataclass(frozen=True)
class PanelChoice:
    """One person's checkbox in the panel picker."""

    user: User
    label: str
    checked: bool


class PanelPickerMixin:
    """A ``participants`` field that validates against every panel candidate but lists
    only the panel, the people ticked on the page, and the people a search found (at
    most ``PANEL_MATCHES``): a company has thousands of candidates.

    ``panel_rows`` (the panel, ticked unless unticked on a form sent back),
    ``picked_rows`` (others ticked on the page), ``match_rows`` and ``more_matches`` are
    what the template shows; the widget's choices are the same people."""

    def _pick(self, *, panel, search: PanelSearchForm | None) -> None:
        field = self.fields["participants"]
        candidates = panel_candidates(keep=panel)
        # Validation is against every candidate; assigning the queryset resets the
        # widget's choices, so they are set after it.
        field.queryset = candidates
        on_panel = {user.pk for user in panel}
        if self.is_bound:
            ticked = _ticked(self.data, self.add_prefix("participants"))
        else:
            ticked = on_panel | (search.ticked() if search else set())
            self.initial["participants"] = sorted(ticked)
        others = ticked - on_panel
        picked = list(candidates.filter(pk__in=others)) if others else []
        self.search_text = search.text() if search else ""
        matches, self.more_matches = panel_matches(self.search_text, exclude=[*panel, *picked])

        def row(user, checked: bool) -> PanelChoice:
            return PanelChoice(user, field.label_from_instance(user), checked)

        self.panel_rows = [row(user, user.pk in ticked) for user in panel]
        self.picked_rows = [row(user, True) for user in picked]
        self.match_rows = [row(user, False) for user in matches]
        field.widget.choices = [
            (choice.user.pk, choice.label)
            for choice in self.panel_rows + self.picked_rows + self.match_rows
        ]


class SessionOpenForm(PanelPickerMixin, ServiceErrorsMixin, forms.Form):
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

    def __init__(self, *args, search: PanelSearchForm | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["departments"].queryset = Department.objects.order_by("name", "pk")
        self._pick(panel=[], search=search)


class ParticipantsForm(PanelPickerMixin, ServiceErrorsMixin, forms.Form):
    participants = _participants_field()

    def __init__(self, *args, panel=(), search: PanelSearchForm | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self._pick(panel=list(panel), search=search)


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
    # A search, not a list of every manager: a session of thousands has hundreds.
    reviewer = forms.CharField(
        label=_("Manager"),
        required=False,
        max_length=SEARCH_LENGTH,
        help_text=_("Part of a name, or an employee number."),
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
        levels: list[RatingLevel],
    ):
        super().__init__(data)
        self.label_suffix = ""
        self.fields["department"].choices = [("", _("All departments"))] + [
            (d.pk, d.name) for d in departments
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
            reviewer=search_text(self, "reviewer"),
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
