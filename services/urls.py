from django.urls import path

from services.views import stations

app_name = "services"

urlpatterns: list = [
    path("stations/", stations.station_list, name="stations"),
    path("stations/<int:station_id>/", stations.station_detail, name="station_detail"),
    path(
        "stations/photos/<uuid:photo_uuid>.jpg",
        stations.station_photo,
        name="station_photo",
    ),
]
