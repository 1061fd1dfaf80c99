"""Forms of the Django admin: the version the editor loaded, a reason for the history, and
the services' checks shown next to the field instead of failing on save."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connections
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from guardian.admin import AdminGroupObjectPermissionsForm, AdminUserObjectPermissionsForm

from . import access, services
from .hierarchy import ancestor_ids
from .models import DEADLINE_PHASES, Cycle, Department, Employee, Position, RatingScale, User

STALE_MESSAGE = _(
    "Someone else changed this record after you opened it. Reload the "
    "page to see their change, then make yours again."
)


def assignable(model, user) -> QuerySet | None:
    """The records ``user`` may pick in a foreign-key field pointing at ``model``.

    ``None`` for a model the admin does not scope (the field keeps its own choices).
    """
    if model is Department:
        return access.departments_staffable_by(user)
    if model is Position:
        return access.positions_changeable_by(user)
    if model is Employee:
        return access.directory_visible_to(user) | access.employees_visible_to(user)
    if model is RatingScale:
        return access.rating_scales_visible_to(user)
    return None


class SafeAutocompleteSelect(AutocompleteSelect):
    """Re-renders a form whose submitted value is not an id (``abc``, a number too big
    for the column) with the field's error instead of failing while looking it up."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if self._is_lookup_value(v)], attr)

    def _is_lookup_value(self, value) -> bool:
        remote = self.field.remote_field
        target = remote.model._meta.get_field(
            getattr(remote, "field_name", None) or remote.model._meta.pk.name
        )
        try:
            converted = target.to_python(value)
        except ValidationError:
            return False
        if isinstance(converted, int):
            low, high = connections[self.db or "default"].ops.integer_field_range(
                target.get_internal_type()
            )
            return (low is None or converted >= low) and (high is None or converted <= high)
        return True


class VersionedForm(forms.ModelForm):
    """Carries the version the editor loaded, and a reason that goes into the history."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    change_reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=100,
        help_text=_("Kept in the record's history, e.g. 'Reorganisation of sales'."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version

    def clean(self):
        data = super().clean()
        expected = data.get("expected_version")
        if self.instance.pk and expected is not None:
            current = (
                type(self.instance)
                .objects.filter(pk=self.instance.pk)
                .values_list("version", flat=True)
            )
            if current and current[0] != expected:
                raise ValidationError(STALE_MESSAGE)
        return data


class RegisteringFormSet(forms.BaseInlineFormSet):
    """An inline formset that its parent form can reach (``instance._inline_formsets``):
    the admin builds both around the same instance, before it validates either."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        pending = self.instance.__dict__.setdefault("_inline_formsets", {})
        pending[self.prefix] = self


class ServiceSavedForm(VersionedForm):
    """A form whose record (with its inline rows) is written by a service as the last step
    of validation, so that the service's refusals (``ValidationError``, ``StaleEdit``) show
    on the page next to the field. The admin handles the whole request in one transaction,
    so nothing stays written if a later step fails. ``actor`` is set by the admin."""

    actor = None
    saved = None

    def save_through_service(self, formsets: dict) -> object:
        raise NotImplementedError

    def full_clean(self):
        super().full_clean()
        if self._errors or not self.is_bound or self.actor is None or self.saved is not None:
            return
        formsets = self.instance.__dict__.get("_inline_formsets", {})
        if not all([formset.is_valid() for formset in formsets.values()]):
            return  # the admin shows the rows' errors; nothing is written
        try:
            self.saved = self.save_through_service(formsets)
        except services.StaleEdit:
            self.add_error(None, STALE_MESSAGE)
        except ValidationError as exc:
            self.add_service_errors(exc)

    def add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for field, messages in exc.message_dict.items():
            target = field if field in self.fields and field != NON_FIELD_ERRORS else None
            self.add_error(target, messages)


class UserAddForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data.get("email"))
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(_("Another person already uses this e-mail address."))
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class PartnerOnlyUserPermissionsForm(AdminUserObjectPermissionsForm):
    def get_obj_perms_field_choices(self):
        return [
            (c, n)
            for c, n in super().get_obj_perms_field_choices()
            if c == access.PARTNER_PERMISSION
        ]


class PartnerOnlyGroupPermissionsForm(AdminGroupObjectPermissionsForm):
    def get_obj_perms_field_choices(self):
        return [
            (c, n)
            for c, n in super().get_obj_perms_field_choices()
            if c == access.PARTNER_PERMISSION
        ]


class DepartmentForm(VersionedForm):
    class Meta:
        model = Department
        fields = ("code", "name", "parent", "head")

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        pk = self.instance.pk
        if (
            parent
            and pk
            and (parent.pk == pk or pk in ancestor_ids(Department, "parent", parent.pk))
        ):
            raise ValidationError(
                _("A department cannot sit under itself or one of its own sub-departments.")
            )
        return parent


