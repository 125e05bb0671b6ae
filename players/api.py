"""Players in the REST API: CRUD with external ids, search by name, email or external id."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from rest_framework import filters, serializers, viewsets

from pointagram_site.api import ProtectedDestroyMixin

from .models import Player, PlayerIdentity


class PlayerSerializer(serializers.ModelSerializer):
    external_ids = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        help_text="Player id prefix + id in source, e.g. pd:12415231; unique site-wide.",
    )

    class Meta:
        model = Player
        fields = ("id", "name", "email", "status", "external_ids", "created_at")
        # Status changes only through invite, accept and archive (security probe, issue 13 item 1).
        read_only_fields = ("status", "created_at")
        extra_kwargs = {
            "status": {"help_text": "Changes through invite, accept and archive; read-only here."}
        }

    def to_representation(self, instance: Player) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["external_ids"] = [i.external_id for i in instance.identities.all()]
        return data

    def validate_external_ids(self, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value if v.strip()]
        taken = PlayerIdentity.objects.filter(external_id__in=cleaned).select_related("player")
        if self.instance is not None:
            taken = taken.exclude(player=self.instance)
        problems = [
            f"{i.external_id} belongs to player {i.player.name} (#{i.player_id})" for i in taken
        ]
        if len(set(cleaned)) != len(cleaned):
            problems.append("an external id is listed twice")
        if problems:
            raise serializers.ValidationError(problems)
        return cleaned

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> Player:
        external_ids = validated_data.pop("external_ids", [])
        player = Player.objects.create(**validated_data)
        PlayerIdentity.objects.bulk_create(
            PlayerIdentity(player=player, external_id=e) for e in external_ids
        )
        return player

    @transaction.atomic
    def update(self, instance: Player, validated_data: dict[str, Any]) -> Player:
        external_ids = validated_data.pop("external_ids", None)
        player = super().update(instance, validated_data)
        if external_ids is not None:  # the list given is the list kept
            player.identities.exclude(external_id__in=external_ids).delete()
            existing = set(player.identities.values_list("external_id", flat=True))
            PlayerIdentity.objects.bulk_create(
                PlayerIdentity(player=player, external_id=e)
                for e in external_ids
                if e not in existing
            )
        return player


class PlayerViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    serializer_class = PlayerSerializer
    filter_backends = (filters.SearchFilter, filters.OrderingFilter)
    search_fields = ("name", "email", "identities__external_id")
    ordering_fields = ("name", "created_at", "id")
    ordering = ("name", "id")

    def get_queryset(self) -> QuerySet[Player]:
        return Player.objects.prefetch_related("identities").distinct()
