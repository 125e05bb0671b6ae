"""A filter's values are checked by its operator: "greater than" and "less than" take exactly one
number, "is empty" and "is not empty" none, the others at least one; every door (the step
page's filter rows, the API, import files) refuses the same values with the same words."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.config_file import ConfigError, integration_import
from integrations.configuration import filter_problems
from integrations.models import Integration, StepFilter

pytestmark = pytest.mark.django_db

CASES = [
    ("gt", ["10"], None),
    ("gt", ["ten"], "Operator 'greater than' compares numbers: 'ten' is not a number."),
    ("lt", ["1", "2"], "Operator 'less than' takes exactly one value, not 2 ('1', '2')."),
    ("lt", [], "Operator 'less than' takes exactly one value, not 0."),
    ("empty", [], None),
    ("not_empty", ["x"], "Operator 'is not empty' takes no values (given 'x')."),
    ("in", ["won", "lost"], None),
    ("in", [], "Operator 'is one of' needs at least one value."),
    ("not_in", [], "Operator 'is not one of' needs at least one value."),
    ("contains", [], "Operator 'contains' needs at least one value."),
]


@pytest.mark.parametrize(("operator", "values", "message"), CASES)
def test_values_are_checked_by_the_operator(
    operator: str, values: list[str], message: str | None
) -> None:
    found = filter_problems(field="value", operator=operator, values=values)

    assert found == ({"values": message} if message else {})


def test_a_filter_needs_a_field_and_single_values() -> None:
    found = filter_problems(field=" ", operator="in", values=[{"a": 1}])

    assert found == {
        "field": "A filter needs the field it checks: a path into the record, e.g. status.",
        "values": "The value {'a': 1} is not a single value (text, a number or true/false).",
    }


def step_page(client: Client, integration: Integration, operator: str, values: list[str]) -> Any:
    step = integration.steps.get(name="Won deals")
    data = {"name": step.name, "order": "1", "enabled": "on", "series": step.series_id,
            "player_id": step.player_id, "player_id_prefix": step.player_id_prefix,
            "player_name": "", "player_email": "", "points": step.points, "point_type": "",
            "score_id": step.score_id, "comment": step.comment, "point_time": step.point_time,
            "tags": "", "create_tags": "on", "revoke": step.revoke, "source_type": "deal",
            "event_type": "", "filters-TOTAL_FORMS": "1", "filters-INITIAL_FORMS": "0",
            "filters-MIN_NUM_FORMS": "0", "filters-MAX_NUM_FORMS": "1000",
            "filters-0-field": "value", "filters-0-operator": operator,
            "filters-0-values": "\n".join(values)}  # fmt: skip
    return client.post(reverse("admin:integrations_integrationstep_change", args=[step.pk]), data)


@pytest.mark.parametrize(("operator", "values", "message"), [c for c in CASES if c[1] and c[2]])
def test_every_door_refuses_the_same_values_with_the_same_words(
    admin_client: Client, pipedrive: Integration, operator: str, values: list[str], message: str
) -> None:
    user = User.objects.create_user("writer", is_staff=True)
    user.groups.add(Group.objects.get(name="scoring admin"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    step = pipedrive.steps.get(name="Won deals")
    before = StepFilter.objects.count()

    admin = step_page(admin_client, pipedrive, operator, values)
    answer = api.post("/api/v1/filters/", {"step": step.pk, "field": "value",
                      "operator": operator, "values": values}, format="json")  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        integration_import(data={"name": "File", "type": "pipedrive", "steps": [
            {"kind": "users", "name": "Users", "source_type": "user", "player_id": "id",
             "filters": [{"field": "value", "operator": operator, "values": values}]}]})  # fmt: skip

    assert admin.context["inline_admin_formsets"][0].formset.errors == [{"values": [message]}]
    assert answer.status_code == 400 and answer.json() == {"values": [message]}
    assert refused.value.problems == [f"steps[0].filters[0].values: {message}"]
    assert StepFilter.objects.count() == before
