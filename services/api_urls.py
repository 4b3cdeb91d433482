from django.urls import path

from services.apis.batches import (
    EnrollmentBatchCreateApi,
    EnrollmentBatchDetailApi,
    EnrollmentBatchErrorsApi,
)
from services.apis.riders import EnrollmentsSubmitApi, OffboardingsApi, RiderDetailApi
from services.apis.stations import StationNearbyApi

app_name = "services-api"

urlpatterns: list = [
    path("stations/", StationNearbyApi.as_view(), name="stations"),
    path(
        "enrollment-batches/",
        EnrollmentBatchCreateApi.as_view(),
        name="enrollment-batch-create",
    ),
    path(
        "enrollment-batches/<int:batch_id>/",
        EnrollmentBatchDetailApi.as_view(),
        name="enrollment-batch-detail",
    ),
    path(
        "enrollment-batches/<int:batch_id>/errors/",
        EnrollmentBatchErrorsApi.as_view(),
        name="enrollment-batch-errors",
    ),
    path("enrollments/", EnrollmentsSubmitApi.as_view(), name="enrollments"),
    path("offboardings/", OffboardingsApi.as_view(), name="offboardings"),
    path(
        "riders/<str:platform_rider_id>/",
        RiderDetailApi.as_view(),
        name="rider-detail",
    ),
]
