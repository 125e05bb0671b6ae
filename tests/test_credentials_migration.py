"""Rows saved while the admin took credentials as free JSON (`["a"]` made every delivery to the
integration answer 500) get empty credentials from the migration; others keep theirs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

BEFORE = [("integrations", "0012_type_from_registry")]
AFTER = [("integrations", "0013_credentials_an_object")]


def test_credentials_that_are_not_an_object_become_empty() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("integrations", "Integration")
    broken = old.objects.create(name="Broken", type="pipedrive", webhook_secret="broken-123",
                                credentials=["a"])  # fmt: skip
    bad_paths = old.objects.create(name="Paths", type="webhook", webhook_secret="paths-123",
                                   credentials={"hmac_secret": "s3cret-pw", "paths": "id"})  # fmt: skip
    fine = old.objects.create(name="Fine", type="pipedrive", webhook_secret="fine-1234",
                              credentials={"basic_auth_user": "pd"})  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)

    new = executor.loader.project_state(AFTER).apps.get_model("integrations", "Integration")
    assert new.objects.get(pk=broken.pk).credentials == {}
    assert new.objects.get(pk=bad_paths.pk).credentials == {"hmac_secret": "s3cret-pw"}
    assert new.objects.get(pk=fine.pk).credentials == {"basic_auth_user": "pd"}
