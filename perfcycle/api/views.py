"""API views: scope through the access policy, validate with a serializer, call a service.

Every read starts from a ``*_visible_to(user)`` queryset, so an id outside the user's
scope is a 404. A change first asks the policy whether the user may change the object it
opened (403 otherwise), then needs the version the client read (optimistic concurrency:
a stale version is a 409). Nothing here is deleted: people leave with ``is_active=false``
and departments are restructured, so DELETE is a 405 (the goals API, in ``goals.api``,
deletes only goals still in draft).
"""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from perfcycle import access
from perfcycle.models import Cycle, Department, Employee, Position, RatingScale

from . import filters, serializers

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='The version read, as "<version>"; instead of a "version" field in the body.',
)
WRITE_ERRORS = {
    400: OpenApiResponse(description="Field errors: {field: [message, ...]}."),
    403: OpenApiResponse(description="Not allowed to make this change."),
}
EDIT_ERRORS = {
    **WRITE_ERRORS,
    404: OpenApiResponse(description="No such record, or not visible to you."),
    409: OpenApiResponse(description="Someone else saved a newer version; re-read and retry."),
}


def expected_version(request) -> int:
    """The version the client read: body field ``version``, else the ``If-Match`` header."""
    raw = request.data.get("version") if hasattr(request.data, "get") else None
    if raw in (None, ""):
        raw = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"') or None
    if raw is None:
        raise ValidationError(
            {
                "version": [
                    _(
                        'Send the version you read (field "version" or an If-Match '
                        "header), so that no one else's change is overwritten."
                    )
                ]
            }
        )
    try:
        version = int(raw) if not isinstance(raw, bool | float) else 0
    except (TypeError, ValueError):
        version = 0
    if version < 1:
        raise ValidationError({"version": [_("A version is a whole number from 1.")]})
    return version


def version_if_sent(request) -> int | None:
    """The version the client read, when it sent one; workflow actions work without it."""
    sent = hasattr(request.data, "get") and request.data.get("version") not in (None, "")
    if sent or request.headers.get("If-Match", "").strip():
        return expected_version(request)
    return None


class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """List and open records in the user's scope; create and edit through a service.

    Subclasses set ``model``, ``scope`` (an ``access.*_visible_to`` function), the read
    ``serializer_class`` and the ``write_serializer_class``.
    """

    model: type
    scope = None
    write_serializer_class = None
    lookup_value_regex = "[0-9]+"
    filter_backends = [DjangoFilterBackend, SearchFilter]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.with_related(type(self).scope(self.request.user))

    def with_related(self, queryset):
        return queryset

    def get_object(self):
        return access.get_visible_or_404(self.get_queryset(), pk=int(self.kwargs["pk"]))

    def get_serializer_class(self):
        if self.request is not None and self.request.method in ("POST", "PUT", "PATCH"):
            return self.write_serializer_class
        return self.serializer_class

    # --- access questions, per resource ---

    def check_create(self, user) -> None:
        """Before validation: may the user create records of this kind at all?"""

    def check_create_in(self, user, validated_data) -> None:
        """After validation: may the user create this record where it would go?"""

    def check_change(self, user, obj) -> None:
        raise NotImplementedError

    # --- responses ---

    def read_response(self, instance, status_code=status.HTTP_200_OK) -> Response:
        data = self.serializer_class(instance, context=self.get_serializer_context()).data
        return Response(data, status=status_code, headers={"ETag": f'"{instance.version}"'})

    def retrieve(self, request, *args, **kwargs):
        return self.read_response(self.get_object())


class CreateMixin:
    """POST: validate with the write serializer, which calls the create service."""

    def create(self, request, *args, **kwargs):
        self.check_create(request.user)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_create_in(request.user, serializer.validated_data)
        return self.read_response(serializer.save(), status.HTTP_201_CREATED)


class EditMixin:
    """PUT and PATCH: only with the version the client read."""

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        self.check_change(request.user, instance)
        context = {**self.get_serializer_context(), "expected_version": expected_version(request)}
        serializer = self.get_serializer_class()(
            instance, data=request.data, partial=kwargs.get("partial", False), context=context
        )
        serializer.is_valid(raise_exception=True)
        return self.read_response(serializer.save())

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)


def edit_schema(write, read):
    """Schema for create/update: the write serializer in, the read serializer out."""
    edit = {
        "request": write,
        "parameters": [IF_MATCH],
        "responses": {200: read, **EDIT_ERRORS},
        "description": _('Send the version you read: a "version" field or an If-Match header.'),
    }
    return extend_schema_view(
        create=extend_schema(request=write, responses={201: read, **WRITE_ERRORS}),
        update=extend_schema(**edit),
        partial_update=extend_schema(**edit),
    )


# --- departments --------------------------------------------------------------------


@edit_schema(serializers.DepartmentWriteSerializer, serializers.DepartmentSerializer)
class DepartmentViewSet(CreateMixin, EditMixin, ResourceViewSet):
    """The organisation tree. Departments are restructured (moved, renamed), not deleted."""

    model = Department
    scope = access.departments_visible_to
    serializer_class = serializers.DepartmentSerializer
    write_serializer_class = serializers.DepartmentWriteSerializer
    filterset_class = filters.DepartmentFilter
    search_fields = ["code", "name"]

    def with_related(self, queryset):
        return queryset.select_related("head__user").order_by("name", "pk")

    def check_create(self, user):
        access.require(access.can_change_department(user))

    def check_change(self, user, obj):
        access.require(access.can_change_department(user, obj))


