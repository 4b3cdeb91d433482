"""Admin registrations of the services app, one module per area."""

from services.admin import batches, programs, stations  # noqa: F401
