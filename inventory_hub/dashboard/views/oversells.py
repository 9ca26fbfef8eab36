"""Oversells and their traces: the list, and one trace as a waterfall."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from inventory_hub.core import roles
from inventory_hub.dashboard import explain
from inventory_hub.dashboard.selectors import oversells as selectors
from inventory_hub.dashboard.views.common import HtmxHttpRequest, template_for
from inventory_hub.dashboard.views.discrepancies import PeriodFilterForm, page_number
from inventory_hub.tracing.models import RootCause, TraceStep

PARTIALS = frozenset({"oversell-results", "oversell-table"})


class OversellFilterForm(PeriodFilterForm):
    field_order = ("location", "sku", "root_cause", "period", "since", "until")

    sku = forms.CharField(required=False, max_length=120, label="SKU")
    root_cause = forms.ChoiceField(choices=[("", "All root causes"), *RootCause.choices], required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["period"].label = "Ordered"

    def filters(self, *, now: dt.datetime) -> selectors.OversellFilters:
        data = self.data_valid()
        location = data.get("location")
        since, until = self.time_range(now=now)
        return selectors.OversellFilters(
            location_id=location.pk if location else None,
            sku=(data.get("sku") or "").strip(),
            root_cause=data.get("root_cause") or "",
            ordered_from=since,
            ordered_to=until,
        )


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def oversell_list(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    form = OversellFilterForm(request.GET or None)
    filters = form.filters(now=now)
    template = template_for(request, "dashboard/oversell_list.html", PARTIALS)
    context: dict[str, Any] = {
        "form": form,
        "now": now,
        "page": selectors.oversell_page(filters=filters, page=page_number(request)),
        "root_causes": dict(RootCause.choices),
    }
    if not template.endswith("#oversell-table"):
        context["cause_counts"] = selectors.oversell_root_cause_counts(filters=filters)
    return render(request, template, context)


def _origin(found: selectors.OversellTrace) -> explain.Origin | None:
    step = next((s for s in found.steps if s.kind == TraceStep.Kind.COUNT_EVENT and s.occurred_at), None)
    if step is None:
        return None
    # Inferred allocations have no event row: their kind is the first word of the step's detail.
    kind = step.event.kind if step.event else step.detail.split(":", 1)[0].split(" (", 1)[0]
    channel = step.detail.rsplit("channel ", 1)[1].strip() if ", channel " in step.detail else ""
    return explain.Origin(
        kind=kind, at=step.occurred_at, delta=step.quantity, channel=channel, inferred="(inferred)" in step.detail
    )


def _facts(found: selectors.OversellTrace) -> explain.TraceFacts:
    oversell = found.oversell
    carried = {s.hop: s.occurred_at for s in found.steps if s.kind == TraceStep.Kind.SYNC}
    missed = [s.hop for s in found.steps if s.kind == TraceStep.Kind.MISSED_SYNC and s.occurred_at]
    return explain.TraceFacts(
        root_cause=oversell.root_cause,
        ordered_at=oversell.ordered_at,
        quantity=oversell.quantity,
        shown=oversell.shown,
        truth=oversell.truth,
        time_zone=oversell.location.time_zone,
        origin=_origin(found),
        erp_carried_at=carried.get("wms_erp"),
        erp_missed=missed.count("wms_erp"),
        storefront_missed=missed.count("erp_storefront"),
        erp_window=_window(found, hop="wms_erp", role="erp"),
        storefront_window=_window(found, hop="erp_storefront", role="storefront"),
    )


def _window(found: selectors.OversellTrace, *, hop: str, role: str) -> explain.Window | None:
    """The hop's measured lag here when there is one, else its downstream connector's poll interval."""
    if hop in found.typical_lags:
        return explain.Window(seconds=found.typical_lags[hop], measured=True)
    if role in found.poll_intervals:
        return explain.Window(seconds=found.poll_intervals[role], measured=False)
    return None


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
def oversell_detail(request: HtmxHttpRequest, oversell_id: int) -> HttpResponse:
    found = selectors.oversell_trace_get(oversell_id=oversell_id)
    if found is None:
        raise Http404("No such oversell.")
    oversell = found.oversell
    steps = [
        explain.StepFacts(
            position=s.position,
            kind=s.kind,
            system=s.system,
            hop=s.hop,
            occurred_at=s.occurred_at,
            lag_seconds=s.lag_seconds,
            quantity=s.quantity,
            detail=s.detail,
            event_kind=s.event.kind if s.event else "",
        )
        for s in found.steps
    ]
    waterfall = explain.waterfall(
        steps, ordered_at=oversell.ordered_at, time_zone=oversell.location.time_zone, truth=oversell.truth
    )
    return render(
        request,
        "dashboard/oversell_detail.html",
        {
            "oversell": oversell,
            "order": oversell.order_line.order,
            "sentence": explain.root_cause_sentence(_facts(found)),
            "waterfall": waterfall,
            "phantom": max(0, oversell.shown - oversell.truth),
            # Each cascade step with the waterfall's label of it ("14 min after the order").
            "cascade": [
                (s, span.lag)
                for s, span in zip(found.steps, waterfall.spans, strict=True)
                if s.kind == TraceStep.Kind.CASCADE
            ],
            "discrepancies": found.discrepancies,
            "poll_intervals": found.poll_intervals,
            "typical_lags": {explain.HOP_WORDS.get(hop, hop): seconds for hop, seconds in found.typical_lags.items()},
            "tz": oversell.location.time_zone,
            "now": timezone.now(),
        },
    )


urlpatterns = [
    path("oversells/", oversell_list, name="oversell-list"),
    path("oversells/<int:oversell_id>/", oversell_detail, name="oversell-detail"),
]
