"""DRF glue shared by every API: one exception handler (style.md 4.3)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.exceptions import ApplicationError, ConflictError


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "message_dict"):
            detail = exc.message_dict
        else:
            detail = {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, ConflictError):
        return Response(
            # Action messages are gettext_noop constants: translated on display.
            {"detail": gettext(exc.message), "code": exc.code, **exc.extra},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, ApplicationError):
        return Response(
            # Action messages are gettext_noop constants: translated on display.
            {"detail": gettext(exc.message), "code": exc.code, **exc.extra},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)
