"""/appraisals/: the appraisal pages. Each views module lists its own URL patterns."""

from .views import calibration, competencies, cycles, dashboard, packets, results, reviews

app_name = "appraisals"

urlpatterns = [
    *cycles.urlpatterns,
    *competencies.urlpatterns,
    *dashboard.urlpatterns,
    *reviews.urlpatterns,
    *results.urlpatterns,
    *calibration.urlpatterns,
    *packets.urlpatterns,
]
