"""Appraisal serializers: shapes and types in, ``appraisals.services`` does the work.

Read serializers say what a client sees; write serializers check shape and types only and
hand the validated data to the matching service, which checks access and the business
rules. Related records are named by id and looked up among the rows the access policy
lets the user see, so an id outside their scope reads as "does not exist". Ratings are
named by their value on the cycle's scale (``4``), as people say them.

What the employee reads of their own appraisal before HR releases the results is their
self-review only: :class:`AppraisalSerializer` leaves the scores and ratings out (null)
for them, and the manager review is not in their review list at all.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from goals.api.serializers import AuthorSerializer, ReasonSerializer, VersionSerializer
from goals.models import Goal
from perfcycle import access
from perfcycle.api.serializers import (
    DepartmentRefSerializer,
    EmployeeRefSerializer,
    ScopedPrimaryKeyRelatedField,
)
from perfcycle.models import Cycle, Department, Employee, RatingLevel

from .. import services
from ..models import (
    Appeal,
    Appraisal,
    CalibrationAdjustment,
    CalibrationSession,
    Competency,
    CycleCompetency,
    CycleLaunch,
    CycleSettings,
    Review,
)

SCORE = {"max_digits": 6, "decimal_places": 2, "read_only": True, "allow_null": True}


def _request_user(serializer: serializers.Serializer):
    return serializer.context["request"].user


def _people(user):
    # People are picked like colleagues in the directory; a record the user may open in
    # full (even an inactive one) counts too.
    return access.directory_visible_to(user) | access.employees_visible_to(user)


def level_on(cycle: Cycle, value: int | None, field: str) -> RatingLevel | None:
    """The level with ``value`` on the cycle's scale; a field error when there is none."""
    if value is None:
        return None
    levels = {level.value: level for level in cycle.rating_scale.levels.all()}
    if value not in levels:
        raise serializers.ValidationError(
            {
                field: [
                    _("Choose a rating on the scale (%(values)s).")
                    % {"values": ", ".join(str(v) for v in sorted(levels))}
                ]
            }
        )
    return levels[value]


def _level_value(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=32767, **kwargs)


class RatingLevelRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = RatingLevel
        fields = ["value", "label"]
        read_only_fields = fields


# --- cycles: launch, phases, settings -----------------------------------------------


class ExcludedPersonSerializer(serializers.Serializer):
    employee = serializers.IntegerField()
    number = serializers.CharField()
    name = serializers.CharField()
    reason = serializers.CharField()


class CycleLaunchSerializer(serializers.ModelSerializer):
    actor = AuthorSerializer(read_only=True, allow_null=True)
    excluded = ExcludedPersonSerializer(
        many=True,
        read_only=True,
        help_text=gettext_lazy("People in scope left out, each with the reason."),
    )
    excluded_counts = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text=gettext_lazy("Whole groups left out, counted: inactive, outside_departments."),
    )

    class Meta:
        model = CycleLaunch
        fields = [
            "id",
            "cycle",
            "status",
            "progress",
            "created_at",
            "finished_at",
            "actor",
            "eligible",
            "created",
            "existing",
            "excluded",
            "excluded_counts",
            "error",
        ]
        read_only_fields = fields


class BlockerSerializer(serializers.Serializer):
    message = serializers.CharField()
    count = serializers.IntegerField()
    hard = serializers.BooleanField(
        help_text=gettext_lazy("True: must be dealt with; false: HR may advance anyway.")
    )


class BlockersSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Cycle.Status.choices)
    next_phase = serializers.ChoiceField(
        choices=Cycle.Status.choices,
        allow_null=True,
        help_text=gettext_lazy("None when the cycle is closed."),
    )
    blockers = BlockerSerializer(many=True)
    can_force = serializers.BooleanField(
        help_text=gettext_lazy("Only soft blockers: advancing with force and a reason works.")
    )


class AdvanceSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text=gettext_lazy("Advance despite soft blockers (a reason is then required)."),
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("Why; the history keeps it."),
    )


class RefusalSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())


class AdvanceRefusalSerializer(RefusalSerializer):
    blockers = BlockerSerializer(many=True)


class StaleSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    current_version = serializers.IntegerField()
    changes = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        help_text=gettext_lazy("What the other person saved, by field, where it differs."),
    )


class CycleCompetencySerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="competency.name", read_only=True)

    class Meta:
        model = CycleCompetency
        fields = ["competency", "name", "weight"]
        read_only_fields = fields


class CycleSettingsSerializer(serializers.ModelSerializer):
    departments = DepartmentRefSerializer(many=True, read_only=True)
    guideline = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text=gettext_lazy("Percent of people per rating level value; they total 100."),
    )
    competencies = serializers.SerializerMethodField()

    class Meta:
        model = CycleSettings
        fields = [
            "cycle",
            "kpi_weight",
            "competency_weight",
            "manager_goal_share",
            "hired_before",
            "departments",
            "competencies",
            "guideline",
            "guideline_tolerance",
            "second_level_approval",
            "appeal_days",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(CycleCompetencySerializer(many=True))
    def get_competencies(self, settings: CycleSettings) -> list[dict]:
        rows = settings.cycle.competencies.select_related("competency")
        return CycleCompetencySerializer(rows, many=True).data


class CycleCompetencyWriteSerializer(serializers.Serializer):
    competency = serializers.PrimaryKeyRelatedField(
        queryset=Competency.objects.all(), style={"base_template": "input.html"}
    )
    weight = serializers.IntegerField(min_value=1, max_value=100, default=1)


def _percent(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=100, required=False, **kwargs)


class CycleSettingsWriteSerializer(VersionSerializer):
    """Fields not sent keep their value. Weights, the manager's share, competencies and
    eligibility are fixed once the reviews start (409 after that)."""

    kpi_weight = _percent(help_text=gettext_lazy("With competency_weight, 100."))
    competency_weight = _percent()
    manager_goal_share = _percent(
        help_text=gettext_lazy("The manager's share of each goal's score, in percent.")
    )
    hired_before = serializers.DateField(required=False, allow_null=True)
    departments = ScopedPrimaryKeyRelatedField(
        queryset=Department.objects.all(),
        scope=access.departments_visible_to,
        many=True,
        required=False,
        help_text=gettext_lazy("Departments included, with their subtrees; none: everyone."),
    )
    competencies = CycleCompetencyWriteSerializer(many=True, required=False)
    guideline = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=100),
        required=False,
        help_text=gettext_lazy('{"<level value>": percent}, totalling 100; {} for none.'),
    )
    guideline_tolerance = _percent()
    second_level_approval = serializers.BooleanField(required=False)
    appeal_days = serializers.IntegerField(min_value=0, max_value=365, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")

    def service_arguments(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        data.pop("version", None)
        competencies = data.pop("competencies", None)
        departments = data.pop("departments", None)
        return {
            "data": data,
            "reason": data.pop("reason", ""),
            "competencies": None
            if competencies is None
            else [(row["competency"], row["weight"]) for row in competencies],
            "departments": None if departments is None else list(departments),
        }


# --- appraisals ---------------------------------------------------------------------

# What the employee does not see of their own appraisal before release.
ASSESSMENT_FIELDS = (
    "session",
    "kpi_score",
    "competency_score",
    "overall_score",
    "computed_level",
    "manager_level",
    "calibrated_level",
    "final_level",
)


class AppraisalSerializer(serializers.ModelSerializer):
    employee = EmployeeRefSerializer(read_only=True)
    department = DepartmentRefSerializer(read_only=True)
    reviewer = EmployeeRefSerializer(read_only=True, allow_null=True)
    session = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    kpi_score = serializers.DecimalField(**SCORE)
    competency_score = serializers.DecimalField(**SCORE)
    overall_score = serializers.DecimalField(**SCORE)
    computed_level = RatingLevelRefSerializer(read_only=True, allow_null=True)
    manager_level = RatingLevelRefSerializer(read_only=True, allow_null=True)
    calibrated_level = RatingLevelRefSerializer(read_only=True, allow_null=True)
    final_level = RatingLevelRefSerializer(read_only=True, allow_null=True)
    assessment_visible = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "False for the employee before results are released: the session, scores and "
            "ratings are then null."
        )
    )

    class Meta:
        model = Appraisal
        fields = [
            "id",
            "cycle",
            "employee",
            "department",
            "reviewer",
            "reviewer_assigned",
            "stage",
            *ASSESSMENT_FIELDS,
            "finalised_at",
            "released_at",
            "acknowledged_at",
            "employee_comment",
            "withdrawn_reason",
            "assessment_visible",
            "version",
        ]
        read_only_fields = fields

    def _sees(self, appraisal: Appraisal) -> bool:
        # Every appraisal shown was fetched through access.appraisals_visible_to.
        return access.sees_assessment_in_list(_request_user(self), appraisal)

    def get_assessment_visible(self, appraisal: Appraisal) -> bool:
        return self._sees(appraisal)

    def to_representation(self, appraisal):
        data = super().to_representation(appraisal)
        if not data["assessment_visible"]:
            for name in ASSESSMENT_FIELDS:
                data[name] = None
        return data


