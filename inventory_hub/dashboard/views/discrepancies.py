"""Discrepancy timeline (fulfillment manager): filter, chart, list, acknowledge."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from inventory_hub.core import roles
from inventory_hub.dashboard import explain
from inventory_hub.dashboard.selectors import discrepancies as selectors
from inventory_hub.dashboard.views.common import HtmxHttpRequest, template_for
from inventory_hub.inventory.models import Location
from inventory_hub.reconciliation import services as reconciliation_services
from inventory_hub.reconciliation.models import Discrepancy, DiscrepancyClass, Hop

PARTIALS = frozenset({"discrepancy-results", "discrepancy-table"})
PERIODS = {"24h": dt.timedelta(days=1), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}
# The chart's range when the list is not limited in time.
DEFAULT_CHART_SPAN = dt.timedelta(days=7)
MIN_CHART_SPAN = dt.timedelta(hours=6)


class PeriodFilterForm(forms.Form):
    """A location and a time range (a preset or "between" two local times), shared by the oversell list."""

    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True).only("code", "name", "time_zone"),
        required=False,
        empty_label="All locations",
    )
    period = forms.ChoiceField(
        choices=[
            ("any", "Any time"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
            ("custom", "Between…"),
        ],
        required=False,
    )
    since = forms.DateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, label="To", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("since"), data.get("until")
        if start and end and end <= start:
            self.add_error("until", "Pick a time after “From”.")
        return data

    def data_valid(self) -> dict[str, Any]:
        """The valid fields: they apply even when another field is wrong (and {} when unbound)."""
        self.is_valid()
        return getattr(self, "cleaned_data", {})

    def time_zone(self) -> str:
        """Times typed in and charted in the chosen location's zone, else UTC."""
        location = self.data_valid().get("location")
        return location.time_zone if location else "UTC"

    def time_range(self, *, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
        data = self.data_valid()
        period = data.get("period") or "any"
        if data.get("since") or data.get("until"):
            period = "custom"
        if period in PERIODS:
            return now - PERIODS[period], None
        if period != "custom":
            return None, None
        tz = zoneinfo.ZoneInfo(self.time_zone())

        def local(value: dt.datetime | None) -> dt.datetime | None:
            # The browser sends wall-clock time; read it in the page's zone, not the server's.
            return value.replace(tzinfo=None).replace(tzinfo=tz) if value else None

        return local(data.get("since")), local(data.get("until"))


class DiscrepancyFilterForm(PeriodFilterForm):
    field_order = ("location", "sku", "classification", "hop", "state", "acknowledged", "period", "since", "until")

    sku = forms.CharField(required=False, max_length=120, label="SKU")
    classification = forms.ChoiceField(
        choices=[("", "All classes"), *DiscrepancyClass.choices], required=False, label="Class"
    )
    hop = forms.ChoiceField(choices=[("", "All hops"), *Hop.choices], required=False)
    state = forms.ChoiceField(
        choices=[
            (selectors.State.OPEN, "Open"),
            (selectors.State.CLOSED, "Closed"),
            (selectors.State.ALL, "Open and closed"),
        ],
        required=False,
    )
    acknowledged = forms.ChoiceField(
        choices=[("", "Acknowledged or not"), ("no", "Not acknowledged"), ("yes", "Acknowledged")],
        required=False,
        label="Acknowledgement",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["period"].label = "Opened"

    def filters(self, *, now: dt.datetime) -> selectors.DiscrepancyFilters:
        data = self.data_valid()
        location = data.get("location")
        opened_from, opened_to = self.time_range(now=now)
        return selectors.DiscrepancyFilters(
            location_id=location.pk if location else None,
            sku=(data.get("sku") or "").strip(),
            classification=data.get("classification") or "",
            hop=data.get("hop") or "",
            state=data.get("state") or selectors.State.OPEN,
            acknowledged={"yes": True, "no": False}.get(data.get("acknowledged") or ""),
            opened_from=opened_from,
            opened_to=opened_to,
        )


def page_number(request: HtmxHttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def discrepancy_list(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    form = DiscrepancyFilterForm(request.GET or None)
    filters = form.filters(now=now)
    template = template_for(request, "dashboard/discrepancy_list.html", PARTIALS)
    context: dict[str, Any] = {
        "form": form,
        "now": now,
        "page": selectors.discrepancy_page(filters=filters, page=page_number(request), now=now),
        "can_acknowledge": request.user.has_perm(roles.PERM_ACKNOWLEDGE),
    }
    if not template.endswith("#discrepancy-table"):  # paging leaves the chart as it is
        chart_end = filters.opened_to or now
        chart_start = filters.opened_from
        if chart_start is None:
            # Not limited in time: from the earliest discrepancy open in the last week, so the
            # bars use the width (but at least MIN_CHART_SPAN, at most DEFAULT_CHART_SPAN).
            earliest = chart_end - DEFAULT_CHART_SPAN
            first = selectors.discrepancy_chart_start(filters=filters, since=earliest, until=chart_end)
            chart_start = min(first or earliest, chart_end - MIN_CHART_SPAN)
        series = selectors.discrepancy_open_series(filters=filters, start=chart_start, end=chart_end)
        context |= {
            "figure": explain.open_discrepancy_figure(
                series, time_zone=form.time_zone(), class_labels=dict(DiscrepancyClass.choices)
            ),
            "chart_has_data": any(any(counts) for counts in series.counts.values()),
            "chart_start": chart_start,
            "chart_end": chart_end,
            "chart_step": series.step.total_seconds(),
            "chart_zone": form.time_zone(),
        }
    return render(request, template, context)


class AcknowledgeForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000)


@require_POST
@permission_required(roles.PERM_ACKNOWLEDGE, raise_exception=True)
def discrepancy_acknowledge(request: HtmxHttpRequest, discrepancy_id: int) -> HttpResponse:
    discrepancy = get_object_or_404(Discrepancy, pk=discrepancy_id)
    form = AcknowledgeForm(request.POST)
    error = ""
    if not form.is_valid():
        error = " ".join(form.errors["note"])
    else:
        try:
            reconciliation_services.discrepancy_acknowledge(
                discrepancy=discrepancy, user=request.user, note=form.cleaned_data["note"]
            )
        except reconciliation_services.AcknowledgementError as exc:
            error = str(exc)
    if not request.htmx:
        (messages.error if error else messages.success)(request, error or "Discrepancy acknowledged.")
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = ""
        return redirect(target or "dashboard:discrepancy-list")
    now = timezone.now()
    return render(
        request,
        "dashboard/discrepancy_row.html",
        {
            "row": selectors.discrepancy_row_get(discrepancy_id=discrepancy.pk, now=now),
            "now": now,
            "can_acknowledge": True,
            "ack_error": error,
            "ack_note": request.POST.get("note", ""),
        },
        status=422 if error else 200,
    )


urlpatterns = [
    path("discrepancies/", discrepancy_list, name="discrepancy-list"),
    path("discrepancies/<int:discrepancy_id>/acknowledge/", discrepancy_acknowledge, name="discrepancy-acknowledge"),
]
