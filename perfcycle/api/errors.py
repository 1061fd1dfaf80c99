"""API errors: every refusal is a 4xx with field errors a client can act on, never a 500."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from perfcycle.services import StaleEdit


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        exc = ValidationError(detail=detail)
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
