"""/api/v1/: the organisation, cycles, rating scales, goals, check-ins, me and tokens."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from goals.api import views as goals_views

from . import views

app_name = "api"

router = DefaultRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("positions", views.PositionViewSet, basename="position")
router.register("employees", views.EmployeeViewSet, basename="employee")
router.register("cycles", views.CycleViewSet, basename="cycle")
router.register("rating-scales", views.RatingScaleViewSet, basename="rating-scale")
router.register("goals", goals_views.GoalViewSet, basename="goal")
router.register("checkins", goals_views.CheckInViewSet, basename="checkin")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    *router.urls,
]
