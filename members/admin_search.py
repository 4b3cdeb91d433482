"""Admin search by full ID number or phone through the blind index: encrypted
columns cannot be searched, so a term that normalises to an ID or a mobile number
is hashed and matched against the `*_hmac` column."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from members.models.people import ID_NUMBER_INDEX, PHONE_INDEX
from members.validators import normalize_id_number, normalize_phone
from portal.crypto import blind_index


def blind_index_filter(
    term: str, *, id_field: str | None, phone_field: str | None
) -> Q | None:
    term = (term or "").strip()
    if not term or len(term) > 40:
        return None
    if id_field:
        try:
            number = normalize_id_number(term)
        except ValidationError:
            pass
        else:
            return Q(**{id_field: blind_index(number, purpose=ID_NUMBER_INDEX)})
    if phone_field:
        try:
            phone = normalize_phone(term)
        except ValidationError:
            return None
        return Q(**{phone_field: blind_index(phone, purpose=PHONE_INDEX)})
    return None


class BlindIndexSearchMixin:
    """Add to a ModelAdmin; the queryset it searches is already org-scoped."""

    search_id_hmac_field: str | None = "id_number_hmac"
    search_phone_hmac_field: str | None = "phone_hmac"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        found, may_have_duplicates = super().get_search_results(  # type: ignore[misc]
            request, queryset, search_term
        )
        condition = blind_index_filter(
            search_term,
            id_field=self.search_id_hmac_field,
            phone_field=self.search_phone_hmac_field,
        )
        if condition is not None:
            found = found | queryset.filter(condition)
        return found, may_have_duplicates
