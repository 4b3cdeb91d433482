"""Admin registrations of the services app, one module per area."""

from services.admin import programs, stations  # noqa: F401
