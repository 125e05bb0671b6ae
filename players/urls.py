from __future__ import annotations

from django.urls import path

from . import views

# A player's profile (their points) is scoring's page, routed under players/ by the site.
app_name = "players"
urlpatterns = [
    path("invite/<str:uidb64>/<str:token>/", views.invite_accept, name="invite_accept"),
]
