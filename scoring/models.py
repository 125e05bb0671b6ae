from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower


class RevokePolicy(models.TextChoices):
    """When reconcile replaces what it booked for an object with what the object deserves now
    (an integration step's revoke setting, passed to award_reconcile as a value)."""

    NEVER = "never", "Do not revoke points. Once points have been given, they stay."
    ON_CHANGE = (
        "on_change",
        "Revoke points and add new points when either score, point type, player or tags change.",
    )
    ON_CHANGE_OR_TIME = (
        "on_change_or_time",
        "Revoke points and add new points when either score, point type, player, tags or "
        "point time change.",
    )


class ScoreSeries(models.Model):
    """A named stream of points: "Deals", "Calls". A series linked to a master series books
    every ledger row again in the master, times its factor (DESIGN §11; scoring.masters)."""

    name = models.CharField(max_length=200)
    master = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="links",
        help_text="Every point booked in this series is booked again in the master series, "
        "times the factor. A master cannot itself be linked.",
    )
    master_factor = models.DecimalField(
        "factor",
        max_digits=14,
        decimal_places=6,
        default=1,
        db_default=1,  # rows written by SQL (bulk loads, the bench) are unlinked with factor 1
        help_text="Points in the master = points here x factor, rounded half-up to 2 places "
        "(e.g. Calls x 10, Deals x 0.01). A new factor applies to new points only; "
        "manage.py master_rebuild applies it to the past.",
    )

    class Meta:
        verbose_name_plural = "score series"
        ordering = ("name",)
        permissions = [
            ("scoring_admin", "Can configure scoring and add scores through the API"),
        ]
        constraints = [
            # Steps, the API and import files name series; "deals" and "Deals" are one series.
            models.UniqueConstraint(Lower("name"), name="series_name_ci_unique"),
            # A series is never its own master (longer chains are refused by series_master_set,
            # under a lock of both series).
            models.CheckConstraint(condition=~Q(master=F("id")), name="series_not_own_master"),
        ]

    def __str__(self) -> str:
        return self.name


