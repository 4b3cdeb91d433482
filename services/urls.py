from django.urls import path

from services.views import programs, stations

app_name = "services"

urlpatterns: list = [
    path("stations/", stations.station_list, name="stations"),
    path("stations/<int:station_id>/", stations.station_detail, name="station_detail"),
    path(
        "stations/photos/<uuid:photo_uuid>.jpg",
        stations.station_photo,
        name="station_photo",
    ),
    path("programs/", programs.programs, name="programs"),
    path("programs/check/", programs.program_check, name="program_check"),
    path("programs/mine/", programs.my_coverage, name="my_coverage"),
    path(
        "programs/mine/<int:enrollment_id>/withdraw/",
        programs.enrollment_withdraw_view,
        name="enrollment_withdraw",
    ),
    path("programs/<slug:code>/", programs.program_detail, name="program_detail"),
    path(
        "programs/<slug:code>/enroll/", programs.program_enroll, name="program_enroll"
    ),
]
