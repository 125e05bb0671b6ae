from __future__ import annotations

from typing import Any

import pytest

from integrations.configuration import integration_defaults_apply
from integrations.models import Integration

from .messages import ORG


@pytest.fixture
def salesforce(db: None) -> Integration:
    """A Salesforce integration with the default setup, taking messages from ORG only."""
    integration = Integration.objects.create(
        name="Salesforce", type="salesforce", credentials={"organization_id": ORG}
    )
    integration_defaults_apply(integration=integration)
    return integration


@pytest.fixture
def post(client: Any) -> Any:
    """POST a body to the integration's webhook as Salesforce does (SOAP 1.1)."""

    def post(integration: Integration, body: bytes) -> Any:
        return client.post(
            integration.webhook_path,
            data=body,
            content_type="text/xml; charset=utf-8",
            headers={"SOAPAction": '""'},
        )

    return post
