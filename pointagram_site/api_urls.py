"""The REST API's URL table (/api/v1/)."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter


def api_urls() -> list[Any]:
    from integrations import api as integrations_api
    from players import api as players_api
    from scoring import api as scoring_api

    router = DefaultRouter()
    router.register("players", players_api.PlayerViewSet, basename="player")
    router.register("series", scoring_api.ScoreSeriesViewSet, basename="series")
    router.register("tags", scoring_api.TagViewSet, basename="tag")
    router.register("transactions", scoring_api.TransactionViewSet, basename="transaction")
    router.register("integrations", integrations_api.IntegrationViewSet, basename="integration")
    router.register("steps", integrations_api.StepViewSet, basename="step")
    router.register("filters", integrations_api.FilterViewSet, basename="filter")
    return [
        path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
        path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
        path(
            "leaderboards/<int:series_id>/",
            scoring_api.LeaderboardView.as_view(),
            name="api-leaderboard",
        ),
        path("scores/", scoring_api.ScoreView.as_view(), name="api-scores"),
        path("", include(router.urls)),
    ]