class PositionForm(VersionedForm):
    class Meta:
        model = Position
        fields = ("title", "department", "grade")


class EmployeeForm(VersionedForm):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    email = forms.EmailField(label=_("E-mail address"))

    class Meta:
        model = Employee
        fields = ("employee_number", "department", "position", "manager", "hire_date", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["full_name"].initial = self.instance.user.full_name
            self.fields["email"].initial = self.instance.user.email

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data.get("email"))
        others = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.user_id)
        if others.exists():
            raise ValidationError(_("Another person already uses this e-mail address."))
        return email

    def clean(self):
        data = super().clean()
        position, department = data.get("position"), data.get("department")
        if position and department and position.department_id != department.pk:
            self.add_error("position", _("The position belongs to another department."))
        manager, pk = data.get("manager"), self.instance.pk
        if (
            manager
            and pk
            and (manager.pk == pk or pk in ancestor_ids(Employee, "manager", manager.pk))
        ):
            self.add_error(
                "manager",
                _("This person is above the chosen manager; that would be a reporting cycle."),
            )
        return data


class RatingScaleForm(ServiceSavedForm):
    """Created with its levels through ``services.rating_scale_create``. Afterwards only
    the name and description change: ratings already given keep the levels' meaning."""

    class Meta:
        model = RatingScale
        fields = ("name", "description")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["description"].help_text = _(
                "The levels are fixed once the scale exists, so that ratings already given "
                "keep their meaning. For other levels, create a new scale."
            )

    def save_through_service(self, formsets):
        if self.instance.pk:
            d = self.cleaned_data
            return services.rating_scale_update(
                actor=self.actor,
                scale=self.instance,
                data={"name": d["name"], "description": d["description"]},
                expected_version=d.get("expected_version"),
                reason=d.get("change_reason") or "",
            )
        levels = [
            {
                "value": form.cleaned_data["value"],
                "label": form.cleaned_data["label"],
                "description": form.cleaned_data.get("description", ""),
            }
            for formset in formsets.values()
            for form in formset.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        return services.rating_scale_create(
            actor=self.actor,
            name=self.cleaned_data["name"],
            levels=levels,
            description=self.cleaned_data.get("description", ""),
        )


class RatingLevelFormSet(RegisteringFormSet):
    pass


class DeadlineFormSet(RegisteringFormSet):
    def clean(self):
        super().clean()
        order = {phase.value: index for index, phase in enumerate(DEADLINE_PHASES)}
        dates = sorted(
            (order[f.cleaned_data["phase"]], f.cleaned_data["due_on"])
            for f in self.forms
            if f.cleaned_data
            and not f.cleaned_data.get("DELETE")
            and f.cleaned_data.get("phase")
            and f.cleaned_data.get("due_on")
        )
        if any(later[1] < earlier[1] for earlier, later in zip(dates, dates[1:], strict=False)):
            raise ValidationError(
                _("Phases run in order: each deadline must be on or after the one before.")
            )

    def deadlines(self) -> dict:
        """``{phase: date}`` as submitted; ``None`` for a phase whose deadline was removed."""
        removed, chosen = {}, {}
        for form in self.forms:
            data = form.cleaned_data
            if not data:
                continue
            original = form.initial.get("phase") if form.instance.pk else None
            if data.get("DELETE"):
                if original:
                    removed[original] = None
                continue
            if original and original != data.get("phase"):
                removed[original] = None
            if data.get("phase"):
                chosen[data["phase"]] = data.get("due_on")
        return {**removed, **chosen}


class CycleForm(ServiceSavedForm):
    """Saved through ``services.cycle_create`` / ``cycle_update`` with its deadlines."""

    class Meta:
        model = Cycle
        fields = ("name", "period_start", "period_end", "status", "rating_scale")

    settings_fields = ("name", "period_start", "period_end", "rating_scale")

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end <= start:
            self.add_error("period_end", _("The period must end after it starts."))
        return data

    def save_through_service(self, formsets):
        deadlines = {}
        for formset in formsets.values():
            deadlines.update(formset.deadlines())
        d = self.cleaned_data
        if not self.instance.pk:
            return services.cycle_create(
                actor=self.actor,
                name=d["name"],
                period_start=d["period_start"],
                period_end=d["period_end"],
                rating_scale=d["rating_scale"],
                deadlines={phase: due for phase, due in deadlines.items() if due is not None},
                status=d.get("status") or Cycle.Status.DRAFT,
            )
        return services.cycle_update(
            actor=self.actor,
            cycle=self.instance,
            data={f: d[f] for f in self.changed_data if f in self.settings_fields},
            expected_version=d.get("expected_version"),
            deadlines=deadlines if formsets else None,
            reason=d.get("change_reason", ""),
        )
