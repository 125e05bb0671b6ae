"""Series, tags, the ledger, leaderboards and add score in the REST API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from players.models import Player
from players.selectors import player_by_external_id
from players.services import player_create_with_identity

from .models import PointType, ScoreSeries, Tag, Transaction
from .selectors import PERIODS, board_time_problem, leaderboard, period_bounds, team_leaderboard
from .services import score_add, transaction_cancel

# --- series, tags -------------------------------------------------------------------------------


class PointTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = PointType
        fields = ("id", "name", "points")


class ScoreSeriesSerializer(serializers.ModelSerializer):
    point_types = PointTypeSerializer(many=True, required=False)

    class Meta:
        model = ScoreSeries
        fields = ("id", "name", "point_types")

    def validate_name(self, value: str) -> str:
        clash = ScoreSeries.objects.filter(name__iexact=value.strip())
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"a series named {value!r} exists already")
        return value.strip()

    def validate_point_types(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = [pt["name"].strip().lower() for pt in value]
        if len(set(names)) != len(names):
            raise serializers.ValidationError("point type names must differ (case-insensitively)")
        return value

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> ScoreSeries:
        point_types = validated_data.pop("point_types", [])
        series = ScoreSeries.objects.create(**validated_data)
        PointType.objects.bulk_create(PointType(series=series, **pt) for pt in point_types)
        return series

    @transaction.atomic
    def update(self, instance: ScoreSeries, validated_data: dict[str, Any]) -> ScoreSeries:
        point_types = validated_data.pop("point_types", None)
        series = super().update(instance, validated_data)
        if point_types is not None:  # matched by name; the list given is the list kept
            keep = []
            for pt in point_types:
                obj = series.point_types.filter(name__iexact=pt["name"]).first()
                if obj is None:
                    obj = PointType.objects.create(series=series, **pt)
                else:
                    obj.name, obj.points = pt["name"], pt["points"]
                    obj.save()
                keep.append(obj.pk)
            used = Transaction.objects.filter(point_type__series=series).values("point_type")
            series.point_types.exclude(pk__in=keep).exclude(pk__in=used).delete()
        return series


class ScoreSeriesViewSet(viewsets.ModelViewSet):
    serializer_class = ScoreSeriesSerializer
    http_method_names = ["get", "post", "put", "patch", "head", "options"]  # no deleting series

    def get_queryset(self) -> QuerySet[ScoreSeries]:
        return ScoreSeries.objects.prefetch_related("point_types").order_by("name", "id")


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ("id", "name")

    def validate_name(self, value: str) -> str:
        clash = Tag.objects.filter(name__iexact=value.strip())
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"a tag named {value!r} exists already")
        return value.strip()


class TagViewSet(viewsets.ModelViewSet):
    serializer_class = TagSerializer
    queryset = Tag.objects.order_by("name", "id")
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


# --- transactions -------------------------------------------------------------------------------


class TransactionSerializer(serializers.ModelSerializer):
    player_name = serializers.CharField(source="player.name", read_only=True)
    series_name = serializers.CharField(source="series.name", read_only=True)
    point_type_name = serializers.CharField(source="point_type.name", read_only=True, default="")
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Transaction
        fields = (
            "id", "kind", "player", "player_name", "series", "series_name", "points",
            "point_type", "point_type_name", "comment", "tags", "point_time", "created_at",
            "revokes", "step", "source_object", "event",
        )  # fmt: skip
        read_only_fields = fields

    def get_tags(self, obj: Transaction) -> list[str]:
        return [t.name for t in obj.tags.all()]


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time, kept in UTC: PostgreSQL refuses offsets beyond ±15:59 that Python
    accepts, and a time that cannot be moved to UTC is an invalid value (400), not a 500."""

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError(f"{value!r} is out of range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class TransactionFilter(django_filters.FilterSet):
    player = django_filters.NumberFilter(field_name="player_id")
    series = django_filters.NumberFilter(field_name="series_id")
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact")
    kind = django_filters.ChoiceFilter(choices=Transaction.Kind.choices)
    since = UtcIsoDateTimeFilter(field_name="point_time", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="point_time", lookup_expr="lt")

    class Meta:
        model = Transaction
        fields = ("player", "series", "tag", "kind", "since", "until")


class TransactionViewSet(viewsets.ReadOnlyModelViewSet):
    """The ledger, read-only: rows are never changed; a revoke is a new row."""

    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter

    @extend_schema(request=None, responses={201: TransactionSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke a manual row (points added by hand, to a player or a team): a new row of the
        opposite sign. Rows booked by steps and add score are revoked by reconcile."""
        row = self.get_object()
        try:
            revoke = transaction_cancel(transaction_id=row.pk)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(TransactionSerializer(revoke).data, status=status.HTTP_201_CREATED)

    def get_queryset(self) -> QuerySet[Transaction]:
        return (
            Transaction.objects.select_related("player", "series", "point_type")
            .prefetch_related("tags")
            .order_by("id")
        )


# --- leaderboards -------------------------------------------------------------------------------


class LeaderboardQuery(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS, default="month")
    since = serializers.DateTimeField(required=False, help_text="overrides period")
    until = serializers.DateTimeField(required=False, help_text="overrides period")
    tag = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=10_000)

    def validate_since(self, value: datetime) -> datetime:
        return _board_time(value, "since")

    def validate_until(self, value: datetime) -> datetime:
        return _board_time(value, "until")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["until must be after since"]})
        return attrs


def _board_time(value: datetime, name: str) -> datetime:
    problem = board_time_problem(name, value)
    if problem:
        raise serializers.ValidationError(problem)
    return value


class LeaderboardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    player_id = serializers.IntegerField()
    name = serializers.CharField()
    points = serializers.DecimalField(max_digits=14, decimal_places=2)


class LeaderboardSerializer(serializers.Serializer):
    series = serializers.IntegerField()
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    tag = serializers.CharField()
    results = LeaderboardRowSerializer(many=True)


class LeaderboardView(APIView):
    """Rank, player and points in a series for a period (by point time, site time zone)."""

    @extend_schema(parameters=[LeaderboardQuery], responses=LeaderboardSerializer)
    def get(self, request: Request, series_id: int) -> Response:
        # The series is read only when its board is empty, to tell a missing series (404) from
        # a quiet period: one query less for every board that has rows.
        series = ScoreSeries(pk=series_id)
        query = LeaderboardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        since, until = period_bounds(data["period"])
        if data.get("since") or data.get("until"):
            since, until = data.get("since"), data.get("until")
        rows = leaderboard(
            series=series, since=since, until=until, tag=data["tag"], limit=data.get("limit")
        )
        if not rows and not ScoreSeries.objects.filter(pk=series_id).exists():
            raise NotFound(f"no score series #{series_id}")
        body = LeaderboardSerializer(
            {"series": series.pk, "since": since, "until": until, "tag": data["tag"], "results": []}
        ).data
        # The rows as LeaderboardRowSerializer writes them, without its per-field cost (it took
        # longer than the query behind them).
        body["results"] = [{"rank": r.rank, "player_id": r.player_id, "name": r.name,
                            "points": f"{r.points:.2f}"} for r in rows]  # fmt: skip
        return Response(body)


class TeamBoardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    team_id = serializers.IntegerField()
    name = serializers.CharField()
    points = serializers.DecimalField(max_digits=14, decimal_places=2)


class TeamBoardSerializer(serializers.Serializer):
    series = serializers.IntegerField()
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    tag = serializers.CharField()
    results = TeamBoardRowSerializer(many=True)


class TeamBoardView(APIView):
    """Teams by the sum of their members' points in a series for a period: the same periods,
    range and tag as the player board."""

    @extend_schema(parameters=[LeaderboardQuery], responses=TeamBoardSerializer)
    def get(self, request: Request, series_id: int) -> Response:
        series = ScoreSeries.objects.filter(pk=series_id).first()
        if series is None:
            raise NotFound(f"no score series #{series_id}")
        query = LeaderboardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        since, until = period_bounds(data["period"])
        if data.get("since") or data.get("until"):
            since, until = data.get("since"), data.get("until")
        rows = team_leaderboard(
            series=series, since=since, until=until, tag=data["tag"], limit=data.get("limit")
        )
        return Response(
            TeamBoardSerializer(
                {"series": series.pk, "since": since, "until": until, "tag": data["tag"],
                 "results": rows}
            ).data
        )  # fmt: skip


# --- add score ----------------------------------------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 100},
            {
                "type": "object",
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}},
                "required": ["name"],
            },
        ]
    }
)
class TagInput(serializers.Field):
    """A tag as {"name": "..."} or a plain string."""

    def to_internal_value(self, data: Any) -> str:
        name = data.get("name") if isinstance(data, dict) else data
        if not isinstance(name, str) or not name.strip():
            raise serializers.ValidationError(
                f'{data!r} is not a tag: give {{"name": ...}} or a string'
            )
        if len(name.strip()) > 100:
            raise serializers.ValidationError("a tag name has at most 100 characters")
        return name.strip()

    def to_representation(self, value: Any) -> Any:
        return value


class ScoreInput(serializers.Serializer):
    player_id = serializers.IntegerField(required=False, min_value=1)
    player_email = serializers.EmailField(required=False)
    player_external_id = serializers.CharField(required=False, max_length=255)
    player_name = serializers.CharField(required=False, max_length=200, allow_blank=True)
    create_player = serializers.BooleanField(required=False, default=False)
    scoreseries_id = serializers.IntegerField(required=False, min_value=1)
    scoreseries_name = serializers.CharField(required=False, max_length=200)
    points = serializers.DecimalField(required=False, max_digits=14, decimal_places=2)
    point_type_name = serializers.CharField(required=False, max_length=200)
    pointtype_name = serializers.CharField(required=False, max_length=200)
    comment = serializers.CharField(required=False, default="", allow_blank=True)
    tags = serializers.ListField(child=TagInput(), required=False, default=list)
    score_time = serializers.DateTimeField(required=False)
    source_score_id = serializers.CharField(required=False, max_length=200, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problems: dict[str, list[str]] = {}
        given = [k for k in ("player_id", "player_email", "player_external_id") if k in attrs]
        if len(given) != 1:
            problems["player_id"] = [
                "give exactly one of player_id, player_email, player_external_id"
                + (f" (got {', '.join(given)})" if given else "")
            ]
        if "scoreseries_id" not in attrs and "scoreseries_name" not in attrs:
            problems["scoreseries_id"] = ["give scoreseries_id or scoreseries_name"]
        type_name = attrs.get("point_type_name") or attrs.get("pointtype_name")
        if "points" in attrs and type_name:
            problems["points"] = ["give points or point_type_name, not both"]
        elif "points" not in attrs and not type_name:
            problems["points"] = ["give points or point_type_name"]
        if problems:
            raise serializers.ValidationError(problems)
        attrs["point_type_name"] = type_name or ""
        attrs["series"] = self._series(attrs)
        attrs["point_type"] = self._point_type(attrs)
        attrs["player"] = self._player(attrs)
        return attrs

    def _series(self, attrs: dict[str, Any]) -> ScoreSeries:
        if "scoreseries_id" in attrs:
            series = ScoreSeries.objects.filter(pk=attrs["scoreseries_id"]).first()
            if series is None:
                raise serializers.ValidationError(
                    {"scoreseries_id": [f"no score series #{attrs['scoreseries_id']}"]}
                )
            name = attrs.get("scoreseries_name")
            if name and name.strip().lower() != series.name.lower():
                raise serializers.ValidationError(
                    {
                        "scoreseries_name": [
                            f"series #{series.pk} is named {series.name!r}, not {name!r}"
                        ]
                    }
                )
            return series
        series = ScoreSeries.objects.filter(name__iexact=attrs["scoreseries_name"].strip()).first()
        if series is None:
            known = ", ".join(ScoreSeries.objects.values_list("name", flat=True)[:20]) or "none"
            raise serializers.ValidationError(
                {
                    "scoreseries_name": [
                        f"no score series named {attrs['scoreseries_name']!r} (known: {known})"
                    ]
                }
            )
        return series

    def _point_type(self, attrs: dict[str, Any]) -> PointType | None:
        name = attrs["point_type_name"]
        if not name:
            return None
        point_type = attrs["series"].point_types.filter(name__iexact=name.strip()).first()
        if point_type is None:
            known = ", ".join(attrs["series"].point_types.values_list("name", flat=True)) or "none"
            raise serializers.ValidationError(
                {"point_type_name": [f"{name!r} is not a point type of series "
                                     f"{attrs['series'].name!r} (known: {known})"]}
            )  # fmt: skip
        return point_type

    def _player(self, attrs: dict[str, Any]) -> Player:
        create = attrs["create_player"]
        name = (attrs.get("player_name") or "").strip()
        if "player_id" in attrs:
            player = Player.objects.filter(pk=attrs["player_id"]).first()
            if player is None:
                raise serializers.ValidationError(
                    {"player_id": [f"no player #{attrs['player_id']}"]}
                )
        elif "player_email" in attrs:
            email = attrs["player_email"]
            matches = list(Player.objects.filter(email__iexact=email)[:2])
            if len(matches) > 1:
                raise serializers.ValidationError(
                    {"player_email": [f"{email} belongs to several players; use player_id"]}
                )
            if matches:
                player = matches[0]
            elif create:
                player = Player.objects.create(name=name or email, email=email)
            else:
                raise serializers.ValidationError(
                    {
                        "player_email": [
                            f"no player with email {email} (send create_player: 1 to create one)"
                        ]
                    }
                )
        else:
            external_id = attrs["player_external_id"].strip()
            found = player_by_external_id(external_id)
            if found is not None:
                player = found
            elif create:
                player, _ = player_create_with_identity(
                    external_id=external_id, name=name, email=""
                )
            else:
                raise serializers.ValidationError(
                    {"player_external_id": [f"no player with external id {external_id!r} "
                                            "(send create_player: 1 to create one)"]}
                )  # fmt: skip
        if player.status == Player.Status.ARCHIVED:
            raise serializers.ValidationError({"player_id": [f"player {player.name} is archived"]})
        return player


class ScoreResultSerializer(serializers.Serializer):
    result = serializers.ChoiceField(choices=["booked", "unchanged", "rebooked"])
    transactions = TransactionSerializer(many=True, help_text="rows written by this call")
    active = TransactionSerializer(help_text="the transaction that now stands for this score")


class ScoreView(APIView):
    """Add score (the Custom integration): the same source_score_id again revokes the previous
    transaction and books the new one; an identical repeat books nothing (200)."""

    @extend_schema(
        request=ScoreInput,
        responses={201: ScoreResultSerializer, 200: ScoreResultSerializer},
    )
    def post(self, request: Request) -> Response:
        data = ScoreInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        points = v["point_type"].points if v["point_type"] else v["points"]
        result = score_add(
            player=v["player"],
            series=v["series"],
            points=points,
            point_time=v.get("score_time"),
            point_type=v["point_type"],
            comment=v["comment"],
            # One tag per name, whatever its case: "Web" and "web" are one tag.
            tag_names=tuple({t.lower(): t for t in reversed(v["tags"])}.values())[::-1],
            source_score_id=(v.get("source_score_id") or "").strip(),
        )
        body = ScoreResultSerializer(
            {"result": result.result, "transactions": result.booked, "active": result.active}
        ).data
        code = status.HTTP_200_OK if result.result == "unchanged" else status.HTTP_201_CREATED
        return Response(body, status=code)
