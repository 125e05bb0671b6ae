from __future__ import annotations

from django.urls import path

from . import views

app_name = "integrations"
urlpatterns = [
    path("<str:secret>/", views.webhook, name="webhook_receive"),
    # Without its slash too: senders do not follow the redirect APPEND_SLASH would answer (and
    # with DEBUG, a POST there is an error whose traceback holds the URL, the secret in it).
    path("<str:secret>", views.webhook),
]
