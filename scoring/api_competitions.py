"""Teams and competitions in the REST API (DESIGN §11): /api/v1/teams/ and
/api/v1/competitions/, with the field names the design gives them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from players.models import Player
from pointagram_site.api import ProtectedDestroyMixin

from .api import TagInput, TransactionSerializer
from .competitions import CompetitionInput, Entrant, competition_save
from .models import Competition, ScoreSeries, Tag, Team
from .services import team_points_add
from .standings import competition_standings


def api_problems(exc: DjangoValidationError) -> serializers.ValidationError:
    """A service's ValidationError (field -> messages) as the API's 400."""
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError(exc.messages)


# --- teams --------------------------------------------------------------------------------------


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Player.objects.all(), required=False, help_text="player ids"
    )

    class Meta:
        model = Team
        fields = ("id", "name", "icon", "members")

    def validate_name(self, value: str) -> str:
        clash = Team.objects.filter(name__iexact=value.strip())
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"a team named {value!r} exists already")
        return value.strip()


class TeamPointsInput(serializers.Serializer):
    series = serializers.PrimaryKeyRelatedField(queryset=ScoreSeries.objects.all())
    points = serializers.DecimalField(max_digits=14, decimal_places=2)
    comment = serializers.CharField(required=False, default="", allow_blank=True)
    tags = serializers.ListField(child=TagInput(), required=False, default=list)
    score_time = serializers.DateTimeField(required=False)


class TeamViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    """Teams: name, icon, members (a player may be in several)."""

    serializer_class = TeamSerializer

    def get_queryset(self) -> QuerySet[Team]:
        return Team.objects.prefetch_related("members").order_by("name", "id")

    @extend_schema(request=TeamPointsInput, responses={201: TransactionSerializer(many=True)})
    @action(detail=True, methods=["post"])
    def points(self, request: Request, pk: str | None = None) -> Response:
        """Add points to the team: the same points to every member, one manual transaction
        each (revoke one with POST /api/v1/transactions/<id>/revoke/)."""
        team = self.get_object()
        data = TeamPointsInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            rows = team_points_add(
                team=team, series=v["series"], points=v["points"],
                point_time=v.get("score_time"), comment=v["comment"], tag_names=tuple(v["tags"]),
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise api_problems(exc) from None
        body = TransactionSerializer(rows, many=True).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- competitions -------------------------------------------------------------------------------


class StandingSerializer(serializers.Serializer):
    player = serializers.IntegerField(required=False, help_text="in player vs player")
    team = serializers.IntegerField(required=False, help_text="in team vs team")
    name = serializers.CharField()
    points = serializers.DecimalField(max_digits=16, decimal_places=2)
    rank = serializers.IntegerField(help_text="ties share a rank")
    target = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class CompetitionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Competition.Kind.choices)
    mode = serializers.ChoiceField(choices=Competition.Mode.choices, default="players")
    participants = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        default=list,
        help_text="player ids (mode players) or team ids (mode teams); empty: everyone",
    )
    targets = serializers.DictField(
        child=serializers.DecimalField(max_digits=16, decimal_places=2),
        required=False,
        help_text="a participant's own target, by participant id",
    )
    series = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1)
    tag = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=100, help_text="a tag name"
    )
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    end_type = serializers.ChoiceField(choices=Competition.EndType.choices, default="time")
    target = serializers.DecimalField(
        max_digits=16, decimal_places=2, required=False, allow_null=True
    )
    recurrence = serializers.ChoiceField(choices=Competition.Recurrence.choices, default="once")
    status = serializers.CharField(read_only=True)
    winners = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    standings = StandingSerializer(many=True, read_only=True)
    previous_round = serializers.IntegerField(read_only=True, allow_null=True)
    ended_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:  # an update keeps what it does not name
            attrs = {**_as_given(self.instance), **attrs}
        problems: dict[str, list[str]] = {}
        series = {s.pk: s for s in ScoreSeries.objects.filter(pk__in=attrs["series"])}
        missing = [pk for pk in attrs["series"] if pk not in series]
        if missing:
            problems["series"] = [f"no score series #{pk}" for pk in missing]
        tag = None
        if attrs.get("tag"):
            tag = Tag.objects.filter(name__iexact=attrs["tag"].strip()).first()
            if tag is None:
                problems["tag"] = [f"no tag named {attrs['tag']!r}"]
        teams = attrs.get("mode", "players") == Competition.Mode.TEAMS
        model = Team if teams else Player
        ids = attrs.get("participants") or []
        known = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if unknown := [pk for pk in ids if pk not in known]:
            word = "team" if teams else "player"
            problems["participants"] = [f"no {word} #{pk}" for pk in unknown]
        targets: dict[int, Any] = {}
        for key, value in (attrs.get("targets") or {}).items():
            if not str(key).isdigit() or int(key) not in ids:
                problems["targets"] = [f"{key!r} is not a participant's id"]
            else:
                targets[int(key)] = value
        if problems:
            raise serializers.ValidationError(problems)
        attrs["input"] = CompetitionInput(
            name=attrs["name"], kind=attrs["kind"], mode=attrs.get("mode", "players"),
            series=[series[pk] for pk in dict.fromkeys(attrs["series"])],
            start=attrs["start"], end=attrs["end"], tag=tag,
            entrants=[Entrant(team_id=pk, target=targets.get(pk)) if teams
                      else Entrant(player_id=pk, target=targets.get(pk)) for pk in ids],
            end_type=attrs.get("end_type", "time"), target=attrs.get("target"),
            recurrence=attrs.get("recurrence", "once"),
        )  # fmt: skip
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Competition:
        try:
            return competition_save(competition=None, data=validated_data["input"])
        except DjangoValidationError as exc:
            raise api_problems(exc) from None

    def update(self, instance: Competition, validated_data: dict[str, Any]) -> Competition:
        try:
            return competition_save(competition=instance, data=validated_data["input"])
        except DjangoValidationError as exc:
            raise api_problems(exc) from None

    def to_representation(self, instance: Competition) -> dict[str, Any]:
        teams = instance.mode == Competition.Mode.TEAMS
        who = "team" if teams else "player"
        participants = list(instance.participants.all())
        standings = competition_standings(instance)
        return {
            "id": instance.pk,
            "name": instance.name,
            "kind": instance.kind,
            "mode": instance.mode,
            "participants": [p.team_id if teams else p.player_id for p in participants],
            "targets": {
                str(p.team_id if teams else p.player_id): f"{p.target:.2f}"
                for p in participants
                if p.target is not None
            },
            "series": sorted(s.pk for s in instance.series.all()),
            "tag": instance.tag.name if instance.tag is not None else None,
            "start": serializers.DateTimeField().to_representation(instance.start),
            "end": serializers.DateTimeField().to_representation(instance.end),
            "end_type": instance.end_type,
            "target": f"{instance.target:.2f}" if instance.target is not None else None,
            "recurrence": instance.recurrence,
            "status": instance.status,
            "winners": [s.participant_id for s in standings if s.winner],
            "standings": [
                {
                    who: s.participant_id,
                    "name": s.name,
                    "points": f"{s.points:.2f}",
                    "rank": s.rank,
                    "target": f"{s.target:.2f}" if s.target is not None else None,
                }
                for s in standings
            ],
            "previous_round": instance.previous_round_id,
            "ended_at": serializers.DateTimeField().to_representation(instance.ended_at)
            if instance.ended_at
            else None,
        }


def _as_given(competition: Competition) -> dict[str, Any]:
    """A round's fields as the API takes them."""
    teams = competition.mode == Competition.Mode.TEAMS
    participants = list(competition.participants.all())
    return {
        "name": competition.name, "kind": competition.kind, "mode": competition.mode,
        "participants": [p.team_id if teams else p.player_id for p in participants],
        "targets": {str(p.team_id if teams else p.player_id): p.target
                    for p in participants if p.target is not None},
        "series": [s.pk for s in competition.series.all()],
        "tag": competition.tag.name if competition.tag is not None else "",
        "start": competition.start, "end": competition.end, "end_type": competition.end_type,
        "target": competition.target, "recurrence": competition.recurrence,
    }  # fmt: skip


class CompetitionViewSet(ProtectedDestroyMixin, viewsets.ModelViewSet):
    """Competitions, one record per round: standings are live until a round ends, then frozen
    with its winners."""

    serializer_class = CompetitionSerializer
    filterset_fields = ("status", "kind", "mode")

    def get_queryset(self) -> QuerySet[Competition]:
        return (
            Competition.objects.select_related("tag")
            .prefetch_related("series", "participants")
            .order_by("-start", "id")
        )
