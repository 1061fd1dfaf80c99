"""API serializers: shapes and types in, the services do the work.

Each resource has a read serializer (what a client sees) and a write serializer (what a
client sends). Write serializers check shape and types only, then hand the validated data
to the matching service in ``perfcycle.services``, which checks access and the business
rules; a ``ValidationError`` it raises becomes a 400 with field errors
(``perfcycle.api.errors``).

Related records are named by id and looked up only in the querysets the access policy
gives the requesting user, so an id outside their scope reads as "does not exist".
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from perfcycle import access, services
from perfcycle.models import (
    DEADLINE_PHASES,
    Cycle,
    Department,
    Employee,
    Position,
    RatingLevel,
    RatingScale,
    User,
)

# --- building blocks ----------------------------------------------------------------


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id looked up in a queryset scoped to the requesting user.

    ``queryset`` (the unscoped model queryset) tells DRF and the schema which model the
    id names; ``scope(user)`` gives the rows this user may refer to.
    """

    def __init__(self, *, scope, **kwargs):
        self.scope = scope
        # A text box in the browsable API: a <select> would list every row.
        kwargs.setdefault("style", {"base_template": "input.html"})
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return self.queryset.none()
        return self.scope(request.user)


def _manager_choices(user):
    # A manager is picked like a colleague in the directory; a record the user may open
    # in full (even an inactive one, e.g. when re-sending an unchanged form) counts too.
    return access.directory_visible_to(user) | access.employees_visible_to(user)


def _flat(validated_data: dict) -> dict:
    """Fields read from ``user.*`` come back nested under ``user``; services take them flat."""
    data = dict(validated_data)
    return {**data.pop("user", {}), **data}


def _request_user(serializer: serializers.Serializer):
    return serializer.context["request"].user


class DepartmentRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name"]
        read_only_fields = fields


class EmployeeRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Employee
        fields = ["id", "name"]
        read_only_fields = fields


class PositionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Position
        fields = ["id", "title"]
        read_only_fields = fields


class RatingScaleRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = RatingScale
        fields = ["id", "name"]
        read_only_fields = fields


# --- departments --------------------------------------------------------------------


class DepartmentSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    head = EmployeeRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Department
        fields = ["id", "code", "name", "parent", "head", "version"]
        read_only_fields = fields


class DepartmentWriteSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=200)
    parent = ScopedPrimaryKeyRelatedField(
        queryset=Department.objects.all(),
        scope=access.departments_visible_to,
        allow_null=True,
        required=False,
    )
    head = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(), scope=_manager_choices, allow_null=True, required=False
    )

    def create(self, validated_data):
        return services.department_create(actor=_request_user(self), **validated_data)

    def update(self, instance, validated_data):
        return services.department_update(
            actor=_request_user(self),
            department=instance,
            data=validated_data,
            expected_version=self.context["expected_version"],
        )


# --- positions ----------------------------------------------------------------------


class PositionSerializer(serializers.ModelSerializer):
    department = DepartmentRefSerializer(read_only=True)

    class Meta:
        model = Position
        fields = ["id", "title", "department", "grade", "version"]
        read_only_fields = fields


class PositionWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    department = ScopedPrimaryKeyRelatedField(
        queryset=Department.objects.all(), scope=access.departments_visible_to
    )
    grade = serializers.CharField(max_length=20, required=False, allow_blank=True)

    def create(self, validated_data):
        return services.position_create(actor=_request_user(self), **validated_data)

    def update(self, instance, validated_data):
        return services.position_update(
            actor=_request_user(self),
            position=instance,
            data=validated_data,
            expected_version=self.context["expected_version"],
        )


# --- employees ----------------------------------------------------------------------


class EmployeeSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    department = DepartmentRefSerializer(read_only=True)
    position = PositionRefSerializer(read_only=True, allow_null=True)
    manager = EmployeeRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Employee
        fields = [
            "id",
            "employee_number",
            "full_name",
            "email",
            "department",
            "position",
            "manager",
            "hire_date",
            "is_active",
            "version",
        ]
        read_only_fields = fields


class EmployeeCreateSerializer(serializers.Serializer):
    # Name and e-mail live on the user; the service takes them flat.
    email = serializers.EmailField(source="user.email", max_length=254)
    full_name = serializers.CharField(source="user.full_name", max_length=200)
    employee_number = serializers.CharField(max_length=32)
    department = ScopedPrimaryKeyRelatedField(
        queryset=Department.objects.all(), scope=access.departments_visible_to
    )
    position = ScopedPrimaryKeyRelatedField(
        queryset=Position.objects.all(),
        scope=access.positions_visible_to,
        allow_null=True,
        required=False,
    )
    manager = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(), scope=_manager_choices, allow_null=True, required=False
    )
    hire_date = serializers.DateField()

    def create(self, validated_data):
        return services.employee_create(actor=_request_user(self), **_flat(validated_data))


