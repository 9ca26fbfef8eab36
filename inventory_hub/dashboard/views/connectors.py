"""Connectors (admin): health, recent polls, poll now, enable and disable."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from inventory_hub.connectors import selectors as connector_selectors
from inventory_hub.connectors import services as connector_services
from inventory_hub.connectors.models import Connector
from inventory_hub.core import roles
from inventory_hub.dashboard.views.common import HtmxHttpRequest, template_for

CONNECTOR_PARTIALS = frozenset({"connector-table"})


def _connector_page(request: HtmxHttpRequest, *, notice: str = "", error: str = "", status: int = 200) -> HttpResponse:
    return render(
        request,
        template_for(request, "dashboard/connector_list.html", CONNECTOR_PARTIALS),
        {
            "connectors": connector_selectors.connector_health_list(),
            "runs": connector_selectors.poll_run_recent_list(),
            "worker_last_seen": connector_selectors.worker_last_seen(),
            "now": timezone.now(),
            "notice": notice,
            "error": error,
        },
        status=status,
    )


@require_GET
@permission_required(roles.PERM_MANAGE_CONNECTORS, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def connector_list(request: HtmxHttpRequest) -> HttpResponse:
    return _connector_page(request)


@require_POST
@permission_required(roles.PERM_MANAGE_CONNECTORS, raise_exception=True)
def connector_toggle(request: HtmxHttpRequest, connector_id: int) -> HttpResponse:
    connector = get_object_or_404(Connector, pk=connector_id)
    if connector.enabled:
        reason = request.POST.get("reason", "").strip() or f"Disabled by {request.user.get_username()}."
        connector_services.connector_disable(connector_id=connector.pk, reason=reason)
        notice = f"{connector.name} is disabled: the hub stops polling it."
    else:
        connector_services.connector_enable(connector_id=connector.pk)
        notice = f"{connector.name} is enabled: it is polled as soon as a worker runs."
    if request.htmx:
        return _connector_page(request, notice=notice)
    return redirect("dashboard:connector-list")


@require_POST
@permission_required(roles.PERM_MANAGE_CONNECTORS, raise_exception=True)
def connector_poll(request: HtmxHttpRequest, connector_id: int) -> HttpResponse:
    connector = get_object_or_404(Connector.objects.only("pk", "name"), pk=connector_id)
    try:
        connector_services.connector_poll_now(connector_id=connector.pk)
    except connector_services.ConnectorDisabledError:
        error = f"{connector.name} is disabled, so it cannot be polled: enable it first."
        if request.htmx:
            return _connector_page(request, error=error, status=422)  # 422 so htmx shows it in place
        messages.error(request, error)
        return redirect("dashboard:connector-list")
    notice = f"{connector.name} is queued for a poll now; it appears under Recent polls once a worker has run it."
    if request.htmx:
        return _connector_page(request, notice=notice)
    messages.success(request, notice)
    return redirect("dashboard:connector-list")


urlpatterns = [
    path("connectors/", connector_list, name="connector-list"),
    path("connectors/<int:connector_id>/toggle/", connector_toggle, name="connector-toggle"),
    path("connectors/<int:connector_id>/poll/", connector_poll, name="connector-poll"),
]
