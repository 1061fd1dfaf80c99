"""The Django admin, for HR's configuration of the organisation, cycles and rating scales.

Who may do what here comes from ``perfcycle.access`` (not from Django's model permission
rows), so the admin and the pages never disagree. Departments, positions and employees
are saved through ``perfcycle.services`` with the version the editor loaded, so an edit
made meanwhile elsewhere (the API, an import) is not silently overwritten.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from guardian.admin import GuardedModelAdminMixin
from simple_history.admin import SimpleHistoryAdmin

from . import access, services
from .admin_forms import (
    CycleForm,
    DeadlineFormSet,
    DepartmentForm,
    EmployeeForm,
    PartnerOnlyGroupPermissionsForm,
    PartnerOnlyUserPermissionsForm,
    PositionForm,
    RatingLevelFormSet,
    RatingScaleForm,
    SafeAutocompleteSelect,
    UserAddForm,
    UserEditForm,
    assignable,
)
from .models import (
    Cycle,
    CycleDeadline,
    Department,
    Employee,
    OrgImport,
    Position,
    RatingLevel,
    RatingScale,
    User,
)

admin.site.site_header = _("perfcycle administration")
admin.site.site_title = _("perfcycle admin")
admin.site.index_title = _("Organisation, cycles and rating scales")


def has_admin_permission(request) -> bool:
    """The admin is for HR: staff status alone (a manager's, say) does not let anyone in."""
    user = request.user
    return user.is_active and user.is_staff and access.can_use_hr_admin(user)


admin.site.has_permission = has_admin_permission


def is_autocomplete(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == "autocomplete"


class PolicyAdmin(SimpleHistoryAdmin):
    """Permissions from the access policy; history is read-only (no revert past services)."""

    def may_view(self, request) -> bool:
        return access.roles(request.user).hr_admin

    def may_change(self, request, obj=None) -> bool:
        return access.roles(request.user).hr_admin

    def has_module_permission(self, request):
        return self.may_view(request)

    def has_view_permission(self, request, obj=None):
        return self.may_view(request) or self.may_change(request, obj)

    def has_change_permission(self, request, obj=None):
        return self.may_change(request, obj)

    def has_add_permission(self, request, *args):
        return self.may_change(request)

    def has_delete_permission(self, request, obj=None):
        return access.can_delete_records(request.user)

    def revert_disabled(self, request, obj=None):
        return True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Only what the policy lets this user assign; another id is a "valid choice" error.
        scoped = assignable(db_field.related_model, request.user)
        if scoped is not None and "queryset" not in kwargs:
            kwargs["queryset"] = scoped
        if db_field.name in self.get_autocomplete_fields(request) and "widget" not in kwargs:
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        # The autocomplete of another admin's field offers what that field accepts.
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        scoped = assignable(self.model, request.user) if is_autocomplete(request) else None
        if scoped is not None:
            queryset = queryset.filter(pk__in=scoped.values("pk"))
        return queryset, may_have_duplicates

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})


class ServiceSavedAdmin(PolicyAdmin):
    """Save through a create/update service; ``fields_saved`` go into the update's data."""

    fields_saved: tuple[str, ...] = ()

    def create(self, request, form):
        raise NotImplementedError

    def update(self, request, obj, form, data):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        if not change:
            created = self.create(request, form)
            # The admin goes on with its own object (messages, log entry, redirect).
            for field in obj._meta.concrete_fields:
                setattr(obj, field.attname, getattr(created, field.attname))
            return
        data = {f: form.cleaned_data[f] for f in form.changed_data if f in self.fields_saved}
        saved = self.update(request, obj, form, data)
        obj.version = saved.version