# --- positions ----------------------------------------------------------------------


@edit_schema(serializers.PositionWriteSerializer, serializers.PositionSerializer)
class PositionViewSet(CreateMixin, EditMixin, ResourceViewSet):
    model = Position
    scope = access.positions_visible_to
    serializer_class = serializers.PositionSerializer
    write_serializer_class = serializers.PositionWriteSerializer
    filterset_class = filters.PositionFilter
    search_fields = ["title", "grade"]

    def with_related(self, queryset):
        return queryset.select_related("department").order_by("department__name", "title", "pk")

    def check_create_in(self, user, validated_data):
        access.require(access.can_manage_department_people(user, validated_data["department"]))

    def check_change(self, user, obj):
        access.require(access.can_change_position(user, obj))


# --- employees ----------------------------------------------------------------------


@extend_schema_view(
    create=extend_schema(
        request=serializers.EmployeeCreateSerializer,
        responses={201: serializers.EmployeeSerializer, **WRITE_ERRORS},
    ),
)
@edit_schema(serializers.EmployeeUpdateSerializer, serializers.EmployeeSerializer)
class EmployeeViewSet(CreateMixin, EditMixin, ResourceViewSet):
    """People's records. Someone who leaves is set ``is_active=false``; nobody is deleted."""

    model = Employee
    scope = access.employees_visible_to
    serializer_class = serializers.EmployeeSerializer
    filterset_class = filters.EmployeeFilter
    search_fields = ["user__full_name", "user__email", "employee_number"]

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return serializers.EmployeeCreateSerializer
        if self.request is not None and self.request.method in ("PUT", "PATCH"):
            return serializers.EmployeeUpdateSerializer
        return self.serializer_class

    def with_related(self, queryset):
        return queryset.select_related("user", "department", "position", "manager__user").order_by(
            "employee_number"
        )

    def check_create_in(self, user, validated_data):
        access.require(access.can_add_employee_to(user, validated_data["department"]))

    def check_change(self, user, obj):
        access.require(access.can_change_employee(user, obj))


# --- cycles -------------------------------------------------------------------------


@edit_schema(serializers.CycleWriteSerializer, serializers.CycleSerializer)
class CycleViewSet(CreateMixin, EditMixin, ResourceViewSet):
    """Performance cycles. The status moves through the workflow, not through edits."""

    model = Cycle
    scope = access.cycles_visible_to
    serializer_class = serializers.CycleSerializer
    write_serializer_class = serializers.CycleWriteSerializer
    filterset_class = filters.CycleFilter
    search_fields = ["name"]

    def with_related(self, queryset):
        return (
            queryset.select_related("rating_scale")
            .prefetch_related("deadlines")
            .order_by("-period_start", "-pk")
        )

    def check_create(self, user):
        access.require(access.can_change_cycle(user))

    def check_change(self, user, obj):
        access.require(access.can_change_cycle(user, obj))


# --- rating scales ------------------------------------------------------------------


@edit_schema(serializers.RatingScaleWriteSerializer, serializers.RatingScaleSerializer)
@extend_schema_view(
    update=extend_schema(request=serializers.RatingScaleUpdateSerializer),
    partial_update=extend_schema(request=serializers.RatingScaleUpdateSerializer),
)
class RatingScaleViewSet(CreateMixin, EditMixin, ResourceViewSet):
    """Rating scales with their levels. The name and description may change; the levels
    are fixed once created, so ratings given keep their meaning (add a new scale)."""

    model = RatingScale
    scope = access.rating_scales_visible_to
    serializer_class = serializers.RatingScaleSerializer
    write_serializer_class = serializers.RatingScaleWriteSerializer
    search_fields = ["name"]

    def with_related(self, queryset):
        return queryset.prefetch_related("levels").order_by("name", "pk")

    def check_create(self, user):
        access.require(access.can_change_rating_scale(user))

    def check_change(self, user, obj):
        access.require(access.can_change_rating_scale(user, obj))

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return serializers.RatingScaleUpdateSerializer
        return super().get_serializer_class()


# --- the current user and tokens ----------------------------------------------------


class MeView(APIView):
    """Who am I: the logged-in user, their employee record and their roles."""

    http_method_names = ["get", "head", "options"]

    @extend_schema(responses=serializers.MeSerializer)
    def get(self, request):
        return Response(serializers.MeSerializer(request.user).data)


class TokenView(APIView):
    """Exchange an e-mail address and password for an API token.

    Throttled per client address, and counted by django-axes like the login page: after
    too many failures the e-mail address is locked out from that address for a while.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        request=serializers.TokenRequestSerializer,
        responses={
            200: serializers.TokenSerializer,
            400: OpenApiResponse(description="Wrong e-mail address or password."),
            429: OpenApiResponse(description="Too many attempts; wait and try again."),
        },
        auth=[],
    )
    def post(self, request):
        form = serializers.TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        email = form.validated_data["email"]
        # The DRF request goes to authenticate() so that django-axes counts failures.
        user = authenticate(
            request=request, username=email, password=form.validated_data["password"]
        )
        if getattr(request, "axes_locked_out", False):
            minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
            return Response(
                {
                    "detail": _("Too many failed attempts. Try again in %(minutes)d minutes.")
                    % {"minutes": minutes},
                    "code": "locked_out",
                },
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None:
            raise ValidationError(
                {"non_field_errors": [_("The e-mail address or password is not right.")]}
            )
        if settings.AXES_RESET_ON_SUCCESS and getattr(request, "axes_ip_address", None):
            axes_reset(ip=request.axes_ip_address, username=email)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
