"""REST API URLs."""

urlpatterns: list = []
