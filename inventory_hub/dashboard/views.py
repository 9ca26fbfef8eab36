"""The dashboard's pages. Thin: parse input, check permission, call a selector or service, render.

Every page answers a full request and, when HTMX asks for one of its named partials (HX-Target),
just that partial; the permission is checked before either.
"""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from inventory_hub.connectors import selectors as connector_selectors
from inventory_hub.connectors import services as connector_services
from inventory_hub.connectors.models import Connector
from inventory_hub.core import roles
from inventory_hub.dashboard.forms import AllocationRuleForm
from inventory_hub.inventory import selectors as inventory_selectors
from inventory_hub.inventory import services as inventory_services


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _template(request: HtmxHttpRequest, name: str, partials: frozenset[str]) -> str:
    """The page template, or one of its partials when HTMX targets it."""
    if request.htmx and request.htmx.target in partials:
        return f"{name}#{request.htmx.target}"
    return name


# --- Home ------------------------------------------------------------------------------------

HOME_PARTIALS = frozenset({"connector-state"})


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def home(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        _template(request, "dashboard/home.html", HOME_PARTIALS),
        {
            "locations": inventory_selectors.location_list(),
            "connectors": connector_selectors.connector_health_list(),
            "now": timezone.now(),
        },
    )


# --- Allocation rules ------------------------------------------------------------------------


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
def rule_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "dashboard/rule_list.html", {"rules": inventory_selectors.allocation_rule_current_list()})


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
def rule_detail(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(inventory_selectors.allocation_rule_list(), pk=rule_id)
    return render(
        request,
        "dashboard/rule_detail.html",
        {
            "rule": rule,
            "current": inventory_selectors.allocation_rule_values(rule=rule),
            "history": inventory_selectors.allocation_rule_history(rule=rule),
        },
    )


RULE_EDIT_PARTIALS = frozenset({"rule-form"})


@require_http_methods(["GET", "POST"])
@permission_required(roles.PERM_EDIT_RULES, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def rule_edit(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(inventory_selectors.allocation_rule_list(), pk=rule_id)
    current = inventory_selectors.allocation_rule_values(rule=rule)
    if request.method == "POST":
        form = AllocationRuleForm(request.POST)
        if form.is_valid():
            try:
                inventory_services.allocation_rule_update(
                    rule=rule, values=form.rule_values(), author=request.user, reason=form.cleaned_data["reason"]
                )
            except inventory_services.RuleValidationError as exc:
                for field, message in exc.errors.items():
                    form.add_error(None if field == "__all__" else field, message)
            else:
                if request.htmx:
                    return HttpResponseClientRedirect(reverse("dashboard:rule-edit", args=[rule.pk]))
                return redirect("dashboard:rule-edit", rule_id=rule.pk)
    else:
        form = AllocationRuleForm.for_values(current)
    return render(
        request,
        _template(request, "dashboard/rule_edit.html", RULE_EDIT_PARTIALS),
        {
            "rule": rule,
            "current": current,
            "form": form,
            "history": inventory_selectors.allocation_rule_history(rule=rule),
        },
        status=422 if form.is_bound and form.errors else 200,
    )


# --- Connectors ------------------------------------------------------------------------------

CONNECTOR_PARTIALS = frozenset({"connector-table"})


def _connector_page(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        _template(request, "dashboard/connector_list.html", CONNECTOR_PARTIALS),
        {
            "connectors": connector_selectors.connector_health_list(),
            "runs": connector_selectors.poll_run_recent_list(),
            "worker_last_seen": connector_selectors.worker_last_seen(),
            "now": timezone.now(),
        },
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
    else:
        connector_services.connector_enable(connector_id=connector.pk)
    if request.htmx:
        return _connector_page(request)
    return redirect("dashboard:connector-list")
