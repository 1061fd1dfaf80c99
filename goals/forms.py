"""Forms of the goal pages. They parse and check the shape of the input (numbers, dates,
a weight from 0 to 100); ``goals.services`` applies the rules and does the writing, and
its ValidationError is put back onto the form with :meth:`ServiceErrorsMixin.add_service_errors`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from perfcycle.models import Cycle, Department, Employee, Position

from .display import plain_number
from .models import NUMBER, PERCENT, CheckIn, Goal
from .selectors import goal_parent_choices, goal_previous_choices

L = Goal.Level
_TEXT_FIELDS = ("title", "description", "strategy_ref", "target_reason", "comment", "change_reason")


class ServiceErrorsMixin:
    """Put a service's ValidationError onto the form: each message next to its field when
    the form has it (``aliases`` maps the service's field names onto the form's), the
    rest at the top."""

    aliases: dict[str, str] = {}

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for name, errors in exc.error_dict.items():
            target = self.aliases.get(name, name)
            if target == NON_FIELD_ERRORS or target not in self.fields:
                target = None
            for error in errors:
                self.add_error(target, error.messages)


def _normalise_text(cleaned: dict[str, Any]) -> None:
    # Browsers send line breaks in a textarea as CRLF; store them as typed, with LF, so
    # an unchanged description is not taken for a change (it would mark a copy adjusted).
    for name in _TEXT_FIELDS:
        if isinstance(cleaned.get(name), str):
            cleaned[name] = cleaned[name].replace("\r\n", "\n").strip()


def _model_field(name: str, **kwargs) -> forms.Field:
    """The form field for a goal field, with the model's label, help text and limits."""
    return Goal._meta.get_field(name).formfield(**kwargs)


class GoalChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Goal) -> str:
        return f"{obj.title} — {obj.owner_name}"


class PreviousGoalChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Goal) -> str:
        if obj.target is None:
            return f"{obj.title} ({obj.cycle.name})"
        return str(
            _("%(title)s (%(cycle)s, target %(target)s)")
            % {"title": obj.title, "cycle": obj.cycle.name, "target": plain_number(obj.target)}
        )


def owner_display(owner) -> str:
    """How an owner is named in a choice or beside a fixed owner."""
    if owner is None:
        return ""
    if isinstance(owner, Employee):
        return owner.user.full_name
    if isinstance(owner, Position):
        return f"{owner.title} — {owner.department.name}"
    return owner.name


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return owner_display(obj)


def owner_label(level: str) -> str:
    return {
        L.DEPARTMENT: _("Department"),
        L.POSITION: _("Position"),
        L.PERSONAL: _("Person"),
    }.get(L(level), _("Owner"))


