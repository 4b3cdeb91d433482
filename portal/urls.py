from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from portal import views

# admin.site is members.admin_site.PortalAdminSite (titles and the TOTP step).
urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("members.urls")),
    path("services/", include("services.urls")),
    path("api/v1/", include("members.api_urls")),
    path("api/v1/", include("services.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # The split view loads its init script from a URL instead of an inline
        # <script>, which the CSP (script-src 'self' + nonce) would block.
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema"),
        name="api-redoc",
    ),
]

handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