class AppraisalCreateSerializer(serializers.Serializer):
    """A late joiner (or a withdrawn appraisal reinstated)."""

    cycle = ScopedPrimaryKeyRelatedField(
        queryset=Cycle.objects.all(), scope=access.cycles_visible_to
    )
    employee = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(), scope=access.employees_visible_to
    )
    reason = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("Why; the history keeps it.")
    )

    def create(self, validated_data):
        return services.appraisal_add(actor=_request_user(self), **validated_data)


class ReassignSerializer(ReasonSerializer):
    reviewer = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(),
        scope=_people,
        help_text=gettext_lazy("The employee who reviews from now on."),
    )


class AppraisalCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class AppealFileSerializer(serializers.Serializer):
    reason = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("The grounds for the appeal.")
    )


# --- reviews ------------------------------------------------------------------------


class ReviewGoalLineSerializer(serializers.Serializer):
    goal = serializers.IntegerField()
    title = serializers.CharField()
    weight = serializers.DecimalField(max_digits=5, decimal_places=2)
    counts = serializers.BooleanField(
        help_text=gettext_lazy("False for a cancelled goal: shown, but not scored.")
    )
    attainment = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        help_text=gettext_lazy("Measured attainment in percent (100: on target)."),
    )
    result = serializers.CharField(help_text=gettext_lazy("Self-review only."))
    score = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField()


class ReviewCompetencyLineSerializer(serializers.Serializer):
    competency = serializers.IntegerField()
    name = serializers.CharField()
    weight = serializers.IntegerField()
    rating = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField()


def goal_lines(review: Review, goals: list[Goal]) -> list[dict]:
    """One row per goal of the appraisal (values blank until written), then any line
    written for a goal no longer among them."""
    lines = {line.goal_id: line for line in review.goal_lines.all()}
    rows = []
    for goal in goals:
        rows.append(_goal_row(goal, lines.pop(goal.pk, None)))
    for line in lines.values():
        rows.append(_goal_row(line.goal, line))
    return rows


def _goal_row(goal: Goal, line) -> dict:
    return {
        "goal": goal.pk,
        "title": goal.title,
        "weight": goal.weight,
        "counts": goal.status != Goal.Status.CANCELLED,
        "attainment": goal.attainment,
        "result": line.result if line else "",
        "score": line.score if line else None,
        "comment": line.comment if line else "",
    }


def competency_lines(review: Review, rated: list[CycleCompetency]) -> list[dict]:
    lines = {line.competency_id: line for line in review.competency_lines.all()}
    rows = []
    for row in rated:
        line = lines.pop(row.competency_id, None)
        rows.append(_competency_row(row.competency, row.weight, line))
    for line in lines.values():
        rows.append(_competency_row(line.competency, 0, line))
    return rows


def _competency_row(competency: Competency, weight: int, line) -> dict:
    return {
        "competency": competency.pk,
        "name": competency.name,
        "weight": weight,
        "rating": line.rating if line else None,
        "comment": line.comment if line else "",
    }


