"""Forms of the core app. Forms parse and validate input; services do the writing."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .hierarchy import subtree_sql
from .models import Department, Position

SEARCH_LENGTH = 100
# A form posted without the version it was loaded at (an old tab, a hand-made request).
STALE_PAGE = _("This page is out of date: reload it and make your change again.")


def search_text(form: forms.Form, name: str = "q") -> str:
    """The search box of a filter form as the person typed it, after ``is_valid()``.

    An over-long search is cut, not dropped (dropping it would list everyone); a NUL
    character, which Django refuses and PostgreSQL cannot compare, is taken out."""
    cleaned = getattr(form, "cleaned_data", {}).get(name)
    value = cleaned if cleaned else str(form.data.get(name, ""))[:SEARCH_LENGTH]
    return value.replace("\x00", "").strip()


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""


class EmailPasswordResetForm(PasswordResetForm):
    """Password reset that also reaches people imported without a password yet.

    People created by the organisation import get an unusable password; the reset
    e-mail is how they set their first one, so (unlike Django's default) an unusable
    password does not stop the e-mail. Inactive accounts still get nothing.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["email"].label = _("E-mail address")
        self.fields["email"].help_text = _(
            "We send a link to set a new password if this address belongs to an account."
        )

    def get_users(self, email):
        return get_user_model()._default_manager.filter(email__iexact=email, is_active=True)


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language of the pages"),
        required=False,
        help_text=_("Leave it on the browser's language to follow your browser's setting."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.fields["language"].choices = [("", _("The browser's language")), *settings.LANGUAGES]


class DigestsForm(forms.Form):
    """The profile's e-mail setting. Deadline notices are sent whatever it says."""

    digests = forms.BooleanField(
        label=_("Send me daily digests"),
        required=False,
        help_text=_(
            "Daily e-mails: your reports' overdue reviews and, for HR, where each "
            "running cycle stands. Deadline reminders for your own work are always sent."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""


class PositionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.title} — {obj.department.name}"


class DirectoryFilterForm(forms.Form):
    """The directory's search and filters; they travel in the URL (GET)."""

    STATUS_ACTIVE = "active"
    STATUS_LEFT = "left"
    STATUS_ALL = "all"

    q = forms.CharField(
        label=_("Search people"),
        required=False,
        max_length=100,
        help_text=_("Part of a name, an e-mail address or an employee number."),
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("All departments"),
    )
    subdepartments = forms.BooleanField(label=_("Include sub-departments"), required=False)
    position = PositionChoiceField(
        label=_("Position"),
        queryset=Position.objects.none(),
        required=False,
        empty_label=_("All positions"),
        help_text=_("Choose a department to list its positions."),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            (STATUS_ACTIVE, _("Current employees")),
            (STATUS_LEFT, _("Left the company")),
            (STATUS_ALL, _("Everyone")),
        ],
    )

    def __init__(self, data, *, departments, positions, show_status: bool):
        super().__init__(data)
        self.label_suffix = ""
        self.fields["department"].queryset = departments.order_by("name")
        field = self.fields["position"]
        field.queryset = positions.select_related("department").order_by(
            "title", "department__name"
        )
        # A position belongs to one department: the list offers the chosen department's
        # positions (with its sub-departments' when asked), never every position of a
        # large company. A position already in the URL stays chosen.
        field.widget.choices = self._position_choices(field, data or {})
        if not show_status:
            del self.fields["status"]

    def _position_choices(self, field, data) -> list:
        choices = [("", field.empty_label)]
        department = self._raw_id(data, "department")
        chosen = self._raw_id(data, "position")
        shown = field.queryset.none()
        if department is not None:
            in_department = Q(department=department)
            if data.get("subdepartments"):
                in_department = Q(department__in=subtree_sql(Department, "parent", [department]))
            shown = field.queryset.filter(in_department)
        if chosen is not None:
            shown = shown | field.queryset.filter(pk=chosen)
        return choices + [(p.pk, field.label_from_instance(p)) for p in shown]

    @staticmethod
    def _raw_id(data, name) -> int | None:
        value = data.get(name)
        if not (isinstance(value, str) and value.isdigit() and len(value) <= 18):
            return None  # not an id (past 18 digits no database key fits)
        return int(value)

    def filters(self) -> dict:
        """The valid filters; an invalid one (say, a stale department id) is ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "q": search_text(self),
            "department": data.get("department"),
            "subdepartments": bool(data.get("subdepartments")),
            "position": data.get("position"),
            "status": data.get("status") or self.STATUS_ACTIVE,
        }