class PointType(models.Model):
    """A named fixed amount within a series ("Meeting" = 10), matched case-insensitively."""

    series = models.ForeignKey(ScoreSeries, on_delete=models.CASCADE, related_name="point_types")
    name = models.CharField(max_length=200)
    points = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ("series", "name")
        constraints = [
            # The point type column's value is matched by name within the step's series.
            models.UniqueConstraint("series", Lower("name"), name="point_type_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.points})"


class Tag(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name",)
        constraints = [
            # Tags are found by name, case-insensitively; concurrent creators race on this.
            models.UniqueConstraint(Lower("name"), name="tag_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Transaction(models.Model):
    """The append-only ledger. A revoke is a new row of the opposite sign; rows never change."""

    class Kind(models.TextChoices):
        AWARD = "award", "Award"
        REVOKE = "revoke", "Revoke"
        MANUAL = "manual", "Manual"

    player = models.ForeignKey("players.Player", on_delete=models.PROTECT, related_name="+")
    series = models.ForeignKey(ScoreSeries, on_delete=models.PROTECT, related_name="+")
    points = models.DecimalField(max_digits=14, decimal_places=2)
    point_type = models.ForeignKey(
        PointType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="transactions")
    point_time = models.DateTimeField(help_text="When the points count; leaderboards use it.")
    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.AWARD)
    # Provenance: which step, which source object, which delivery.
    step = models.ForeignKey(
        "integrations.IntegrationStep",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    source_object = models.CharField(
        max_length=255, blank=True, help_text="<source type>:<score id>, e.g. deal:123"
    )
    event = models.ForeignKey(
        "integrations.WebhookEvent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transactions",
    )
    # One-to-one: a transaction can be revoked at most once, whatever races happen.
    revokes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="revoked_by"
    )
    # A row a master series books for a row of a linked series (points x factor), in the same
    # database transaction; its revoke cancels this row's derived row.
    derived_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived"
    )

    class Meta:
        ordering = ("id",)
        indexes = [
            # Leaderboards sum points per player within a series and a point-time range.
            models.Index(fields=["series", "point_time"], name="txn_series_time_idx"),
            models.Index(fields=["player", "series"], name="txn_player_series_idx"),
        ]
        constraints = [
            # A revoke always names what it cancels; nothing else does.
            models.CheckConstraint(
                condition=Q(kind="revoke", revokes__isnull=False)
                | (~Q(kind="revoke") & Q(revokes__isnull=True)),
                name="txn_revoke_references",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.points:+} {self.kind}"


class AwardState(models.Model):
    """What is currently awarded for one source object by one points step.

    This is how "points already scored for this object" is tracked. Every evaluation of the
    object locks this row (select_for_update), so the work for one object is serialised.
    """

    # None for scores added through the API, keyed by their source_score_id.
    step = models.ForeignKey(
        "integrations.IntegrationStep",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="award_states",
    )
    object_id = models.CharField(max_length=255)
    # The active award (None when nothing is awarded now). Player, points, point type, tags and
    # point time are read from it.
    transaction = models.OneToOneField(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    applied_version = models.DateTimeField(null=True, blank=True)
    # The default point time: when the object was first awarded; kept across revoke and re-award.
    first_point_time = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One state per (step, object): the row every evaluation of the object locks.
            models.UniqueConstraint("step", "object_id", name="award_state_step_object_unique"),
            # Add score's source_score_id is site-wide: one state per id.
            models.UniqueConstraint(
                "object_id", condition=Q(step__isnull=True), name="award_state_api_score_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step_id}:{self.object_id}"


class DailyTotal(models.Model):
    """Points per player, series and day (the site's TIME_ZONE, by point time), kept in the same
    transaction as the ledger rows they sum: leaderboards read these instead of the ledger.
    `manage.py totals_rebuild` recomputes them from the ledger (after a TIME_ZONE change)."""

    series = models.ForeignKey(ScoreSeries, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    player = models.ForeignKey("players.Player", on_delete=models.CASCADE, related_name="+")
    points = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [
            # One row per (series, day, player): booking adds to it; leaderboards sum a range.
            models.UniqueConstraint("series", "day", "player", name="daily_total_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.series_id}/{self.day}/{self.player_id}: {self.points}"


class MonthlyTotal(models.Model):
    """Points per player, series and month (the site's TIME_ZONE, by point time; `month` is the
    month's first day), kept with the daily totals in the ledger's transaction: a month's
    leaderboard is a top-N read of one (series, month)."""

    series = models.ForeignKey(ScoreSeries, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="The first day of the month.")
    player = models.ForeignKey("players.Player", on_delete=models.CASCADE, related_name="+")
    points = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        indexes = [
            # A month's leaderboard: the top N of one (series, month) in index order, no sort.
            models.Index(fields=["series", "month", "-points"], name="monthly_total_top_idx"),
        ]
        constraints = [
            # One row per (series, month, player): booking adds to it; leaderboards sum a range.
            models.UniqueConstraint("series", "month", "player", name="monthly_total_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.series_id}/{self.month:%Y-%m}/{self.player_id}: {self.points}"


class Team(models.Model):
    """A group of players (a player may be in several). Team boards sum their members' points."""

    name = models.CharField(max_length=200)
    icon = models.CharField(
        max_length=500, blank=True, help_text="An emoji, or the address of an image."
    )
    members = models.ManyToManyField("players.Player", blank=True, related_name="teams")

    class Meta:
        ordering = ("name", "id")
        constraints = [
            # Teams are listed and chosen by name; "Sales" and "sales" are one team.
            models.UniqueConstraint(Lower("name"), name="team_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.icon} {self.name}".strip()


class Competition(models.Model):
    """One round of a competition (DESIGN §11): a recurring competition is a chain of rounds,
    each with its own standings and winners."""

    class Kind(models.TextChoices):
        LEADERBOARD = "leaderboard", "Leaderboard (rank by points)"
        A_TO_B = "a_to_b", "A to B (first to reach a target)"
        HEAD_TO_HEAD = "head_to_head", "Head to head (two players or teams)"
        TOGETHER = "together", "Together (everyone's points toward one shared target)"

    class Mode(models.TextChoices):
        PLAYERS = "players", "Player vs player"
        TEAMS = "teams", "Team vs team"

    class EndType(models.TextChoices):
        TIME = "time", "Keep going until time is up"
        TARGET = "target", "First to target"

    class Recurrence(models.TextChoices):
        ONCE = "once", "Once"
        WEEK = "week", "Every week"
        MONTH = "month", "Every month"
        YEAR = "year", "Every year"

    class Status(models.TextChoices):
        UPCOMING = "upcoming", "Upcoming"
        RUNNING = "running", "Running"
        ENDED = "ended", "Ended"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LEADERBOARD)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.PLAYERS)
    series = models.ManyToManyField(ScoreSeries, related_name="competitions")
    tag = models.ForeignKey(
        Tag,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Count only points with this tag.",
    )
    start = models.DateTimeField(help_text="Points count from this point time on.")
    end = models.DateTimeField(help_text="Points count until this point time (not included).")
    end_type = models.CharField(max_length=10, choices=EndType.choices, default=EndType.TIME)
    target = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The default target; a participant may have one of their own.",
    )
    recurrence = models.CharField(
        max_length=10, choices=Recurrence.choices, default=Recurrence.ONCE
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPCOMING)
    # The round this one follows; one next round per round, however many beats race to make it.
    previous_round = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_round"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-start", "id")
        indexes = [
            # The booking path asks, once per batch: is a first-to-target competition running
            # on these series? Usually none is: this index is then empty.
            models.Index(
                fields=["id"],
                name="competition_target_running",
                condition=Q(status="running", end_type="target"),
            ),
            # Beat moves upcoming and running rounds along by their start and end.
            models.Index(
                fields=["status", "end"],
                name="competition_open_idx",
                condition=~Q(status="ended"),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="competition_start_end"),
        ]

    def __str__(self) -> str:
        return self.name


class CompetitionParticipant(models.Model):
    """An invited player or team (a competition without any is open to everyone), with a
    target of its own when the default does not fit."""

    competition = models.ForeignKey(
        Competition, on_delete=models.CASCADE, related_name="participants"
    )
    player = models.ForeignKey(
        "players.Player", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            # A participant is a player or a team, never both.
            models.CheckConstraint(
                condition=Q(player__isnull=False, team__isnull=True)
                | Q(player__isnull=True, team__isnull=False),
                name="participant_player_or_team",
            ),
            # Invited once per competition.
            models.UniqueConstraint("competition", "player", name="participant_player_unique"),
            models.UniqueConstraint("competition", "team", name="participant_team_unique"),
        ]

    def __str__(self) -> str:
        return str(self.player or self.team)


class CompetitionStanding(models.Model):
    """The standings of an ended round, frozen when it ended, with its winners."""

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="standings")
    player = models.ForeignKey(
        "players.Player", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=200, help_text="As the participant was named at the end.")
    points = models.DecimalField(max_digits=16, decimal_places=2)
    rank = models.PositiveIntegerField()
    target = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    winner = models.BooleanField(default=False)

    class Meta:
        ordering = ("competition", "rank", "name", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(player__isnull=False, team__isnull=True)
                | Q(player__isnull=True, team__isnull=False),
                name="standing_player_or_team",
            ),
            # Ending freezes each participant once, however many beats race to end the round.
            models.UniqueConstraint("competition", "player", name="standing_player_unique"),
            models.UniqueConstraint("competition", "team", name="standing_team_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.rank}. {self.name}: {self.points}"
