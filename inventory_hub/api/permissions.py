"""One permission class for every endpoint: reads need a role's view permission, writes the
permission the view names. Never AllowAny; a view that names no write permission is read-only."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from inventory_hub.core import roles


class RolePermission(BasePermission):
    """`read_permission` (default: the dashboard's view permission) for GET/HEAD/OPTIONS;
    `write_permission` (default: none, so refused) for anything else."""

    message = "Your role may not do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return user.has_perm(getattr(view, "read_permission", roles.PERM_VIEW))
        write = getattr(view, "write_permission", None)
        return write is not None and user.has_perm(write)
