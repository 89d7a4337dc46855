"""Page URLs (home, watch, studio, accounts)."""

urlpatterns: list = []
