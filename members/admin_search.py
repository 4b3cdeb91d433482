"""Admin search by full ID number or phone through the blind index: encrypted
columns cannot be searched, so a term that normalises to an ID or a mobile number
is hashed and matched against the `*_hmac` column.

The admin echoes the search term into the page (search box, filter links), so a
search for a full ID or phone is first redirected to the same list with the term
replaced by its keyed hash (`bi:id:<hmac>`): the page never contains the number.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect

from members.models.people import ID_NUMBER_INDEX, PHONE_INDEX
from members.validators import normalize_id_number, normalize_phone
from portal.crypto import blind_index

TOKEN_PREFIX = "bi:"  # noqa: S105 - a search-term prefix, not a secret


def blind_index_token(term: str) -> str | None:
    """`bi:id:<hmac>` / `bi:phone:<hmac>` for an ID number or phone, else None."""
    term = (term or "").strip()
    if not term or len(term) > 40 or term.startswith(TOKEN_PREFIX):
        return None
    try:
        number = normalize_id_number(term)
    except ValidationError:
        pass
    else:
        return f"{TOKEN_PREFIX}id:{blind_index(number, purpose=ID_NUMBER_INDEX)}"
    try:
        phone = normalize_phone(term)
    except ValidationError:
        return None
    return f"{TOKEN_PREFIX}phone:{blind_index(phone, purpose=PHONE_INDEX)}"


class BlindIndexSearchMixin:
    """Add to a ModelAdmin; the queryset it searches is already org-scoped."""

    search_id_hmac_field: str | None = "id_number_hmac"
    search_phone_hmac_field: str | None = "phone_hmac"

    def changelist_view(self, request: HttpRequest, extra_context=None):
        token = blind_index_token(request.GET.get("q", ""))
        if token is not None:
            params = request.GET.copy()
            params["q"] = token
            return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")
        return super().changelist_view(request, extra_context)  # type: ignore[misc]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        term = (search_term or "").strip()
        token = term if term.startswith(TOKEN_PREFIX) else blind_index_token(term)
        if token is not None:
            kind, _, digest = token[len(TOKEN_PREFIX) :].partition(":")
            field = (
                self.search_id_hmac_field
                if kind == "id"
                else self.search_phone_hmac_field
            )
            if not field:
                return queryset.none(), False
            condition = Q(**{field: digest})
            # An 18-digit member number also looks like an ID number.
            if "member_no" in getattr(self, "search_fields", ()):
                condition |= Q(member_no=term)
            return queryset.filter(condition), False
        return super().get_search_results(  # type: ignore[misc]
            request, queryset, search_term
        )
