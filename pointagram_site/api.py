"""The REST API's shared parts (/api/v1/): who may do what, and pages."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db.models import ProtectedError
from rest_framework import exceptions, permissions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

WRITE_PERMISSION = "scoring.scoring_admin"


def reads_api(user: Any) -> bool:
    return bool(user and user.is_authenticated and (user.is_staff or user.is_superuser))


class StaffReadsScoringAdminWrites(permissions.BasePermission):
    """Read for staff (token or session); write only with the scoring-admin permission."""

    message = "Reading needs a staff account; writing needs the scoring admin permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            return reads_api(user)
        return bool(user.has_perm(WRITE_PERMISSION))


class SchemaReaders(permissions.BasePermission):
    """The schema and the docs page: for whoever may read the API (staff), or for anyone when
    the API_SCHEMA_PUBLIC setting is on. The schema maps every endpoint, field and filter."""

    message = "The API schema needs a staff account (or API_SCHEMA_PUBLIC on)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(settings.API_SCHEMA_PUBLIC) or reads_api(request.user)


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        for name in (self.page_query_param, self.page_size_query_param):
            value = request.query_params.get(name)
            # ASCII digits (str.isdigit() also takes '²'), few enough for int() and the database
            if value is not None and not _WHOLE_NUMBER.fullmatch(value):
                raise serializers.ValidationError(
                    {name: [f"{name} must be a whole number of at least 1 (up to 15 digits), "
                            f"not {value[:40]!r}."]}
                )  # fmt: skip
        return super().paginate_queryset(queryset, request, view)


_WHOLE_NUMBER = re.compile(r"[1-9][0-9]{0,14}")


class Conflict(exceptions.APIException):
    status_code = 409
    default_code = "conflict"


class ProtectedDestroyMixin:
    """Deleting what the ledger or stored events refer to is refused with 409, saying why: the
    ledger is append-only. Archive a player, or disable an integration or a step, instead."""

    def perform_destroy(self, instance: Any) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:
            count = len(exc.protected_objects)
            raise Conflict(
                f"{instance._meta.verbose_name} #{instance.pk} is referred to by {count} ledger "
                "row(s) or event(s) and cannot be deleted; archive or disable it instead"
            ) from None
