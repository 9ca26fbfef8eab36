"""Forms of the reports page: start an export, add a schedule."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import validate_email
from django.utils import timezone

from inventory_hub.inventory.models import Location
from inventory_hub.reports.models import ReportFormat, ReportKind, ReportSchedule
from inventory_hub.reports.services import ScheduleSpec


class _LocationsMixin(forms.Form):
    locations = forms.ModelMultipleChoiceField(
        queryset=Location.objects.order_by("code"),
        widget=forms.SelectMultiple(attrs={"size": 6}),
        error_messages={"required": "Choose at least one location."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not Location.objects.exists():
            # Said up front: an empty list box with "choose at least one" would be a riddle.
            self.fields["locations"].error_messages["required"] = (
                "No locations exist yet: add them in Admin › Locations (or run the demo set-up) first."
            )


class ReportExportForm(_LocationsMixin):
    """Which report, in which format, over which UTC days and locations."""

    kind = forms.ChoiceField(choices=ReportKind.choices, label="Report")
    format = forms.ChoiceField(choices=ReportFormat.choices, initial=ReportFormat.XLSX)
    date_from = forms.DateField(label="From (UTC day)", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To (UTC day, included)", widget=forms.DateInput(attrs={"type": "date"}))

    field_order = ["kind", "format", "date_from", "date_to", "locations"]

    @classmethod
    def initial_for(cls, today: dt.date) -> ReportExportForm:
        return cls(
            initial={
                "date_from": today - dt.timedelta(days=6),
                "date_to": today,
                "locations": list(Location.objects.filter(is_active=True).values_list("pk", flat=True)),
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from and date_to:
            if date_to < date_from:
                self.add_error("date_to", "The end is before the start: pick a day on or after the start.")
            elif (days := (date_to - date_from).days + 1) > settings.REPORTS_MAX_RANGE_DAYS:
                self.add_error(
                    "date_to",
                    f"The range is {days} days long; a report covers at most {settings.REPORTS_MAX_RANGE_DAYS}.",
                )
            elif date_from > timezone.now().date():
                self.add_error("date_from", "The range starts in the future: there is nothing to report yet.")
        return data


class ReportScheduleForm(_LocationsMixin):
    """A report e-mailed daily or weekly."""

    prefix = "schedule"  # its fields share names with the export form's on the same page
    kind = forms.ChoiceField(choices=ReportKind.choices, label="Report")
    format = forms.ChoiceField(choices=ReportFormat.choices, initial=ReportFormat.XLSX)
    frequency = forms.ChoiceField(choices=ReportSchedule.Frequency.choices)
    send_hour = forms.IntegerField(min_value=0, max_value=23, initial=6, label="Send at (hour, UTC)")
    recipients = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="E-mail addresses, one a line or separated by commas."
    )

    field_order = ["kind", "format", "frequency", "send_hour", "locations", "recipients"]

    def clean_recipients(self) -> list[str]:
        addresses = [a.strip() for a in self.cleaned_data["recipients"].replace(",", "\n").splitlines() if a.strip()]
        if not addresses:
            raise forms.ValidationError("Give at least one e-mail address.")
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError:
                bad.append(address)
        if bad:
            raise forms.ValidationError(f"Not an e-mail address: {', '.join(bad)}.")
        return list(dict.fromkeys(addresses))

    def spec(self) -> ScheduleSpec:
        data = self.cleaned_data
        return ScheduleSpec(
            kind=data["kind"],
            format=data["format"],
            location_ids=[location.pk for location in data["locations"]],
            frequency=data["frequency"],
            send_hour=data["send_hour"],
            recipients=data["recipients"],
        )
