from __future__ import annotations

from django.urls import path

from . import views

app_name = "players"
urlpatterns = [
    path("<int:player_id>/", views.profile, name="profile"),
    path("invite/<str:uidb64>/<str:token>/", views.invite_accept, name="invite_accept"),
]
