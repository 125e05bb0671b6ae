from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/leaderboards/", permanent=False)),
    path("admin/", admin.site.urls),
    path("hooks/", include("integrations.urls")),
    path("players/", include("players.urls")),
    path("leaderboards/", include("scoring.urls")),
]
