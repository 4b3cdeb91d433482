"""Errors that actions raise for expected, user-facing failures."""

from typing import Any


class ApplicationError(Exception):
    """A business rule refused the request. Views and APIs turn it into a 4xx."""

    def __init__(self, message: str, *, code: str = "invalid", extra: Any = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}


class ConflictError(ApplicationError):
    """A concurrent change won the race (HTTP 409)."""