class ReviewSerializer(serializers.ModelSerializer):
    """A review with a line per goal of the appraisal and per competency of the cycle.

    The view attaches ``_goals`` and ``_rated`` to each review (one query for a page)."""

    cycle = serializers.IntegerField(source="appraisal.cycle_id", read_only=True)
    employee = EmployeeRefSerializer(source="appraisal.employee", read_only=True)
    proposed_level = RatingLevelRefSerializer(read_only=True, allow_null=True)
    last_edited_by = AuthorSerializer(read_only=True, allow_null=True)
    goals = serializers.SerializerMethodField()
    competencies = serializers.SerializerMethodField()

    class Meta:
        model = Review
        fields = [
            "id",
            "appraisal",
            "cycle",
            "employee",
            "kind",
            "status",
            "overall_comment",
            "strengths",
            "improvements",
            "proposed_level",
            "deviation_reason",
            "return_comment",
            "goals",
            "competencies",
            "last_edited_by",
            "updated_at",
            "submitted_at",
            "approved_at",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(ReviewGoalLineSerializer(many=True))
    def get_goals(self, review: Review) -> list[dict]:
        return ReviewGoalLineSerializer(goal_lines(review, review._goals), many=True).data

    @extend_schema_field(ReviewCompetencyLineSerializer(many=True))
    def get_competencies(self, review: Review) -> list[dict]:
        rows = competency_lines(review, review._rated)
        return ReviewCompetencyLineSerializer(rows, many=True).data


class GoalLineWriteSerializer(serializers.Serializer):
    goal = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    result = serializers.CharField(
        required=False, allow_blank=True, help_text=gettext_lazy("Self-review only.")
    )
    score = _level_value(
        required=False, allow_null=True, help_text=gettext_lazy("A value on the cycle's scale.")
    )
    comment = serializers.CharField(required=False, allow_blank=True)


class CompetencyLineWriteSerializer(serializers.Serializer):
    competency = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    rating = _level_value(
        required=False, allow_null=True, help_text=gettext_lazy("A value on the cycle's scale.")
    )
    comment = serializers.CharField(required=False, allow_blank=True)


def _no_repeats(rows: list[dict], key: str, message: str) -> list[dict]:
    ids = [row[key] for row in rows]
    if len(ids) != len(set(ids)):
        raise serializers.ValidationError(message)
    return rows


class ReviewWriteSerializer(VersionSerializer):
    """Only what is sent changes. Errors about one line are keyed as
    ``goal-<goal id>-<field>`` and ``competency-<competency id>-<field>``."""

    overall_comment = serializers.CharField(required=False, allow_blank=True)
    strengths = serializers.CharField(
        required=False, allow_blank=True, help_text=gettext_lazy("Manager review only.")
    )
    improvements = serializers.CharField(
        required=False, allow_blank=True, help_text=gettext_lazy("Manager review only.")
    )
    proposed_level = _level_value(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Manager review only: the proposed rating's value."),
    )
    deviation_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=gettext_lazy("Why the proposed rating is not the one the score gives."),
    )
    goals = GoalLineWriteSerializer(many=True, required=False)
    competencies = CompetencyLineWriteSerializer(many=True, required=False)

    def validate_goals(self, rows):
        return _no_repeats(rows, "goal", _("Each goal appears once."))

    def validate_competencies(self, rows):
        return _no_repeats(rows, "competency", _("Each competency appears once."))

    def service_data(self, review: Review) -> dict[str, Any]:
        """The ``data`` argument of ``services.review_save``."""
        data = dict(self.validated_data)
        data.pop("version", None)
        if "proposed_level" in data:
            data["proposed_level"] = level_on(
                review.appraisal.cycle, data["proposed_level"], "proposed_level"
            )
        if "goals" in data:
            data["goals"] = {
                row["goal"]: {k: v for k, v in row.items() if k != "goal"} for row in data["goals"]
            }
        if "competencies" in data:
            data["competencies"] = {
                row["competency"]: {k: v for k, v in row.items() if k != "competency"}
                for row in data["competencies"]
            }
        return data


class ReturnSerializer(serializers.Serializer):
    comment = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("What the author should change.")
    )


# --- calibration --------------------------------------------------------------------


class ParticipantSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    employee = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()


class CalibrationSessionSerializer(serializers.ModelSerializer):
    """The view attaches ``_participants`` (one query for a page) and the annotation
    ``appraisal_count``."""

    departments = DepartmentRefSerializer(many=True, read_only=True)
    created_by = AuthorSerializer(read_only=True, allow_null=True)
    participants = serializers.SerializerMethodField()
    appraisals = serializers.IntegerField(
        source="appraisal_count",
        read_only=True,
        help_text=gettext_lazy("How many appraisals the session holds."),
    )

    class Meta:
        model = CalibrationSession
        fields = [
            "id",
            "cycle",
            "name",
            "departments",
            "status",
            "participants",
            "appraisals",
            "created_by",
            "created_at",
            "closed_at",
            "version",
        ]
        read_only_fields = fields

    @extend_schema_field(ParticipantSerializer(many=True))
    def get_participants(self, session: CalibrationSession) -> list[dict]:
        return ParticipantSerializer(session._participants, many=True).data


