from __future__ import annotations

from django.urls import path

from . import views

app_name = "integrations"
urlpatterns = [
    path("<str:secret>/", views.webhook, name="webhook_receive"),
]
