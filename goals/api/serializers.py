"""Goal and check-in serializers: shapes and types in, ``goals.services`` does the work.

Read serializers say what a client sees; write serializers check shape and types only and
hand the validated data to the matching service, which checks access and the business
rules (a ``ValidationError`` there is a 400 with field errors). Related records are named
by id and looked up only among the rows the access policy lets the user see, so an id
outside their scope reads as "does not exist".
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from perfcycle import access
from perfcycle.api.serializers import ScopedPrimaryKeyRelatedField
from perfcycle.models import Cycle, Department, Employee, Position, User

from .. import services
from ..models import NUMBER, PERCENT, CheckIn, Goal

L = Goal.Level
OWNER_FIELDS = ("department", "position", "employee")
# A goal's place in the cascade is fixed once created; a different one is a new goal.
FIXED_FIELDS = ("cycle", "level", *OWNER_FIELDS)


def _request_user(serializer: serializers.Serializer):
    return serializer.context["request"].user


def _number(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(**NUMBER, required=False, allow_null=True, **kwargs)


# --- reading ------------------------------------------------------------------------


class GoalOwnerSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["company", *OWNER_FIELDS],
        help_text=_("company, department, position or employee"),
    )
    id = serializers.IntegerField(allow_null=True, help_text=_("None for the company."))
    name = serializers.CharField()


class GoalSerializer(serializers.ModelSerializer):
    owner = serializers.SerializerMethodField()
    locked = serializers.BooleanField(
        source="is_locked",
        read_only=True,
        help_text=_("Goal setting has closed; HR reopens a goal that must change."),
    )
    # Plain text, not an enum: the choice set is the check-in's ``confidence``.
    last_confidence = serializers.CharField(
        read_only=True, help_text=_("on_track, at_risk, off_track, or empty before a check-in.")
    )

    class Meta:
        model = Goal
        fields = [
            "id",
            "cycle",
            "level",
            "owner",
            "parent",
            "title",
            "description",
            "strategy_ref",
            "strategy_url",
            "weight",
            "status",
            "due_date",
            "previous",
            "target_reason",
            "source",
            "adjusted",
            *Goal.KPI_FIELDS,
            "last_actual",
            "last_percent",
            "last_confidence",
            "last_checkin_at",
            "attainment",
            "progress",
            "review_comment",
            "locked",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(GoalOwnerSerializer)
    def get_owner(self, goal: Goal) -> dict:
        field = Goal.OWNER_FIELD[goal.level]
        return {
            "type": field or "company",
            "id": getattr(goal, f"{field}_id") if field else None,
            "name": goal.owner_name,
        }


class AuthorSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="full_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "name"]
        read_only_fields = fields


class CheckInSerializer(serializers.ModelSerializer):
    author = AuthorSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "goal",
            "recorded_at",
            "actual",
            "percent_complete",
            "confidence",
            "comment",
            "author",
        ]
        read_only_fields = fields


# --- writing goals ------------------------------------------------------------------


class GoalUpdateSerializer(serializers.Serializer):
    """What an edit may change: the definition, never the goal's cycle, level or owner."""

    parent = ScopedPrimaryKeyRelatedField(
        queryset=Goal.objects.all(),
        scope=access.goals_visible_to,
        allow_null=True,
        required=False,
        help_text=_("The goal one level up this goal serves; none for a company objective."),
    )
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    strategy_ref = serializers.CharField(max_length=300, required=False, allow_blank=True)
    strategy_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    weight = serializers.DecimalField(
        **PERCENT, help_text=_("Share of the owner's goals, in percent; they total 100.")
    )
    due_date = serializers.DateField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=Goal.Kind.choices)
    unit = serializers.CharField(max_length=40, required=False, allow_blank=True)
    direction = serializers.ChoiceField(
        choices=Goal.Direction.choices, required=False, allow_blank=True
    )
    baseline = _number()
    threshold = _number(help_text=_("The lowest result that still counts."))
    target = _number(help_text=_("The result that scores 100%."))
    stretch = _number(help_text=_("The result that earns the cap."))
    range_low = _number()
    range_high = _number()
    tolerance = _number()
    previous = ScopedPrimaryKeyRelatedField(
        queryset=Goal.objects.all(),
        scope=access.goals_visible_to,
        allow_null=True,
        required=False,
        help_text=_("The same goal in the previous cycle, when this one continues it."),
    )
    target_reason = serializers.CharField(required=False, allow_blank=True)

    def to_internal_value(self, data):
        if self.instance is not None and hasattr(data, "get"):
            moved = [name for name in FIXED_FIELDS if name in data and not self._same(name, data)]
            if moved:
                message = _("A goal's cycle, level and owner cannot change; create a new goal.")
                raise serializers.ValidationError({name: [message] for name in moved})
        return super().to_internal_value(data)

    def _same(self, name: str, data) -> bool:
        current = self.instance.level if name == "level" else getattr(self.instance, f"{name}_id")
        sent = data.get(name)
        if current is None or sent in (None, ""):
            return current is None and sent in (None, "")
        return str(sent) == str(current)

    def update(self, instance, validated_data):
        return services.goal_update(
            actor=_request_user(self),
            goal=instance,
            data=validated_data,
            expected_version=self.context["expected_version"],
        )


