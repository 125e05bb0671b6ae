from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from players import urls as players_urls
from scoring.views import competition_index, competition_page, player_profile

from .api_urls import api_urls

# players/: the players app's pages, and a player's profile, which shows their points (scoring's).
players_patterns = [
    path("<int:player_id>/", player_profile, name="profile"),
    *players_urls.urlpatterns,
]

competitions_patterns = [
    path("", competition_index, name="index"),
    path("<int:competition_id>/", competition_page, name="competition"),
]

admin.site.site_header = "Pointagram integrations"
admin.site.site_title = "Pointagram integrations"
admin.site.index_title = "Start"
admin.site.enable_nav_sidebar = False  # the pages need the width; the breadcrumbs lead home

urlpatterns = [
    path("", RedirectView.as_view(url="/leaderboards/", permanent=False)),
    path(
        "favicon.ico",
        RedirectView.as_view(url="/" + settings.STATIC_URL.strip("/") + "/favicon.ico"),
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_urls())),
    path("hooks/", include("integrations.urls")),
    path("players/", include((players_patterns, players_urls.app_name))),
    path("leaderboards/", include("scoring.urls")),
    path("competitions/", include((competitions_patterns, "competitions"))),
]
