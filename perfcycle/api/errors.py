"""API errors: every refusal is a 4xx with field errors a client can act on, never a 500."""

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from perfcycle.services import StaleEdit


def _field_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    """``{field: [message, ...]}`` with the field names the service used; errors about the
    record as a whole (Django's ``__all__``) under DRF's ``non_field_errors``."""
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
        for field, messages in exc.message_dict.items()
    }


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=_field_errors(exc))
    elif isinstance(exc, StaleEdit):
        return Response(
            {
                "detail": str(exc),
                "code": "stale_version",
                "current_version": exc.instance.version,
            },
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, IntegrityError):
        # A unique key raced with another write: the client may retry after re-reading.
        return Response(
            {
                "detail": _("The record conflicts with one saved at the same time."),
                "code": "conflict",
            },
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, PermissionDenied):
        return Response(
            {"detail": _("You do not have permission to perform this action.")},
            status=status.HTTP_403_FORBIDDEN,
        )
    return drf_exception_handler(exc, context)


# --- the workflow's refusals ---------------------------------------------------------


def conflict_response(exc) -> Response | None:
    """A 409 for a stale version or a refusal that names no field; None otherwise."""
    if isinstance(exc, StaleEdit):
        return Response(
            {
                "detail": str(exc),
                "code": "stale_version",
                "current_version": exc.instance.version,
                "changes": {
                    str(label): None if value is None else str(value)
                    for label, value in exc.changed.items()
                },
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError) and not hasattr(exc, "error_dict"):
        return Response(
            {"detail": " ".join(exc.messages), "code": "not_allowed", "reasons": exc.messages},
            status=status.HTTP_409_CONFLICT,
        )
    return None


class ConflictMixin:
    """Answer the workflow's refusals with a 409 (see the module docstring).

    ``conflict_actions`` limits it to some actions (``None``: all of them), so that a
    viewset extended here keeps the answers its own actions always gave."""

    conflict_actions: frozenset[str] | None = None

    def handle_exception(self, exc):
        if self.conflict_actions is None or getattr(self, "action", None) in self.conflict_actions:
            response = conflict_response(exc)
            if response is not None:
                return response
        return super().handle_exception(exc)
