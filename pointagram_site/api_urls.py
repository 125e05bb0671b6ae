"""The REST API's URL table (/api/v1/)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from django.urls import include, path, reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.routers import DefaultRouter


class ApiDocsView(SpectacularSwaggerView):
    """The docs page is for browsers: an anonymous visitor is sent to the admin login first.
    Who may see it at all is SchemaReaders' call (SPECTACULAR_SETTINGS SERVE_PERMISSIONS)."""

    # DRF takes any HttpResponse here (finalize_response checks HttpResponseBase); its stubs
    # say Response.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path(), reverse("admin:login"))
        return super().handle_exception(exc)


def api_urls() -> list[Any]:
    from integrations import api as integrations_api
    from players import api as players_api
    from scoring import api as scoring_api
    from scoring import api_competitions

    router = DefaultRouter()
    router.register("players", players_api.PlayerViewSet, basename="player")
    router.register("series", scoring_api.ScoreSeriesViewSet, basename="series")
    router.register("tags", scoring_api.TagViewSet, basename="tag")
    router.register("transactions", scoring_api.TransactionViewSet, basename="transaction")
    router.register("teams", api_competitions.TeamViewSet, basename="team")
    router.register("competitions", api_competitions.CompetitionViewSet, basename="competition")
    router.register("integrations", integrations_api.IntegrationViewSet, basename="integration")
    router.register("steps", integrations_api.StepViewSet, basename="step")
    router.register("filters", integrations_api.FilterViewSet, basename="filter")
    return [
        path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
        path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
        path(
            "leaderboards/<int:series_id>/",
            scoring_api.LeaderboardView.as_view(),
            name="api-leaderboard",
        ),
        path(
            "leaderboards/<int:series_id>/teams/",
            scoring_api.TeamBoardView.as_view(),
            name="api-team-leaderboard",
        ),
        path("scores/", scoring_api.ScoreView.as_view(), name="api-scores"),
        path("", include(router.urls)),
    ]
