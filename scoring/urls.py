from __future__ import annotations

from django.urls import path

from . import views

app_name = "scoring"
urlpatterns = [
    path("", views.leaderboard_index, name="leaderboards"),
    path("<int:series_id>/", views.leaderboard_page, name="leaderboard"),
]
