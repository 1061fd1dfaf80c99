"""/api/v1/ for appraisals: the cycle's launch, phases and settings; appraisals, reviews,
calibration sessions and their rating moves, and appeals.

Every read starts from an ``access.*_visible_to(user)`` queryset, so an id outside the
user's scope is a 404; a change the user may not make is a 403 (the services ask the
policy). A change the workflow does not allow now (the wrong phase or stage, a review
already submitted, a session already closed) is a 409 with the reasons: the services say
so with a ``ValidationError`` that names no field. Bad input is a 400 with field errors.
A stale version is a 409 with what the other person changed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from goals.models import Goal
from perfcycle import access
from perfcycle.api import views as core
from perfcycle.api.errors import ConflictMixin
from perfcycle.api.serializers import CycleSerializer
from perfcycle.api.views import (
    IF_MATCH,
    WRITE_ERRORS,
    CreateMixin,
    ResourceViewSet,
    version_if_sent,
)
from perfcycle.models import Cycle, Employee

from .. import selectors, services, states
from ..models import (
    Appeal,
    Appraisal,
    CalibrationAdjustment,
    CalibrationSession,
    CalibrationSessionUserObjectPermission,
    CycleCompetency,
    Review,
    ReviewCompetency,
    ReviewGoal,
)
from . import filters
from . import serializers as s

NOT_FOUND = {404: OpenApiResponse(description="No such record, or not visible to you.")}
FORBIDDEN = {403: OpenApiResponse(description="Not allowed to do this.")}
NOT_NOW = {
    409: OpenApiResponse(
        s.RefusalSerializer,
        description="Not possible at this phase or stage, or in this state: the reasons.",
    )
}
STALE_OR_NOT_NOW = {
    409: OpenApiResponse(
        s.StaleSerializer,
        description=(
            'A newer version was saved (code "stale_version", with the other person\'s '
            'changes), or the change is not possible now (code "not_allowed", with the '
            "reasons, as in Refusal)."
        ),
    )
}
ACTION_ERRORS = {**WRITE_ERRORS, **NOT_FOUND, **NOT_NOW}
EDIT_ERRORS = {**WRITE_ERRORS, **NOT_FOUND, **STALE_OR_NOT_NOW}
READ_ERRORS = {**FORBIDDEN, **NOT_FOUND}


# --- refusals -----------------------------------------------------------------------


def _in_order(rows, keys) -> list:
    by_key = {row.pk: row for row in rows}
    return [by_key[key] for key in keys if key in by_key]


class AppraisalResource(ConflictMixin, ResourceViewSet):
    """A resource of this app: rows of a page are completed in a few queries
    (``attach``), and a write answers with the record as a read shows it."""

    def attach(self, rows: list) -> None:
        """Add to the rows what their serializer needs beyond ``with_related``."""

    # Choose a page on the keys alone, then read its rows in full: for lists whose scope
    # is large (a panel member reads every review of their sessions), sorting the wide
    # joined rows to keep fifty costs more than sorting their keys.
    page_by_key = False

    def paginate_queryset(self, queryset):
        if not self.page_by_key:
            page = super().paginate_queryset(queryset)
        else:
            keys = super().paginate_queryset(queryset.values_list("pk", flat=True))
            # The keys came through the user's scope: their rows are read by key alone.
            rows = self.with_related(self.model.objects.filter(pk__in=keys or []))
            page = None if keys is None else _in_order(rows, keys)
        if page is not None:
            self.attach(page)
        return page

    def get_object(self):
        obj = super().get_object()
        self.attach([obj])
        return obj

    def shown(self, instance):
        """The record a service just wrote, re-read as lists and reads show it (through
        the user's scope; should the write have taken it out of their scope, as is)."""
        found = self.get_queryset().filter(pk=instance.pk).first()
        if found is None:
            found = self.with_related(self.model.objects.filter(pk=instance.pk)).get()
        self.attach([found])
        return found

    def form(self, form_class):
        """The request body read with ``form_class`` (a 400 when it does not fit)."""
        form = form_class(data=self.request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        return form

    def respond(self, instance, status_code=status.HTTP_200_OK) -> Response:
        return self.read_response(self.shown(instance), status_code)


class CreateShownMixin(CreateMixin):
    def create(self, request, *args, **kwargs):
        self.check_create(request.user)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_create_in(request.user, serializer.validated_data)
        return self.respond(serializer.save(), status.HTTP_201_CREATED)


# --- cycles -------------------------------------------------------------------------


class CycleViewSet(ConflictMixin, core.CycleViewSet):
    """Performance cycles, with the appraisal workflow: launch, the launch log, what
    blocks the next phase, advancing, and the appraisal settings."""

    conflict_actions = frozenset({"launch", "advance", "appraisal_settings"})

    def _require_cycle_reader(self) -> None:
        # The launch log, the blockers and the settings are the cycle dashboard's.
        access.require(access.can_view_cycle_dashboard(self.request.user))

    @extend_schema(
        request=None,
        responses={202: s.CycleLaunchSerializer, **FORBIDDEN, **NOT_FOUND, **NOT_NOW},
        description=(
            "HR: create an appraisal for everyone eligible who has none, in the background. "
            "Launching again adds only who is missing. Follow the progress in launches/."
        ),
    )
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        cycle = self.get_object()
        launch = services.cycle_launch_request(actor=request.user, cycle=cycle)
        # Without a broker the task ran already; show where it stands.
        launch.refresh_from_db()
        return Response(s.CycleLaunchSerializer(launch).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={200: s.CycleLaunchSerializer(many=True), **READ_ERRORS},
        description="The cycle's launches, latest first, with progress and who was left out.",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def launches(self, request, pk=None):
        cycle = self.get_object()
        self._require_cycle_reader()
        rows = cycle.launches.select_related("actor").order_by("-created_at", "-pk")
        return Response(s.CycleLaunchSerializer(rows, many=True).data)

    def _blockers(self, cycle: Cycle) -> dict:
        found = selectors.advance_blockers(cycle)
        closed = cycle.status == Cycle.Status.CLOSED
        return {
            "status": cycle.status,
            "next_phase": None if closed else states.next_phase(cycle),
            "blockers": [asdict(blocker) for blocker in found],
            "can_force": not closed and not any(blocker.hard for blocker in found),
        }

    @extend_schema(
        responses={200: s.BlockersSerializer, **READ_ERRORS},
        description="What blocks the next phase. HR may advance past soft blockers, not hard.",
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def blockers(self, request, pk=None):
        cycle = self.get_object()
        self._require_cycle_reader()
        return Response(s.BlockersSerializer(self._blockers(cycle)).data)

    @extend_schema(
        request=s.AdvanceSerializer,
        responses={
            200: CycleSerializer,
            400: OpenApiResponse(description="Forcing without a reason: field errors."),
            **FORBIDDEN,
            **NOT_FOUND,
            409: OpenApiResponse(
                s.AdvanceRefusalSerializer,
                description="Blocked: the reasons and the blockers.",
            ),
        },
        description=(
            "HR: move the cycle to its next phase. Soft blockers need force=true and a "
            "reason, which the history keeps; hard blockers must be dealt with first."
        ),
    )
    @action(detail=True, methods=["post"])
    def advance(self, request, pk=None):
        cycle = self.get_object()
        form = s.AdvanceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            advanced = services.cycle_advance(
                actor=request.user, cycle=cycle, **form.validated_data
            )
        except DjangoValidationError as exc:
            if hasattr(exc, "error_dict"):
                raise
            cycle.refresh_from_db()
            return Response(
                {
                    "detail": " ".join(exc.messages),
                    "code": "blocked",
                    "reasons": exc.messages,
                    "blockers": self._blockers(cycle)["blockers"],
                },
                status=status.HTTP_409_CONFLICT,
            )
        return self.read_response(self.get_queryset().get(pk=advanced.pk))

    def _settings_response(self, settings) -> Response:
        data = s.CycleSettingsSerializer(settings, context=self.get_serializer_context()).data
        return Response(data, headers={"ETag": f'"{settings.version}"'})

    @extend_schema(
        methods=["GET"],
        responses={200: s.CycleSettingsSerializer, **READ_ERRORS},
        description="What the cycle's appraisals are made of.",
    )
    @extend_schema(
        methods=["PATCH"],
        request=s.CycleSettingsWriteSerializer,
        parameters=[IF_MATCH],
        responses={200: s.CycleSettingsSerializer, **EDIT_ERRORS},
        description=(
            'HR: change the settings; send the version you read ("version" or If-Match). '
            "Weights, the manager's share, competencies and eligibility are fixed once the "
            "reviews start (409)."
        ),
    )
    @action(
        detail=True,
        methods=["get", "patch"],
        url_path="settings",
        url_name="settings",
        pagination_class=None,
        filter_backends=[],
    )
    def appraisal_settings(self, request, pk=None):
        cycle = self.get_object()
        if request.method == "GET":
            self._require_cycle_reader()
            return self._settings_response(services.settings_for(cycle))
        access.require(access.can_run_cycle(request.user, cycle))
        version = core.expected_version(request)
        form = s.CycleSettingsWriteSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        form.is_valid(raise_exception=True)
        changed = services.cycle_settings_update(
            actor=request.user, cycle=cycle, expected_version=version, **form.service_arguments()
        )
        return self._settings_response(changed)


# --- appraisals ---------------------------------------------------------------------


def _action_schema(request, *, description: str, responses=None, version: bool = False):
    return extend_schema(
        request=request,
        parameters=[IF_MATCH] if version else None,
        responses=responses or {200: s.AppraisalSerializer, **ACTION_ERRORS},
        description=description,
    )


@extend_schema_view(
    create=extend_schema(
        request=s.AppraisalCreateSerializer,
        responses={201: s.AppraisalSerializer, **WRITE_ERRORS, **NOT_NOW},
        description=(
            "HR: appraise a late joiner (or reinstate a withdrawn appraisal), with the reason."
        ),
    ),
)
class AppraisalViewSet(CreateShownMixin, AppraisalResource):
    """Appraisals. Before results are released, the employee reads no score or rating of
    their own (the fields are null and ``assessment_visible`` is false)."""

    model = Appraisal
    scope = access.appraisals_visible_to
    serializer_class = s.AppraisalSerializer
    write_serializer_class = s.AppraisalCreateSerializer
    filterset_class = filters.AppraisalFilter
    search_fields = ["employee__user__full_name", "employee__employee_number"]

    def with_related(self, queryset):
        return queryset.select_related(
            "employee__user",
            "department",
            "reviewer__user",
            "computed_level",
            "manager_level",
            "calibrated_level",
            "final_level",
        ).order_by("cycle_id", "employee__user__full_name", "pk")

    def _act(self, form_class, run, status_code=status.HTTP_200_OK):
        appraisal = self.get_object()
        data = {k: v for k, v in self.form(form_class).validated_data.items() if k != "version"}
        result = run(appraisal, data, version_if_sent(self.request))
        return self.respond(result, status_code)

    @_action_schema(
        s.ReassignSerializer,
        version=True,
        description="HR: name another reviewer (the manager left, the person moved).",
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        return self._act(
            s.ReassignSerializer,
            lambda appraisal, data, version: services.appraisal_reassign(
                actor=request.user, appraisal=appraisal, expected_version=version, **data
            ),
        )

    @_action_schema(
        s.ReasonSerializer,
        version=True,
        description="HR: take a leaver (or someone appraised by mistake) out of the cycle.",
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._act(
            s.ReasonSerializer,
            lambda appraisal, data, version: services.appraisal_withdraw(
                actor=request.user, appraisal=appraisal, expected_version=version, **data
            ),
        )

    @_action_schema(
        s.AppraisalCommentSerializer,
        description="Second-level approval of the manager review, by a manager above the reviewer.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._act(
            s.AppraisalCommentSerializer,
            lambda appraisal, data, version: services.review_approve(
                actor=request.user, appraisal=appraisal, **data
            ),
        )

    @_action_schema(
        s.AppraisalCommentSerializer,
        description=(
            "The employee: confirm having read the released result (not agreeing with it), "
            "optionally with a comment; a later comment replaces the earlier one."
        ),
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._act(
            s.AppraisalCommentSerializer,
            lambda appraisal, data, version: services.appraisal_acknowledge(
                actor=request.user, appraisal=appraisal, **data
            ),
        )

    @_action_schema(
        s.AppealFileSerializer,
        description="The employee: appeal the released result, within the appeal window.",
        responses={201: s.AppealSerializer, **ACTION_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def appeal(self, request, pk=None):
        appraisal = self.get_object()
        form = self.form(s.AppealFileSerializer)
        filed = services.appeal_file(actor=request.user, appraisal=appraisal, **form.validated_data)
        shown = access.appeals_visible_to(request.user).select_related(
            "appraisal__employee__user", "new_level", "resolved_by"
        )
        data = s.AppealSerializer(shown.get(pk=filed.pk)).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"ETag": '"1"'})


# --- reviews ------------------------------------------------------------------------


def attach_lines(reviews: list[Review]) -> None:
    """Give each review its appraisal's goals and its cycle's competencies, in two
    queries for any number of reviews.

    The goals are those of ``services.reviews.appraisal_goals`` (the person's own
    personal goals in the cycle that were agreed, cancelled ones included), for many
    appraisals at once."""
    if not reviews:
        return
    owners = {(r.appraisal.cycle_id, r.appraisal.employee_id) for r in reviews}
    cycles = {cycle for cycle, _employee in owners}
    goals = Goal.objects.filter(
        cycle_id__in=cycles,
        employee_id__in={employee for _cycle, employee in owners},
        level=Goal.Level.PERSONAL,
        status__in=[*Goal.COUNTED, Goal.Status.CANCELLED],
    ).order_by("-weight", "title", "pk")
    by_owner = defaultdict(list)
    for goal in goals:
        by_owner[(goal.cycle_id, goal.employee_id)].append(goal)
    rated = defaultdict(list)
    for row in CycleCompetency.objects.filter(cycle_id__in=cycles).select_related("competency"):
        rated[row.cycle_id].append(row)
    for review in reviews:
        review._goals = by_owner[(review.appraisal.cycle_id, review.appraisal.employee_id)]
        review._rated = rated[review.appraisal.cycle_id]


REVIEW_EDIT = {
    "request": s.ReviewWriteSerializer,
    "responses": {200: s.ReviewSerializer, **EDIT_ERRORS},
}


@extend_schema_view(
    partial_update=extend_schema(
        **REVIEW_EDIT,
        parameters=[IF_MATCH],
        description=(
            'Save as a draft. Send the version you read ("version" or If-Match): a newer one '
            "is a 409 with the other person's changes, and nothing is saved."
        ),
    ),
)
class ReviewViewSet(AppraisalResource):
    """Self-reviews and manager reviews. The employee reads their manager review only
    once the results are released; before that it is a 404 for them."""

    model = Review
    scope = access.reviews_visible_to
    page_by_key = True
    serializer_class = s.ReviewSerializer
    write_serializer_class = s.ReviewWriteSerializer
    filterset_class = filters.ReviewFilter
    search_fields = ["appraisal__employee__user__full_name"]
    http_method_names = ["get", "patch", "post", "head", "options"]

    def with_related(self, queryset):
        return (
            queryset.select_related(
                "appraisal__employee__user",
                "appraisal__cycle__rating_scale",
                "proposed_level",
                "last_edited_by",
            )
            .prefetch_related(
                Prefetch("goal_lines", ReviewGoal.objects.select_related("goal")),
                Prefetch("competency_lines", ReviewCompetency.objects.select_related("competency")),
            )
            .order_by("appraisal__cycle_id", "appraisal__employee__user__full_name", "pk")
        )

    def attach(self, rows):
        attach_lines(rows)

    def check_change(self, user, review):
        if review.kind == Review.Kind.SELF:
            access.require(access.can_write_self_review(user, review.appraisal))
        else:
            access.require(access.can_open_manager_review(user, review.appraisal))

    def _save(self, *, submit: bool) -> Response:
        review = self.get_object()
        self.check_change(self.request.user, review)
        # An edit needs the version read; submitting works without it too.
        version = version_if_sent(self.request) if submit else core.expected_version(self.request)
        form = self.form(s.ReviewWriteSerializer)
        saved = services.review_save(
            actor=self.request.user,
            review=review,
            data=form.service_data(review),
            expected_version=version,
            submit=submit,
        )
        return self.respond(saved)

    def partial_update(self, request, *args, **kwargs):
        return self._save(submit=False)

    @extend_schema(
        **REVIEW_EDIT,
        parameters=[IF_MATCH],
        description=(
            "Save (optionally with the same body as PATCH) and submit. Missing answers are "
            "field errors and nothing is saved; once submitted the review is read-only."
        ),
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._save(submit=True)

    @extend_schema(
        request=s.ReturnSerializer,
        responses={200: s.ReviewSerializer, **ACTION_ERRORS},
        description=(
            "HR (or the second-level approver, for the manager review waiting for them): "
            "send a submitted review back to its author with a comment."
        ),
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_to_author(self, request, pk=None):
        review = self.get_object()
        form = self.form(s.ReturnSerializer)
        returned = services.review_return(
            actor=request.user, review=review, comment=form.validated_data["comment"]
        )
        return self.respond(returned)


# --- calibration --------------------------------------------------------------------


def attach_participants(sessions: list[CalibrationSession]) -> None:
    """Each session's panel (people granted the session), in one query for a page."""
    if not sessions:
        return
    grants = (
        CalibrationSessionUserObjectPermission.objects.filter(
            content_object_id__in=[session.pk for session in sessions],
            permission__codename=access.CALIBRATE_PERMISSION,
        )
        .select_related("user__employee")
        .order_by("user__full_name", "user_id")
    )
    panels = defaultdict(list)
    for grant in grants:
        user = grant.user
        try:
            employee = user.employee
        except Employee.DoesNotExist:
            employee = None
        panels[grant.content_object_id].append(
            {"user": user.pk, "employee": employee and employee.pk, "name": str(user)}
        )
    for session in sessions:
        session._participants = panels[session.pk]


@extend_schema_view(
    create=extend_schema(
        request=s.CalibrationSessionCreateSerializer,
        responses={201: s.CalibrationSessionSerializer, **WRITE_ERRORS, **NOT_NOW},
        description=(
            "HR: open a session for departments (with their subtrees); it takes every open "
            "appraisal there that no other session holds."
        ),
    ),
)
class CalibrationSessionViewSet(CreateShownMixin, AppraisalResource):
    """Calibration sessions: HR sees all; a panel member the sessions they sit on."""

    model = CalibrationSession
    scope = access.calibration_sessions_visible_to
    serializer_class = s.CalibrationSessionSerializer
    write_serializer_class = s.CalibrationSessionCreateSerializer
    filterset_class = filters.CalibrationSessionFilter
    search_fields = ["name"]

    def with_related(self, queryset):
        return (
            queryset.select_related("created_by")
            .prefetch_related("departments")
            .annotate(appraisal_count=Count("appraisals"))
            .order_by("-created_at", "-pk")
        )

    def attach(self, rows):
        attach_participants(rows)

    @extend_schema(
        request=s.VersionSerializer,
        parameters=[IF_MATCH],
        responses={200: s.SessionClosedSerializer, **WRITE_ERRORS, **NOT_FOUND, **STALE_OR_NOT_NOW},
        description=(
            "HR: close the session. The ratings of everyone in it who was ready become final; "
            "anyone whose manager review is not in yet stays open and is named."
        ),
    )
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        session = self.get_object()
        self.form(s.VersionSerializer)
        closed = services.calibration_session_close(
            actor=request.user, session=session, expected_version=version_if_sent(request)
        )
        shown = s.CalibrationSessionSerializer(
            self.shown(closed.session), context=self.get_serializer_context()
        ).data
        return Response(
            {"session": shown, "finalised": closed.finalised, "not_ready": closed.not_ready}
        )

    @extend_schema(
        request=s.ParticipantsWriteSerializer,
        responses={200: s.CalibrationSessionSerializer, **ACTION_ERRORS},
        description="HR: set the panel (replaces it).",
    )
    @action(detail=True, methods=["put"])
    def participants(self, request, pk=None):
        session = self.get_object()
        form = self.form(s.ParticipantsWriteSerializer)
        changed = services.calibration_session_set_participants(
            actor=request.user,
            session=session,
            participants=[employee.user for employee in form.validated_data["participants"]],
        )
        return self.respond(changed)


@extend_schema_view(
    create=extend_schema(
        request=s.CalibrationAdjustmentCreateSerializer,
        responses={201: s.CalibrationAdjustmentSerializer, **WRITE_ERRORS, **STALE_OR_NOT_NOW},
        description=(
            "HR or a panel member: move one person's rating in an open session during "
            "calibration, with the reason; who, from and to are recorded."
        ),
    ),
)
class CalibrationAdjustmentViewSet(CreateShownMixin, AppraisalResource):
    """Rating moves made in calibration sessions. They are not edited: move again."""

    model = CalibrationAdjustment
    scope = access.calibration_adjustments_visible_to
    serializer_class = s.CalibrationAdjustmentSerializer
    write_serializer_class = s.CalibrationAdjustmentCreateSerializer
    filterset_class = filters.CalibrationAdjustmentFilter
    filter_backends = [DjangoFilterBackend]

    def with_related(self, queryset):
        return queryset.select_related(
            "appraisal__employee__user", "from_level", "to_level", "actor"
        ).order_by("-created_at", "-pk")

    def read_response(self, instance, status_code=status.HTTP_200_OK) -> Response:
        # A move has no version: it is never edited.
        data = self.serializer_class(instance, context=self.get_serializer_context()).data
        return Response(data, status=status_code)


# --- appeals ------------------------------------------------------------------------


class AppealViewSet(AppraisalResource):
    """Appeals: the employee reads their own; HR those they administer."""

    model = Appeal
    scope = access.appeals_visible_to
    serializer_class = s.AppealSerializer
    filterset_class = filters.AppealFilter
    search_fields = ["appraisal__employee__user__full_name"]

    def with_related(self, queryset):
        return queryset.select_related(
            "appraisal__employee__user", "new_level", "resolved_by"
        ).order_by("-filed_at", "-pk")

    @extend_schema(
        request=s.AppealResolveSerializer,
        parameters=[IF_MATCH],
        responses={200: s.AppealSerializer, **EDIT_ERRORS},
        description=(
            "HR: record the outcome. Upheld: new_level becomes the final rating; dismissed: "
            "the rating stands."
        ),
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        appeal = self.get_object()
        appraisal = appeal.appraisal
        access.require(access.can_administer_appraisal(request.user, appraisal))
        data = dict(self.form(s.AppealResolveSerializer).validated_data)
        data.pop("version", None)
        new_level = s.level_on(appraisal.cycle, data.pop("new_level", None), "new_level")
        resolved = services.appeal_resolve(
            actor=request.user,
            appeal=appeal,
            new_level=new_level,
            expected_version=version_if_sent(request),
            **data,
        )
        return self.respond(resolved)
