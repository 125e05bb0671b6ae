from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from .api_urls import api_urls

urlpatterns = [
    path("", RedirectView.as_view(url="/leaderboards/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_urls())),
    path("hooks/", include("integrations.urls")),
    path("players/", include("players.urls")),
    path("leaderboards/", include("scoring.urls")),
]
