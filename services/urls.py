from django.urls import path

from services.views import programs

app_name = "services"

urlpatterns: list = [
    path("programs/", programs.programs, name="programs"),
    path("programs/check/", programs.program_check, name="program_check"),
    path("programs/mine/", programs.my_coverage, name="my_coverage"),
    path("programs/<slug:code>/", programs.program_detail, name="program_detail"),
    path(
        "programs/<slug:code>/enroll/", programs.program_enroll, name="program_enroll"
    ),
]
