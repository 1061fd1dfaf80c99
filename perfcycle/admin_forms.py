"""Forms of the Django admin: the version the editor loaded, a reason for the history, and
the services' checks shown next to the field instead of failing on save."""

from django import forms
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from guardian.admin import AdminGroupObjectPermissionsForm, AdminUserObjectPermissionsForm

from . import access
from .hierarchy import ancestor_ids
from .models import DEADLINE_PHASES, Cycle, Department, Employee, Position, RatingScale, User


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
                raise ValidationError(
                    _(
                        "Someone else changed this record after you opened it. Reload the "
                        "page to see their change, then make yours again."
                    )
                )
        return data


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


class RatingScaleForm(VersionedForm):
    class Meta:
        model = RatingScale
        fields = ("name", "description")


class DeadlineFormSet(forms.BaseInlineFormSet):
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


class CycleForm(VersionedForm):
    class Meta:
        model = Cycle
        fields = ("name", "period_start", "period_end", "status", "rating_scale")
