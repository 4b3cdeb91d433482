"""Notification delivery tasks (the dispatcher). Thin: each calls an action."""
