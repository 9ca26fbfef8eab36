"""Allocation rules: the list, one rule's history, and the ops lead's editor."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from inventory_hub.core import roles
from inventory_hub.dashboard.forms import AllocationRuleForm, RulePreviewForm
from inventory_hub.dashboard.views.common import HtmxHttpRequest, template_for
from inventory_hub.inventory import selectors as inventory_selectors
from inventory_hub.inventory import services as inventory_services
from inventory_hub.reconciliation.preview import rule_change_preview


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
                version = inventory_services.allocation_rule_update(
                    rule=rule, values=form.rule_values(), author=request.user, reason=form.cleaned_data["reason"]
                )
            except inventory_services.RuleValidationError as exc:
                for field, message in exc.errors.items():
                    form.add_error(None if field == "__all__" else field, message)
            else:
                messages.success(request, f"Saved as version {version.number}: it is in force now.")
                if request.htmx:
                    return HttpResponseClientRedirect(reverse("dashboard:rule-edit", args=[rule.pk]))
                return redirect("dashboard:rule-edit", rule_id=rule.pk)
    else:
        form = AllocationRuleForm.for_values(current)
    return render(
        request,
        template_for(request, "dashboard/rule_edit.html", RULE_EDIT_PARTIALS),
        {
            "rule": rule,
            "current": current,
            "form": form,
            "history": inventory_selectors.allocation_rule_history(rule=rule),
        },
        status=422 if form.is_bound and form.errors else 200,
    )


@require_POST
@permission_required(roles.PERM_EDIT_RULES, raise_exception=True)
def rule_preview(request: HtmxHttpRequest, rule_id: int) -> HttpResponse:
    """Inline validation and the effect of the values being typed, before anything is saved.

    Answers the editor's `input changed delay:400ms` trigger: the preview card, plus each
    field's message swapped out of band next to its input (the inputs themselves are never
    swapped, so the cursor stays where the ops lead is typing).
    """
    rule = get_object_or_404(inventory_selectors.allocation_rule_list(), pk=rule_id)
    current = inventory_selectors.allocation_rule_values(rule=rule)
    form = RulePreviewForm(request.POST)
    preview = None
    if form.is_valid():
        values = form.rule_values()
        errors = inventory_services.allocation_rule_validate(
            pool=rule.pool, channel=rule.channel, values=values, rule=rule
        )
        for field, message in errors.items():
            form.add_error(field, message)
        if not errors:
            preview = rule_change_preview(rule=rule, values=values)
    return render(
        request,
        "dashboard/rule_edit.html#rule-preview",
        {
            "rule": rule,
            "form": form,
            "unchanged": form.is_valid() and current is not None and form.rule_values() == current,
            "preview": preview,
            "oob": True,
        },
    )


urlpatterns = [
    path("rules/", rule_list, name="rule-list"),
    path("rules/<int:rule_id>/", rule_detail, name="rule-detail"),
    path("rules/<int:rule_id>/edit/", rule_edit, name="rule-edit"),
    path("rules/<int:rule_id>/preview/", rule_preview, name="rule-preview"),
]