class GoalCreateSerializer(GoalUpdateSerializer):
    """A new goal: its cycle, level and owner (in the field the level uses), then the
    definition. ``submit`` matters for an employee's own goal only: false saves a draft."""

    cycle = ScopedPrimaryKeyRelatedField(
        queryset=Cycle.objects.all(), scope=access.cycles_visible_to
    )
    level = serializers.ChoiceField(choices=Goal.Level.choices)
    department = ScopedPrimaryKeyRelatedField(
        queryset=Department.objects.all(),
        scope=access.departments_visible_to,
        allow_null=True,
        required=False,
        help_text=_("The owner of a department goal."),
    )
    position = ScopedPrimaryKeyRelatedField(
        queryset=Position.objects.all(),
        scope=access.positions_visible_to,
        allow_null=True,
        required=False,
        help_text=_("The owner of a position KPI."),
    )
    employee = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(),
        scope=access.employees_visible_to,
        allow_null=True,
        required=False,
        help_text=_("The owner of a personal goal."),
    )
    submit = serializers.BooleanField(
        default=True,
        help_text=_(
            "For your own personal goal: true sends it to your manager, false keeps a draft."
        ),
    )

    def validate(self, attrs):
        field = Goal.OWNER_FIELD[L(attrs["level"])]
        errors = {}
        if field is not None and attrs.get(field) is None:
            errors[field] = [_("Choose who owns this goal.")]
        for other in OWNER_FIELDS:
            if other != field and attrs.get(other) is not None:
                errors[other] = [
                    _("Leave this empty: a %(level)s has no owner of this kind.")
                    % {"level": L(attrs["level"]).label.lower()}
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data):
        data = dict(validated_data)
        cycle, level = data.pop("cycle"), data.pop("level")
        field = Goal.OWNER_FIELD[L(level)]
        owners = {name: data.pop(name, None) for name in OWNER_FIELDS}
        return services.goal_create(
            actor=_request_user(self),
            cycle=cycle,
            level=level,
            owner=owners[field] if field else None,
            parent=data.pop("parent", None),
            submit=data.pop("submit"),
            data=data,
        )


# --- goal actions -------------------------------------------------------------------


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=_("The version you read (or an If-Match header); a newer one is a 409."),
    )


class CommentSerializer(VersionSerializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RequiredCommentSerializer(VersionSerializer):
    comment = serializers.CharField(
        allow_blank=True, help_text=_("What the owner should change, or why not.")
    )


class ReasonSerializer(VersionSerializer):
    reason = serializers.CharField(allow_blank=True, help_text=_("Why; the history keeps it."))


class DecomposeSerializer(serializers.Serializer):
    departments = ScopedPrimaryKeyRelatedField(
        queryset=Department.objects.all(),
        scope=access.departments_visible_to,
        many=True,
        allow_empty=False,
        help_text=_("The departments that get a goal serving the objective."),
    )
    weight = serializers.DecimalField(
        **PERCENT,
        required=False,
        allow_null=True,
        help_text=_("Each new goal's weight; by default the objective's."),
    )


class CascadeResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=_("Copies made for holders who had none."))


class PushResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField(help_text=_("Copies brought in line with the KPI."))
    adjusted = serializers.IntegerField(
        help_text=_("Copies left alone because they were adjusted.")
    )


class NotDeletableSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


# --- check-ins ----------------------------------------------------------------------


class CheckInWriteSerializer(serializers.Serializer):
    goal = ScopedPrimaryKeyRelatedField(queryset=Goal.objects.all(), scope=access.goals_visible_to)
    actual = _number(help_text=_("The measured result, for a goal measured against a target."))
    percent_complete = serializers.DecimalField(
        **PERCENT,
        required=False,
        allow_null=True,
        help_text=_("0 to 100, for a milestone goal."),
    )
    confidence = serializers.ChoiceField(choices=CheckIn.Confidence.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="")

    def create(self, validated_data):
        return services.checkin_record(actor=_request_user(self), **validated_data)


class CheckInDeleteSerializer(serializers.Serializer):
    # The history keeps the reason in a 100-character column.
    reason = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Why it is taken back (optional)."),
    )
