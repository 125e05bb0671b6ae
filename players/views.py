from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlsafe_base64_decode

from .models import Player
from .services import InviteError, invitation_accept


def invite_accept(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The one-time link of an invitation: set a password, become an active player."""
    User = get_user_model()
    try:
        user = User.objects.get(pk=int(urlsafe_base64_decode(uidb64).decode()))
    except (ValueError, User.DoesNotExist):
        user = None
    player = Player.objects.filter(user=user).first() if user else None
    if (
        user is None
        or player is None
        or player.status != Player.Status.INVITED  # archived or active: the link is spent
        or not default_token_generator.check_token(user, token)
    ):
        return render(request, "players/invite_invalid.html", status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation_accept(player=player, password=form.cleaned_data["new_password1"])
        except InviteError:  # archived while the form was open
            return render(request, "players/invite_invalid.html", status=400)
        return render(request, "players/invite_done.html", {"player": player})
    return render(request, "players/invite_accept.html", {"form": form, "player": player})