def _participant_users(employees: list[Employee]):
    return [employee.user for employee in employees]


class ParticipantsWriteSerializer(serializers.Serializer):
    participants = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(),
        scope=_people,
        many=True,
        help_text=gettext_lazy("The employees on the panel (managers, HR business partners)."),
    )


class CalibrationSessionCreateSerializer(serializers.Serializer):
    cycle = ScopedPrimaryKeyRelatedField(
        queryset=Cycle.objects.all(), scope=access.cycles_visible_to
    )
    name = serializers.CharField(max_length=120)
    departments = ScopedPrimaryKeyRelatedField(
        queryset=Department.objects.all(),
        scope=access.departments_visible_to,
        many=True,
        help_text=gettext_lazy("The departments calibrated, with their subtrees."),
    )
    participants = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(),
        scope=_people,
        many=True,
        required=False,
        help_text=gettext_lazy("The employees on the panel (managers, HR business partners)."),
    )

    def create(self, validated_data):
        data = dict(validated_data)
        participants = _participant_users(data.pop("participants", []))
        return services.calibration_session_open(
            actor=_request_user(self),
            departments=list(data.pop("departments")),
            participants=participants,
            **data,
        )


class SessionClosedSerializer(serializers.Serializer):
    session = CalibrationSessionSerializer()
    finalised = serializers.IntegerField(help_text=gettext_lazy("Ratings made final."))
    not_ready = serializers.ListField(
        child=serializers.CharField(),
        help_text=gettext_lazy("People whose manager review is not in yet; they stay open."),
    )


class CalibrationAdjustmentSerializer(serializers.ModelSerializer):
    employee = EmployeeRefSerializer(source="appraisal.employee", read_only=True)
    from_level = RatingLevelRefSerializer(read_only=True, allow_null=True)
    to_level = RatingLevelRefSerializer(read_only=True)
    actor = AuthorSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CalibrationAdjustment
        fields = [
            "id",
            "session",
            "appraisal",
            "employee",
            "from_level",
            "to_level",
            "reason",
            "actor",
            "created_at",
        ]
        read_only_fields = fields


class CalibrationAdjustmentCreateSerializer(serializers.Serializer):
    session = ScopedPrimaryKeyRelatedField(
        queryset=CalibrationSession.objects.all(), scope=access.calibration_sessions_visible_to
    )
    appraisal = ScopedPrimaryKeyRelatedField(
        queryset=Appraisal.objects.all(), scope=access.appraisals_visible_to
    )
    to_level = _level_value(help_text=gettext_lazy("The new rating's value on the scale."))
    reason = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("Why; the history keeps it.")
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=gettext_lazy("The appraisal's version you read; a newer one is a 409."),
    )

    def validate(self, attrs):
        attrs["to_level"] = level_on(attrs["session"].cycle, attrs["to_level"], "to_level")
        return attrs

    def create(self, validated_data):
        data = dict(validated_data)
        return services.calibration_move(
            actor=_request_user(self),
            expected_version=data.pop("version", None),
            **data,
        )


# --- appeals ------------------------------------------------------------------------


class AppealSerializer(serializers.ModelSerializer):
    cycle = serializers.IntegerField(source="appraisal.cycle_id", read_only=True)
    employee = EmployeeRefSerializer(source="appraisal.employee", read_only=True)
    new_level = RatingLevelRefSerializer(read_only=True, allow_null=True)
    resolved_by = AuthorSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Appeal
        fields = [
            "id",
            "appraisal",
            "cycle",
            "employee",
            "reason",
            "filed_at",
            "status",
            "outcome",
            "new_level",
            "resolved_by",
            "resolved_at",
            "version",
        ]
        read_only_fields = fields


class AppealResolveSerializer(VersionSerializer):
    status = serializers.ChoiceField(
        choices=[
            (Appeal.Status.UPHELD.value, Appeal.Status.UPHELD.label),
            (Appeal.Status.DISMISSED.value, Appeal.Status.DISMISSED.label),
        ]
    )
    outcome = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("The decision and why; the history keeps it.")
    )
    new_level = _level_value(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("Upheld: the new final rating's value on the scale."),
    )