class EmployeeUpdateSerializer(EmployeeCreateSerializer):
    is_active = serializers.BooleanField(
        required=False,
        help_text=_("False when the person has left; records are kept, never deleted."),
    )

    def update(self, instance, validated_data):
        return services.employee_update(
            actor=_request_user(self),
            employee=instance,
            data=_flat(validated_data),
            expected_version=self.context["expected_version"],
        )


# --- rating scales ------------------------------------------------------------------


class RatingLevelSerializer(serializers.ModelSerializer):
    value = serializers.IntegerField(min_value=0, max_value=32767)
    label = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    class Meta:
        model = RatingLevel
        fields = ["value", "label", "description"]


class RatingScaleSerializer(serializers.ModelSerializer):
    levels = RatingLevelSerializer(many=True, read_only=True)

    class Meta:
        model = RatingScale
        fields = ["id", "name", "description", "levels", "version"]
        read_only_fields = fields


class RatingScaleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    levels = RatingLevelSerializer(many=True, allow_empty=True)

    def create(self, validated_data):
        levels = [dict(level) for level in validated_data.pop("levels")]
        return services.rating_scale_create(
            actor=_request_user(self), levels=levels, **validated_data
        )


class RatingScaleUpdateSerializer(serializers.Serializer):
    """A scale's name and description. Its levels stay as created, so that ratings already
    given keep their meaning; a different set of levels is a new scale."""

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, dict) and "levels" in data:
            raise serializers.ValidationError(
                {"levels": [_("The levels of a scale cannot change; create a new scale.")]}
            )
        return super().to_internal_value(data)

    def update(self, instance, validated_data):
        return services.rating_scale_update(
            actor=_request_user(self),
            scale=instance,
            data=validated_data,
            expected_version=self.context["expected_version"],
        )


# --- cycles -------------------------------------------------------------------------


class CycleDeadlinesSerializer(serializers.Serializer):
    """One optional date per phase, ``{"goal_setting": "2026-02-15", ...}``."""

    def get_fields(self):
        return {
            # null clears a deadline that was set.
            phase.value: serializers.DateField(
                required=False, allow_null=True, help_text=phase.label
            )
            for phase in DEADLINE_PHASES
        }

    def to_representation(self, instance):
        if hasattr(instance, "all"):  # a cycle's deadlines manager (prefetched in lists)
            instance = {deadline.phase: deadline.due_on for deadline in instance.all()}
        # Phases without a deadline are left out (allow_null would render them as null).
        shown = super().to_representation(instance)
        return {phase: due for phase, due in shown.items() if due is not None}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {phase.value for phase in DEADLINE_PHASES})
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("Not a phase with a deadline.")] for name in unknown}
                )
        return super().to_internal_value(data)


class CycleSerializer(serializers.ModelSerializer):
    rating_scale = RatingScaleRefSerializer(read_only=True)
    deadlines = CycleDeadlinesSerializer(read_only=True)

    class Meta:
        model = Cycle
        fields = [
            "id",
            "name",
            "period_start",
            "period_end",
            "status",
            "rating_scale",
            "deadlines",
            "version",
        ]
        read_only_fields = fields


class CycleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    rating_scale = ScopedPrimaryKeyRelatedField(
        queryset=RatingScale.objects.all(), scope=access.rating_scales_visible_to
    )
    deadlines = CycleDeadlinesSerializer(
        required=False,
        help_text=_("Deadlines to set, by phase; phases not named keep their deadline."),
    )

    def create(self, validated_data):
        deadlines = dict(validated_data.pop("deadlines", {}))
        return services.cycle_create(
            actor=_request_user(self), deadlines=deadlines, **validated_data
        )

    def update(self, instance, validated_data):
        deadlines = validated_data.pop("deadlines", None)
        return services.cycle_update(
            actor=_request_user(self),
            cycle=instance,
            data=validated_data,
            deadlines=dict(deadlines) if deadlines is not None else None,
            expected_version=self.context["expected_version"],
        )


# --- the current user ---------------------------------------------------------------

ROLE_NAMES = ["hr_admin", "executive", "manager", "employee", "hr_partner"]


class MeSerializer(serializers.ModelSerializer):
    employee = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "language", "employee", "roles"]
        read_only_fields = fields

    def get_employee(self, user) -> int | None:
        employee = access.roles(user).employee
        return employee.pk if employee is not None else None

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(ROLE_NAMES)))
    def get_roles(self, user) -> list[str]:
        r = access.roles(user)
        held = {
            "hr_admin": r.hr_admin,
            "executive": r.executive,
            "manager": r.is_manager,
            "employee": r.employee is not None,
            "hr_partner": r.is_partner,
        }
        return [name for name in ROLE_NAMES if held[name]]


# --- tokens -------------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)
