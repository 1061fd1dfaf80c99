"""/api/v1/goals/ and /api/v1/checkins/: scope through the access policy, validate with a
serializer, call a ``goals.services`` function.

A goal outside the user's scope is a 404; a change the user may not make is a 403 (the
services ask the policy). Edits need the version the client read (409 when stale); the
workflow actions take it too, optionally. Deleting is for mistakes only: a draft or a
proposal nothing refers to. Anything further along is cancelled instead (409). A
change the workflow does not allow now (an action the status refuses, a closed cycle) is
a 409 with the reasons (code "not_allowed"); a bad field is a 400 naming it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Case, IntegerField, Value, When
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from perfcycle import access
from perfcycle.api.errors import ConflictMixin
from perfcycle.api.views import (
    EDIT_ERRORS,
    IF_MATCH,
    WRITE_ERRORS,
    CreateMixin,
    EditMixin,
    ResourceViewSet,
    edit_schema,
    version_if_sent,
)

from .. import services
from ..models import CheckIn, Goal
from . import filters
from . import serializers as s

NOT_FOUND = {404: OpenApiResponse(description="No such record, or not visible to you.")}
DELETE_ERRORS = {
    403: OpenApiResponse(description="Not allowed to change this goal."),
    **NOT_FOUND,
    409: OpenApiResponse(
        s.NotDeletableSerializer,
        description="Only a draft or a proposal nothing refers to is deleted; cancel it instead.",
    ),
}
LEVEL_RANK = Case(
    *(When(level=level, then=Value(rank)) for rank, level in enumerate(Goal.Level.values)),
    output_field=IntegerField(),
)


def _action_schema(request, *, description: str, responses=None):
    """A workflow action: the body, the goal back; the version read is optional."""
    return extend_schema(
        request=request,
        parameters=[IF_MATCH],
        responses=responses or {200: s.GoalSerializer, **EDIT_ERRORS},
        description=description,
    )


def _bulk_schema(request, *, description: str, responses):
    """An action on many goals at once (no version: it changes the goals below)."""
    responses = {**responses, **WRITE_ERRORS, **NOT_FOUND}
    return extend_schema(request=request, responses=responses, description=description)


@extend_schema_view(
    create=extend_schema(
        request=s.GoalCreateSerializer, responses={201: s.GoalSerializer, **WRITE_ERRORS}
    ),
    destroy=extend_schema(
        responses={204: OpenApiResponse(description="Deleted."), **DELETE_ERRORS},
        description="Delete a draft or proposal made by mistake; anything else is cancelled.",
    ),
)
@edit_schema(s.GoalUpdateSerializer, s.GoalSerializer)
class GoalViewSet(ConflictMixin, CreateMixin, EditMixin, mixins.DestroyModelMixin, ResourceViewSet):
    """Goals at every level of the cascade, with their workflow."""

    model = Goal
    scope = access.goals_visible_to
    serializer_class = s.GoalSerializer
    write_serializer_class = s.GoalCreateSerializer
    filterset_class = filters.GoalFilter
    search_fields = ["title"]

    def get_serializer_class(self):
        if self.request is not None and self.request.method in ("PUT", "PATCH"):
            return s.GoalUpdateSerializer
        return super().get_serializer_class()

    def with_related(self, queryset):
        return (
            queryset.select_related("department", "position", "employee__user")
            .annotate(level_rank=LEVEL_RANK)
            .order_by("cycle_id", "level_rank", "-weight", "title", "pk")
        )

    def check_change(self, user, obj):
        access.require(access.can_change_goal(user, obj))

    def destroy(self, request, *args, **kwargs):
        goal = self.get_object()
        try:
            services.goal_delete(actor=request.user, goal=goal)
        except DjangoValidationError as exc:
            return Response(
                {"detail": " ".join(exc.messages), "code": "not_deletable"},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- the workflow ---

    def _act(self, request, form_class, run):
        """Open the goal in scope, read the body, run the service, show the goal."""
        goal = self.get_object()
        form = form_class(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = {k: v for k, v in form.validated_data.items() if k != "version"}
        return run(goal, data, version_if_sent(request))

    def _transition(self, request, form_class, service, **fixed):
        def run(goal, data, version):
            changed = service(
                actor=request.user, goal=goal, expected_version=version, **fixed, **data
            )
            return self.read_response(changed)

        return self._act(request, form_class, run)

    @_action_schema(s.VersionSerializer, description="Send your draft goal for approval.")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._transition(request, s.VersionSerializer, services.goal_submit)

    @_action_schema(s.CommentSerializer, description="Approve a proposed (or draft) goal.")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._transition(request, s.CommentSerializer, services.goal_approve)

    @_action_schema(
        s.RequiredCommentSerializer,
        description="Send a proposal back to its owner as a draft, saying what to change.",
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_to_owner(self, request, pk=None):
        return self._transition(request, s.RequiredCommentSerializer, services.goal_return)

    @_action_schema(s.RequiredCommentSerializer, description="Turn a proposal down, saying why.")
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._transition(request, s.RequiredCommentSerializer, services.goal_reject)

    @_action_schema(s.ReasonSerializer, description="Cancel a goal, saying why.")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._transition(request, s.ReasonSerializer, services.goal_cancel)

    @_action_schema(s.CommentSerializer, description="Record that the goal was achieved.")
    @action(detail=True, methods=["post"])
    def achieve(self, request, pk=None):
        return self._transition(request, s.CommentSerializer, services.goal_finish, achieved=True)

    @_action_schema(s.CommentSerializer, description="Record that the goal was missed.")
    @action(detail=True, methods=["post"])
    def miss(self, request, pk=None):
        return self._transition(request, s.CommentSerializer, services.goal_finish, achieved=False)

    @_action_schema(
        s.ReasonSerializer, description="HR: unlock a goal after goal setting, saying why."
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._transition(request, s.ReasonSerializer, services.goal_reopen)

    @_action_schema(s.VersionSerializer, description="HR: lock a reopened goal again.")
    @action(detail=True, methods=["post"])
    def lock(self, request, pk=None):
        return self._transition(request, s.VersionSerializer, services.goal_lock)

    @_bulk_schema(
        None,
        description="Copy a position KPI to every holder of the position who has no copy yet.",
        responses={200: s.CascadeResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def cascade(self, request, pk=None):
        goal = self.get_object()
        created = services.position_kpi_cascade(actor=request.user, goal=goal)
        return Response({"created": created})

    @_bulk_schema(
        None,
        description="Bring the copies of a position KPI nobody adjusted in line with it.",
        responses={200: s.PushResultSerializer},
    )
    @action(detail=True, methods=["post"])
    def push(self, request, pk=None):
        goal = self.get_object()
        result = services.position_kpi_push(actor=request.user, goal=goal)
        return Response({"updated": result.updated, "adjusted": result.adjusted})

    @_bulk_schema(
        s.DecomposeSerializer,
        description=(
            "Create a department goal serving this company objective for each department "
            "named (departments that already have one are skipped); returns the new goals."
        ),
        responses={201: s.GoalSerializer(many=True)},
    )
    # A list comes back, but not a page of the goal list: no filters, no paging.
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def decompose(self, request, pk=None):
        def run(goal, data, version):
            created = services.company_objective_decompose(
                actor=request.user,
                objective=goal,
                departments=data["departments"],
                weight=data.get("weight"),
            )
            shown = s.GoalSerializer(created, many=True, context=self.get_serializer_context())
            return Response(shown.data, status=status.HTTP_201_CREATED)

        return self._act(request, s.DecomposeSerializer, run)


@extend_schema_view(
    create=extend_schema(
        request=s.CheckInWriteSerializer, responses={201: s.CheckInSerializer, **WRITE_ERRORS}
    ),
    destroy=extend_schema(
        parameters=[s.CheckInDeleteSerializer],
        responses={
            204: OpenApiResponse(description="Deleted."),
            400: OpenApiResponse(description="The cycle is closed."),
            403: OpenApiResponse(description="Only its author or HR takes a check-in back."),
            **NOT_FOUND,
        },
    ),
)
class CheckInViewSet(ConflictMixin, CreateMixin, mixins.DestroyModelMixin, ResourceViewSet):
    """Progress recorded on goals. A check-in is not edited: take it back and record anew."""

    model = CheckIn
    scope = access.checkins_visible_to
    serializer_class = s.CheckInSerializer
    write_serializer_class = s.CheckInWriteSerializer
    filterset_class = filters.CheckInFilter
    filter_backends = [DjangoFilterBackend]

    def with_related(self, queryset):
        return queryset.select_related("author").order_by("-recorded_at", "-pk")

    def read_response(self, instance, status_code=status.HTTP_200_OK) -> Response:
        # A check-in has no version: it is never edited.
        data = self.serializer_class(instance, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    def destroy(self, request, *args, **kwargs):
        checkin = self.get_object()
        query = s.CheckInDeleteSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        services.checkin_delete(
            actor=request.user, checkin=checkin, reason=query.validated_data["reason"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
