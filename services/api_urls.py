from django.urls import path

from services.apis.stations import StationNearbyApi

app_name = "services-api"

urlpatterns: list = [
    path("stations/", StationNearbyApi.as_view(), name="stations"),
]
