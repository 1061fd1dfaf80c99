"""/appraisals/: the appraisal pages. Each views module lists its own URL patterns."""

from .views import (
    calibration,
    competencies,
    cycles,
    dashboard,
    packet_batches,
    packets,
    results,
    reviews,
)

app_name = "appraisals"

urlpatterns = [
    *cycles.urlpatterns,
    *competencies.urlpatterns,
    *dashboard.urlpatterns,
    *reviews.urlpatterns,
    *results.urlpatterns,
    *calibration.urlpatterns,
    *packets.urlpatterns,
    *packet_batches.urlpatterns,
]
