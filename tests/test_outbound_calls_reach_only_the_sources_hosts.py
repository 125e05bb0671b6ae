"""Outbound calls (DESIGN §9): over https to the source's own hosts only, plus the hosts that
OUTBOUND_ALLOWED_HOSTS names (over http too). Never a loopback, private, link-local or metadata
address unless named there, checked on the address connected to; no redirects followed; a
refused answer is stored by its status and endpoint, never its body."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from integrations.config_file import ConfigError, integration_import
from integrations.models import Integration, SyncRun, WebhookEvent
from integrations.sync import SyncNotPossible, sync_page, sync_start, syncs_schedule
from players.models import Player
from tests.api_server import Page

pytestmark = pytest.mark.django_db

TOKEN = "pat-secret-token-1"
OWNERS = {"results": [{"id": "9", "email": "root@internal", "firstName": "Internal"}]}


def stored_with_base_url(url: str, type_: str = "hubspot") -> Integration:
    """An integration saved before the doors checked base URLs (they refuse this one now)."""
    credential = "access_token" if type_ == "hubspot" else "api_token"
    return Integration.objects.create(
        name=f"{type_} at {url}", type=type_,
        credentials={credential: TOKEN, "api_base_url": url},
    )  # fmt: skip


def users_import(integration: Integration, capture: Any) -> SyncRun:
    """A users import run to its end. Created as beat or an earlier start left it queued: past
    sync_start's early check, so that the page's own calls are what is tested."""
    run: SyncRun | None = SyncRun.objects.create(integration=integration, kind="users")
    for _ in range(10):
        assert run is not None
        with capture():
            run = sync_page(run_id=run.pk)
        assert run is not None
        if run.status in ("done", "failed"):
            return run
    raise AssertionError("the run did not finish")


def test_import_users_now_from_a_loopback_base_url_never_sends_the_token(
    api: Any, settings: Any, admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    """Issue 13, finding 2: the token went to http://127.0.0.1:9999/internal-secret as a Bearer
    header, and the internal answer became a player."""
    settings.OUTBOUND_ALLOWED_HOSTS = []
    api.json("/internal-secret/crm/v3/owners", OWNERS)
    integration = stored_with_base_url(f"{api.url}/internal-secret")

    with django_capture_on_commit_callbacks():
        page = admin_client.post(
            "/admin/integrations/integration/",
            {"action": "import_users", "_selected_action": [integration.pk]}, follow=True,
        )  # fmt: skip
    run = users_import(integration, django_capture_on_commit_callbacks)

    assert (api.connections, api.requests) == (0, [])  # not even a connection
    assert "API base URL" in page.content.decode()  # refused at once, saying why
    assert run.status == "failed"
    assert "refused" in run.error and "OUTBOUND_ALLOWED_HOSTS" in run.error
    assert not Player.objects.exists()


def test_pipedrive_pulls_and_beat_are_refused_the_same_way(
    api: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = []
    api.json("/v1/users", {"data": [{"id": 1, "name": "Internal", "active_flag": True}]})
    integration = stored_with_base_url(api.url, "pipedrive")

    with django_capture_on_commit_callbacks() as queued:
        started = syncs_schedule()  # beat: starts nothing for it, and says why in its log
    run = users_import(integration, django_capture_on_commit_callbacks)

    assert (started, queued) == ([], [])
    assert (api.connections, api.requests) == (0, [])
    assert run.status == "failed" and "refused" in run.error
    assert not Player.objects.exists()


def test_a_hubspot_record_fetch_from_a_loopback_base_url_fails_the_event_and_sends_nothing(
    api: Any, settings: Any, client: Client
) -> None:
    from integrations.services.apply import event_process

    settings.OUTBOUND_ALLOWED_HOSTS = []
    integration = stored_with_base_url(api.url)
    integration_import(data={"name": integration.name, "type": "hubspot", "steps": [
        {"kind": "points", "name": "Won deals", "source_type": "deal", "series": "Deals",
         "points": "amount", "player_id": "hubspot_owner_id"},
    ]})  # fmt: skip
    batch = b'[{"objectId": 4500, "subscriptionType": "deal.propertyChange", "eventId": 1}]'
    response = client.post(integration.webhook_path, data=batch, content_type="application/json")

    event = event_process(event_id=response.json()["event_id"])

    assert (api.connections, api.requests) == (0, [])
    assert event is not None and event.status == WebhookEvent.Status.FAILED
    assert "refused" in event.error  # at once: a refused host is not retried


def test_with_outbound_allowed_hosts_named_the_local_stand_in_is_reached(
    api: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    api.json("/crm/v3/owners", OWNERS)
    integration, _ = integration_import(data={
        "name": "HubSpot", "type": "hubspot",
        "credentials": {"access_token": TOKEN, "api_base_url": api.url},
    })  # fmt: skip

    with django_capture_on_commit_callbacks():
        sync_start(integration=integration, kind="users")  # not refused
    run = users_import(integration, django_capture_on_commit_callbacks)

    assert run.status == "done", run.error
    assert api.hits("/crm/v3/owners")[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["93.184.215.14", "127.0.0.1"], ["169.254.169.254"], ["10.1.2.3"],
     ["fd00:ec2::254"], ["::1"], ["::ffff:127.0.0.1"], ["0.0.0.0"]],  # noqa: S104
    ids=lambda a: "+".join(a),
)  # fmt: skip
def test_a_source_host_that_resolves_to_a_private_address_is_refused_before_connecting(
    api: Any, settings: Any, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any, addresses: list[str],
) -> None:  # fmt: skip
    """DNS tricks: the source's own name, answered with an inside address (or a public one
    and an inside one, as rebinding does). Every address the name resolves to is checked, and
    only a checked address is connected to."""
    settings.OUTBOUND_ALLOWED_HOSTS = []
    port = int(api.url.rsplit(":", 1)[1])
    resolve = socket.getaddrinfo
    asked: list[str] = []

    def poisoned(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "api.hubapi.com":
            return resolve(host, *args, **kwargs)
        asked.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (a, port, 0, 0) if ":" in a else (a, port))
            for a in addresses
        ]  # fmt: skip

    monkeypatch.setattr(socket, "getaddrinfo", poisoned)
    integration = stored_with_base_url(f"https://api.hubapi.com:{port}")

    run = users_import(integration, django_capture_on_commit_callbacks)

    assert asked  # the name was resolved by us, once per connection attempt
    assert api.connections == 0  # the local server behind 127.0.0.1 was never reached
    assert run.status == "failed"
    assert "refused" in run.error and addresses[-1] in run.error


def test_an_error_answer_is_stored_by_status_and_endpoint_not_by_its_body(
    api: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    api.add("/crm/v3/owners", Page(403, {"message": "internal-only: db password hunter2"}))
    integration = stored_with_base_url(api.url)

    run = users_import(integration, django_capture_on_commit_callbacks)

    assert run.status == "failed"
    assert run.error == f"GET {api.url}/crm/v3/owners answered HTTP 403"


def test_redirects_are_not_followed(
    api: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    api.add("/crm/v3/owners", Page(302, {}, {"Location": f"{api.url}/elsewhere"}))
    api.json("/elsewhere", OWNERS)
    integration = stored_with_base_url(api.url)

    run = users_import(integration, django_capture_on_commit_callbacks)

    assert api.hits("/elsewhere") == []
    assert run.status == "failed"
    assert run.error.startswith(f"GET {api.url}/crm/v3/owners answered HTTP 302")
    assert not Player.objects.exists()


FOREIGN = [
    ("hubspot", "http://127.0.0.1:9999/internal-secret"),
    ("hubspot", "https://169.254.169.254/latest"),
    ("hubspot", "http://api.hubapi.com"),  # the right host, but not over https
    ("hubspot", "https://api.hubapi.com.evil.example"),
    ("pipedrive", "https://evil.example"),
    ("pipedrive", "https://pipedrive.com.evil.example"),
]


@pytest.mark.parametrize(("type_", "url"), FOREIGN)
def test_a_foreign_base_url_is_refused_in_the_import_file_naming_the_field(
    settings: Any, type_: str, url: str
) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = []

    with pytest.raises(ConfigError) as refused:
        integration_import(data={"name": "X", "type": type_, "credentials": {"api_base_url": url}})

    assert any(p.startswith("credentials.api_base_url: ") for p in refused.value.problems)
    assert url in str(refused.value)
    assert not Integration.objects.exists()


@pytest.mark.parametrize(("type_", "url"), FOREIGN)
def test_a_foreign_base_url_is_refused_by_the_api_naming_the_field(
    settings: Any, type_: str, url: str
) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = []
    api = Client()
    api.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    created = api.post(
        "/api/v1/integrations/", {"name": "X", "type": type_, "credentials": {"api_base_url": url}},
        content_type="application/json",
    )  # fmt: skip
    integration = Integration.objects.create(name="Y", type=type_)
    changed = api.patch(
        f"/api/v1/integrations/{integration.pk}/", {"credentials": {"api_base_url": url}},
        content_type="application/json",
    )  # fmt: skip

    for response in (created, changed):
        assert response.status_code == 400
        assert url in str(response.json()["credentials"]["api_base_url"])
    integration.refresh_from_db()
    assert integration.credentials == {}
    assert list(Integration.objects.values_list("name", flat=True)) == ["Y"]


@pytest.mark.parametrize(
    ("type_", "url", "named"),
    [("hubspot", "https://api.hubapi.com", []), ("pipedrive", "https://api.pipedrive.com", []),
     ("pipedrive", "https://acme.pipedrive.com/", []),
     ("hubspot", "http://127.0.0.1:8765/stand-in", ["127.0.0.1"]),
     ("hubspot", "http://hubspot-stub:8080", ["hubspot-stub:8080"])],
)  # fmt: skip
def test_the_sources_own_hosts_and_named_hosts_are_accepted(
    settings: Any, type_: str, url: str, named: list[str]
) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = named

    integration, _ = integration_import(
        data={"name": "X", "type": type_, "credentials": {"api_base_url": url}}
    )

    assert integration.credentials["api_base_url"] == url


@pytest.mark.parametrize("named", [["hubspot-stub:8080"], ["hubspot-stub:808x"]])
def test_a_named_host_is_reachable_on_the_named_port_only(settings: Any, named: list[str]) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = named  # a port that is not a number names nothing

    with pytest.raises(ConfigError, match=r"credentials\.api_base_url"):
        integration_import(data={"name": "X", "type": "hubspot",
                                 "credentials": {"api_base_url": "http://hubspot-stub:8081"}})  # fmt: skip


def test_a_pull_from_a_stored_foreign_base_url_is_not_started(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = []
    integration = stored_with_base_url("http://127.0.0.1:9999/internal-secret")

    with pytest.raises(SyncNotPossible, match="API base URL"):
        sync_start(integration=integration, kind="users")
    assert not SyncRun.objects.exists()


def test_a_checked_address_is_connected_to_with_the_name_kept_for_tls(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The client connects to the address it checked, and TLS still speaks to the name: the
    server sees the name in SNI, and the certificate is verified against it (this one is
    self-signed, so verification fails; a real one passes)."""
    import ssl
    import subprocess
    import threading

    import httpx

    from integrations.sources.outbound import source_client

    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
         "-subj", "/CN=api.hubapi.com", "-addext", "subjectAltName=DNS:api.hubapi.com"],
        check=True, capture_output=True,
    )  # fmt: skip
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, context: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            server_context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # the address, not the name
    resolve = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: (
        [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        if host == "api.hubapi.com" else resolve(host, *a, **k)
    ))  # fmt: skip
    integration = stored_with_base_url(f"https://api.hubapi.com:{port}")

    with (
        source_client(integration, base_url=f"https://api.hubapi.com:{port}", headers={},
                      timeout=10) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):  # fmt: skip
        client.get("/crm/v3/owners")
    thread.join(timeout=10)
    listener.close()

    assert names == ["api.hubapi.com"]