# --- users --------------------------------------------------------------------------


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserAddForm
    list_display = ("email", "full_name", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "full_name")
    ordering = ("full_name",)
    filter_horizontal = ("groups", "user_permissions")
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "language")}),
        (
            _("Access"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )

    def has_module_permission(self, request):
        return access.can_manage_account(request.user)

    def has_view_permission(self, request, obj=None):
        return access.can_manage_account(request.user)

    def has_change_permission(self, request, obj=None):
        return access.can_manage_account(request.user, obj)

    def has_add_permission(self, request):
        return access.can_manage_account(request.user)

    def has_delete_permission(self, request, obj=None):
        return access.can_delete_records(request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if not access.can_grant_superuser(request.user):
            fields = (*fields, "is_superuser", "user_permissions")
        return fields


# --- organisation -------------------------------------------------------------------


@admin.register(Department)
class DepartmentAdmin(GuardedModelAdminMixin, ServiceSavedAdmin):
    """HR edits the tree; "Object permissions" grants the HR business partner role."""

    form = DepartmentForm
    fields_saved = ("code", "name", "parent", "head")
    list_display = ("name", "code", "parent", "head")
    list_select_related = ("parent", "head__user")
    search_fields = ("name", "code")
    autocomplete_fields = ("parent", "head")

    def may_view(self, request):
        return access.can_view_org_overview(request.user)

    def may_change(self, request, obj=None):
        return access.can_change_department(request.user, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*self.list_select_related)

    def get_obj_perms_manage_user_form(self, request):
        return PartnerOnlyUserPermissionsForm

    def get_obj_perms_manage_group_form(self, request):
        return PartnerOnlyGroupPermissionsForm

    def create(self, request, form):
        d = form.cleaned_data
        return services.department_create(
            actor=request.user, code=d["code"], name=d["name"], parent=d["parent"], head=d["head"]
        )

    def update(self, request, obj, form, data):
        return services.department_update(
            actor=request.user,
            department=obj,
            data=data,
            expected_version=form.cleaned_data.get("expected_version"),
            reason=form.cleaned_data.get("change_reason", ""),
        )


@admin.register(Position)
class PositionAdmin(ServiceSavedAdmin):
    form = PositionForm
    fields_saved = ("title", "department", "grade")
    list_display = ("title", "department", "grade")
    list_select_related = ("department",)
    list_filter = ("grade",)
    search_fields = ("title", "department__name", "department__code")
    autocomplete_fields = ("department",)

    def get_queryset(self, request):
        return access.positions_changeable_by(request.user).select_related(
            *self.list_select_related
        )

    def may_view(self, request):
        return access.can_use_hr_admin(request.user)

    def may_change(self, request, obj=None):
        if obj is None:
            return access.can_use_hr_admin(request.user)
        return access.can_change_position(request.user, obj)

    def create(self, request, form):
        d = form.cleaned_data
        return services.position_create(
            actor=request.user, title=d["title"], department=d["department"], grade=d["grade"]
        )

    def update(self, request, obj, form, data):
        return services.position_update(
            actor=request.user,
            position=obj,
            data=data,
            expected_version=form.cleaned_data.get("expected_version"),
            reason=form.cleaned_data.get("change_reason", ""),
        )


@admin.register(Employee)
class EmployeeAdmin(ServiceSavedAdmin):
    form = EmployeeForm
    fields_saved = (
        "employee_number",
        "department",
        "position",
        "manager",
        "hire_date",
        "is_active",
        "full_name",
        "email",
    )
    fields = (
        "full_name",
        "email",
        "employee_number",
        "department",
        "position",
        "manager",
        "hire_date",
        "is_active",
        "change_reason",
        "expected_version",
    )
    list_display = ("employee_number", "name", "department", "position", "manager", "is_active")
    list_select_related = ("user", "department", "position", "manager__user")
    list_filter = ("is_active", ("department", admin.RelatedOnlyFieldListFilter), "hire_date")
    search_fields = ("employee_number", "user__full_name", "user__email")
    autocomplete_fields = ("department", "position", "manager")

    @admin.display(description=_("name"), ordering="user__full_name")
    def name(self, obj):
        return obj.user.full_name

    def get_queryset(self, request):
        if is_autocomplete(request):  # a manager or head is picked from a wider circle
            return assignable(Employee, request.user).select_related("user")
        # The changelist skips list_select_related once a queryset selects anything.
        return access.employees_changeable_by(request.user).select_related(
            *self.list_select_related
        )

    def may_view(self, request):
        return access.can_use_hr_admin(request.user)

    def may_change(self, request, obj=None):
        if obj is None:
            return access.can_use_hr_admin(request.user)
        return access.can_change_employee(request.user, obj)

    def create(self, request, form):
        d = form.cleaned_data
        employee = services.employee_create(
            actor=request.user,
            email=d["email"],
            full_name=d["full_name"],
            employee_number=d["employee_number"],
            department=d["department"],
            hire_date=d["hire_date"],
            position=d["position"],
            manager=d["manager"],
        )
        if not d.get("is_active", True):
            employee = services.employee_update(
                actor=request.user,
                employee=employee,
                data={"is_active": False},
                expected_version=employee.version,
                reason=d.get("change_reason", ""),
            )
        return employee

    def update(self, request, obj, form, data):
        return services.employee_update(
            actor=request.user,
            employee=obj,
            data=data,
            expected_version=form.cleaned_data.get("expected_version"),
            reason=form.cleaned_data.get("change_reason", ""),
        )


# --- rating scales and cycles -------------------------------------------------------


class InlineServiceSavedAdmin(PolicyAdmin):
    """Saved with its inline rows by a service, which the form calls as it validates (see
    ``admin_forms.ServiceSavedForm``); here the admin only takes over the saved record."""

    def save_model(self, request, obj, form, change):
        if form.saved is None:
            return
        for field in obj._meta.concrete_fields:
            setattr(obj, field.attname, getattr(form.saved, field.attname))

    def save_related(self, request, form, formsets, change):
        form.save_m2m()
        for formset in formsets:  # written by the service; nothing left to save
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


class RatingLevelInline(admin.TabularInline):
    model = RatingLevel
    formset = RatingLevelFormSet
    extra = 0
    min_num = 2
    fields = ("value", "label", "description")

    def has_view_permission(self, request, obj=None):
        return access.can_change_rating_scale(request.user, obj)

    def has_add_permission(self, request, obj=None):
        # Levels are set when the scale is created (there is no service to change them).
        return obj is None and access.can_change_rating_scale(request.user)

    has_change_permission = has_add_permission
    has_delete_permission = has_add_permission


@admin.register(RatingScale)
class RatingScaleAdmin(InlineServiceSavedAdmin):
    form = RatingScaleForm
    inlines = [RatingLevelInline]
    list_display = ("name", "description")
    search_fields = ("name",)

    def may_view(self, request):
        return access.can_change_rating_scale(request.user)

    def may_change(self, request, obj=None):
        return access.can_change_rating_scale(request.user, obj)


class CycleDeadlineInline(admin.TabularInline):
    model = CycleDeadline
    formset = DeadlineFormSet
    extra = 0
    fields = ("phase", "due_on")

    def has_view_permission(self, request, obj=None):
        return access.can_change_cycle(request.user, obj)

    has_change_permission = has_view_permission
    has_add_permission = has_view_permission
    has_delete_permission = has_view_permission


@admin.register(Cycle)
class CycleAdmin(InlineServiceSavedAdmin):
    form = CycleForm
    inlines = [CycleDeadlineInline]
    list_display = ("name", "period_start", "period_end", "status", "rating_scale")
    list_select_related = ("rating_scale",)
    list_filter = ("status",)
    search_fields = ("name",)
    autocomplete_fields = ("rating_scale",)

    def may_view(self, request):
        return access.can_change_cycle(request.user)

    def may_change(self, request, obj=None):
        return access.can_change_cycle(request.user, obj)

    def get_queryset(self, request):
        return access.cycles_visible_to(request.user).select_related(*self.list_select_related)

    def get_readonly_fields(self, request, obj=None):
        # Once created, a cycle's phase moves only through the cycle workflow.
        return ("status",) if obj is not None else ()


@admin.register(OrgImport)
class OrgImportAdmin(admin.ModelAdmin):
    list_display = ("created_at", "filename", "status", "rows", "created", "updated", "actor")
    list_filter = ("status",)
    search_fields = ("filename",)
    list_select_related = ("actor",)

    def get_queryset(self, request):
        return access.org_imports_visible_to(request.user).select_related(*self.list_select_related)

    def has_module_permission(self, request):
        return access.can_import_org(request.user)

    def has_view_permission(self, request, obj=None):
        return access.can_import_org(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
