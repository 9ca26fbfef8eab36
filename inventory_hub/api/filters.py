"""Query filters of the list endpoints (django-filter): the same questions the pages ask."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from django_filters.widgets import BooleanWidget
from drf_spectacular.utils import extend_schema_field

from inventory_hub.connectors.models import Role
from inventory_hub.inventory.models import PoolBoundary
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation.models import Discrepancy, DiscrepancyClass, Hop
from inventory_hub.tracing.models import Oversell, RootCause

MAX_ID = 2**31 - 1
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


@extend_schema_field(ID_SCHEMA)
class IdFilter(django_filters.NumberFilter):
    """A database id: a whole number in range, so a wild value is a 400, never a database error."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class StrictBooleanWidget(BooleanWidget):
    """true/false/1/0 as django-filter reads them; anything else is passed on for the field to refuse."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = super().value_from_datadict(data, files, name)
        raw = data.get(name)
        return raw if value is None and raw not in (None, "") else value


class StrictNullBooleanField(forms.NullBooleanField):
    def to_python(self, value: Any) -> bool | None:
        if isinstance(value, str) and value:
            raise forms.ValidationError("Give true or false.", code="invalid")
        return super().to_python(value)


@extend_schema_field({"type": "boolean"})
class StrictBooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter: `?open=maybe` is a 400, where django-filter would silently filter nothing."""

    field_class = StrictNullBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, widget=StrictBooleanWidget, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, in UTC: PostgreSQL refuses an offset beyond ±15:59 that Python takes."""

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError("Date-time out of range.", code="overflow") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class PositionFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    location_code = django_filters.CharFilter(field_name="location__code")
    sku = django_filters.CharFilter(field_name="sku")
    system = django_filters.ChoiceFilter(field_name="connector__role", choices=Role.choices)
    connector = IdFilter(field_name="connector_id")

    class Meta:
        model = InventoryPosition
        fields = ("location", "location_code", "sku", "system", "connector")


class DiscrepancyFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    sku = django_filters.CharFilter(field_name="sku")
    hop = django_filters.ChoiceFilter(choices=Hop.choices)
    classification = django_filters.ChoiceFilter(choices=DiscrepancyClass.choices)
    open = StrictBooleanFilter(field_name="closed_at", lookup_expr="isnull", label="Still open")
    acknowledged = StrictBooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True, label="Acknowledged"
    )
    opened_after = UtcIsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = UtcIsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")

    class Meta:
        model = Discrepancy
        fields = ("location", "sku", "hop", "classification", "open", "acknowledged", "opened_after", "opened_before")


class OversellFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    sku = django_filters.CharFilter(field_name="sku")
    root_cause = django_filters.ChoiceFilter(choices=RootCause.choices)
    ordered_after = UtcIsoDateTimeFilter(field_name="ordered_at", lookup_expr="gte")
    ordered_before = UtcIsoDateTimeFilter(field_name="ordered_at", lookup_expr="lt")

    class Meta:
        model = Oversell
        fields = ("location", "sku", "root_cause", "ordered_after", "ordered_before")


class PoolBoundaryFilter(django_filters.FilterSet):
    pool = IdFilter(field_name="pool_id")
    connector = IdFilter(field_name="connector_id")

    class Meta:
        model = PoolBoundary
        fields = ("pool", "connector")
