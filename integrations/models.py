from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from scoring.models import RevokePolicy

from .sources.registry import Source, source_choices, source_default, source_for


def webhook_secret_generate() -> str:
    # 32 random bytes, URL-safe: unguessable, and fits in the URL as it is.
    return secrets.token_urlsafe(32)


class Integration(models.Model):
    name = models.CharField(max_length=200, unique=True)
    # The registered sources (integrations/sources/registry.py), read each time they are listed.
    type = models.CharField(max_length=20, choices=source_choices, default=source_default)
    enabled = models.BooleanField(default=True)
    webhook_secret = models.CharField(
        max_length=128,
        unique=True,  # the webhook view finds the integration by its secret
        default=webhook_secret_generate,
        help_text="The secret part of the webhook URL (/hooks/SECRET/). "
        "Anyone who knows it can post; rotate it from the integration list if it leaked.",
    )
    credentials = models.JSONField(
        default=dict,
        blank=True,
        # Written only by the configuration services: an object of the fields the type's source
        # declares (sources/*/__init__.py), and for generic webhooks their paths under "paths".
        help_text="The credential fields the integration's type declares.",
    )
    series = models.ManyToManyField(
        "scoring.ScoreSeries",
        blank=True,
        related_name="integrations",
        help_text="The score series this integration's configuration names (exported with it).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def source(self) -> Source | None:
        """What this integration's type is (None for a type no longer registered)."""
        return source_for(self.type)

    @property
    def webhook_path(self) -> str:
        return f"/hooks/{self.webhook_secret}/"


class WebhookEvent(models.Model):
    """One stored delivery. The events table is the outbox: stored first, processed later."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="events")
    # Indexed on PostgreSQL by a BRIN index (migration 0011): rows arrive in time order.
    received_at = models.DateTimeField()
    headers = models.JSONField(default=dict, blank=True)
    # Raw bytes as delivered: a body that is not UTF-8 JSON is still kept for the admin to see.
    body = models.BinaryField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # A drain task took the event for its batch until then; other drains leave it alone.
    claimed_until = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    outcome = models.JSONField(default=list, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Filled when processed, for the admin's filters and search: "deal", "deal:123 deal:124".
    source_type = models.CharField(max_length=50, blank=True)
    object_refs = models.CharField(max_length=1000, blank=True)
    # Set for deliveries spooled while the database was down: replaying twice stores once.
    spool_id = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 (NULL: not spooled; unique when set)
    # Raw payloads are kept EVENT_PAYLOAD_DAYS, then emptied; the row and its outcome stay.
    payload_pruned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = [
            # The sweeper's query: pending events, oldest first.
            models.Index(
                fields=["received_at"], name="event_pending_idx", condition=Q(status="pending")
            ),
            # Every index costs each delivery's INSERT, so the admin's filters get partial
            # ones that a new (pending, untyped, unspooled) event does not enter.
            models.Index(fields=["id"], name="event_failed_idx", condition=Q(status="failed")),
            models.Index(
                fields=["source_type"], name="event_source_type_idx", condition=~Q(source_type="")
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["spool_id"],
                name="event_spool_id_unique",
                condition=Q(spool_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"event #{self.pk} ({self.status})"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class IntegrationStep(models.Model):
    """One rule of an integration: import users, or score points for changes of one source type.

    Help texts are the seed's explanations, so admins read them where they edit.
    """

    class Kind(models.TextChoices):
        USERS = "users", "Users"
        POINTS = "points", "Points"

    class EventType(models.TextChoices):
        ANY = "", "Created, changed and deleted"
        CREATED = "created", "Created only"

    Revoke = RevokePolicy  # the policy is scoring's: reconcile takes it as a value

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200, help_text="This is just the name of the step.")
    order = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    # Webhook settings
    source_type = models.CharField(
        max_length=50,
        help_text="The type of object in the external system (deal, activity, user, …). "
        "Do not change this unless you know what you are doing.",
    )
    event_type = models.CharField(
        max_length=20,
        choices=EventType.choices,
        blank=True,
        default=EventType.ANY,
        help_text="Created, changed and deleted: the step runs for every change of the object. "
        "Created only: only when the object is created; later updates and deletes are never "
        "used.",
    )
    # Mappings
    player_id = models.CharField(
        "player id in source",
        max_length=200,
        blank=True,
        help_text="Name of the column that contains the id of the user (for points: the user "
        "who should be awarded). With the prefix it is the player's unique identifier.",
    )
    player_id_prefix = models.CharField(
        max_length=50,
        blank=True,
        help_text="Used with 'Player id in source' to form a unique identifier, e.g. pd:.",
    )
    player_name = models.CharField(
        "player name in source",
        max_length=200,
        blank=True,
        help_text="The column with the player's name. On points steps only used to create "
        "players on the fly.",
    )
    player_email = models.CharField(
        "player email in source",
        max_length=200,
        blank=True,
        help_text="The column with the player's email, used when inviting the player. On "
        "points steps only used to create players on the fly.",
    )
    series = models.ForeignKey(
        "scoring.ScoreSeries",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="steps",
        verbose_name="add points to score series",
        help_text="The score series where points are registered. Required for points steps.",
    )
    points = models.CharField(
        "points column in source",
        max_length=200,
        blank=True,
        help_text="Column that contains the number of points to award, or a number for a "
        "fixed amount of points.",
    )
    point_type = models.CharField(
        "point type column in source",
        max_length=200,
        blank=True,
        help_text="Instead of a points column: its value is matched to the point types of the "
        "score series.",
    )
    score_id = models.CharField(
        "score id in source",
        max_length=200,
        blank=True,
        help_text="Column with the id of the object that creates points, so points can be "
        "awarded or deducted as it is updated. Blank: the object's id.",
    )
    comment = models.CharField(
        "comment column in source",
        max_length=200,
        blank=True,
        help_text="Column with text shown with the points, e.g. the deal's title.",
    )
    tags = models.JSONField(
        "tag columns in source",
        default=list,
        blank=True,
        help_text="Columns added as tags: 'status' adds the column's value; '#notes' adds every "
        "#word found in the column.",
    )
    create_tags = models.BooleanField(
        "create new tags if not found",
        default=True,
        help_text="If set, tags that do not exist yet are created.",
    )
    point_time = models.CharField(
        "point time column in source",
        max_length=200,
        blank=True,
        help_text="Column with the date/time the points count for. Blank: when the object was "
        "first awarded.",
    )
    revoke = models.CharField(
        "revoke settings",
        max_length=20,
        choices=Revoke.choices,
        default=Revoke.ON_CHANGE,
        help_text="How and when old points are revoked and replaced with new points.",
    )

    class Meta:
        ordering = ("integration", "order", "id")
        constraints = [
            # Import files match steps by name within their integration.
            models.UniqueConstraint("integration", "name", name="step_name_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=["users", "points"]), name="step_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StepFilter(models.Model):
    class Operator(models.TextChoices):
        IN = "in", "is one of"
        NOT_IN = "not_in", "is not one of"
        EMPTY = "empty", "is empty"
        NOT_EMPTY = "not_empty", "is not empty"
        GT = "gt", "greater than"
        LT = "lt", "less than"
        CONTAINS = "contains", "contains"

    step = models.ForeignKey(IntegrationStep, on_delete=models.CASCADE, related_name="filters")
    field = models.CharField(max_length=200, help_text="Path into the record, e.g. status.")
    operator = models.CharField(max_length=20, choices=Operator.choices, default=Operator.IN)
    values = models.JSONField(default=list, blank=True, help_text="One or more values.")

    class Meta:
        ordering = ("step", "id")

    def __str__(self) -> str:
        values = self.values if isinstance(self.values, list) else [self.values]
        listed = ", ".join(str(v) for v in values)  # `is one of 1, 2`, not a Python list
        return f"{self.field} {self.get_operator_display()} {listed}".rstrip()


class SeenChange(models.Model):
    """A change's dedupe key, recorded by the event that processed it first."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            # Dedupe is per change: a key the integration has already seen is skipped.
            models.UniqueConstraint("integration", "key", name="seen_change_unique"),
        ]

    def __str__(self) -> str:
        return self.key


class SyncRun(models.Model):
    """A pull from a source's API: "Import users now" or "Backfill since DATE", page by page."""

    class Kind(models.TextChoices):
        USERS = "users", "Import users"
        BACKFILL = "backfill", "Backfill"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="syncs")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    since = models.DateTimeField(null=True, blank=True, help_text="Backfill: changed since.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Where the next page starts, per object type: {"deal": "<cursor>", "activity": null, ...}.
    cursor = models.JSONField(default=dict, blank=True)
    done = models.PositiveIntegerField(default=0, help_text="Records evaluated so far.")
    total = models.PositiveIntegerField(
        null=True, blank=True, help_text="Records to evaluate, when the source tells."
    )
    pages = models.PositiveIntegerField(default=0)
    booked = models.PositiveIntegerField(default=0, help_text="Ledger rows written.")
    step_errors = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"