class GoalForm(ServiceErrorsMixin, forms.Form):
    """Create or edit one goal. The fields follow the level: a company objective is traced
    to the strategy, every other goal serves a goal one level up and has an owner.

    ``owner`` is the owner fixed by the page (from the URL, or the goal being edited): it
    is then carried in a hidden field. Otherwise ``owner_choices`` lists whom the user may
    choose. ``goal`` is the goal being edited (its version travels with the form, and its
    owner and level cannot change).
    """

    aliases = {
        "department": "owner",
        "position": "owner",
        "employee": "owner",
        "level": "owner",
        "source": NON_FIELD_ERRORS,
        "cycle": NON_FIELD_ERRORS,
    }

    owner = OwnerChoiceField(label=_("Owner"), queryset=Department.objects.none())
    parent = GoalChoiceField(
        label=_("Serves"),
        queryset=Goal.objects.none(),
        help_text=_("The goal one level up that this goal contributes to."),
    )
    title = _model_field("title")
    description = _model_field("description", widget=forms.Textarea(attrs={"rows": 3}))
    strategy_ref = _model_field("strategy_ref")
    strategy_url = _model_field("strategy_url", assume_scheme="https")
    weight = _model_field("weight", min_value=0, max_value=100)
    due_date = _model_field(
        "due_date", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    kind = forms.ChoiceField(label=_("Measured as"), choices=Goal.Kind.choices)
    unit = _model_field("unit")
    direction = forms.ChoiceField(
        label=_("Direction"),
        required=False,
        choices=[("", _("— (milestones have none)")), *Goal.Direction.choices],
        help_text=_("Whether a higher or a lower result is better, or a range is the aim."),
    )
    baseline = _model_field("baseline", help_text=_("Where the measure stands today."))
    threshold = _model_field("threshold")
    target = _model_field("target")
    stretch = _model_field("stretch")
    range_low = _model_field("range_low")
    range_high = _model_field("range_high")
    tolerance = _model_field("tolerance")
    previous = PreviousGoalChoiceField(
        label=_("Continues"),
        queryset=Goal.objects.none(),
        required=False,
        empty_label=_("Nothing: a new goal"),
        help_text=_(
            "The same goal in an earlier cycle. Its target must then be beaten, or the "
            "reason recorded."
        ),
    )
    target_reason = _model_field("target_reason", widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    change_reason = forms.CharField(
        label=_("Why the change"),
        required=False,
        max_length=300,
        help_text=_("Kept in the goal's history with your name, for the owner and HR."),
    )

    def __init__(
        self,
        data=None,
        *,
        level: str,
        cycle: Cycle,
        visible: QuerySet[Goal],
        goal: Goal | None = None,
        owner=None,
        owner_choices: QuerySet | None = None,
        initial: dict[str, Any] | None = None,
    ):
        self.level, self.cycle, self.goal = L(level), cycle, goal
        if goal is not None:
            owner = goal.owner
            initial = {**_goal_initial(goal), **(initial or {})}
        self.fixed_owner = owner
        self.kept: set[str] = set()
        super().__init__(data, initial=initial)
        self.label_suffix = ""
        f = self.fields
        if self.level == L.COMPANY:
            del f["owner"], f["parent"]
        else:
            del f["strategy_ref"], f["strategy_url"]
            if goal is not None:
                del f["owner"]
            else:
                self._set_owner_field(owner, owner_choices)
            f["parent"].queryset = goal_parent_choices(
                visible, cycle=cycle, level=self.level, owner=owner
            )
            if goal is not None:
                f["parent"].queryset = f["parent"].queryset.exclude(pk=goal.pk)
        f["previous"].queryset = goal_previous_choices(
            visible,
            cycle=cycle,
            level=self.level,
            owner=owner,
            include=goal.previous_id if goal is not None else None,
        )
        # A link the editor cannot see (it serves or continues a goal outside their
        # scope) is kept as it is rather than shown, or lost by saving the form.
        if goal is not None:
            for name, current in (("parent", goal.parent_id), ("previous", goal.previous_id)):
                if name in f and current and not f[name].queryset.filter(pk=current).exists():
                    self.kept.add(name)
                    f[name].required = False
                    f[name].empty_label = _("Keep as it is (a goal you cannot see)")
        if goal is None:
            del f["version"], f["change_reason"]
        else:
            f["version"].required = True

    def _set_owner_field(self, owner, owner_choices) -> None:
        field = self.fields["owner"]
        field.label = owner_label(self.level)
        if owner is not None:
            field.queryset = type(owner).objects.filter(pk=owner.pk)
            field.widget = forms.HiddenInput()
            field.initial = owner.pk
        else:
            field.queryset = owner_choices if owner_choices is not None else field.queryset
            field.empty_label = _("Choose…")

    @property
    def owner_fixed(self) -> bool:
        return self.fixed_owner is not None

    def clean(self):
        cleaned = super().clean()
        _normalise_text(cleaned)
        return cleaned

    def goal_data(self, *, with_parent: bool) -> dict[str, Any]:
        """The cleaned input in the shape the services take (``data=``)."""
        names = [
            "title",
            "description",
            "strategy_ref",
            "strategy_url",
            "weight",
            "due_date",
            "previous",
            "target_reason",
            *Goal.KPI_FIELDS,
        ]
        if with_parent:
            names.append("parent")
        data = {n: self.cleaned_data[n] for n in names if n in self.fields}
        for name in self.kept:
            if data.get(name) is None:
                data.pop(name, None)
        return data


def _goal_initial(goal: Goal) -> dict[str, Any]:
    names = [
        "title",
        "description",
        "strategy_ref",
        "strategy_url",
        "weight",
        "due_date",
        "target_reason",
        *Goal.KPI_FIELDS,
    ]
    initial = {n: getattr(goal, n) for n in names}
    initial.update(parent=goal.parent_id, previous=goal.previous_id, version=goal.version)
    # Show 100 rather than 100.0000.
    for name in ("weight", *Goal.KPI_FIELDS):
        if isinstance(initial[name], Decimal):
            initial[name] = _short(initial[name])
    return initial


def _short(value):
    if value is None:
        return None
    return value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()


class CheckInForm(ServiceErrorsMixin, forms.Form):
    """Progress on one goal: the measured actual (or percent complete for a milestone),
    how confident the owner is, and a comment."""

    actual = forms.DecimalField(label=_("Actual"), required=False, **NUMBER)
    percent_complete = forms.DecimalField(
        label=_("Percent complete"), required=False, min_value=0, max_value=100, **PERCENT
    )
    confidence = forms.ChoiceField(
        label=_("Confidence"),
        choices=CheckIn.Confidence.choices,
        initial=CheckIn.Confidence.ON_TRACK,
        help_text=_("How sure you are that the goal will be met by its due date."),
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, data=None, *, goal: Goal, **kwargs):
        super().__init__(data, **kwargs)
        self.label_suffix = ""
        if goal.is_measured:
            del self.fields["percent_complete"]
            actual = self.fields["actual"]
            actual.required = True
            if goal.unit:
                actual.label = _("Actual (%(unit)s)") % {"unit": goal.unit}
            actual.help_text = _("The measured result so far.")
        else:
            del self.fields["actual"]
            self.fields["percent_complete"].required = True
            self.fields["percent_complete"].help_text = _("0 to 100.")

    def clean(self):
        cleaned = super().clean()
        _normalise_text(cleaned)
        return cleaned


class ActionForm(ServiceErrorsMixin, forms.Form):
    """A workflow action on a goal: an optional (or, for returning, rejecting, cancelling
    and reopening, required) comment, and the version the page showed."""

    aliases = {"reason": "comment"}

    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""

    def clean(self):
        cleaned = super().clean()
        _normalise_text(cleaned)
        return cleaned


class DecomposeForm(ServiceErrorsMixin, forms.Form):
    """Decompose a company objective: the departments that get a goal serving it, and
    the weight those goals start with."""

    departments = forms.ModelMultipleChoiceField(
        label=_("Departments"),
        queryset=Department.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    weight = forms.DecimalField(
        label=_("Weight of each new goal"), required=False, min_value=0, max_value=100, **PERCENT
    )

    def __init__(self, data=None, *, departments: QuerySet[Department], objective: Goal):
        super().__init__(data)
        self.label_suffix = ""
        self.fields["departments"].queryset = departments
        self.fields["weight"].help_text = _(
            "Share of each department's goals, in percent. Leave it empty to start from the "
            "objective's weight (%(weight)s); each goal can be edited afterwards."
        ) % {"weight": plain_number(objective.weight)}
