"""Configuration services: integrations, steps and filters are checked and written here, and
only here (HackSoft: a door checks shape, the service checks meaning). The admin's forms and
inlines, the API's serializers and the import file call the `*_problems` checks to show their
messages and the `*_create` / `*_update` services to write; so a configuration one door accepts,
every door accepts, and the engine can run."""

from .integration import (
    credentials_merged,
    credentials_shown,
    integration_create,
    integration_problems,
    integration_update,
    paths_shown,
)
from .problems import SECRET_MASK, ConfigurationInvalid
from .seen import fields_seen, filters_unseen
from .setup import integration_defaults_apply, series_named, setup_apply, setup_problems
from .step import (
    POINTS_ONLY,
    USERS_FIELDS,
    SeriesPlan,
    StepFields,
    fields_of_kind,
    step_create,
    step_problems,
    step_update,
    step_values,
)
from .step_filter import filter_create, filter_problems, filter_update

__all__ = [
    "POINTS_ONLY",
    "SECRET_MASK",
    "USERS_FIELDS",
    "ConfigurationInvalid",
    "SeriesPlan",
    "StepFields",
    "credentials_merged",
    "credentials_shown",
    "fields_of_kind",
    "fields_seen",
    "filter_create",
    "filter_problems",
    "filter_update",
    "filters_unseen",
    "integration_create",
    "integration_defaults_apply",
    "integration_problems",
    "integration_update",
    "paths_shown",
    "series_named",
    "setup_apply",
    "setup_problems",
    "step_create",
    "step_problems",
    "step_update",
    "step_values",
]
