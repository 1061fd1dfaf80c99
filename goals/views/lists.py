"""Goal pages (being written)."""

urlpatterns = []
