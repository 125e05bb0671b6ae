"""A step's kind decides its fields. A users step has the seed's users fields only (name, order,
enabled, source and event type, player id, prefix, name and email, filters): its admin page shows
and takes only those, and the API and import files refuse a points field given to it, naming
the field. A step's kind cannot change."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.config_file import ConfigError, integration_import
from integrations.models import Integration, IntegrationStep
from scoring.models import ScoreSeries

pytestmark = pytest.mark.django_db

POINTS_FIELDS = ("series", "points", "point_type", "score_id", "comment", "tags", "create_tags",
                 "point_time", "revoke")  # fmt: skip
USERS_FIELDS = ("name", "order", "enabled", "source_type", "event_type", "player_id",
                "player_id_prefix", "player_name", "player_email")  # fmt: skip


@pytest.fixture
def writer(db: None) -> APIClient:
    user = User.objects.create_user("writer", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_users_step_page_shows_only_the_users_fields(
    admin_client: Client, pipedrive: Integration
) -> None:
    users = pipedrive.steps.get(kind="users")

    response = admin_client.get(reverse("admin:integrations_integrationstep_change",
                                        args=[users.pk]))  # fmt: skip

    form = response.context["adminform"].form
    shown = {field.field["name"] if field.is_readonly else field.field.name
             for fieldset in response.context["adminform"] for line in fieldset
             for field in line}  # fmt: skip
    assert set(USERS_FIELDS) <= shown
    assert not shown & set(POINTS_FIELDS)
    assert not set(form.fields) & (set(POINTS_FIELDS) - {"tags"})  # tags: declared, never taken
    text = response.content.decode()
    assert ">Revoke settings<" not in text and ">Tag column(s) in source<" not in text


def test_a_users_step_saved_in_the_admin_keeps_no_points_fields(
    admin_client: Client, pipedrive: Integration
) -> None:
    users = pipedrive.steps.get(kind="users")
    data = {"name": "Users", "order": "0", "enabled": "on", "source_type": "user",
            "event_type": "", "player_id": "id", "player_id_prefix": "pd:",
            "player_name": "full_name", "player_email": "email",
            "series": ScoreSeries.objects.get(name="Deals").pk, "points": "value",
            "revoke": "never", "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0",
            "filters-MIN_NUM_FORMS": "0", "filters-MAX_NUM_FORMS": "1000"}  # fmt: skip

    response = admin_client.post(
        reverse("admin:integrations_integrationstep_change", args=[users.pk]), data
    )

    assert response.status_code == 302
    users.refresh_from_db()
    assert users.player_name == "full_name"
    assert (users.series, users.points, users.revoke) == (None, "", "on_change")


def test_adding_a_users_step_in_the_admin_takes_only_the_users_fields(
    admin_client: Client, pipedrive: Integration
) -> None:
    # The add page has every field (the kind is chosen on it); a users step takes its own.
    data = {"integration": pipedrive.pk, "kind": "users", "name": "People", "order": "5",
            "enabled": "on", "source_type": "person", "event_type": "", "player_id": "id",
            "player_id_prefix": "pd:", "player_name": "name", "player_email": "",
            "series": "", "points": "value", "point_type": "", "score_id": "", "comment": "",
            "point_time": "", "tags": "", "create_tags": "on", "revoke": "on_change",
            "filters-TOTAL_FORMS": "0", "filters-INITIAL_FORMS": "0",
            "filters-MIN_NUM_FORMS": "0", "filters-MAX_NUM_FORMS": "1000"}  # fmt: skip

    response = admin_client.post(reverse("admin:integrations_integrationstep_add"), data)

    assert response.status_code == 302
    step = IntegrationStep.objects.get(name="People")
    assert (step.kind, step.player_id, step.points) == ("users", "id", "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("points", "value", "Points column in source is for points steps only: a users step "
                            "leaves it blank (given 'value')."),
        ("revoke", "never", "Revoke settings is for points steps only: a users step leaves it "
                            "at 'on_change' (given 'never')."),
        ("tags", ["status"], "Tag columns in source is for points steps only: a users step "
                             "leaves it blank (given ['status'])."),
    ],
)  # fmt: skip
def test_the_api_and_files_refuse_a_points_field_on_a_users_step_naming_it(
    writer: APIClient, pipedrive: Integration, field: str, value: Any, message: str
) -> None:
    step = {"kind": "users", "name": "People", "source_type": "person", "player_id": "id",
            field: value}  # fmt: skip

    api = writer.post("/api/v1/steps/", {**step, "integration": pipedrive.pk}, format="json")
    with pytest.raises(ConfigError) as refused:
        integration_import(data={"name": "File", "type": "pipedrive", "steps": [step]})

    assert api.status_code == 400
    assert api.json() == {field: [message]}
    assert refused.value.problems == [f"steps[0].{field}: {message}"]


def test_a_step_kind_cannot_change(writer: APIClient, pipedrive: Integration) -> None:
    won = pipedrive.steps.get(name="Won deals")
    data: dict[str, Any] = {
        "name": "Pipedrive", "type": "pipedrive",
        "steps": [{"kind": "users", "name": "Won deals", "source_type": "deal",
                   "player_id": "owner_id"}],
    }  # fmt: skip

    api = writer.patch(f"/api/v1/steps/{won.pk}/", {"kind": "users"}, format="json")
    with pytest.raises(ConfigError) as refused:
        integration_import(data=data)

    message = ("Step 'Won deals' is a points step: a step's kind cannot change (add a new step "
               "instead).")  # fmt: skip
    assert api.json() == {"kind": [message]}
    assert refused.value.problems == [f"steps[0].kind: {message}"]
    won.refresh_from_db()
    assert won.kind == "points"
