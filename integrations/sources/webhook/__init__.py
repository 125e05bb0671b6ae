"""Generic JSON webhooks: any system that can POST JSON; the paths say where things are."""

from __future__ import annotations

from integrations.sources.registry import Field, Source

from .adapter import DEFAULT_HMAC_HEADER, Adapter

_PATH_HELP = "A path into one event, e.g. data.id or object.owner.id."

SOURCE = Source(
    type="webhook",
    label="Generic JSON webhook",
    adapter=Adapter(),
    credentials=(
        Field(
            "hmac_secret",
            "HMAC secret",
            help="Optional. Set, every delivery must carry the hex HMAC-SHA256 of its raw body "
            "(optionally prefixed sha256=) in the signature header.",
            secret=True,
            signs_in=True,
            min_length=8,
            max_length=200,
        ),
        Field(
            "hmac_header",
            "Signature header",
            help=f"The header holding the signature. Blank: {DEFAULT_HMAC_HEADER}.",
            kind="header",
            placeholder=DEFAULT_HMAC_HEADER,
        ),
    ),
    paths=(
        Field(
            "object_type",
            "Object type path",
            help="Where the event says what kind of object changed (deal, ticket, …). "
            "Or leave it blank and set a fixed source type.",
            kind="path",
            required=True,
            unless="source_type",
            max_length=200,
            placeholder="type",
        ),
        Field(
            "source_type",
            "Fixed source type",
            help="Instead of an object type path: every event of this webhook is this type.",
            max_length=50,
            placeholder="deal",
        ),
        Field(
            "object_id",
            "Object id path",
            help="Where the object's id is: the steps track each object by it.",
            kind="path",
            required=True,
            max_length=200,
            placeholder="data.id",
        ),
        Field(
            "action",
            "Action path",
            help="Where the event says what happened: create/created/added → created, "
            "delete/deleted/removed → deleted, anything else → changed. Blank: changed.",
            kind="path",
            max_length=200,
            placeholder="event",
        ),
        Field(
            "time",
            "Time path",
            help="The object's version time: older changes than the newest applied are stale. "
            "Blank: deliveries are never stale.",
            kind="path",
            max_length=200,
            placeholder="data.updated_at",
        ),
        Field(
            "event_id",
            "Event id path",
            help="A delivery id for dedupe. Blank: events are deduplicated by their content.",
            kind="path",
            max_length=200,
            placeholder="id",
        ),
        Field(
            "record",
            "Record path",
            help="Where the object's fields are (the columns your steps read). Blank: the "
            "event itself.",
            kind="path",
            max_length=200,
            placeholder="data",
        ),
    ),
    sign_in_help="POST a JSON object (or an array of them) to this URL from any system. Fill in "
    "the paths below so the steps know each event's object type, id, action and time. To "
    "require a signature, set an HMAC secret.",
    example_delivery="""{
  "id": "evt_1001",
  "event": "deal.updated",
  "type": "deal",
  "data": {"id": 123, "status": "won", "value": 100, "owner_id": 42,
           "updated_at": "2026-11-30T10:00:00Z"}
}
paths: object type "type", object id "data.id", action "event", time "data.updated_at",
event id "id", record "data"; a step then reads columns status, value, owner_id.""",
)
