"""/api/v1/: the organisation, cycles, rating scales, goals, check-ins, appraisals, me and
tokens."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from appraisals.api import views as appraisals_views
from goals.api import views as goals_views

from . import views

app_name = "api"

router = DefaultRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("positions", views.PositionViewSet, basename="position")
router.register("employees", views.EmployeeViewSet, basename="employee")
# The appraisals app extends cycles with its workflow (launch, blockers, advance, settings).
router.register("cycles", appraisals_views.CycleViewSet, basename="cycle")
router.register("rating-scales", views.RatingScaleViewSet, basename="rating-scale")
router.register("goals", goals_views.GoalViewSet, basename="goal")
router.register("checkins", goals_views.CheckInViewSet, basename="checkin")
router.register("appraisals", appraisals_views.AppraisalViewSet, basename="appraisal")
router.register("reviews", appraisals_views.ReviewViewSet, basename="review")
router.register(
    "calibration-sessions",
    appraisals_views.CalibrationSessionViewSet,
    basename="calibration-session",
)
router.register(
    "calibration-adjustments",
    appraisals_views.CalibrationAdjustmentViewSet,
    basename="calibration-adjustment",
)
router.register("appeals", appraisals_views.AppealViewSet, basename="appeal")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    *router.urls,
]
