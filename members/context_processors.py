from django.http import HttpRequest

from members.selectors.notifications import inbox_unread_count


def inbox(request: HttpRequest) -> dict:
    """`inbox_unread` for the header: one indexed COUNT, run only when a template
    uses it and only for signed-in users."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    cached: dict[str, int] = {}

    def unread() -> int:
        if "n" not in cached:
            cached["n"] = inbox_unread_count(user=user)
        return cached["n"]

    return {"inbox_unread": unread}