def test_outbound_allowed_hosts_and_the_change_cap_come_from_the_environment() -> None:
    import json
    import os
    import subprocess
    import sys

    from tests.plugin import ROOT

    show = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.OUTBOUND_ALLOWED_HOSTS, s.WEBHOOK_MAX_CHANGES]))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pointagram_site.settings", "DEBUG": "1",
           "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1, hubspot-stub:8080,", "WEBHOOK_MAX_CHANGES": "50"}  # fmt: skip

    result = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["127.0.0.1", "hubspot-stub:8080"], 50]


@pytest.mark.parametrize(
    ("type_", "key", "url", "refused"),
    [("salesforce", "instance_url", "https://acme.my.salesforce.com", False),
     ("salesforce", "instance_url", "https://acme--dev.sandbox.my.salesforce.com", False),
     ("salesforce", "instance_url", "http://127.0.0.1:9999", True),
     ("salesforce", "instance_url", "https://salesforce.com.evil.example", True),
     ("zendesk", "api_base_url", "https://acme.zendesk.com", False),
     ("zendesk", "api_base_url", "https://169.254.169.254", True)],
)  # fmt: skip
def test_salesforce_and_zendesk_urls_are_held_to_their_hosts_by_the_registry(
    settings: Any, type_: str, key: str, url: str, refused: bool
) -> None:
    """Their doors (admin, API, file) check credentials through Field.problem as the config
    work lands; the rule is the field's."""
    from integrations.sources.registry import source_for

    settings.OUTBOUND_ALLOWED_HOSTS = []
    source = source_for(type_)
    assert source is not None

    problems = source.url_problems({key: url})

    assert bool(problems) is refused
    if refused:
        assert problems[key].endswith("or to a host named in OUTBOUND_ALLOWED_HOSTS")


@pytest.mark.parametrize(
    ("type_", "credentials"),
    [("salesforce", {"client_id": "3MVG9", "client_secret": "s3cret-client"}),
     ("salesforce", {"access_token": TOKEN}),
     ("zendesk", {"email": "admin@example.com", "api_token": TOKEN})],
)  # fmt: skip
def test_salesforce_and_zendesk_pulls_from_a_loopback_url_send_nothing(
    api: Any, settings: Any, django_capture_on_commit_callbacks: Any, type_: str,
    credentials: dict[str, str],
) -> None:  # fmt: skip
    """Salesforce's client credentials flow posts the client secret: not to a foreign host."""
    settings.OUTBOUND_ALLOWED_HOSTS = []
    key = "instance_url" if type_ == "salesforce" else "api_base_url"
    integration = Integration.objects.create(
        name=type_, type=type_, credentials={**credentials, key: api.url}
    )

    run = users_import(integration, django_capture_on_commit_callbacks)

    assert (api.connections, api.requests) == (0, [])
    assert run.status == "failed" and "refused" in run.error
