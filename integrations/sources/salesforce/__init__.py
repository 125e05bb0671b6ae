"""Salesforce: Outbound Messages (SOAP) from a Flow or workflow rule; pulls through the REST API."""

from __future__ import annotations

from integrations.sources.registry import Field, Source

from . import sync
from .adapter import Adapter
from .defaults import DEFAULT_CONFIG
from .soap import envelope_parse, soap_answer

SOURCE = Source(
    type="salesforce",
    label="Salesforce",
    adapter=Adapter(),
    credentials=(
        Field(
            "organization_id",
            "Organization ID",
            help="Setup → Company Information → Salesforce.com Organization ID (15 or 18 "
            "characters, starting 00D). Set, only outbound messages from this organisation are "
            "accepted; others are refused (401).",
            signs_in=True,
            max_length=18,
            pattern=r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?",
            pattern_problem="is not a Salesforce organization id (00D and 12 or 15 letters or "
            "digits)",
            placeholder="00D5e000000AbCd",
        ),
        Field(
            "instance_url",
            "Instance URL",
            help="Your org's My Domain URL, for Import users now and Backfill through the REST "
            "API: https, on salesforce.com (other hosts only when OUTBOUND_ALLOWED_HOSTS names "
            "them).",
            kind="url",
            placeholder="https://acme.my.salesforce.com",
        ),
        Field(
            "access_token",
            "Access token",
            help="An OAuth access token with API access. Or leave it blank and fill in Client ID "
            "and Client secret: a token is then asked for by the client credentials flow.",
            secret=True,
            max_length=2000,
        ),
        Field(
            "client_id",
            "Client ID",
            help="The consumer key of an External Client App (or Connected App) with the client "
            "credentials flow enabled and a run-as user who may read users and the objects your "
            "steps use.",
            max_length=300,
            goes_with="client_secret",
        ),
        Field(
            "client_secret",
            "Client secret",
            help="The consumer secret that goes with the Client ID.",
            secret=True,
            max_length=300,
            goes_with="client_id",
        ),
    ),
    sign_in_help="In Salesforce Setup, open Outbound Messages → New Outbound Message: choose "
    "the object (Opportunity for deals, Task for calls, User for players), paste this URL as "
    "the Endpoint URL and include the fields your steps read — for the default steps Id, "
    "OwnerId, Amount, StageName, IsWon, CloseDate, Name, LastModifiedDate (tasks: Status, "
    "TaskSubtype, Subject; users: Name, Email, IsActive). Then send it on every change: a "
    "record-triggered Flow (created or updated) with a Send Outbound Message action, or a "
    "workflow rule with the outbound message as its action. Salesforce signs nothing: fill in "
    "Organization ID below so that only your org's messages are accepted. Each message is "
    "answered with the SOAP Ack; Setup → Outbound Messages → View Message Delivery Status "
    "shows what failed and why.",
    pull_credential="instance_url",
    sync=sync,
    defaults=DEFAULT_CONFIG,
    outbound_hosts=("*.salesforce.com",),  # My Domain (acme.my.salesforce.com), login, sandboxes
    parser=envelope_parse,
    answer=soap_answer,
)
