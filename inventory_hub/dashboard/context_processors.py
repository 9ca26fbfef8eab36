"""What the navigation may show: each user sees only the pages their role reaches."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from inventory_hub.core import roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "view": user.has_perm(roles.PERM_VIEW),
            "edit_rules": user.has_perm(roles.PERM_EDIT_RULES),
            "manage_connectors": user.has_perm(roles.PERM_MANAGE_CONNECTORS),
            "export_reports": user.has_perm(roles.PERM_EXPORT_REPORTS),
            "admin_site": user.is_staff,
            "role": ", ".join(g.name for g in user.groups.all()) or ("Superuser" if user.is_superuser else ""),
        }
    }


def csp_nonce(request: HttpRequest) -> dict[str, Any]:
    """The request's CSP nonce under the name django-htmx's {% htmx_script %} looks for."""
    return {"csp_nonce": getattr(request, "csp_nonce", None)}
