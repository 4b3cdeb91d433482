"""Public rest-station pages: nearby list (+ optional map), detail, photos.

No login. The list works without JavaScript (district select, GET form); JS only
adds geolocation and the Leaflet map (static/js/stations.js)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from portal.middleware import client_ip
from services.actions.stations import problem_report_submit
from services.forms.stations import ProblemReportForm, StationSearchForm
from services.models import AMENITY_ICONS, StationPhoto
from services.navigation import map_links
from services.opening_hours import (
    DAY_NAMES,
    SHANGHAI,
    open_status,
    status_label,
)
from services.selectors.stations import (
    schedule_of,
    station_get_public,
    station_search,
)

LIST_LIMIT = 20


def _list_query(request: HttpRequest) -> str:
    """The list's search (position, district, radius, filters) as a query string,
    carried to the detail page and back, so "← 附近驿站" returns to the same
    results. Only the search form's own parameters pass."""
    query = QueryDict(mutable=True)
    for name in StationSearchForm.base_fields:
        values = request.GET.getlist(name)
        if values:
            query.setlist(name, values)
    return query.urlencode()


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


def _amenities(station) -> list[dict]:
    return [
        {"code": a.value, "label": a.label, "icon": AMENITY_ICONS[a.value]}
        for a in station.amenities
    ]


def _nav(station) -> dict:
    lat, lng = float(station.latitude), float(station.longitude)
    amap, baidu = map_links(
        lat=lat, lng=lng, name=station.name, address=station.address
    )
    return {"amap": amap, "baidu": baidu}


def _distance_text(km: float) -> str:
    if km < 1:
        return _("%(m)d 米") % {"m": round(km * 1000 / 10) * 10}
    return _("%(km).1f 公里") % {"km": km}


def _map_config() -> dict | None:
    """Tile layers for Leaflet, or None when no usable tile source is configured
    (Tianditu needs a key): then the page simply offers no map."""
    url = settings.MAP_TILE_URL
    if "{tk}" in url:
        if not settings.TIANDITU_KEY:
            return None
        url = url.replace("{tk}", settings.TIANDITU_KEY)
    labels = url.replace("T=vec_w", "T=cva_w") if "T=vec_w" in url else ""
    return {
        "tiles": url,
        "labels": labels,
        "subdomains": settings.MAP_TILE_SUBDOMAINS,
        "attribution": settings.MAP_ATTRIBUTION,
    }


def station_list(request: HttpRequest) -> HttpResponse:
    form = StationSearchForm(request.GET or None)
    rows: list[dict] = []
    origin = None
    status = 200
    if form.is_bound and form.is_valid():
        origin = form.origin()
    elif form.is_bound:
        status = 400
    if origin is not None:
        now = timezone.now()
        hits = station_search(
            lat=origin[0],
            lng=origin[1],
            radius_km=form.radius_km(),
            open_now=form.cleaned_data["open_now"],
            amenities=form.cleaned_data["amenity"],
            is_24h=form.cleaned_data["is_24h"],
            open_first=True,
            limit=LIST_LIMIT,
            at=now,
        )
        for hit in hits:
            s = hit.station
            rows.append(
                {
                    "station": s,
                    "distance": _distance_text(hit.distance_km),
                    "is_open": hit.status.is_open,
                    "status": status_label(hit.status, now),
                    "amenities": _amenities(s),
                    "nav": _nav(s),
                }
            )
    list_query = _list_query(request)
    for row in rows:
        row["url"] = _with_query(row["station"].get_absolute_url(), list_query)
    map_data = [
        {
            "name": r["station"].name,
            "lat": float(r["station"].latitude),
            "lng": float(r["station"].longitude),
            "url": r["url"],
            "status": r["status"],
        }
        for r in rows
    ]
    context = {
        "form": form,
        "origin": origin,
        "rows": rows,
        "map_data": map_data,
        "map": _map_config(),
    }
    return render(request, "services/stations/list.html", context, status=status)


def _week(station, schedule) -> list[dict]:
    days = []
    next_day = _("次日")  # outside the f-string: xgettext does not look inside one
    for weekday, name in enumerate(DAY_NAMES):
        if station.is_24h:
            text = [_("全天开放")]
        else:
            text = [
                f"{o:%H:%M}–{next_day if c <= o else ''}{c:%H:%M}"
                for o, c in sorted(schedule.weekly.get(weekday, ()))
            ] or [_("休息")]
        days.append({"name": name, "intervals": text})
    return days


def _report_allowed(request: HttpRequest) -> bool:
    """At most STATIONS_REPORTS_PER_HOUR reports per client IP per hour."""
    key = f"stations:report:{client_ip(request) or 'unknown'}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    return count <= settings.STATIONS_REPORTS_PER_HOUR


@sensitive_post_parameters("text", "contact")
@require_http_methods(["GET", "POST"])
def station_detail(request: HttpRequest, station_id: int) -> HttpResponse:
    station = station_get_public(station_id=station_id)
    if station is None:
        raise Http404
    list_query = _list_query(request)
    status = 200
    if request.method == "POST":
        form = ProblemReportForm(request.POST)
        if form.is_valid():
            if not _report_allowed(request):
                form.add_error(None, _("提交太频繁了,请一小时后再试或拨打 12351。"))
                status = 429
            else:
                try:
                    problem_report_submit(station=station, **form.cleaned_data)
                except ValidationError as exc:
                    form.add_error(None, exc)
                    status = 400
                else:
                    messages.success(request, _("谢谢!问题已转给运营驿站的工会处理。"))
                    # The thanks is in the messages at the top of the page: land
                    # there, not back at the (now empty) form at the bottom.
                    return redirect(
                        _with_query(station.get_absolute_url(), list_query)
                        + "#messages"
                    )
        else:
            status = 400
    else:
        form = ProblemReportForm()
    now = timezone.now()
    schedule = schedule_of(station)
    today = now.astimezone(SHANGHAI).date()
    context = {
        "station": station,
        "status": open_status(schedule, now),
        "status_text": status_label(open_status(schedule, now), now),
        "week": _week(station, schedule),
        "holidays": [
            h
            for h in station.holidays.all()
            if today <= h.date <= today + timedelta(days=60)
        ],
        "amenities": _amenities(station),
        "nav": _nav(station),
        "photos": list(station.photos.all()),
        "form": form,
        "here": _with_query(station.get_absolute_url(), list_query),
        "back": _with_query(reverse("services:stations"), list_query),
    }
    return render(request, "services/stations/detail.html", context, status=status)


def station_photo(request: HttpRequest, photo_uuid) -> FileResponse:
    photo = get_object_or_404(
        StationPhoto.objects.select_related("station"),
        uuid=photo_uuid,
        station__is_active=True,
    )
    try:
        handle = default_storage.open(photo.image.name, "rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response
