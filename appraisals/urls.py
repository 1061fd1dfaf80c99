"""/appraisals/: the appraisal pages. Each views module lists its own URL patterns."""

from .views import calibration, cycles, dashboard, results, reviews

app_name = "appraisals"

urlpatterns = [
    *cycles.urlpatterns,
    *dashboard.urlpatterns,
    *reviews.urlpatterns,
    *results.urlpatterns,
    *calibration.urlpatterns,
]
