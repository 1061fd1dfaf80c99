"""/goals/: the goal pages. Each views module lists its own URL patterns."""

from .views import goal, lists, tree

app_name = "goals"

urlpatterns = [*lists.urlpatterns, *goal.urlpatterns, *tree.urlpatterns]
